-- nurture_leads: what nurturing needs to know about each lead at %(as_of)s, and the first eligibility
-- rule that keeps it out of every scenario (blocked_by; empty = eligible). Planning, exits and the
-- push-time re-check all read this one table, so the three can never disagree on who is eligible.
-- Scoped (an incremental plan, the push-time re-check), only the leads of nurture_scope: the lines
-- marked `scoped only` are kept and each fact is read by index for those leads; otherwise they are
-- dropped and every lead is read in one pass per table.
CREATE TEMP TABLE nurture_leads ON COMMIT DROP AS
WITH chosen AS (
    SELECT l.*
    FROM core.leads l
    WHERE l.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
),
sla_open AS (
    -- with sales now: the first-touch or the accept clock still runs
    SELECT f.lead_id
    FROM sla.followups f
    WHERE (f.status IN ('pending', 'at_risk', 'breached_open') OR f.accept_status IN ('pending', 'breached_open'))
      AND f.decision IS DISTINCT FROM 'rejected'  -- sent back: sales is done with it
      AND f.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
),
won AS (
    SELECT DISTINCT d.lead_id FROM core.deals d
    WHERE d.is_won AND d.deleted_at IS NULL AND d.lead_id IS NOT NULL AND d.closed_at <= %(as_of)s
      AND d.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
),
recycled AS (
    SELECT DISTINCT r.lead_id FROM sla.recycled_leads r
    WHERE r.rejected_stage = %(recycle_stage)s AND r.rejected_at <= %(as_of)s
      AND r.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
),
last_touch AS (
    SELECT a.lead_id, max(a.occurred_at) AS touched_at
    FROM core.sales_activities a
    WHERE a.activity_type = ANY (%(touch_types)s::text[]) AND a.occurred_at <= %(as_of)s
      AND a.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
    GROUP BY a.lead_id
),
events AS (
    -- one pass over the events: a hard bounce ever (a bounce counts as hard unless the source says it
    -- was soft), and one bit per interest some scenario names (its position in %(interests)s) within
    -- the interest window
    SELECT e.lead_id,
           bool_or(e.event_type = 'bounce' AND COALESCE(lower(e.attributes->>'bounce_type'), 'hard') <> 'soft')
               AS hard_bounced,
           bit_or(COALESCE(1::bigint << (array_position(%(interests)s::text[], e.event_type) - 1), 0)
                  | COALESCE(1::bigint << (array_position(%(interests)s::text[], e.content_topic) - 1), 0))
               FILTER (WHERE e.occurred_at > %(as_of)s::timestamptz - make_interval(days => %(interest_days)s))
               AS interest_mask
    FROM core.marketing_events e
    WHERE e.occurred_at <= %(as_of)s
      AND e.lead_id IN (SELECT lead_id FROM nurture_scope)  -- scoped only
      AND (e.event_type = 'bounce'
           OR (e.occurred_at > %(as_of)s::timestamptz - make_interval(days => %(interest_days)s)
               AND (e.event_type = ANY (%(interests)s::text[]) OR e.content_topic = ANY (%(interests)s::text[]))))
    GROUP BY e.lead_id
)
SELECT c.lead_id,
       c.persona_id,
       c.lifecycle_stage,
       c.consent_email,
       s.total AS score,
       COALESCE(s.is_mql, false) AS is_mql,
       r.lead_id IS NOT NULL AS recycled,
       t.touched_at AS last_touch_at,
       COALESCE(ev.interest_mask, 0) AS interest_mask,
       CASE
           WHEN c.deleted_at IS NOT NULL THEN 'deleted'
           WHEN c.consent_email IS FALSE THEN 'no_consent'
           WHEN c.unsubscribed_at IS NOT NULL THEN 'unsubscribed'
           WHEN ev.hard_bounced THEN 'bounced'
           WHEN c.lifecycle_stage = ANY (%(customer_stages)s::text[]) OR w.lead_id IS NOT NULL THEN 'customer'
           WHEN o.lead_id IS NOT NULL THEN 'sla_open'
       END AS blocked_by
FROM chosen c
LEFT JOIN scoring.lead_scores s ON s.lead_id = c.lead_id
LEFT JOIN sla_open o ON o.lead_id = c.lead_id
LEFT JOIN won w ON w.lead_id = c.lead_id
LEFT JOIN recycled r ON r.lead_id = c.lead_id
LEFT JOIN last_touch t ON t.lead_id = c.lead_id
LEFT JOIN events ev ON ev.lead_id = c.lead_id
