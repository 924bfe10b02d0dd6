-- The staging window of an incremental KPI build (sql/kpi/stg_window.sql) holds the kept leads with a funnel
-- moment since its first day, and those with an MQL crossing since then or a deal opened or closed since
-- the first month attribution rewrites. The last two were found by scanning every crossing and every deal
-- on each build; kept on the lead's row, they are read with it. The rows kept so far lack them: emptied,
-- the next build stages every lead again (ops.kpi_lead_stages_state without a row: nothing kept).
ALTER TABLE ops.kpi_lead_stages
    ADD COLUMN last_crossed_at timestamptz,
    ADD COLUMN last_deal_at    timestamptz;
COMMENT ON COLUMN ops.kpi_lead_stages.last_crossed_at IS 'The lead''s latest MQL crossing (any scoring run, any moment).';
COMMENT ON COLUMN ops.kpi_lead_stages.last_deal_at IS 'The latest opening or close of any deal of the lead (deleted ones too).';

TRUNCATE ops.kpi_lead_stages;
DELETE FROM ops.kpi_lead_stages_state;
