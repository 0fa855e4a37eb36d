-- The KPI follower (crates/kpi/src/store/sql.rs) adds each step's deltas to the aggregate rows:
-- a routed submit updates about two and a half rows of each table, the same rows again and
-- again (the current hour, day and month of its stations). With full pages each update wrote
-- a new row version on another page and an entry for it in all three indexes; with room left
-- on the page the update is a heap-only one (HOT: no index entry; the page's dead versions are
-- pruned as it fills), which measured as nearly half the follower's database time per routed
-- submit (benches/cpu/run.sh, issue 13's routed ratio).
--
-- Catalog only, no rewrite: new pages are filled to half, and rows on pages filled before this
-- move to such a page on their next update.
ALTER TABLE kpi_hourly SET (fillfactor = 50);
ALTER TABLE kpi_daily SET (fillfactor = 50);
ALTER TABLE kpi_monthly SET (fillfactor = 50);
