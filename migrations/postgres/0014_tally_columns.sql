-- The supervision gauges (issue 13): `live_tally` counts every live ticket by territory and
-- stage with which of its clocks are overdue or showing their yellow light, every few seconds on
-- every replica. Reading those facts out of each ticket's JSON body cost 15-28 s at 1M live
-- tickets; they are kept as columns instead, written by the store in the same statement as the
-- body (crates/store/src/row.rs, `TicketColumns`), so the tally reads a covering index and no
-- JSON. The same goes for the incident a ticket names (并案), counted on every incident read.
--
-- Columns are added without a rewrite (constant defaults), then filled from the bodies once.
ALTER TABLE tickets
    ADD COLUMN sign_for_due      TIMESTAMPTZ,
    ADD COLUMN first_contact_due TIMESTAMPTZ,
    ADD COLUMN resolution_due    TIMESTAMPTZ,
    ADD COLUMN callback_due      TIMESTAMPTZ,
    ADD COLUMN warning           BOOLEAN NOT NULL DEFAULT FALSE, -- flags has `warning` (黄灯)
    ADD COLUMN contact_warning   BOOLEAN NOT NULL DEFAULT FALSE, -- flags has `contact_warning`
    ADD COLUMN contacted         BOOLEAN NOT NULL DEFAULT FALSE, -- contacted_at is set
    ADD COLUMN paused            BOOLEAN NOT NULL DEFAULT FALSE, -- the resolution clock is paused
    ADD COLUMN incident_id       TEXT;                           -- body.incident

-- Only rows with something to fill are rewritten (every ticket but a bare accepted one).
UPDATE tickets t SET
    sign_for_due = d.sign_for,
    first_contact_due = d.first_contact,
    resolution_due = d.resolution,
    callback_due = d.callback,
    warning = f.warning,
    contact_warning = f.contact_warning,
    contacted = b.contacted_at IS NOT NULL,
    paused = b.paused IS NOT NULL,
    incident_id = b.incident
FROM tickets s
CROSS JOIN LATERAL json_to_record(s.body)
    AS b(deadlines json, contacted_at text, paused text, flags json, incident text)
LEFT JOIN LATERAL json_to_record(b.deadlines)
    AS d(sign_for timestamptz, first_contact timestamptz, resolution timestamptz,
         callback timestamptz) ON TRUE
CROSS JOIN LATERAL (
    SELECT COALESCE(bool_or(flag = 'warning'), FALSE) AS warning,
           COALESCE(bool_or(flag = 'contact_warning'), FALSE) AS contact_warning
    FROM json_array_elements_text(COALESCE(b.flags, '[]'::json)) AS flag
) f
WHERE t.id = s.id
  AND (d.sign_for IS NOT NULL OR d.first_contact IS NOT NULL OR d.resolution IS NOT NULL
       OR d.callback IS NOT NULL OR f.warning OR f.contact_warning
       OR b.contacted_at IS NOT NULL OR b.paused IS NOT NULL OR b.incident IS NOT NULL);

-- The tally's one index: every live ticket with all the tally reads, so the aggregate is an
-- index-only scan (a few dozen bytes a ticket instead of its ~3 KB row).
CREATE INDEX tickets_live_tally ON tickets (stage, division_code)
    INCLUDE (sign_for_due, first_contact_due, resolution_due, callback_due,
             warning, contact_warning, contacted, paused)
    WHERE stage <> 'closed';

-- An incident's tickets by the column (its count is an index-only scan); the index on the body's
-- field goes.
CREATE INDEX tickets_incident_id ON tickets (incident_id) WHERE incident_id IS NOT NULL;
DROP INDEX IF EXISTS tickets_incident;
