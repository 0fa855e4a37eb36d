-- A search by the caller's phone (intake's caller history) or by the integrator that submitted
-- (an integrator reading its own tickets) filtered on expression indexes over the JSON body
-- (migration 0007). PostgreSQL evaluates an index's expression on every insert and on every
-- update of the body, parsing the whole body each time: two parses of a ~2.5 KB body, some
-- 30 µs of a routed submit's ~200 µs insert (issue 13). Both fields become columns, written by
-- the store in the same statement as the body (crates/store/src/row.rs, `TicketColumns`); an
-- empty phone is NULL, and only rows with a value are indexed.
ALTER TABLE tickets
    ADD COLUMN caller_phone TEXT,
    ADD COLUMN submitted_by TEXT;

UPDATE tickets SET
    caller_phone = NULLIF(body->'caller'->>'phone', ''),
    submitted_by = body->>'submitted_by'
WHERE NULLIF(body->'caller'->>'phone', '') IS NOT NULL OR body->>'submitted_by' IS NOT NULL;

DROP INDEX IF EXISTS tickets_caller_phone;
DROP INDEX IF EXISTS tickets_submitted_by;
CREATE INDEX tickets_caller_phone ON tickets (caller_phone) WHERE caller_phone IS NOT NULL;
CREATE INDEX tickets_submitted_by ON tickets (submitted_by) WHERE submitted_by IS NOT NULL;
