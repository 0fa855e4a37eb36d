-- 并案 (issue 13): an incident groups tickets about one matter under one lead ticket, whose id
-- it bears. Who belongs to it is written in the tickets themselves (`body.incident`, in the
-- same write as each ticket's own change, so a ticket can never be half-merged); this table
-- holds what belongs to the incident as a whole: when it was opened, the one public reply
-- posted to all of its tickets, and when it was closed. Instants are milliseconds since the
-- epoch.
CREATE TABLE incidents (
    id          TEXT   PRIMARY KEY,            -- the lead ticket's id
    opened_at   BIGINT NOT NULL,
    opened_by   TEXT   NOT NULL,
    reply       TEXT,
    replied_at  BIGINT,
    replied_by  TEXT,
    closed_at   BIGINT,
    closed_by   TEXT
);
CREATE INDEX incidents_open ON incidents (closed_at, opened_at);
-- The public notices (公告) posted on an incident, append-only: operators read the latest to
-- callers at intake.
CREATE TABLE incident_notices (
    incident_id TEXT   NOT NULL REFERENCES incidents (id),
    seq         BIGINT NOT NULL,
    text        TEXT   NOT NULL,
    posted_by   TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
CREATE INDEX IF NOT EXISTS tickets_incident ON tickets (json_extract(body, '$.incident'));
