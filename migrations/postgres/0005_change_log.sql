-- The event log doubles as the commit-ordered change log the working set catches up from.
-- Each event row records the transaction that wrote it; a reader holding a snapshot
-- (pg_current_snapshot()) finds exactly the changes committed since: the rows whose xid that
-- snapshot did not see. Rows written before this migration have no xid and are never "since".
-- Added without a default first, then the default set: no rewrite of the existing log.
ALTER TABLE ticket_events ADD COLUMN xid xid8;
ALTER TABLE ticket_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX ticket_events_xid ON ticket_events (xid);
