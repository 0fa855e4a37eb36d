-- The knowledge base's KPIs (issue 21): consultations (咨询) recorded, and those answered on the
-- line from a knowledge article; 知识库命中率 is the second over the first.
ALTER TABLE kpi_hourly ADD COLUMN consultations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_hourly ADD COLUMN knowledge_answers BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_daily ADD COLUMN consultations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_daily ADD COLUMN knowledge_answers BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_monthly ADD COLUMN consultations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE kpi_monthly ADD COLUMN knowledge_answers BIGINT NOT NULL DEFAULT 0;
-- Existing tickets' facts lack the new counts: the follower starts again from the beginning of
-- the change log and replaces every ticket's facts (replacing, never adding, so nothing is
-- counted twice).
UPDATE kpi_state SET cursor = NULL;
