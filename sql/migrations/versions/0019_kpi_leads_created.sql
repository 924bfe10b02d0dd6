-- An incremental KPI build stages the leads with a fact since the first period it rewrites
-- (sql/kpi/stg_window.sql): those created since are a few months of two years of leads, found here by
-- range instead of reading every lead.
CREATE INDEX leads_created_idx ON core.leads (created_at);
COMMENT ON INDEX core.leads_created_idx IS 'Leads by creation time: the leads an incremental KPI build stages (sql/kpi/stg_window.sql).';
