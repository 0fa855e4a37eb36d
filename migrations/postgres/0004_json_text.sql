-- Bodies and event payloads are written on every change and read back whole by the router;
-- nothing queries inside them on the hot path. `json` keeps them queryable (->, ->>) while
-- sparing PostgreSQL the conversion to jsonb's binary form on every write.
ALTER TABLE tickets ALTER COLUMN body TYPE json USING body::json;
ALTER TABLE ticket_events ALTER COLUMN actor TYPE json USING actor::json;
ALTER TABLE ticket_events ALTER COLUMN action TYPE json USING action::json;
