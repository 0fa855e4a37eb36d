-- The working set's anti-entropy audit reads a station's live tickets a page at a time, by id
-- (`stage_page`): one read of a whole station (the triage queue held 250k tickets in the 1M
-- surge bench) took seconds of the database and of the router. With `id` last in the index each
-- page of a station is one index range. The index replaces the old one (stage, station_id),
-- which served the same lookups, so writes keep one index here, not two.
DROP INDEX IF EXISTS tickets_stage_station;
CREATE INDEX tickets_stage_station ON tickets (stage, station_id, id);
