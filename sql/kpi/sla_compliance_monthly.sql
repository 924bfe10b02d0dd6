-- kpi.sla_compliance_monthly: the SLA clocks (sla.followups) of the MQLs handed over in each month, per
-- owner, team and tier, as the clock last read them. "On time": a qualifying touch before the tier's
-- deadline on the business calendar. Shares are over the clocks already due (met, late or open past due).
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s; %(as_of)s
-- The clocks of leads deleted by the build's moment are left out by an anti-join with those leads only
-- (a core lead is never removed, only marked deleted; a join with every live lead hashed all of them),
-- and the groups are sorted for the percentiles in byte order (COLLATE "C": the same groups).
WITH followups AS (
    SELECT f.*, date_trunc('month', f.mql_at AT TIME ZONE %(tz)s)::date AS month, f.tier COLLATE "C" AS tier_key,
           COALESCE(f.owner_id, 'unknown') COLLATE "C" AS owner_key,
           COALESCE(NULLIF(btrim(o.team), ''), 'unknown') COLLATE "C" AS team
    FROM sla.followups f
    LEFT JOIN core.owners o ON o.owner_id = f.owner_id
    WHERE f.mql_at >= ops.kpi_day_start(%(lo)s::date, %(tz)s)
      AND f.mql_at < ops.kpi_day_start(%(hi)s::date, %(tz)s)
      AND NOT EXISTS (SELECT 1 FROM core.leads l WHERE l.lead_id = f.lead_id AND l.deleted_at <= %(as_of)s)
),

breaches AS (
    SELECT b.lead_id,
           count(*) FILTER (WHERE b.kind = 'first_touch') AS first_touch_breaches,
           count(*) FILTER (WHERE b.kind = 'accept') AS accept_breaches,
           count(*) FILTER (WHERE b.escalated_at IS NOT NULL) AS escalations
    FROM sla.breaches b
    JOIN followups f USING (lead_id)
    GROUP BY b.lead_id
),

clocks AS (
    SELECT f.*, COALESCE(b.first_touch_breaches, 0) AS first_touch_breaches,
           COALESCE(b.accept_breaches, 0) AS accept_breaches, COALESCE(b.escalations, 0) AS escalations
    FROM followups f
    LEFT JOIN breaches b USING (lead_id)
)

SELECT month, owner_key AS owner_id, team, tier_key AS tier,
       count(*) AS handed_over,
       count(*) FILTER (WHERE status = 'excluded') AS excluded,
       count(*) FILTER (WHERE status IN ('met', 'breached_late', 'breached_open')) AS due,
       count(*) FILTER (WHERE status = 'met') AS touched_on_time,
       count(*) FILTER (WHERE status = 'breached_late') AS touched_late,
       count(*) FILTER (WHERE status = 'breached_open') AS untouched_past_due,
       round(count(*) FILTER (WHERE status = 'met')::numeric
             / NULLIF(count(*) FILTER (WHERE status IN ('met', 'breached_late', 'breached_open')), 0), 4) AS on_time_share,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY business_minutes_to_touch)::numeric, 2) AS median_minutes_to_touch,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY business_minutes_to_touch)::numeric, 2) AS p90_minutes_to_touch,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY routing_minutes)::numeric, 2) AS median_routing_minutes,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY rep_minutes)::numeric, 2) AS median_rep_minutes,
       sum(first_touch_breaches) AS first_touch_breaches,
       sum(accept_breaches) AS accept_breaches,
       sum(escalations) AS escalations,
       count(*) FILTER (WHERE decision = 'accepted') AS accepted,
       count(*) FILTER (WHERE decision = 'rejected') AS rejected,
       count(*) FILTER (WHERE accept_status IN ('met', 'breached_late', 'breached_open')) AS accept_due,
       count(*) FILTER (WHERE accept_status = 'met') AS decided_on_time,
       round(count(*) FILTER (WHERE accept_status = 'met')::numeric
             / NULLIF(count(*) FILTER (WHERE accept_status IN ('met', 'breached_late', 'breached_open')), 0), 4)
           AS decided_on_time_share
FROM clocks
GROUP BY month, owner_key, team, tier_key
