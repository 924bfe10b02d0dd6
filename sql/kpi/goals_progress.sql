-- kpi.goals_progress: every SMART goal of the agreement per day of its period up to the build. The goal
-- days (_kpi_goal_days) come from the build with the agreement's business calendar already applied:
-- business_days_elapsed counts the working days from the goal's start to the day, both included, so a
-- weekend, a public holiday or a closed day adds nothing to what is expected by then.
--   %(tz)s the organisation's time zone
WITH goal_days AS (
    SELECT * FROM _kpi_goal_days
),

-- each goal's segment values and first instant worked out once, not once per lead
goals AS (
    SELECT g.*, upper(g.segment_value) AS country_value, ops.kpi_slug(g.segment_value) AS industry_value,
           (g.period_start - 2)::timestamp AT TIME ZONE 'UTC' AS facts_from
    FROM (
        SELECT DISTINCT goal_id, metric, segment, period_start, period_end, split_part(segment, ':', 1) AS dimension,
               substr(segment, strpos(segment, ':') + 1) AS segment_value
        FROM goal_days
    ) g
),

-- leads and deals inside each goal's segment, with a step no earlier than the goal's first day (a fact
-- counts on the day of an MQL, SQL, deal opening or win: older leads have none in the period); only the
-- columns the facts read, for the goals whose metric reads them
goal_leads AS MATERIALIZED (
    SELECT g.goal_id, g.metric, l.lead_id, l.mql_at, l.sql_at, l.first_won_at
    FROM goals g
    -- only the leads with a step since the earliest goal's first day are paired with the goals
    JOIN (SELECT lead_id, persona, country, industry, mql_at, sql_at, first_won_at
          FROM _kpi_leads WHERE greatest(mql_at, sql_at) >= (SELECT min(facts_from) FROM goals)) l
      ON (g.dimension = 'all'
          OR (g.dimension = 'persona' AND l.persona = g.segment_value)
          OR (g.dimension = 'country' AND l.country = g.country_value)
          OR (g.dimension = 'industry' AND l.industry = g.industry_value))
     AND greatest(l.mql_at, l.sql_at) >= g.facts_from
    WHERE g.metric IN ('mql_count', 'sql_count', 'mql_to_sql_rate', 'sql_to_won_rate', 'sla_compliance',
                       'median_first_touch_minutes')
),

goal_deals AS (
    SELECT g.goal_id, g.metric, d.created_at, d.won_at, d.amount
    FROM goals g
    JOIN (SELECT * FROM _kpi_deals WHERE greatest(created_at, won_at) >= (SELECT min(facts_from) FROM goals)) d
      ON (g.dimension = 'all'
          OR (g.dimension = 'persona' AND d.persona = g.segment_value)
          OR (g.dimension = 'country' AND d.country = g.country_value)
          OR (g.dimension = 'industry' AND d.industry = g.industry_value))
     AND greatest(d.created_at, d.won_at) >= g.facts_from
    WHERE g.metric IN ('opportunity_count', 'pipeline_amount', 'won_deals', 'won_amount')
),

-- one row per counted fact: the day it counts on, its value, and (shares) the day it became a success
facts AS (
    -- a lead's fact for its goal's metric in one pass: the moment it counts at and, for a share, the moment
    -- it became a success (greatest() skips NULLs: a lead that never converted has no success day)
    SELECT l.goal_id, (f.at AT TIME ZONE %(tz)s)::date AS fact_day, 1::numeric AS value,
           (f.done_at AT TIME ZONE %(tz)s)::date AS done_day
    FROM goal_leads l
    CROSS JOIN LATERAL (
        SELECT CASE l.metric WHEN 'mql_count' THEN l.mql_at WHEN 'sql_count' THEN l.sql_at
                             WHEN 'mql_to_sql_rate' THEN l.mql_at WHEN 'sql_to_won_rate' THEN l.sql_at END AS at,
               CASE WHEN l.metric = 'mql_to_sql_rate' AND l.sql_at IS NOT NULL THEN greatest(l.mql_at, l.sql_at)
                    WHEN l.metric = 'sql_to_won_rate' AND l.first_won_at IS NOT NULL THEN greatest(l.sql_at, l.first_won_at)
               END AS done_at
    ) f
    WHERE f.at IS NOT NULL
    UNION ALL
    SELECT goal_id, (created_at AT TIME ZONE %(tz)s)::date, CASE WHEN metric = 'opportunity_count' THEN 1 ELSE amount END, NULL
    FROM goal_deals WHERE metric IN ('opportunity_count', 'pipeline_amount') AND created_at IS NOT NULL
    UNION ALL
    SELECT goal_id, (won_at AT TIME ZONE %(tz)s)::date, CASE WHEN metric = 'won_deals' THEN 1 ELSE amount END, NULL
    FROM goal_deals WHERE metric IN ('won_deals', 'won_amount') AND won_at IS NOT NULL
    UNION ALL
    -- SLA clocks already due: on time (a success the day it was handed over) or not
    SELECT l.goal_id, (f.mql_at AT TIME ZONE %(tz)s)::date, 1,
           CASE WHEN f.status = 'met' THEN (f.mql_at AT TIME ZONE %(tz)s)::date END
    FROM goal_leads l JOIN sla.followups f USING (lead_id)
    WHERE l.metric = 'sla_compliance' AND f.status IN ('met', 'breached_late', 'breached_open')
    UNION ALL
    SELECT l.goal_id, (f.mql_at AT TIME ZONE %(tz)s)::date, f.business_minutes_to_touch::numeric, NULL
    FROM goal_leads l JOIN sla.followups f USING (lead_id)
    WHERE l.metric = 'median_first_touch_minutes' AND f.business_minutes_to_touch IS NOT NULL
),

-- only the facts of each goal's own period meet its days (all of history times every day would not)
period_facts AS (
    SELECT f.* FROM facts f JOIN goals g USING (goal_id) WHERE f.fact_day BETWEEN g.period_start AND g.period_end
),

-- counts, amounts and shares to date are running sums over the goal's days (one row per fact and day,
-- not one per fact and every later day); a share's success day is never before its fact's day
daily AS (
    SELECT goal_id, fact_day AS day, sum(value) AS value, count(*) AS facts, 0 AS done
    FROM period_facts GROUP BY goal_id, fact_day
    UNION ALL
    SELECT goal_id, done_day, NULL, 0, count(*) FROM period_facts WHERE done_day IS NOT NULL GROUP BY goal_id, done_day
),

running AS (
    SELECT gd.goal_id, gd.day, gd.unit,
           sum(sum(d.value)) OVER to_date AS value, sum(sum(d.facts)) OVER to_date AS facts,
           sum(sum(d.done)) OVER to_date AS done
    FROM goal_days gd
    LEFT JOIN daily d ON d.goal_id = gd.goal_id AND d.day = gd.day
    WHERE gd.unit IN ('count', 'amount', 'share')
    GROUP BY gd.goal_id, gd.day, gd.unit
    WINDOW to_date AS (PARTITION BY gd.goal_id ORDER BY gd.day)
),

actuals AS (
    SELECT goal_id, day,
           CASE WHEN unit IN ('count', 'amount') THEN COALESCE(value, 0) ELSE done::numeric / NULLIF(facts, 0) END
               AS actual
    FROM running
    UNION ALL
    -- a median to date needs every value to date
    SELECT gd.goal_id, gd.day, percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value)::numeric
    FROM goal_days gd
    LEFT JOIN period_facts f ON f.goal_id = gd.goal_id AND f.fact_day <= gd.day
    WHERE gd.unit NOT IN ('count', 'amount', 'share')
    GROUP BY gd.goal_id, gd.day
),

progress AS (
    SELECT gd.*, round(a.actual, 4) AS actual_to_date,
           CASE WHEN gd.unit IN ('count', 'amount')
                THEN round(gd.target * gd.business_days_elapsed / NULLIF(gd.business_days_total, 0)::numeric, 4)
                ELSE gd.target END AS expected
    FROM goal_days gd
    JOIN actuals a USING (goal_id, day)
)

SELECT goal_id, day, metric, segment, target, period_start, period_end, business_days_elapsed, business_days_total,
       actual_to_date,
       COALESCE(expected, target) AS expected_to_date,
       CASE WHEN unit NOT IN ('count', 'amount') THEN actual_to_date
            WHEN business_days_elapsed > 0 THEN round(actual_to_date * business_days_total / business_days_elapsed, 4)
       END AS projected,
       CASE WHEN actual_to_date IS NULL THEN NULL
            WHEN higher_is_better THEN actual_to_date >= COALESCE(expected, target)
            ELSE actual_to_date <= COALESCE(expected, target) END AS on_track
FROM progress
