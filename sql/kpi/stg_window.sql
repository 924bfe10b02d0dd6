-- Staging window: _kpi_leads, the kept staged rows (ops.kpi_lead_stages, stg_leads.sql) of the leads an
-- incremental build reads, those with a funnel moment (created, MQL, SQL, opportunity, customer, won) or
-- an MQL crossing on or after the first day any staged model reads, and the leads of the deals opened or
-- won since then or since the first month attribution rewrites (a deal of a month between two of its
-- ranges, staged for nothing, is no period's: it changes no row). Every other lead has nothing in the periods
-- rewritten (a later entry of a stage it had reached before moves none of its moments). Read by
-- stg_deals.sql and every lead-based model.
--   %(stage_from)s   the first day (organisation time zone) the build's staged models read facts from
--   %(deals_from)s   the first day whose deals are staged with their leads (not after stage_from)
--   %(tz)s           the organisation's time zone
CREATE TEMP TABLE _kpi_leads AS
WITH bounds AS MATERIALIZED (
    -- the day's first instant: the first of two local midnights where the clock goes back after midnight
    SELECT ops.kpi_day_start(%(stage_from)s::date, %(tz)s) AS since,
           ops.kpi_day_start(%(deals_from)s::date, %(tz)s) AS deals_since
)

-- a crossing or a deal since then is the kept row's last one (stg_leads.sql): no scan of them all
SELECT k.*
FROM ops.kpi_lead_stages k
WHERE greatest(k.created_at, k.mql_at, k.sql_at, k.opportunity_at, k.customer_at, k.first_won_at, k.last_crossed_at)
      >= (SELECT since FROM bounds)
   OR k.last_deal_at >= (SELECT deals_since FROM bounds);
