-- Staging: one row per deal live at the build's moment, with the dimensions of its lead (a deal without
-- a live lead takes its company's country and industry). Read after stg_leads.sql.
--   %(as_of)s  the build's moment: deals opened after it are left out, wins after it are not wins yet
--   %(stage_all)s, %(deals_from)s  false: only the deals of staged leads and those opened or won from
--              deals_from on (stg_window.sql); the others have nothing in the periods rewritten
CREATE TEMP TABLE _kpi_deals AS
WITH live_deals AS (
    SELECT d.deal_id, d.lead_id, d.company_id, COALESCE(d.amount, 0) AS amount, d.created_at,
           CASE WHEN d.is_won AND d.closed_at <= %(as_of)s THEN d.closed_at END AS won_at
    FROM core.deals d
    WHERE (d.deleted_at IS NULL OR d.deleted_at > %(as_of)s)
      AND (d.created_at <= %(as_of)s OR (d.created_at IS NULL AND d.closed_at <= %(as_of)s))
)

SELECT d.deal_id, d.lead_id, d.amount,
       CASE WHEN d.created_at <= %(as_of)s THEN d.created_at END AS created_at,
       d.won_at,
       -- the touches that count for a deal are those before it opened (or was won, if the source
       -- never says when it opened)
       COALESCE(d.created_at, d.won_at) AS opened_at,
       COALESCE(l.channel, 'unknown') AS channel,
       COALESCE(l.persona, 'unknown') AS persona,
       COALESCE(l.country, NULLIF(upper(btrim(c.country)), ''), 'unknown') AS country,
       COALESCE(NULLIF(l.industry, 'unknown'), ops.kpi_slug(c.industry)) AS industry,
       COALESCE(l.owner_id, 'unknown') AS owner_id,
       COALESCE(l.team, 'unknown') AS team
FROM live_deals d
LEFT JOIN _kpi_leads l ON l.lead_id = d.lead_id
LEFT JOIN core.companies c ON c.company_id = d.company_id
WHERE %(stage_all)s
   OR l.lead_id IS NOT NULL
   OR COALESCE(d.created_at, d.won_at) >= ops.kpi_day_start(%(deals_from)s::date, %(tz)s)
   OR d.won_at >= ops.kpi_day_start(%(deals_from)s::date, %(tz)s);

CREATE UNIQUE INDEX ON _kpi_deals (deal_id);
CREATE INDEX ON _kpi_deals (lead_id);
ANALYZE _kpi_deals;
