-- Tickets (current state) and their append-only event log. PostgreSQL is the system of record:
-- every change writes the new ticket row and one event in a single statement/transaction.

CREATE TABLE tickets (
    id            UUID PRIMARY KEY,            -- UUIDv7: sorts by creation time
    version       BIGINT      NOT NULL,        -- = seq of the last event; optimistic concurrency
    request_id    TEXT        UNIQUE,          -- client idempotency key (NULL when not given)
    fingerprint   TEXT,                        -- digest of the request, to catch a reused request id
    stage         TEXT        NOT NULL,
    station_id    TEXT,
    division_code TEXT,
    channel       TEXT        NOT NULL,
    urgency       TEXT        NOT NULL,
    category      TEXT,
    text          TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    body          JSONB       NOT NULL         -- the whole ticket, as the domain serialises it
);

CREATE INDEX tickets_stage_station ON tickets (stage, station_id);
CREATE INDEX tickets_division ON tickets (division_code text_pattern_ops);

CREATE TABLE ticket_events (
    ticket_id UUID        NOT NULL REFERENCES tickets (id),
    seq       BIGINT      NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    kind      TEXT        NOT NULL,
    stage     TEXT        NOT NULL,
    actor     JSONB       NOT NULL,
    action    JSONB       NOT NULL,
    PRIMARY KEY (ticket_id, seq)
);

-- The log is append-only: history can be read, never rewritten.
CREATE FUNCTION ticket_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ticket_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ticket_events_no_update BEFORE UPDATE OR DELETE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION ticket_events_append_only();
