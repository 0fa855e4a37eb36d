-- Supervision figures (issue 12): the KPIs' counts per hour, local day and local month, kept by the
-- follower in crates/kpi. Each ticket's facts (derived from its whole event log) are stored so
-- that a change replaces them: the aggregates are always the sum of every ticket's facts, never
-- a running total that a replay could count twice. Instants are milliseconds since the epoch.
CREATE TABLE kpi_state (
    id     INTEGER PRIMARY KEY,
    cursor TEXT -- the follower's position in the store's change log; NULL: from the beginning
);
INSERT INTO kpi_state (id, cursor) VALUES (1, NULL);

CREATE TABLE kpi_ticket_facts (
    ticket_id TEXT PRIMARY KEY,
    facts     TEXT NOT NULL -- JSON array of hotline_kpi::facts::Fact
);

CREATE TABLE kpi_hourly (
    bucket   BIGINT NOT NULL, -- the hour's start
    dim      TEXT   NOT NULL, -- all | category | channel | staff
    station  TEXT   NOT NULL, -- '' for intake (no station yet)
    division TEXT   NOT NULL, -- the station's division, or the ticket's territory for intake
    key      TEXT   NOT NULL, -- '' (all), the category's first level, the channel, the staff id
    accepted               BIGINT NOT NULL DEFAULT 0,
    direct_answers         BIGINT NOT NULL DEFAULT 0,
    handed_off             BIGINT NOT NULL DEFAULT 0,
    not_accepted           BIGINT NOT NULL DEFAULT 0,
    duplicates             BIGINT NOT NULL DEFAULT 0,
    dispatched             BIGINT NOT NULL DEFAULT 0,
    signed_on_time         BIGINT NOT NULL DEFAULT 0,
    contacted_on_time      BIGINT NOT NULL DEFAULT 0,
    returns_accepted       BIGINT NOT NULL DEFAULT 0,
    extended               BIGINT NOT NULL DEFAULT 0,
    due                    BIGINT NOT NULL DEFAULT 0,
    resolved_on_time       BIGINT NOT NULL DEFAULT 0,
    closed                 BIGINT NOT NULL DEFAULT 0,
    replied                BIGINT NOT NULL DEFAULT 0,
    redone                 BIGINT NOT NULL DEFAULT 0,
    callbacks_reached      BIGINT NOT NULL DEFAULT 0,
    satisfied              BIGINT NOT NULL DEFAULT 0,
    handling_count         BIGINT NOT NULL DEFAULT 0,
    handling_minutes       BIGINT NOT NULL DEFAULT 0,
    h_le_4                 BIGINT NOT NULL DEFAULT 0,
    h_le_8                 BIGINT NOT NULL DEFAULT 0,
    h_le_16                BIGINT NOT NULL DEFAULT 0,
    h_le_24                BIGINT NOT NULL DEFAULT 0,
    h_le_40                BIGINT NOT NULL DEFAULT 0,
    h_le_80                BIGINT NOT NULL DEFAULT 0,
    h_le_120               BIGINT NOT NULL DEFAULT 0,
    h_more                 BIGINT NOT NULL DEFAULT 0,
    staff_signed           BIGINT NOT NULL DEFAULT 0,
    staff_signed_on_time   BIGINT NOT NULL DEFAULT 0,
    staff_replied          BIGINT NOT NULL DEFAULT 0,
    staff_replied_on_time  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, dim, station, division, key)
);
CREATE INDEX kpi_hourly_division ON kpi_hourly (dim, division text_pattern_ops, bucket);
CREATE INDEX kpi_hourly_station ON kpi_hourly (dim, station, bucket);

CREATE TABLE kpi_daily (
    bucket   BIGINT NOT NULL, -- the local (Asia/Shanghai) day's start
    dim      TEXT   NOT NULL, -- all | category | channel | staff
    station  TEXT   NOT NULL, -- '' for intake (no station yet)
    division TEXT   NOT NULL, -- the station's division, or the ticket's territory for intake
    key      TEXT   NOT NULL, -- '' (all), the category's first level, the channel, the staff id
    accepted               BIGINT NOT NULL DEFAULT 0,
    direct_answers         BIGINT NOT NULL DEFAULT 0,
    handed_off             BIGINT NOT NULL DEFAULT 0,
    not_accepted           BIGINT NOT NULL DEFAULT 0,
    duplicates             BIGINT NOT NULL DEFAULT 0,
    dispatched             BIGINT NOT NULL DEFAULT 0,
    signed_on_time         BIGINT NOT NULL DEFAULT 0,
    contacted_on_time      BIGINT NOT NULL DEFAULT 0,
    returns_accepted       BIGINT NOT NULL DEFAULT 0,
    extended               BIGINT NOT NULL DEFAULT 0,
    due                    BIGINT NOT NULL DEFAULT 0,
    resolved_on_time       BIGINT NOT NULL DEFAULT 0,
    closed                 BIGINT NOT NULL DEFAULT 0,
    replied                BIGINT NOT NULL DEFAULT 0,
    redone                 BIGINT NOT NULL DEFAULT 0,
    callbacks_reached      BIGINT NOT NULL DEFAULT 0,
    satisfied              BIGINT NOT NULL DEFAULT 0,
    handling_count         BIGINT NOT NULL DEFAULT 0,
    handling_minutes       BIGINT NOT NULL DEFAULT 0,
    h_le_4                 BIGINT NOT NULL DEFAULT 0,
    h_le_8                 BIGINT NOT NULL DEFAULT 0,
    h_le_16                BIGINT NOT NULL DEFAULT 0,
    h_le_24                BIGINT NOT NULL DEFAULT 0,
    h_le_40                BIGINT NOT NULL DEFAULT 0,
    h_le_80                BIGINT NOT NULL DEFAULT 0,
    h_le_120               BIGINT NOT NULL DEFAULT 0,
    h_more                 BIGINT NOT NULL DEFAULT 0,
    staff_signed           BIGINT NOT NULL DEFAULT 0,
    staff_signed_on_time   BIGINT NOT NULL DEFAULT 0,
    staff_replied          BIGINT NOT NULL DEFAULT 0,
    staff_replied_on_time  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, dim, station, division, key)
);
CREATE INDEX kpi_daily_division ON kpi_daily (dim, division text_pattern_ops, bucket);
CREATE INDEX kpi_daily_station ON kpi_daily (dim, station, bucket);

CREATE TABLE kpi_monthly (
    bucket   BIGINT NOT NULL, -- the local (Asia/Shanghai) month's start
    dim      TEXT   NOT NULL, -- all | category | channel | staff
    station  TEXT   NOT NULL, -- '' for intake (no station yet)
    division TEXT   NOT NULL, -- the station's division, or the ticket's territory for intake
    key      TEXT   NOT NULL, -- '' (all), the category's first level, the channel, the staff id
    accepted               BIGINT NOT NULL DEFAULT 0,
    direct_answers         BIGINT NOT NULL DEFAULT 0,
    handed_off             BIGINT NOT NULL DEFAULT 0,
    not_accepted           BIGINT NOT NULL DEFAULT 0,
    duplicates             BIGINT NOT NULL DEFAULT 0,
    dispatched             BIGINT NOT NULL DEFAULT 0,
    signed_on_time         BIGINT NOT NULL DEFAULT 0,
    contacted_on_time      BIGINT NOT NULL DEFAULT 0,
    returns_accepted       BIGINT NOT NULL DEFAULT 0,
    extended               BIGINT NOT NULL DEFAULT 0,
    due                    BIGINT NOT NULL DEFAULT 0,
    resolved_on_time       BIGINT NOT NULL DEFAULT 0,
    closed                 BIGINT NOT NULL DEFAULT 0,
    replied                BIGINT NOT NULL DEFAULT 0,
    redone                 BIGINT NOT NULL DEFAULT 0,
    callbacks_reached      BIGINT NOT NULL DEFAULT 0,
    satisfied              BIGINT NOT NULL DEFAULT 0,
    handling_count         BIGINT NOT NULL DEFAULT 0,
    handling_minutes       BIGINT NOT NULL DEFAULT 0,
    h_le_4                 BIGINT NOT NULL DEFAULT 0,
    h_le_8                 BIGINT NOT NULL DEFAULT 0,
    h_le_16                BIGINT NOT NULL DEFAULT 0,
    h_le_24                BIGINT NOT NULL DEFAULT 0,
    h_le_40                BIGINT NOT NULL DEFAULT 0,
    h_le_80                BIGINT NOT NULL DEFAULT 0,
    h_le_120               BIGINT NOT NULL DEFAULT 0,
    h_more                 BIGINT NOT NULL DEFAULT 0,
    staff_signed           BIGINT NOT NULL DEFAULT 0,
    staff_signed_on_time   BIGINT NOT NULL DEFAULT 0,
    staff_replied          BIGINT NOT NULL DEFAULT 0,
    staff_replied_on_time  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, dim, station, division, key)
);
CREATE INDEX kpi_monthly_division ON kpi_monthly (dim, division text_pattern_ops, bucket);
CREATE INDEX kpi_monthly_station ON kpi_monthly (dim, station, bucket);
