-- Intake looks up a caller's earlier tickets by phone, and an integrator reads the tickets it
-- submitted: both filter on fields inside the ticket body, so index those expressions.
CREATE INDEX IF NOT EXISTS tickets_caller_phone ON tickets (json_extract(body, '$.caller.phone'));
CREATE INDEX IF NOT EXISTS tickets_submitted_by ON tickets (json_extract(body, '$.submitted_by'));
