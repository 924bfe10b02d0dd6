-- nurture_scope: the leads an incremental plan at %(as_of)s re-plans, the last plan having been at
-- %(since)s. A lead's plan can only differ from last time when
--   * one of its inputs changed: logged by triggers in nurture.lead_changes (taken and deleted here:
--     a change committed later stays for the next plan), or its MQL state flipped (scoring rewrites every
--     score each run, so flips are found against nurture.lead_state);
--   * its moment came (nurture.lead_state.wake_at): a cooldown ends, or a daily cap left it waiting;
--   * a time-bound fact crossed a boundary between the two moments: an event entering or leaving the
--     interest window, a sales touch starting or ageing past a scenario's quiet days, a deal won, a lead
--     recycled, an SQL stage or an MQL crossing dated in between (rows written with such dates before
--     the last plan are in no change log).
-- Every other lead would be planned exactly as last time: already in a scenario, kept out by the same
-- rule, or matching nothing (incremental == full, tests/integration/test_nurture_incremental.py).
CREATE TEMP TABLE nurture_scope ON COMMIT DROP AS
WITH logged AS (
    DELETE FROM nurture.lead_changes RETURNING lead_id
),
window_edges AS (
    SELECT %(since)s::timestamptz AS since, %(as_of)s::timestamptz AS as_of,
           make_interval(days => %(interest_days)s) AS width
)
SELECT lead_id FROM logged
UNION
SELECT COALESCE(now_mql.lead_id, was_mql.lead_id)  -- MQL now or at the last plan, not both
FROM (SELECT lead_id FROM scoring.lead_scores WHERE is_mql) AS now_mql
FULL JOIN (SELECT lead_id FROM nurture.lead_state WHERE is_mql) AS was_mql ON was_mql.lead_id = now_mql.lead_id
WHERE now_mql.lead_id IS NULL OR was_mql.lead_id IS NULL
UNION
SELECT st.lead_id FROM nurture.lead_state st WHERE st.wake_at <= %(as_of)s
UNION
SELECT e.lead_id
FROM core.marketing_events e, window_edges w
WHERE ((e.occurred_at > w.since AND e.occurred_at <= w.as_of)
       OR (e.occurred_at > w.since - w.width AND e.occurred_at <= w.as_of - w.width))
  AND (e.event_type = 'bounce' OR e.event_type = ANY (%(interests)s::text[])
       OR e.content_topic = ANY (%(interests)s::text[]))
UNION
SELECT a.lead_id
FROM core.sales_activities a, window_edges w
WHERE a.activity_type = ANY (%(touch_types)s::text[])
  AND cardinality(%(quiet_days)s::int[]) > 0
  AND ((a.occurred_at > w.since AND a.occurred_at <= w.as_of)
       OR EXISTS (SELECT 1 FROM unnest(%(quiet_days)s::int[]) AS q (days)
                  WHERE a.occurred_at > w.since - make_interval(days => q.days)
                    AND a.occurred_at <= w.as_of - make_interval(days => q.days)))
UNION
SELECT d.lead_id FROM core.deals d, window_edges w
WHERE d.is_won AND d.lead_id IS NOT NULL AND d.closed_at > w.since AND d.closed_at <= w.as_of
UNION
SELECT f.lead_id FROM sla.followups f, window_edges w
WHERE f.decision = 'rejected' AND f.decided_at > w.since AND f.decided_at <= w.as_of
UNION
SELECT h.lead_id FROM core.lifecycle_history h, window_edges w
WHERE h.stage = ANY (%(sql_stages)s::text[]) AND h.entered_at > w.since AND h.entered_at <= w.as_of
UNION
SELECT x.lead_id FROM scoring.mql_crossings x, window_edges w
WHERE x.crossed_at > w.since AND x.crossed_at <= w.as_of
