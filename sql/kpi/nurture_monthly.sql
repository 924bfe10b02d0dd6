-- kpi.nurture_monthly: enrollments of the nurture ledger (nurture.enrollments) per month they were planned,
-- scenario and arm (enrolled, or held out as the control group): exits by reason, and how many of the
-- leads became MQL or SQL after the enrollment. Skipped plans never reached anyone: left out.
-- The build runs this model only once the ledger exists (until then the table stays empty).
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s
WITH enrollments AS (
    SELECT e.lead_id, e.scenario_id, e.arm, e.planned_at, e.exited_at, e.exit_reason,
           date_trunc('month', e.planned_at AT TIME ZONE %(tz)s)::date AS month
    FROM nurture.enrollments e
    WHERE e.state <> 'skipped'
      AND e.planned_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s)
      AND e.planned_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
),

outcomes AS (
    SELECT e.*,
           COALESCE(l.mql_at > e.planned_at, false) AS reached_mql,
           COALESCE(l.sql_at > e.planned_at, false) AS reached_sql
    FROM enrollments e
    LEFT JOIN _kpi_leads l USING (lead_id)
),

exit_reasons AS (
    SELECT month, scenario_id, arm, jsonb_object_agg(reason, exits) AS exits_by_reason
    FROM (
        SELECT month, scenario_id, arm, COALESCE(NULLIF(btrim(exit_reason), ''), 'unknown') AS reason, count(*) AS exits
        FROM enrollments
        WHERE exited_at IS NOT NULL
        GROUP BY 1, 2, 3, 4
    ) r
    GROUP BY month, scenario_id, arm
)

SELECT o.month, o.scenario_id, o.arm,
       count(*) AS leads,
       count(*) FILTER (WHERE o.exited_at IS NOT NULL) AS exited,
       COALESCE(r.exits_by_reason, '{}'::jsonb) AS exits_by_reason,
       count(*) FILTER (WHERE o.reached_mql) AS reached_mql,
       count(*) FILTER (WHERE o.reached_sql) AS reached_sql
FROM outcomes o
LEFT JOIN exit_reasons r USING (month, scenario_id, arm)
GROUP BY o.month, o.scenario_id, o.arm, r.exits_by_reason
