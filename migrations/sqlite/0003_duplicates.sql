-- Duplicate detection at intake reads live tickets of one territory and category.
CREATE INDEX tickets_territory_category ON tickets (division_code, category, created_at);
