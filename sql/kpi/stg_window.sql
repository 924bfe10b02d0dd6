-- Staging window: the leads an incremental build has to stage, those with a fact (created, a lifecycle
-- entry, an MQL crossing, a deal opened or closed) on or after the first day any staged model reads.
-- Every other lead has nothing in the periods rewritten. And the leads of the deals opened or won in the
-- months attribution rewrites. Read first by stg_leads.sql and stg_deals.sql.
--   %(stage_all)s    true: every lead is staged (a full build), and this table stays empty
--   %(stage_from)s   the first day (organisation time zone) the build's staged models read facts from
--   %(deal_months)s  the months (first days) whose deals are staged with their leads
--   %(tz)s          the organisation's time zone
DROP TABLE IF EXISTS _kpi_stage_leads;

CREATE TEMP TABLE _kpi_stage_leads AS
WITH bounds AS (
    -- the day's first instant: the first of two local midnights where the clock goes back after midnight
    SELECT ops.kpi_day_start(%(stage_from)s::date, %(tz)s) AS since
)

SELECT l.lead_id FROM core.leads l, bounds b WHERE NOT %(stage_all)s AND l.created_at >= b.since
UNION
SELECT h.lead_id FROM core.lifecycle_history h, bounds b WHERE NOT %(stage_all)s AND h.entered_at >= b.since
UNION
SELECT x.lead_id FROM scoring.mql_crossings x, bounds b WHERE NOT %(stage_all)s AND x.crossed_at >= b.since
UNION
SELECT d.lead_id FROM core.deals d, bounds b
WHERE NOT %(stage_all)s AND d.lead_id IS NOT NULL
  AND (d.created_at >= b.since OR d.closed_at >= b.since
       OR date_trunc('month', d.created_at AT TIME ZONE %(tz)s)::date = ANY(%(deal_months)s::date[])
       OR date_trunc('month', d.closed_at AT TIME ZONE %(tz)s)::date = ANY(%(deal_months)s::date[]));

CREATE UNIQUE INDEX ON _kpi_stage_leads (lead_id);
ANALYZE _kpi_stage_leads;
