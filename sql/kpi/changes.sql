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
--   _kpi_credit_leads (lead_id, since)  leads whose deals opened on or after `since` are credited again
--   _kpi_changed_months (kind, month, day, widened)
--                                       kind: facts, record, mql, cohorts, milestones, deals, crossings,
--                                       gone_events, followups, dq (each explained below); changed events
--                                       reach engagement through its change log (smarketing.kpi.engagement)
DROP TABLE IF EXISTS _kpi_versions, _kpi_passed_deals, _kpi_changed_leads, _kpi_event_since, _kpi_credit_leads,
    _kpi_stage_moves, _kpi_lead_facts, _kpi_changed_months;

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
           NULL AS stage
    FROM keys k JOIN raw.leads r USING (source_system, source_id) WHERE k.object = 'leads'
    UNION ALL
    SELECT k.object, r.source_system, r.payload->>'lead_source_id', r.payload->>'occurred_at', NULL, NULL
    FROM keys k JOIN raw.marketing_events r USING (source_system, source_id) WHERE k.object = 'marketing_events'
    UNION ALL
    SELECT k.object, r.source_system, r.payload->>'lead_source_id', r.payload->>'created_at', r.payload->>'closed_at',
           NULL
    FROM keys k JOIN raw.deals r USING (source_system, source_id) WHERE k.object = 'deals'
    UNION ALL
    SELECT k.object, r.source_system, r.payload->>'lead_source_id', r.payload->>'entered_at', NULL, r.payload->>'stage'
    FROM keys k JOIN raw.lifecycle_history r USING (source_system, source_id) WHERE k.object = 'lifecycle_history'
)

-- the lead each names, resolved once here (NULL: no lead of that source record)
SELECT v.object, v.source_system, v.lead_source_id, ls.lead_id, v.at_1, v.at_2, v.stage
FROM versions v
LEFT JOIN core.lead_sources ls ON ls.source_system = v.source_system AND ls.source_id = v.lead_source_id;
ANALYZE _kpi_versions;

-- a landed date text as an instant, NULL when it is not one (a held record never had to be)
CREATE OR REPLACE FUNCTION pg_temp.kpi_instant(t text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN t::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- the deals' times between the two builds' moments (%(passed_from)s < at <= %(passed_to)s), each deal once per
-- time: read by the leads' 'passed' facts and the lead-less deals' months below
CREATE TEMP TABLE _kpi_passed_deals AS
SELECT d.lead_id, t.at
FROM core.deals d
CROSS JOIN LATERAL (VALUES (d.created_at), (d.closed_at), (d.deleted_at)) AS t (at)
WHERE t.at > %(passed_from)s AND t.at <= %(passed_to)s
  -- the same deals, as the indexes on their times find them (migration 0032)
  AND ((d.created_at > %(passed_from)s AND d.created_at <= %(passed_to)s)
       OR (d.closed_at > %(passed_from)s AND d.closed_at <= %(passed_to)s)
       OR (d.deleted_at > %(passed_from)s AND d.deleted_at <= %(passed_to)s));

-- why: record (the lead's own record, its company or its owner changed: every row of it may move),
-- stage (a lifecycle entry, a deal or an MQL crossing of it changed), events (a marketing event of it),
-- passed (a fact of it dated between the two builds' moments, below).
-- A changed event moves nothing but the credits of its lead's deals (engagement reads the change log):
-- the leads without any deal in core, most of a day's, are left out here, not carried through each
-- step below
CREATE TEMP TABLE _kpi_changed_leads AS
SELECT DISTINCT v.lead_id, CASE v.object WHEN 'leads' THEN 'record' WHEN 'marketing_events' THEN 'events' ELSE 'stage' END AS why
FROM _kpi_versions v
WHERE v.lead_id IS NOT NULL
  AND (v.object <> 'marketing_events' OR v.lead_id IN (SELECT d.lead_id FROM core.deals d))
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
-- a lead kept staged (ops.kpi_lead_stages) that is no longer live, deleted without a record of its own
-- landing: every record of it merged into another lead (core moves them), or an erasure
SELECT l.lead_id, 'record'
FROM core.leads l
JOIN ops.kpi_lead_stages k USING (lead_id)
WHERE l.deleted_at IS NOT NULL
UNION
-- scoring runs since: their MQL crossings (the lifecycle entries they add come with them)
SELECT c.lead_id, 'stage'
FROM scoring.mql_crossings c
JOIN scoring.runs r USING (run_id)
WHERE r.started_at > %(since)s OR r.finished_at > %(since)s
UNION
-- passed: a fact dated after the moment the table was last built as of, up to this build's
-- (%(passed_from)s < at <= %(passed_to)s; an empty range for a build as of an earlier moment), though no
-- record of it landed since (a date set ahead: a deal's close, a stage entered later than its record
-- landed): the last build did not count it, this one does.
-- Its lead is changed like one with a changed entry of another stage: every month of its facts reopened
-- ('passed'); a lead deleted in between, like its own record. A fact of a record landed since (the same
-- lead, object, stage and instant as one of its versions) or a crossing of a run since is left to them.
SELECT p.lead_id, p.why
FROM (
    SELECT l.lead_id, 'record' AS why, NULL AS object, NULL::timestamptz AS at, NULL AS stage
    FROM core.leads l WHERE l.deleted_at > %(passed_from)s AND l.deleted_at <= %(passed_to)s
    UNION ALL
    SELECT l.lead_id, 'passed', 'leads', l.created_at, NULL
    FROM core.leads l WHERE l.created_at > %(passed_from)s AND l.created_at <= %(passed_to)s
    UNION ALL
    SELECT h.lead_id, 'passed', 'lifecycle_history', h.entered_at, h.stage
    FROM core.lifecycle_history h WHERE h.entered_at > %(passed_from)s AND h.entered_at <= %(passed_to)s
    UNION ALL
    SELECT x.lead_id, 'passed', NULL, x.crossed_at, NULL
    FROM scoring.mql_crossings x
    JOIN scoring.runs r USING (run_id)
    WHERE x.crossed_at > %(passed_from)s AND x.crossed_at <= %(passed_to)s
      AND NOT COALESCE(r.started_at > %(since)s OR r.finished_at > %(since)s, false)
    UNION ALL
    SELECT d.lead_id, 'passed', 'deals', d.at, NULL
    FROM _kpi_passed_deals d WHERE d.lead_id IS NOT NULL
) p
WHERE NOT EXISTS (
    SELECT 1 FROM _kpi_versions v
    WHERE v.lead_id = p.lead_id AND v.object = p.object AND v.stage IS NOT DISTINCT FROM p.stage
      AND p.at IN (pg_temp.kpi_instant(v.at_1), pg_temp.kpi_instant(v.at_2)));
CREATE INDEX ON _kpi_changed_leads (lead_id);
ANALYZE _kpi_changed_leads;

-- A changed marketing event moves the credit of its lead's deals opened at or after it only (a touch is an
-- event up to the deal's opening): the earliest instant any version of the lead's changed events names,
-- two days earlier for a text without an offset (core read it in its session's zone, up to 26 hours
-- away). NULL: a version without a readable time, every deal. (The day before the first month named
-- credited again every deal opened since that month began, most of them before the changed event.)
CREATE TEMP TABLE _kpi_event_since AS
SELECT v.lead_id,
       CASE WHEN bool_and(i.at IS NOT NULL)
            THEN min(i.at - CASE WHEN v.at_1 ~* '\d:\d{2}(:\d{2}(\.\d+)?)?\s*(z|[+-]\d{2}(:?\d{2})?)$'
                                 THEN interval '0' ELSE interval '2 days' END) END AS since
FROM _kpi_versions v
CROSS JOIN LATERAL (SELECT pg_temp.kpi_instant(v.at_1) AS at) i
WHERE v.object = 'marketing_events' AND v.lead_id IN (SELECT lead_id FROM _kpi_changed_leads WHERE why = 'events')
GROUP BY v.lead_id;
CREATE UNIQUE INDEX ON _kpi_event_since (lead_id);

-- the deals credited again whatever was kept of them (sql/kpi/attribution_credits.sql): every deal of a lead
-- whose record, stages or crossings changed ('-infinity'); of a lead changed by its events alone, those
-- opened at or after the earliest time its changed events name
CREATE TEMP TABLE _kpi_credit_leads AS
SELECT c.lead_id,
       CASE WHEN bool_and(c.why = 'events') THEN COALESCE(min(s.since), '-infinity') ELSE '-infinity' END::timestamptz
           AS since
FROM _kpi_changed_leads c
LEFT JOIN _kpi_event_since s USING (lead_id)
GROUP BY c.lead_id;
CREATE UNIQUE INDEX ON _kpi_credit_leads (lead_id);
ANALYZE _kpi_credit_leads;

-- A lead whose only stage changes are MQL entries, MQL crossings and deals moves less than every month it
-- shows in: what its rows depend on is its first MQL moment (funnel, cohorts, velocity), its deals'
-- moments (velocity's opportunity and customer, cohorts' and score quality's wins) and its crossings.
-- Core keeps the earliest entry per lead, stage and system, folded from every landed version, so the first
-- MQL moment before the window is the earliest MQL version folded before it (held records and rejected
-- batches never reach core; as a superset, the earliest of every version is taken too) or a crossing of an
-- earlier scoring run. A lead whose record changed, or with a changed entry of another stage, takes every
-- month of its below (_kpi_lead_facts).
CREATE TEMP TABLE _kpi_stage_moves AS
WITH new_crossings AS (
    SELECT c.lead_id, c.model_version, c.crossed_at
    FROM scoring.mql_crossings c
    JOIN scoring.runs r USING (run_id)
    WHERE COALESCE(r.started_at > %(since)s OR r.finished_at > %(since)s, false)
),

-- per lead and system, the earliest MQL version of the records landed since: core's entry is left as it
-- was when it is earlier than that (a day's margin for a text without offset read in another zone)
window_mql AS MATERIALIZED (
    SELECT v.lead_id, v.source_system, min(pg_temp.kpi_instant(v.at_1)) AS earliest,
           bool_and(pg_temp.kpi_instant(v.at_1) IS NOT NULL) AS readable
    FROM _kpi_versions v
    WHERE v.object = 'lifecycle_history' AND v.stage = %(mql_stage)s AND v.lead_id IS NOT NULL
    GROUP BY v.lead_id, v.source_system
),

versions AS (
    SELECT v.lead_id,
           bool_or(v.object = 'lifecycle_history' AND v.stage IS DISTINCT FROM %(mql_stage)s) AS other_stage,
           bool_or(v.object = 'lifecycle_history') AS mql_entry,
           bool_or(v.object = 'deals') AS deal,
           bool_or(v.object = 'deals' AND v.at_2 IS NOT NULL) AS won_deal
    FROM _kpi_versions v
    WHERE v.object IN ('lifecycle_history', 'deals') AND v.lead_id IS NOT NULL
    GROUP BY v.lead_id
),

narrow AS (
    SELECT c.lead_id,
           COALESCE(v.mql_entry, false) OR EXISTS (SELECT 1 FROM new_crossings n WHERE n.lead_id = c.lead_id) AS mql_change,
           COALESCE(v.deal, false) AS deal,
           COALESCE(v.won_deal, false) AS won_deal
    FROM (SELECT DISTINCT lead_id FROM _kpi_changed_leads WHERE why = 'stage') c
    LEFT JOIN versions v USING (lead_id)
    WHERE NOT COALESCE(v.other_stage, false)
      AND NOT EXISTS (SELECT 1 FROM _kpi_changed_leads r WHERE r.lead_id = c.lead_id AND r.why IN ('record', 'passed'))
)

SELECT n.lead_id, n.mql_change, n.deal, n.won_deal, cur.mql_now, old.in_core_before, old.any_before
FROM narrow n
CROSS JOIN LATERAL (
    SELECT min(t.at) AS mql_now
    FROM (SELECT h.entered_at FROM core.lifecycle_history h WHERE h.lead_id = n.lead_id AND h.stage = %(mql_stage)s
          UNION ALL
          SELECT x.crossed_at FROM scoring.mql_crossings x WHERE x.lead_id = n.lead_id) AS t (at)
) cur
LEFT JOIN LATERAL (
    SELECT min(t.at) FILTER (WHERE t.in_core) AS in_core_before, min(t.at) AS any_before
    FROM (
        SELECT (r.payload->>'entered_at')::timestamptz,
               NOT EXISTS (SELECT 1 FROM dq.held_records h
                           WHERE h.table_name = 'raw.lifecycle_history' AND h.batch_id = r.batch_id
                             AND h.record_no = r.record_no)
               AND NOT EXISTS (SELECT 1 FROM dq.rejected_batches x WHERE x.batch_id = r.batch_id)
        FROM core.lead_sources ls
        JOIN raw.lifecycle_history r
          ON r.source_system = ls.source_system AND r.payload->>'lead_source_id' = ls.source_id
        JOIN _kpi_window w ON w.object = 'lifecycle_history' AND r.batch_id <= w.low
        WHERE ls.lead_id = n.lead_id AND r.payload->>'stage' = %(mql_stage)s
        UNION ALL
        -- core's entries no record landed since moved (a world folded before its raw history was kept, too)
        SELECT h.entered_at, true
        FROM core.lifecycle_history h
        LEFT JOIN window_mql wm ON wm.lead_id = h.lead_id AND wm.source_system = h.source_system
        WHERE h.lead_id = n.lead_id AND h.stage = %(mql_stage)s
          AND (wm.lead_id IS NULL OR (wm.readable AND h.entered_at < wm.earliest - interval '1 day'))
        UNION ALL
        SELECT x.crossed_at, true FROM scoring.mql_crossings x
        WHERE x.lead_id = n.lead_id
          AND NOT EXISTS (SELECT 1 FROM new_crossings c WHERE c.lead_id = x.lead_id AND c.model_version = x.model_version)
    ) AS t (at, in_core)
    -- only a changed MQL entry or crossing can move the first MQL moment
    WHERE n.mql_change
) old ON true;
CREATE UNIQUE INDEX ON _kpi_stage_moves (lead_id);
ANALYZE _kpi_stage_moves;

-- day: the local day of the fact (the daily tables rewrite the days touched, not their months); NULL for
-- the months of the kinds no daily table reads, and for `widened` months, those a landed date text's month
-- was widened by (its days, below, are what a daily table reads)
CREATE TEMP TABLE _kpi_changed_months (kind text NOT NULL, month date NOT NULL, day date,
                                       widened boolean NOT NULL DEFAULT false);

-- the months of a landed date text ("2026-03-31T23:30:00Z"), widened by a day each side
INSERT INTO _kpi_changed_months (kind, month, widened)
SELECT DISTINCT 'facts', m.month, true
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
WHERE t.at ~ '^\d{4}-(0[1-9]|1[0-2])-\d{2}' AND m.month IS NOT NULL AND v.object <> 'marketing_events';

-- its days: the text's date two days each side (a text's own offset and the organisation's zone are each
-- at most 14 hours from UTC, so its local day is at most two days from the text's), and their months
INSERT INTO _kpi_changed_months (kind, month, day)
SELECT DISTINCT 'facts', date_trunc('month', d.day::timestamp)::date, d.day
FROM _kpi_versions v
CROSS JOIN LATERAL (VALUES (v.at_1), (v.at_2)) AS t (at)
CROSS JOIN LATERAL generate_series(-2, 2) AS w (shift)
CROSS JOIN LATERAL (
    SELECT make_date(substr(t.at, 1, 4)::int, substr(t.at, 6, 2)::int, 1) + (substr(t.at, 9, 2)::int - 1) + w.shift AS day
) AS d
WHERE t.at ~ '^\d{4}-(0[1-9]|1[0-2])-\d{2}' AND v.object <> 'marketing_events';

-- The months of the changed leads' facts in core (deleted ones included), per kind:
--   record      every month the lead shows in (its dimensions moved with it)
--   mql         every MQL entry and crossing of a lead whose stages changed (its first one may have moved)
--   cohorts     its creation and MQL months (the cohorts it belongs to)
--   milestones  every stage month (durations between consecutive stages)
--   deals       its deals' months (attribution reads its touches and milestones); for a changed event,
--               only the deals opened after it
--   crossings   its crossings' months (score quality reads its outcome)
-- (for a lead of _kpi_stage_moves, the stage change narrowed: mql, cohorts, milestones and crossings below;
-- a changed event moves its deals only: the other facts of a lead changed by its events alone are not read)
CREATE TEMP TABLE _kpi_lead_facts AS
SELECT c.lead_id, c.why, c.why = 'stage' AND s.lead_id IS NOT NULL AS narrow, f.kind, f.at
FROM (SELECT lead_id, why FROM _kpi_changed_leads) c
LEFT JOIN _kpi_stage_moves s USING (lead_id)
CROSS JOIN LATERAL (
    SELECT 'created' AS kind, l.created_at AS at FROM core.leads l WHERE l.lead_id = c.lead_id AND c.why <> 'events'
    UNION ALL
    SELECT CASE WHEN h.stage = %(mql_stage)s THEN 'mql' ELSE 'stage' END, h.entered_at
    FROM core.lifecycle_history h WHERE h.lead_id = c.lead_id AND c.why <> 'events'
    UNION ALL
    SELECT 'crossing', x.crossed_at FROM scoring.mql_crossings x WHERE x.lead_id = c.lead_id AND c.why <> 'events'
    UNION ALL
    SELECT 'deal', unnest(ARRAY[d.created_at, d.closed_at]) FROM core.deals d
    WHERE d.lead_id = c.lead_id
      AND (c.why <> 'events'
           OR COALESCE(COALESCE(d.created_at, d.closed_at)
                       >= (SELECT s.since FROM _kpi_event_since s WHERE s.lead_id = c.lead_id), true))
) f
WHERE f.at IS NOT NULL;
-- read per lead by the narrowed stage changes below
CREATE INDEX ON _kpi_lead_facts (lead_id);
ANALYZE _kpi_lead_facts;

INSERT INTO _kpi_changed_months (kind, month, day)
SELECT DISTINCT k.kind, date_trunc('month', f.at AT TIME ZONE %(tz)s)::date, (f.at AT TIME ZONE %(tz)s)::date
FROM _kpi_lead_facts f
CROSS JOIN LATERAL (VALUES
    (CASE WHEN f.why = 'record' THEN 'record' END),
    (CASE WHEN f.why = 'passed' THEN 'facts' END),
    (CASE WHEN f.why IN ('record', 'stage', 'passed') AND NOT f.narrow AND f.kind IN ('mql', 'crossing') THEN 'mql' END),
    (CASE WHEN f.why IN ('stage', 'passed') AND NOT f.narrow AND f.kind IN ('created', 'mql', 'crossing') THEN 'cohorts' END),
    (CASE WHEN f.why IN ('stage', 'passed') AND NOT f.narrow THEN 'milestones' END),
    (CASE WHEN f.kind = 'deal' THEN 'deals' END),
    (CASE WHEN f.why IN ('record', 'stage', 'passed') AND NOT f.narrow AND f.kind = 'crossing' THEN 'crossings' END)
) AS k (kind)
WHERE k.kind IS NOT NULL;

-- The narrowed stage changes (_kpi_stage_moves). A first MQL moment that moved reopens its old and new
-- months (and the months of the lead's crossings of runs since: one of them may have been its first moment
-- before) in the funnel, the cohorts (with the creation cohort, whose MQLs it counts) and velocity (with the
-- months of its later stages: the MQL-to-SQL transition counts in the SQL month). A changed deal moves
-- velocity's opportunity and customer moments: the months of the lead's deals, opportunity and customer
-- entries now (the deals' earlier versions are `facts`); a deal won in any version moves the lead's wins:
-- its cohorts and its crossings' months. A crossing of a run since is score quality's in its month.
INSERT INTO _kpi_changed_months (kind, month, day)
SELECT DISTINCT k.kind, date_trunc('month', k.at AT TIME ZONE %(tz)s)::date, (k.at AT TIME ZONE %(tz)s)::date
FROM _kpi_stage_moves m
CROSS JOIN LATERAL (
    SELECT m.mql_change AND (m.mql_now IS DISTINCT FROM m.in_core_before
                             OR m.mql_now IS DISTINCT FROM m.any_before) AS moved
) mv
CROSS JOIN LATERAL (
    SELECT kinds.kind, t.at
    FROM (VALUES (m.mql_now), (m.in_core_before), (m.any_before)) AS t (at),
         (VALUES ('mql'), ('cohorts'), ('milestones')) AS kinds (kind)
    WHERE mv.moved
    UNION ALL
    SELECT 'cohorts', t.at FROM (VALUES (m.mql_now), (m.in_core_before), (m.any_before)) AS t (at)
    WHERE m.won_deal
    UNION ALL
    SELECT kinds.kind, x.crossed_at
    FROM scoring.mql_crossings x
    JOIN scoring.runs r USING (run_id),
         (VALUES ('mql'), ('cohorts'), ('milestones'), ('crossings')) AS kinds (kind)
    WHERE x.lead_id = m.lead_id AND COALESCE(r.started_at > %(since)s OR r.finished_at > %(since)s, false)
      AND (mv.moved OR kinds.kind = 'crossings')
    UNION ALL
    SELECT k2.kind, f.at
    FROM _kpi_lead_facts f
    CROSS JOIN LATERAL (VALUES
        (CASE WHEN f.kind = 'created' AND (mv.moved OR m.won_deal) THEN 'cohorts' END),
        (CASE WHEN f.kind = 'stage' AND (mv.moved OR m.deal) THEN 'milestones' END),
        (CASE WHEN f.kind = 'deal' AND m.deal THEN 'milestones' END),
        (CASE WHEN f.kind = 'crossing' AND m.won_deal THEN 'crossings' END)
    ) AS k2 (kind)
    WHERE f.lead_id = m.lead_id AND f.why = 'stage' AND k2.kind IS NOT NULL
) k
WHERE k.at IS NOT NULL;

-- A changed entry of another stage (an SQL entry of another record, earlier) leaves no trace in core of the
-- moment it replaced: the lead's kept staged row (ops.kpi_lead_stages, as of the last build) holds it. Its
-- moments' months are reopened where the lead counted (funnel, velocity) and its cohorts' (none when
-- nothing is kept: a first incremental build after the table was emptied)
INSERT INTO _kpi_changed_months (kind, month, day)
SELECT DISTINCT k.kind, date_trunc('month', t.at AT TIME ZONE %(tz)s)::date, (t.at AT TIME ZONE %(tz)s)::date
FROM (SELECT DISTINCT lead_id FROM _kpi_changed_leads WHERE why = 'stage') c
JOIN ops.kpi_lead_stages s USING (lead_id)
CROSS JOIN LATERAL (VALUES (s.created_at, true), (s.mql_at, true), (s.sql_at, false), (s.opportunity_at, false),
                           (s.customer_at, false), (s.first_won_at, false)) AS t (at, starts)
CROSS JOIN LATERAL (VALUES ('facts'), (CASE WHEN t.starts THEN 'cohorts' END)) AS k (kind)
WHERE t.at IS NOT NULL AND k.kind IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM _kpi_stage_moves m WHERE m.lead_id = c.lead_id);

-- a deal without a lead dated between the two moments (the passed leads' deals are among their facts above)
INSERT INTO _kpi_changed_months (kind, month, day)
SELECT DISTINCT 'facts', date_trunc('month', d.at AT TIME ZONE %(tz)s)::date, (d.at AT TIME ZONE %(tz)s)::date
FROM _kpi_passed_deals d
WHERE d.lead_id IS NULL;

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
