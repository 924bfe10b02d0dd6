-- bench/nurture.py's night: what a day does to the warehouse between two plans. One lead in {step}
-- (picked by a hash salted with {offset}, so the picks do not line up with the seed's patterns) changes: 4 new events in the day before {night}, and among those leads a tenth each
-- withdraw consent, move to the nurturing stage, get a sales call, flip their MQL state. Scoring then
-- rewrites every score (each total decays a little), as it does every run; the tool has confirmed the
-- last plan's entries and removed its exits.
CREATE TEMP TABLE bench_changed AS
SELECT i AS lead_id, (hashint4(i * 3 + {offset}) & 2147483647) % 10 AS kind
FROM generate_series(1, {leads}) AS i
WHERE (hashint4(i + {offset}) & 2147483647) % {step} = 0;

INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, content_topic, source_system)
SELECT 'n{offset}:' || c.lead_id || ':' || k, c.lead_id,
       (ARRAY['page_view', 'pricing_page_view', 'email_click', 'content_download'])[k],
       '{night}'::timestamptz - k * interval '5 hours',
       (ARRAY['pricing', 'integration', 'security', 'product'])[1 + (c.lead_id + k) % 4],
       'mautic'
FROM bench_changed c CROSS JOIN generate_series(1, 4) AS k;

UPDATE core.leads SET consent_email = false
WHERE lead_id IN (SELECT lead_id FROM bench_changed WHERE kind = 0);
UPDATE core.leads SET lifecycle_stage = 'nurturing'
WHERE lead_id IN (SELECT lead_id FROM bench_changed WHERE kind = 1);
INSERT INTO core.sales_activities (activity_id, lead_id, activity_type, occurred_at, source_system)
SELECT 'n{offset}:' || lead_id, lead_id, 'call', '{night}'::timestamptz - interval '3 hours', 'hubspot'
FROM bench_changed WHERE kind = 2;

UPDATE scoring.lead_scores s
SET total = round(s.total * 0.98, 2),
    is_mql = s.is_mql <> (s.lead_id IN (SELECT lead_id FROM bench_changed WHERE kind = 3)),
    as_of = '{night}', scored_at = now();

UPDATE nurture.enrollments SET state = 'confirmed', attempts = 1, pushed_at = '{night}'::timestamptz - interval '20 hours',
       confirmed_at = '{night}'::timestamptz - interval '20 hours'
WHERE state = 'planned';
UPDATE nurture.enrollments SET state = 'exited', exit_attempts = 1, exited_at = '{night}'::timestamptz - interval '20 hours'
WHERE state = 'exiting';
