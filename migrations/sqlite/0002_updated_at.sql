-- Reconciling the working set after a rebuild reads the tickets changed since it began.
CREATE INDEX tickets_updated_at ON tickets (updated_at);
