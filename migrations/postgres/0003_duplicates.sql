-- Duplicate detection at intake reads live tickets of one territory and category; the same
-- index serves division-prefix searches (text_pattern_ops), so the division-only index goes.
CREATE INDEX tickets_territory_category
    ON tickets (division_code text_pattern_ops, category, created_at);
DROP INDEX tickets_division;

-- A ticket row is ~3 KB: keep it in the heap page instead of moving its body to TOAST, which
-- cost every submit an extra heap insert and index insert in the TOAST table.
ALTER TABLE tickets SET (toast_tuple_target = 8160);
