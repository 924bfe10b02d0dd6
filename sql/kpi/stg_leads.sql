-- Staging: one row per lead live at the build's moment, with its dimensions and the moment it reached
-- each funnel step, kept in ops.kpi_lead_stages (migration 0027) for the next build. Every lead-based model
-- reads these rows (through _kpi_leads, build.py), staged again here only for the leads that moved.
--   %(as_of)s        the build's moment: later steps and leads deleted before it are left out
--   %(mql_stage)s    the CRM's MQL stage; %(sql_stages)s the stages that mean "sales accepted it"
--   %(restage_all)s  true: every lead (ops.kpi_lead_stages was emptied); false: the leads of _kpi_restage
--                    (stg_moved.sql), whose kept rows are replaced
-- The MQL moment is the hand-over the SLA clock starts from: the first MQL entry in the lifecycle
-- (CRM or scoring) or scoring crossing, whichever came first.
DELETE FROM ops.kpi_lead_stages k
WHERE NOT %(restage_all)s AND k.lead_id IN (SELECT lead_id FROM _kpi_restage);

INSERT INTO ops.kpi_lead_stages (lead_id, channel, persona, country, industry, owner_id, team, created_at, mql_at,
                                 sql_at, opportunity_at, customer_at, first_won_at, last_crossed_at, last_deal_at)
-- the leads staged again as one array: each table is read through its lead index (a semi-join with the
-- temporary table read every row of each, then probed a hash of them)
WITH restage AS (
    SELECT array_agg(lead_id) AS restaged FROM _kpi_restage
),

live_leads AS (
    SELECT l.lead_id, l.created_at, l.owner_id, l.persona_id, l.country, l.attributes, l.company_id
    FROM core.leads l
    WHERE (l.deleted_at IS NULL OR l.deleted_at > %(as_of)s)
      AND (%(restage_all)s OR l.lead_id = ANY((SELECT restaged FROM restage)::bigint[]))
),

stage_moments AS (
    SELECT lead_id,
           min(entered_at) FILTER (WHERE stage = %(mql_stage)s) AS mql_stage_at,
           min(entered_at) FILTER (WHERE stage = ANY(%(sql_stages)s)) AS sql_at,
           min(entered_at) FILTER (WHERE stage = 'opportunity') AS opportunity_stage_at,
           min(entered_at) FILTER (WHERE stage = 'customer') AS customer_stage_at
    FROM core.lifecycle_history
    WHERE entered_at <= %(as_of)s
      AND (%(restage_all)s OR lead_id = ANY((SELECT restaged FROM restage)::bigint[]))
    GROUP BY lead_id
),

-- the last crossing and the last deal fact, whatever the moment and the deal's deletion: what the staging
-- window (stg_window.sql) reads a lead for besides its moments
crossings AS (
    SELECT lead_id, min(crossed_at) FILTER (WHERE crossed_at <= %(as_of)s) AS crossed_at,
           max(crossed_at) AS last_crossed_at
    FROM scoring.mql_crossings
    WHERE %(restage_all)s OR lead_id = ANY((SELECT restaged FROM restage)::bigint[])
    GROUP BY lead_id
),

deal_moments AS (
    SELECT lead_id,
           min(created_at) FILTER (WHERE created_at <= %(as_of)s AND live) AS first_deal_at,
           min(closed_at) FILTER (WHERE is_won AND closed_at <= %(as_of)s AND live) AS first_won_at,
           max(greatest(created_at, closed_at)) AS last_deal_at
    FROM (SELECT d.*, d.deleted_at IS NULL OR d.deleted_at > %(as_of)s AS live FROM core.deals d) d
    WHERE lead_id IS NOT NULL
      AND (%(restage_all)s OR lead_id = ANY((SELECT restaged FROM restage)::bigint[]))
    GROUP BY lead_id
),

-- a company's industry normalised once per company, not once per lead (OFFSET 0: evaluated before the join)
companies AS (
    SELECT company_id, country, ops.kpi_slug(industry) AS industry
    FROM core.companies
    WHERE %(restage_all)s
       OR company_id = ANY((SELECT array_agg(l.company_id) FROM _kpi_restage r JOIN core.leads l USING (lead_id))::bigint[])
    OFFSET 0
)

SELECT l.lead_id,
       ops.kpi_lead_channel(l.attributes) AS channel,
       COALESCE(NULLIF(btrim(l.persona_id), ''), 'unknown') AS persona,
       COALESCE(NULLIF(upper(btrim(COALESCE(NULLIF(btrim(l.country), ''), c.country))), ''), 'unknown') AS country,
       COALESCE(c.industry, 'unknown') AS industry,
       COALESCE(l.owner_id, 'unknown') AS owner_id,
       COALESCE(NULLIF(btrim(o.team), ''), 'unknown') AS team,
       CASE WHEN l.created_at <= %(as_of)s THEN l.created_at END AS created_at,
       -- whichever system saw the hand-over first
       NULLIF(least(COALESCE(s.mql_stage_at, 'infinity'), COALESCE(x.crossed_at, 'infinity')), 'infinity') AS mql_at,
       s.sql_at,
       NULLIF(least(COALESCE(s.opportunity_stage_at, 'infinity'), COALESCE(m.first_deal_at, 'infinity')), 'infinity')
           AS opportunity_at,
       NULLIF(least(COALESCE(s.customer_stage_at, 'infinity'), COALESCE(m.first_won_at, 'infinity')), 'infinity')
           AS customer_at,
       m.first_won_at,
       x.last_crossed_at,
       m.last_deal_at
FROM live_leads l
LEFT JOIN companies c ON c.company_id = l.company_id
LEFT JOIN core.owners o ON o.owner_id = l.owner_id
LEFT JOIN stage_moments s USING (lead_id)
LEFT JOIN crossings x USING (lead_id)
LEFT JOIN deal_moments m USING (lead_id);
