-- Leads: one per normalised e-mail (trimmed, lower case); a record without a usable e-mail is a lead of
-- its own. core.lead_sources keeps the latest version of every source record; each affected lead is
-- re-merged from them: per field the most recently updated non-null value of its live records, consent
-- false as soon as any source says so, the earliest creation, the latest unsubscription.
-- Deleted and merged records (docs/sources.md): a record merged into another of the same source belongs
-- to the survivor's lead whatever its e-mail (core.lead_merges); a lead whose records are all archived,
-- or that every record left, is deleted (core.leads.deleted_at) but keeps its row and its id.

-- The keys of the window's records, needed only to find their older versions: a first fold (low = 0) has none.
CREATE TEMP TABLE _lead_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'leads')
SELECT DISTINCT r.source_system, r.source_id
FROM raw.leads r, w
WHERE r.batch_id > w.low AND r.batch_id <= w.high AND w.low > 0;
ANALYZE _lead_keys;

-- Most records have one version: only records with several are ordered to keep the latest. Finding them
-- is a hash of the narrow keys; sorting every version with its payload spills whole windows to disk.
CREATE TEMP TABLE _lead_several ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'leads')
SELECT r.source_system, r.source_id
FROM (
    SELECT r.source_system, r.source_id FROM raw.leads r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
    UNION ALL
    SELECT r.source_system, r.source_id
    FROM raw.leads r JOIN _lead_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
) r
GROUP BY r.source_system, r.source_id
HAVING count(*) > 1;
ANALYZE _lead_several;

CREATE TEMP TABLE _lead_latest ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'leads'),
candidates AS NOT MATERIALIZED (
    SELECT r.*
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_leads r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_leads r JOIN _lead_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
)
SELECT c.source_system, c.source_id, c.source_updated_at, c.batch_id, c.payload AS p
FROM candidates c
WHERE NOT EXISTS (SELECT 1 FROM _lead_several s WHERE s.source_system = c.source_system AND s.source_id = c.source_id)
UNION ALL
SELECT * FROM (
    SELECT DISTINCT ON (c.source_system, c.source_id)
           c.source_system, c.source_id, c.source_updated_at, c.batch_id, c.payload AS p
    FROM candidates c JOIN _lead_several s USING (source_system, source_id)
    ORDER BY c.source_system, c.source_id, c.source_updated_at DESC NULLS LAST, c.batch_id DESC, c.record_no DESC
) latest;
ANALYZE _lead_latest (source_system, source_id, source_updated_at, batch_id);

-- Merges: a surviving record names the records merged into it (`merged_source_ids`, HubSpot's
-- hs_merged_object_ids). Its latest version replaces what it named before.
CREATE TEMP TABLE _lead_named ON COMMIT DROP AS
SELECT DISTINCT v.source_system, btrim(m.id) AS source_id, v.source_id AS survivor_source_id
FROM _lead_latest v
CROSS JOIN LATERAL regexp_split_to_table(v.p->>'merged_source_ids', '[;,[:space:]]+') AS m(id)
WHERE btrim(m.id) NOT IN ('', v.source_id);

-- Records whose survivor may have changed: named now, or no longer named. Every record a survivor
-- names is re-pointed, so a survivor that moves to another lead takes its merged records along.
CREATE TEMP TABLE _lead_remerge ON COMMIT DROP AS
WITH dropped AS (
    DELETE FROM core.lead_merges m USING _lead_latest v
    WHERE m.source_system = v.source_system AND m.survivor_source_id = v.source_id
      AND NOT EXISTS (SELECT 1 FROM _lead_named n
                      WHERE (n.source_system, n.source_id, n.survivor_source_id)
                            = (m.source_system, m.source_id, m.survivor_source_id))
    RETURNING m.source_system, m.source_id
)
SELECT source_system, source_id FROM dropped
UNION
SELECT source_system, source_id FROM _lead_named;

INSERT INTO core.lead_merges (source_system, source_id, survivor_source_id)
SELECT source_system, source_id, survivor_source_id FROM _lead_named
ON CONFLICT DO NOTHING;

-- The records to (re)place: new versions, plus merged records already folded whose survivor changed
-- (with their stored version).
CREATE TEMP TABLE _lead_versions ON COMMIT DROP AS
WITH v AS (
    SELECT source_system, source_id, source_updated_at, batch_id, p FROM _lead_latest
    UNION ALL
    SELECT s.source_system, s.source_id, s.source_updated_at, s.batch_id, s.record
    FROM core.lead_sources s JOIN _lead_remerge r USING (source_system, source_id)
    WHERE NOT EXISTS (SELECT 1 FROM _lead_latest l
                      WHERE l.source_system = s.source_system AND l.source_id = s.source_id)
)
SELECT v.source_system, v.source_id, v.source_updated_at, v.batch_id, v.p,
       CASE WHEN lower(btrim(v.p->>'email')) ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' THEN lower(btrim(v.p->>'email')) END
           AS email_norm,
       core.archived_at(v.p, v.source_updated_at, v.batch_id) AS archived_at
FROM v;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _lead_versions (source_system, source_id, source_updated_at, batch_id, email_norm, archived_at);

-- The record each merged record now belongs to: a chain of merges names a record more than once, and
-- the live survivor, then the most recently changed one, holds it. A survivor never landed yet holds
-- nothing: the record stays a lead of its own until it does.
CREATE TEMP TABLE _lead_survivors ON COMMIT DROP AS
SELECT DISTINCT ON (m.source_system, m.source_id) m.source_system, m.source_id, m.survivor_source_id
FROM core.lead_merges m
JOIN _lead_versions v ON v.source_system = m.source_system AND v.source_id = m.source_id
LEFT JOIN _lead_versions sv ON sv.source_system = m.source_system AND sv.source_id = m.survivor_source_id
LEFT JOIN core.lead_sources ss ON ss.source_system = m.source_system AND ss.source_id = m.survivor_source_id
WHERE sv.source_id IS NOT NULL OR ss.source_id IS NOT NULL
ORDER BY m.source_system, m.source_id,
         CASE WHEN sv.source_id IS NOT NULL THEN sv.archived_at ELSE ss.archived_at END IS NOT NULL,
         COALESCE(sv.source_updated_at, ss.source_updated_at) DESC NULLS LAST, m.survivor_source_id;
ANALYZE _lead_survivors;

-- Leads are written once, merged, with their persona (035_leads_merge.sql): a lead that does not exist
-- yet (a new e-mail, or a record without one) takes its id here. A merged record never opens a lead of
-- its own: it joins its survivor's. The sequence is looked up once (an initplan): pg_get_serial_sequence is
-- a catalog lookup, and per row it cost as much as the nextval itself.
CREATE TEMP TABLE _lead_new ON COMMIT DROP AS
SELECT nextval((SELECT pg_get_serial_sequence('core.leads', 'lead_id')::regclass)) AS lead_id, k.*
FROM (
    SELECT DISTINCT v.email_norm,
           CASE WHEN v.email_norm IS NULL THEN v.source_system END AS source_system,
           CASE WHEN v.email_norm IS NULL THEN v.source_id END AS source_id
    FROM _lead_versions v
    WHERE NOT EXISTS (SELECT 1 FROM _lead_survivors s
                      WHERE s.source_system = v.source_system AND s.source_id = v.source_id)
      AND NOT EXISTS (SELECT 1 FROM core.leads l WHERE l.email_normalized = v.email_norm)
      AND NOT EXISTS (SELECT 1 FROM core.leads l
                      WHERE v.email_norm IS NULL AND l.email_normalized IS NULL
                        AND l.source_system = v.source_system AND l.source_id = v.source_id)
) k;
ANALYZE _lead_new;

-- The records whose stored version changes (a re-delivered identical version changes nothing), with the
-- lead each goes to: the lead of its e-mail (or of the record itself without one), stored or new; a
-- merged record goes where its survivor goes: the survivor's new place, else its stored one.
WITH own AS (
    SELECT v.source_system, v.source_id, COALESCE(e.lead_id, ne.lead_id, o.lead_id, no.lead_id) AS lead_id
    FROM _lead_versions v
    LEFT JOIN core.leads e ON e.email_normalized = v.email_norm
    LEFT JOIN _lead_new ne ON ne.email_norm = v.email_norm
    LEFT JOIN core.leads o
           ON v.email_norm IS NULL AND o.email_normalized IS NULL
          AND o.source_system = v.source_system AND o.source_id = v.source_id
    LEFT JOIN _lead_new no
           ON v.email_norm IS NULL AND no.email_norm IS NULL
          AND no.source_system = v.source_system AND no.source_id = v.source_id
),
targets AS (
    SELECT n.source_system, n.source_id, COALESCE(sn.lead_id, ss.lead_id, n.lead_id) AS lead_id
    FROM own n
    LEFT JOIN _lead_survivors m ON m.source_system = n.source_system AND m.source_id = n.source_id
    LEFT JOIN own sn ON sn.source_system = m.source_system AND sn.source_id = m.survivor_source_id
    LEFT JOIN core.lead_sources ss ON ss.source_system = m.source_system AND ss.source_id = m.survivor_source_id
)
INSERT INTO _changed_lead_sources (source_system, source_id, lead_id, old_lead_id)
SELECT t.source_system, t.source_id, t.lead_id, s.lead_id
FROM targets t
JOIN _lead_versions v ON v.source_system = t.source_system AND v.source_id = t.source_id
LEFT JOIN core.lead_sources s ON s.source_system = t.source_system AND s.source_id = t.source_id
WHERE (s.lead_id, s.source_updated_at, s.batch_id, s.record, s.archived_at)
      IS DISTINCT FROM (t.lead_id, v.source_updated_at, v.batch_id, v.p, v.archived_at);
ANALYZE _changed_lead_sources;

-- Leads to re-merge: those whose records changed, those a record left, and those pointing at a company
-- record that arrived or moved in this build.
CREATE TEMP TABLE _affected_leads ON COMMIT DROP AS
SELECT lead_id FROM _changed_lead_sources
UNION
SELECT old_lead_id FROM _changed_lead_sources WHERE old_lead_id IS NOT NULL
UNION
SELECT ls.lead_id
FROM _changed_company_sources c
JOIN core.lead_sources ls
  ON ls.source_system = c.source_system AND (ls.record->>'company_source_id') = c.source_id
WHERE c.old_company_id IS DISTINCT FROM c.company_id;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _affected_leads;

-- Each affected lead merged from its records as they will be stored: the stored version of those that do
-- not change, the new version of those that do (core.lead_sources is written after the lead, 035).
-- Live records speak for the lead: a merged-away or deleted record's last version (stamped at its
-- archival) must not override the survivor's fields. A lead whose every record is archived keeps what
-- they said and is deleted since the last archival.
-- (Picking each field by one DISTINCT ON sort of (lead, field, value) rows instead of per-lead ordered
-- aggregates was measured 30-40% more CPU for the same rows, at 50k and 200k leads.)
CREATE TEMP TABLE _lead_merged ON COMMIT DROP AS
WITH records AS (
    SELECT ls.lead_id, ls.source_system, ls.source_id, ls.source_updated_at, ls.batch_id, ls.record AS p,
           ls.archived_at
    FROM core.lead_sources ls
    JOIN _affected_leads a USING (lead_id)
    WHERE NOT EXISTS (SELECT 1 FROM _changed_lead_sources c
                      WHERE c.source_system = ls.source_system AND c.source_id = ls.source_id)
    UNION ALL
    SELECT c.lead_id, v.source_system, v.source_id, v.source_updated_at, v.batch_id, v.p, v.archived_at
    FROM _changed_lead_sources c
    JOIN _lead_versions v ON v.source_system = c.source_system AND v.source_id = c.source_id
),
src AS (
    SELECT r.lead_id, r.source_system, r.source_id, r.p, r.archived_at,
           COALESCE(r.source_updated_at, (r.p->>'updated_at')::timestamptz) AS version_at,
           (r.p->>'created_at')::timestamptz AS created_at,
           cs.company_id,
           -- the precedence of every "latest non-null" field: live first, then the latest version
           row_number() OVER (PARTITION BY r.lead_id
                              ORDER BY r.archived_at IS NOT NULL,
                                       COALESCE(r.source_updated_at, (r.p->>'updated_at')::timestamptz)
                                           DESC NULLS LAST,
                                       r.batch_id DESC, r.source_system, r.source_id) AS rk,
           count(*) OVER (PARTITION BY r.lead_id) AS records
    FROM records r
    LEFT JOIN core.company_sources cs
           ON cs.source_system = r.source_system AND cs.source_id = (r.p->>'company_source_id')
),
-- Each "latest non-null" field comes from the record of the lowest rank that has it, and the lead's
-- creating record is the first by creation: both are found by window functions over the lead's records
-- (sorts of all the records, none per lead), and the grouping below keeps the one value at that rank.
-- (The ordered aggregates this replaced, `(array_agg(x ORDER BY rk) FILTER (WHERE x IS NOT NULL))[1]`,
-- sorted each lead's records once per field: PostgreSQL 15 starts a sort per group and aggregate.)
ranked AS (
    SELECT src.*,
           min(rk) FILTER (WHERE p->>'job_title' IS NOT NULL) OVER lead AS job_title_rk,
           min(rk) FILTER (WHERE p->>'country' IS NOT NULL) OVER lead AS country_rk,
           min(rk) FILTER (WHERE company_id IS NOT NULL) OVER lead AS company_rk,
           min(rk) FILTER (WHERE p->>'lifecycle_stage' IS NOT NULL) OVER lead AS lifecycle_stage_rk,
           min(rk) FILTER (WHERE p->>'owner_source_id' IS NOT NULL) OVER lead AS owner_rk,
           row_number() OVER (lead ORDER BY archived_at IS NOT NULL, created_at NULLS LAST, source_system, source_id)
               AS created_rk
    FROM src
    WINDOW lead AS (PARTITION BY lead_id)
),
merged AS (
    SELECT lead_id,
           -- the record that created the lead: the earliest created live one
           max(source_system) FILTER (WHERE created_rk = 1) AS source_system,
           max(source_id) FILTER (WHERE created_rk = 1) AS source_id,
           max(p->>'job_title') FILTER (WHERE rk = job_title_rk) AS job_title,
           max(p->>'country') FILTER (WHERE rk = country_rk) AS country,
           max(company_id) FILTER (WHERE rk = company_rk) AS company_id,
           max(p->>'lifecycle_stage') FILTER (WHERE rk = lifecycle_stage_rk) AS lifecycle_stage,
           max(source_system || ':' || (p->>'owner_source_id')) FILTER (WHERE rk = owner_rk) AS owner_id,
           -- the assignment time of the record the owner comes from: a time another record gives
           -- would date some other owner's assignment
           max((p->>'owner_assigned_at')::timestamptz) FILTER (WHERE rk = owner_rk) AS owner_assigned_at,
           min(created_at) AS created_at,
           max(version_at) AS updated_at,
           bool_and((p->>'consent_email')::boolean) FILTER (WHERE jsonb_typeof(p->'consent_email') = 'boolean')
               AS consent_email,
           max((p->>'unsubscribed_at')::timestamptz) AS unsubscribed_at,
           CASE WHEN bool_and(archived_at IS NOT NULL) THEN max(archived_at) END AS deleted_at,
           -- the attributes of a lead of one or two records: the first's non-null values over the second's
           CASE WHEN max(records) <= 2
                THEN COALESCE((array_agg(live_attributes) FILTER (WHERE rk = 2))[1], '{}'::jsonb)
                     || COALESCE((array_agg(live_attributes) FILTER (WHERE rk = 1))[1], '{}'::jsonb) END AS few_attributes
    FROM (
        -- a record's attributes without their null values (as they are, when they have none)
        SELECT ranked.*,
               CASE WHEN jsonb_typeof(a.attributes) = 'object' AND NOT a.attributes @? '$.* ? (@ == null)'
                    THEN a.attributes
                    ELSE (SELECT COALESCE(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
                          FROM jsonb_each(a.attributes) e WHERE jsonb_typeof(e.value) <> 'null') END
                   AS live_attributes
        FROM ranked CROSS JOIN LATERAL (SELECT COALESCE(ranked.p->'attributes', '{}'::jsonb) AS attributes) a
    ) r
    GROUP BY lead_id
),
-- each attribute's latest non-null value, for a lead of more records (one sort of their (lead, key) pairs)
attrs AS (
    SELECT lead_id, jsonb_object_agg(key, value) AS attributes
    FROM (
        SELECT DISTINCT ON (src.lead_id, a.key) src.lead_id, a.key, a.value
        FROM src CROSS JOIN LATERAL jsonb_each(COALESCE(src.p->'attributes', '{}'::jsonb)) a
        WHERE src.records > 2 AND jsonb_typeof(a.value) <> 'null'
        ORDER BY src.lead_id, a.key, src.rk
    ) latest_values
    GROUP BY lead_id
)
SELECT m.lead_id, m.source_system, m.source_id, m.job_title, m.country, m.company_id, m.lifecycle_stage,
       m.owner_id, m.owner_assigned_at, m.created_at, m.updated_at, m.consent_email, m.unsubscribed_at,
       m.deleted_at, COALESCE(m.few_attributes, a.attributes, '{}'::jsonb) AS attributes
FROM merged m LEFT JOIN attrs a USING (lead_id);
ANALYZE _lead_merged (lead_id, source_system, source_id, job_title, country, company_id, lifecycle_stage,
                       owner_id, owner_assigned_at, created_at, updated_at, consent_email, unsubscribed_at, deleted_at);

-- core_build matches the merged job titles against the agreement's personas here (_lead_personas), then
-- 035_leads_merge.sql writes every merged lead once, its persona with it, and then its records.
