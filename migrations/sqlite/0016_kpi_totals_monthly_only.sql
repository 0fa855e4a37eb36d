-- Rows of totals (dim 'all') are kept in the monthly KPI table only: every non-staff fact also
-- counts in exactly one channel row, and the totals of an hour or a day are now summed from
-- those (crates/kpi/src/store/mod.rs, `Dim::totals`). They were a third of the rows the
-- follower upserted per routed submit (issue 13's routed ratio). Nothing reads these any more.
DELETE FROM kpi_hourly WHERE dim = 'all';
DELETE FROM kpi_daily WHERE dim = 'all';
