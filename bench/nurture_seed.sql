-- bench/nurture.py's warehouse: {leads} leads with scores, contact ids in both tools, {events} events
-- over the 120 days before {as_of}, sales touches, SLA clocks and won deals, in the proportions of a
-- marketing database (most leads consent and are below MQL; a few are customers, unsubscribed, deleted).
INSERT INTO core.leads (lead_id, source_system, source_id, persona_id, lifecycle_stage, consent_email,
                        unsubscribed_at, deleted_at, created_at)
SELECT i, 'mautic', i::text,
       (ARRAY['it_leader', 'ops_manager', 'developer', 'finance', 'student', NULL])[1 + i % 6],
       (ARRAY['subscriber', 'lead', 'lead', 'lead', 'marketingqualifiedlead', 'nurturing', 'customer',
              'lead', 'subscriber', 'opportunity'])[1 + (i / 7) % 10],
       CASE WHEN i % 20 = 0 THEN false WHEN i % 20 = 1 THEN NULL ELSE true END,
       CASE WHEN i % 33 = 0 THEN '{as_of}'::timestamptz - interval '40 days' END,
       CASE WHEN i % 101 = 0 THEN '{as_of}'::timestamptz - interval '5 days' END,
       '{as_of}'::timestamptz - interval '400 days'
FROM generate_series(1, {leads}) AS i;

INSERT INTO core.lead_sources (source_system, source_id, lead_id, batch_id, record, source_updated_at)
SELECT 'mautic', i::text, i, 1, '{{}}', '{as_of}'::timestamptz - interval '3 days'
FROM generate_series(1, {leads}) AS i;
INSERT INTO core.lead_sources (source_system, source_id, lead_id, batch_id, record, source_updated_at)
SELECT 'hubspot', (500000000 + i)::text, i, 1, '{{}}', '{as_of}'::timestamptz - interval '3 days'
FROM generate_series(1, {leads}) AS i WHERE i % 10 < 7;

INSERT INTO scoring.lead_scores (lead_id, fit, engagement, total, grade, is_mql, profile_id, model_version,
                                 config_hash, as_of, scored_at, run_id, history_on)
SELECT i, 10, s - 10, s, 'C', s >= 60, 'default', 'bench', 'bench', '{as_of}', now(), 'bench', '{as_of}'::date
FROM (SELECT i, (hashint4(i) & 1023) % 100 AS s FROM generate_series(1, {leads}) AS i) x;

INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, content_topic, source_system)
SELECT 'b:' || n, 1 + (hashint4(n) & 2147483647) % {leads},
       (ARRAY['page_view', 'page_view', 'email_open', 'email_click', 'pricing_page_view', 'content_download',
              'webinar_registered', 'form_submission', 'page_view', 'bounce'])[1 + n % 10],
       '{as_of}'::timestamptz - (n % 120) * interval '1 day' - (n % 1440) * interval '1 minute',
       (ARRAY['pricing', 'integration', 'security', 'product', NULL, 'company', NULL])[1 + (n / 10) % 7],
       'mautic'
FROM generate_series(1, {events}) AS n
WHERE n % 10 <> 9 OR n % 50 = 9;  -- bounces are rare

INSERT INTO core.sales_activities (activity_id, lead_id, activity_type, occurred_at, source_system)
SELECT 'a:' || n, 1 + (hashint4(n + 7) & 2147483647) % {leads},
       (ARRAY['call', 'email', 'meeting', 'note'])[1 + n % 4],
       '{as_of}'::timestamptz - (n % 90) * interval '1 day', 'hubspot'
FROM generate_series(1, {leads} / 3) AS n;

INSERT INTO sla.followups (lead_id, mql_at, mql_source, tier, allowed_minutes, due_at, status, decision,
                           decided_at, decision_stage, evaluated_at, input_hash)
SELECT i, '{as_of}'::timestamptz - interval '50 days', 'scoring', 'standard', 240,
       '{as_of}'::timestamptz - interval '49 days',
       CASE WHEN i % 3 = 0 THEN 'pending' ELSE 'met' END,
       CASE WHEN i % 3 = 1 THEN 'rejected' END,
       CASE WHEN i % 3 = 1 THEN '{as_of}'::timestamptz - interval '45 days' END,
       CASE WHEN i % 3 = 1 THEN 'nurturing' END,
       '{as_of}', 0
FROM generate_series(1, {leads}, 50) AS i;

INSERT INTO core.deals (deal_id, lead_id, amount, is_won, created_at, closed_at, source_system)
SELECT 'd:' || i, i, 1000, i % 2 = 0, '{as_of}'::timestamptz - interval '60 days',
       '{as_of}'::timestamptz - interval '30 days', 'hubspot'
FROM generate_series(1, {leads}, 97) AS i;
