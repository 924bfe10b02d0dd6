-- kpi.engagement_monthly: interactions with marketing per month, campaign and content topic (events of
-- leads live at the build's moment), and their rates.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s the organisation's zone
--   %(as_of)s       the build's moment: later interactions wait for a later build
-- The events are counted on their stored values first (one hash aggregate over plain columns); campaign
-- and topic names are normalised on those few groups, not on every event.
WITH gone_leads AS (
    SELECT lead_id FROM core.leads WHERE deleted_at <= %(as_of)s
),

stored AS (
    SELECT date_trunc('month', e.occurred_at AT TIME ZONE %(tz)s)::date AS month, e.campaign_id, e.content_topic,
           e.event_type, count(*) AS n
    FROM core.marketing_events e
    WHERE e.occurred_at >= (%(lo)s::date::timestamp AT TIME ZONE %(tz)s)
      AND e.occurred_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s)
      AND e.occurred_at <= %(as_of)s
      AND NOT EXISTS (SELECT 1 FROM gone_leads g WHERE g.lead_id = e.lead_id)
    GROUP BY 1, e.campaign_id, e.content_topic, e.event_type
),

counts AS (
    SELECT month, COALESCE(NULLIF(btrim(campaign_id), ''), 'none') AS campaign_id,
           ops.kpi_slug(content_topic) AS content_topic,
           COALESCE(sum(n) FILTER (WHERE event_type = 'email_sent'), 0) AS sends,
           COALESCE(sum(n) FILTER (WHERE event_type = 'email_open'), 0) AS opens,
           COALESCE(sum(n) FILTER (WHERE event_type = 'email_click'), 0) AS clicks,
           COALESCE(sum(n) FILTER (WHERE event_type = 'form_submission'), 0) AS form_submissions,
           COALESCE(sum(n) FILTER (WHERE event_type = 'demo_request'), 0) AS demo_requests,
           COALESCE(sum(n) FILTER (WHERE event_type = 'content_download'), 0) AS downloads,
           COALESCE(sum(n) FILTER (WHERE event_type = 'webinar_registered'), 0) AS webinar_registrations,
           COALESCE(sum(n) FILTER (WHERE event_type = 'webinar_attended'), 0) AS webinar_attendance,
           COALESCE(sum(n) FILTER (WHERE event_type = 'unsubscribe'), 0) AS unsubscribes,
           COALESCE(sum(n) FILTER (WHERE event_type = 'bounce'), 0) AS bounces
    FROM stored
    GROUP BY 1, 2, 3
)

SELECT c.*,
       round(opens::numeric / NULLIF(sends, 0), 4) AS open_rate,
       round(clicks::numeric / NULLIF(sends, 0), 4) AS click_rate,
       round(clicks::numeric / NULLIF(opens, 0), 4) AS click_to_open_rate,
       round(unsubscribes::numeric / NULLIF(sends, 0), 4) AS unsubscribe_rate,
       round(bounces::numeric / NULLIF(sends, 0), 4) AS bounce_rate,
       round(webinar_attendance::numeric / NULLIF(webinar_registrations, 0), 4) AS attendance_rate
FROM counts c
