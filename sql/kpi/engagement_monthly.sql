-- kpi.engagement_monthly: interactions with marketing per month, campaign and content topic (events of
-- leads live at the build's moment), and their rates.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi; %(tz)s the organisation's zone
--   %(as_of)s       the build's moment: later interactions wait for a later build
-- The events are grouped on their stored values first (hash aggregates over plain columns); names are
-- normalised on the groups, not on every event.
WITH gone_leads AS (
    SELECT lead_id FROM core.leads WHERE deleted_at <= %(as_of)s
),

per_lead AS (
    SELECT date_trunc('month', e.occurred_at AT TIME ZONE %(tz)s)::date AS month, e.campaign_id, e.content_topic,
           e.lead_id,
           count(*) FILTER (WHERE e.event_type NOT IN ('email_sent', 'points_changed')) AS engaged,
           count(*) FILTER (WHERE e.event_type = 'email_sent') AS sends,
           count(*) FILTER (WHERE e.event_type = 'email_open') AS opens,
           count(*) FILTER (WHERE e.event_type = 'email_click') AS clicks,
           count(*) FILTER (WHERE e.event_type = 'form_submission') AS form_submissions,
           count(*) FILTER (WHERE e.event_type = 'demo_request') AS demo_requests,
           count(*) FILTER (WHERE e.event_type = 'content_download') AS downloads,
           count(*) FILTER (WHERE e.event_type = 'webinar_registered') AS webinar_registrations,
           count(*) FILTER (WHERE e.event_type = 'webinar_attended') AS webinar_attendance,
           count(*) FILTER (WHERE e.event_type = 'unsubscribe') AS unsubscribes,
           count(*) FILTER (WHERE e.event_type = 'bounce') AS bounces
    FROM core.marketing_events e
    WHERE e.occurred_at >= (%(lo)s::date::timestamp AT TIME ZONE %(tz)s)
      AND e.occurred_at < (%(hi)s::date::timestamp AT TIME ZONE %(tz)s)
      AND e.occurred_at <= %(as_of)s
      AND NOT EXISTS (SELECT 1 FROM gone_leads g WHERE g.lead_id = e.lead_id)
    GROUP BY 1, e.campaign_id, e.content_topic, e.lead_id
),

-- a lead counts once per campaign and topic even when the source spells the topic two ways
per_name AS (
    SELECT month, COALESCE(NULLIF(btrim(campaign_id), ''), 'none') AS campaign_id,
           ops.kpi_slug(content_topic) AS content_topic, lead_id,
           sum(engaged) AS engaged, sum(sends) AS sends, sum(opens) AS opens, sum(clicks) AS clicks,
           sum(form_submissions) AS form_submissions, sum(demo_requests) AS demo_requests,
           sum(downloads) AS downloads, sum(webinar_registrations) AS webinar_registrations,
           sum(webinar_attendance) AS webinar_attendance, sum(unsubscribes) AS unsubscribes, sum(bounces) AS bounces
    FROM per_lead
    GROUP BY 1, 2, 3, 4
),

counts AS (
    SELECT month, campaign_id, content_topic,
           count(*) FILTER (WHERE engaged > 0) AS engaged_leads,
           sum(sends) AS sends, sum(opens) AS opens, sum(clicks) AS clicks, sum(form_submissions) AS form_submissions,
           sum(demo_requests) AS demo_requests, sum(downloads) AS downloads,
           sum(webinar_registrations) AS webinar_registrations, sum(webinar_attendance) AS webinar_attendance,
           sum(unsubscribes) AS unsubscribes, sum(bounces) AS bounces
    FROM per_name
    GROUP BY month, campaign_id, content_topic
)

SELECT c.*,
       round(opens::numeric / NULLIF(sends, 0), 4) AS open_rate,
       round(clicks::numeric / NULLIF(sends, 0), 4) AS click_rate,
       round(clicks::numeric / NULLIF(opens, 0), 4) AS click_to_open_rate,
       round(unsubscribes::numeric / NULLIF(sends, 0), 4) AS unsubscribe_rate,
       round(bounces::numeric / NULLIF(sends, 0), 4) AS bounce_rate,
       round(webinar_attendance::numeric / NULLIF(webinar_registrations, 0), 4) AS attendance_rate
FROM counts c
