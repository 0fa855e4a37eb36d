-- A search by the caller's phone or by the submitting integrator reads columns, not the body
-- (as on PostgreSQL, where indexes on the body's fields parsed it on every write; see
-- migrations/postgres/0018). Written by the store with the body (`TicketColumns`); an empty
-- phone is NULL.
ALTER TABLE tickets ADD COLUMN caller_phone TEXT;
ALTER TABLE tickets ADD COLUMN submitted_by TEXT;

UPDATE tickets SET
    caller_phone = NULLIF(json_extract(body, '$.caller.phone'), ''),
    submitted_by = json_extract(body, '$.submitted_by');

DROP INDEX IF EXISTS tickets_caller_phone;
DROP INDEX IF EXISTS tickets_submitted_by;
CREATE INDEX tickets_caller_phone ON tickets (caller_phone) WHERE caller_phone IS NOT NULL;
CREATE INDEX tickets_submitted_by ON tickets (submitted_by) WHERE submitted_by IS NOT NULL;
