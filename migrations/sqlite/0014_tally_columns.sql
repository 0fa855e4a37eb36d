-- The supervision gauges (issue 13): `live_tally` counts every live ticket by territory and
-- stage with which of its clocks are overdue or showing their yellow light, every few seconds.
-- Reading those facts out of each ticket's JSON body made it slow at scale; they are kept as
-- columns instead, written by the store in the same statement as the body
-- (crates/store/src/row.rs, `TicketColumns`), so the tally reads a covering index and no JSON.
-- The same goes for the incident a ticket names (并案), counted on every incident read.
-- Deadlines are Julian days (`julianday()`), as the tally compared them before: chrono writes
-- RFC 3339 with as many fraction digits as it needs, which do not sort as text.
ALTER TABLE tickets ADD COLUMN sign_for_due REAL;
ALTER TABLE tickets ADD COLUMN first_contact_due REAL;
ALTER TABLE tickets ADD COLUMN resolution_due REAL;
ALTER TABLE tickets ADD COLUMN callback_due REAL;
ALTER TABLE tickets ADD COLUMN warning INTEGER NOT NULL DEFAULT 0;         -- flags has `warning`
ALTER TABLE tickets ADD COLUMN contact_warning INTEGER NOT NULL DEFAULT 0; -- flags has `contact_warning`
ALTER TABLE tickets ADD COLUMN contacted INTEGER NOT NULL DEFAULT 0;       -- contacted_at is set
ALTER TABLE tickets ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;          -- the resolution clock is paused
ALTER TABLE tickets ADD COLUMN incident_id TEXT;                           -- body.incident

UPDATE tickets SET
    sign_for_due = julianday(json_extract(body, '$.deadlines.sign_for')),
    first_contact_due = julianday(json_extract(body, '$.deadlines.first_contact')),
    resolution_due = julianday(json_extract(body, '$.deadlines.resolution')),
    callback_due = julianday(json_extract(body, '$.deadlines.callback')),
    warning = EXISTS (SELECT 1 FROM json_each(tickets.body, '$.flags') WHERE value = 'warning'),
    contact_warning =
        EXISTS (SELECT 1 FROM json_each(tickets.body, '$.flags') WHERE value = 'contact_warning'),
    contacted = json_extract(body, '$.contacted_at') IS NOT NULL,
    paused = json_extract(body, '$.paused') IS NOT NULL,
    incident_id = json_extract(body, '$.incident');

-- The tally's one index: every live ticket with all the tally reads (an index-only scan).
CREATE INDEX tickets_live_tally ON tickets (stage, division_code, sign_for_due, first_contact_due,
    resolution_due, callback_due, warning, contact_warning, contacted, paused)
    WHERE stage <> 'closed';

-- An incident's tickets by the column; the index on the body's field goes.
CREATE INDEX tickets_incident_id ON tickets (incident_id) WHERE incident_id IS NOT NULL;
DROP INDEX IF EXISTS tickets_incident;
