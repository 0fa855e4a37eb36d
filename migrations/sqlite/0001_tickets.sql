-- Tickets (current state) and their append-only event log, for the embedded default.
-- Same shape as migrations/postgres; UUIDs and timestamps are stored as text
-- (timestamps as RFC 3339 UTC with microseconds, so they sort as text).

CREATE TABLE tickets (
    id            TEXT    PRIMARY KEY,
    version       INTEGER NOT NULL,
    request_id    TEXT    UNIQUE,
    fingerprint   TEXT,
    stage         TEXT    NOT NULL,
    station_id    TEXT,
    division_code TEXT,
    channel       TEXT    NOT NULL,
    urgency       TEXT    NOT NULL,
    category      TEXT,
    text          TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    body          TEXT    NOT NULL
);

CREATE INDEX tickets_stage_station ON tickets (stage, station_id);
CREATE INDEX tickets_division ON tickets (division_code);

CREATE TABLE ticket_events (
    ticket_id TEXT    NOT NULL REFERENCES tickets (id),
    seq       INTEGER NOT NULL,
    at        TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    stage     TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    PRIMARY KEY (ticket_id, seq)
);

CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket_events is append-only');
END;

CREATE TRIGGER ticket_events_no_delete BEFORE DELETE ON ticket_events
BEGIN
    SELECT RAISE(ABORT, 'ticket_events is append-only');
END;
