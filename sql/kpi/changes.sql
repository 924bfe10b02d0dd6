-- What changed since a KPI table's watermark, as the months it touches. The caller has created, in this
-- session, _kpi_window (object, low, high): raw batches low < batch_id <= high of each object are new
-- in core since the watermark. %(since)s is the wall-clock watermark (less a safety overlap) for the
-- tables written in place (scoring runs, SLA clocks, quality results); %(tz)s the organisation's zone.
--
-- A changed record moves the months of every version of it, old and new (an event whose time was
-- corrected from January to February touches both). Dates are read from the landed text at month
-- precision, widened by a day each side, so the organisation's time zone can never push a fact into a
-- month left out.
--
-- Output, temporary tables of the session:
--   _kpi_changed_leads (lead_id, why)   leads whose record (company, owner), stages or events changed
--   _kpi_changed_months (kind, month)   kind: facts, events, record, mql, cohorts, milestones, deals,
--                                       crossings, gone_events, followups, dq (each explained below)
DROP TABLE IF EXISTS _kpi_versions, _kpi_changed_leads, _kpi_event_since, _kpi_lead_facts, _kpi_changed_months;

CREATE TEMP TABLE _kpi_versions AS
WITH keys AS (
    SELECT 'leads' AS object, r.source_system, r.source_id FROM raw.leads r
    JOIN _kpi_window w ON w.object = 'leads' AND r.batch_id > w.low AND r.batch_id <= w.high
    UNION
    SELECT 'marketing_events', r.source_system, r.source_id FROM raw.marketing_events r
    JOIN _kpi_window w ON w.object = 'marketing_events' AND r.batch_id > w.low AND r.batch_id <= w.high
    UNION
    SELECT 'deals', r.source_system, r.source_id FROM raw.deals r
    JOIN _kpi_window w ON w.object = 'deals' AND r.batch_id > w.low AND r.batch_id <= w.high
    UNION
    SELECT 'lifecycle_history', r.source_system, r.source_id FROM raw.lifecycle_history r
    JOIN _kpi_window w ON w.object = 'lifecycle_history' AND r.batch_id > w.low AND r.batch_id <= w.high
),

-- every landed version of the changed records: the lead it names and the dates it carries
versions AS (
    SELECT k.object, r.source_system, r.source_id AS lead_source_id, r.payload->>'created_at' AS at_1, NULL AS at_2,
           false AS event_landed_now
    FROM keys k JOIN raw.leads r USING (source_system, source_id) WHERE k.object = 'leads'
    UNION ALL
    SELECT k.object, r.source_system, r.payload->>'lead_source_id', r.payload->>'occurred_at', NULL,
           r.batch_id > w.low
    FROM keys k JOIN raw.marketing_events r USING (source_system, source_id)
    JOIN _kpi_window w ON w.object = k.object
    WHERE k.object = 'marketing_events'
    UNION ALL
    SELECT k.object, r.source_system, r.payload->>'lead_source_id', r.payload->>'created_at', r.payload->>'closed_at',
           false
    FROM keys k JOIN raw.deals r USING (source_system, source_id) WHERE k.object = 'deals'
    UNION ALL
    SELECT k.object, r.source_system, r.payload->>'lead_source_id', r.payload->>'entered_at', NULL, false
    FROM keys k JOIN raw.lifecycle_history r USING (source_system, source_id) WHERE k.object = 'lifecycle_history'
)

SELECT object, source_system, lead_source_id, at_1, at_2, event_landed_now FROM versions;
ANALYZE _kpi_versions;

-- why: record (the lead's own record, its company or its owner changed: every row of it may move),
-- stage (a lifecycle entry, a deal or an MQL crossing of it changed), events (a marketing event of it)
CREATE TEMP TABLE _kpi_changed_leads AS
SELECT DISTINCT ls.lead_id, CASE v.object WHEN 'leads' THEN 'record' WHEN 'marketing_events' THEN 'events' ELSE 'stage' END AS why
FROM (SELECT DISTINCT object, source_system, lead_source_id FROM _kpi_versions) v
JOIN core.lead_sources ls ON ls.source_system = v.source_system AND ls.source_id = v.lead_source_id
UNION
-- a company's industry or country moved: its leads' dimensions moved
SELECT l.lead_id, 'record'
FROM (SELECT DISTINCT r.source_system, r.source_id FROM raw.companies r
      JOIN _kpi_window w ON w.object = 'companies' AND r.batch_id > w.low AND r.batch_id <= w.high) c
JOIN core.company_sources cs USING (source_system, source_id)
JOIN core.leads l ON l.company_id = cs.company_id
UNION
-- an owner changed team
SELECT l.lead_id, 'record'
FROM (SELECT DISTINCT r.source_system || ':' || r.source_id AS owner_id FROM raw.owners r
      JOIN _kpi_window w ON w.object = 'owners' AND r.batch_id > w.low AND r.batch_id <= w.high) o
JOIN core.leads l USING (owner_id)
UNION
-- scoring runs since: their MQL crossings (the lifecycle entries they add come with them)
SELECT c.lead_id, 'stage'
FROM scoring.mql_crossings c
JOIN scoring.runs r USING (run_id)
WHERE r.started_at > %(since)s OR r.finished_at > %(since)s;
CREATE INDEX ON _kpi_changed_leads (lead_id);
ANALYZE _kpi_changed_leads;

-- a changed marketing event moves the credit of its lead's deals opened after it only: the day before the
-- first month any version of the lead's changed events names (NULL: a version without a date, every deal)
CREATE TEMP TABLE _kpi_event_since AS
SELECT ls.lead_id,
       CASE WHEN bool_and(v.at_1 ~ '^\d{4}-(0[1-9]|1[0-2])-\d{2}')
            THEN min(make_date(substr(v.at_1, 1, 4)::int, substr(v.at_1, 6, 2)::int, 1)) - 1 END AS since
FROM _kpi_versions v
JOIN core.lead_sources ls ON ls.source_system = v.source_system AND ls.source_id = v.lead_source_id
WHERE v.object = 'marketing_events'
GROUP BY ls.lead_id;
CREATE UNIQUE INDEX ON _kpi_event_since (lead_id);

CREATE TEMP TABLE _kpi_changed_months (kind text NOT NULL, month date NOT NULL);

-- the months of a landed date text ("2026-03-31T23:30:00Z"), widened by a day each side
INSERT INTO _kpi_changed_months (kind, month)
SELECT DISTINCT CASE WHEN v.object = 'marketing_events' THEN 'events' ELSE 'facts' END, m.month
FROM _kpi_versions v
CROSS JOIN LATERAL (VALUES (v.at_1), (v.at_2)) AS t (at)
CROSS JOIN LATERAL (
    SELECT make_date(substr(t.at, 1, 4)::int, substr(t.at, 6, 2)::int, 1) AS first_day, substr(t.at, 9, 2) AS dd
) AS p
CROSS JOIN LATERAL (VALUES
    (p.first_day),
    (CASE WHEN p.dd >= '28' THEN (p.first_day + interval '1 month')::date END),
    (CASE WHEN p.dd = '01' THEN (p.first_day - interval '1 month')::date END)
) AS m (month)
WHERE t.at ~ '^\d{4}-(0[1-9]|1[0-2])-\d{2}' AND m.month IS NOT NULL
  -- an event landed since is read where core holds it now, exactly (below)
  AND NOT v.event_landed_now;

-- a changed event where core holds it now: its month exactly (a version that no longer qualifies left core,
-- and its earlier versions' months are in already)
INSERT INTO _kpi_changed_months (kind, month)
SELECT DISTINCT 'events', date_trunc('month', e.occurred_at AT TIME ZONE %(tz)s)::date
FROM raw.marketing_events r
JOIN _kpi_window w ON w.object = 'marketing_events' AND r.batch_id > w.low AND r.batch_id <= w.high
JOIN core.marketing_events e ON e.event_id = r.source_system || ':' || r.source_id;

-- The months of the changed leads' facts in core (deleted ones included), per kind:
--   record      every month the lead shows in (its dimensions moved with it)
--   mql         every MQL entry and crossing of a lead whose stages changed (its first one may have moved)
--   cohorts     its creation and MQL months (the cohorts it belongs to)
--   milestones  every stage month (durations between consecutive stages)
--   deals       its deals' months (attribution reads its touches and milestones); for a changed event,
--               only the deals opened after it
--   crossings   its crossings' months (score quality reads its outcome)
CREATE TEMP TABLE _kpi_lead_facts AS
SELECT c.lead_id, c.why, f.kind, f.at
FROM (SELECT lead_id, why FROM _kpi_changed_leads) c
CROSS JOIN LATERAL (
    SELECT 'created' AS kind, l.created_at AS at FROM core.leads l WHERE l.lead_id = c.lead_id
    UNION ALL
    SELECT CASE WHEN h.stage = %(mql_stage)s THEN 'mql' ELSE 'stage' END, h.entered_at
    FROM core.lifecycle_history h WHERE h.lead_id = c.lead_id
    UNION ALL
    SELECT 'crossing', x.crossed_at FROM scoring.mql_crossings x WHERE x.lead_id = c.lead_id
    UNION ALL
    SELECT 'deal', unnest(ARRAY[d.created_at, d.closed_at]) FROM core.deals d
    WHERE d.lead_id = c.lead_id
      AND (c.why <> 'events'
           OR COALESCE(COALESCE(d.created_at, d.closed_at)
                       >= (SELECT s.since FROM _kpi_event_since s WHERE s.lead_id = c.lead_id), true))
) f
WHERE f.at IS NOT NULL;

INSERT INTO _kpi_changed_months (kind, month)
SELECT DISTINCT k.kind, date_trunc('month', f.at AT TIME ZONE %(tz)s)::date
FROM _kpi_lead_facts f
CROSS JOIN LATERAL (VALUES
    (CASE WHEN f.why = 'record' THEN 'record' END),
    (CASE WHEN f.why IN ('record', 'stage') AND f.kind IN ('mql', 'crossing') THEN 'mql' END),
    (CASE WHEN f.why = 'stage' AND f.kind IN ('created', 'mql', 'crossing') THEN 'cohorts' END),
    (CASE WHEN f.why = 'stage' THEN 'milestones' END),
    (CASE WHEN f.kind = 'deal' THEN 'deals' END),
    (CASE WHEN f.why IN ('record', 'stage') AND f.kind = 'crossing' THEN 'crossings' END)
) AS k (kind)
WHERE k.kind IS NOT NULL;

-- a deleted lead's events leave the engagement counts of their months
INSERT INTO _kpi_changed_months (kind, month)
SELECT DISTINCT 'gone_events', date_trunc('month', e.occurred_at AT TIME ZONE %(tz)s)::date
FROM core.leads l
JOIN (SELECT DISTINCT lead_id FROM _kpi_changed_leads WHERE why = 'record') c USING (lead_id)
JOIN core.marketing_events e ON e.lead_id = l.lead_id
WHERE l.deleted_at IS NOT NULL;

INSERT INTO _kpi_changed_months (kind, month)
SELECT DISTINCT 'followups', date_trunc('month', mql_at AT TIME ZONE %(tz)s)::date
FROM sla.followups
WHERE updated_at > %(since)s;

INSERT INTO _kpi_changed_months (kind, month)
SELECT DISTINCT 'dq', date_trunc('month', at AT TIME ZONE %(tz)s)::date
FROM (
    SELECT decided_at AS at FROM dq.batch_verdicts WHERE decided_at > %(since)s
    UNION ALL
    SELECT finished_at FROM dq.validation_runs WHERE finished_at > %(since)s
    UNION ALL
    SELECT quarantined_at FROM dq.quarantine WHERE quarantined_at > %(since)s
    UNION ALL
    SELECT released_at FROM dq.quarantine WHERE released_at > %(since)s
) activity;
