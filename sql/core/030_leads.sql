-- Leads: one per normalised e-mail (trimmed, lower case); a record without a usable e-mail is a lead of
-- its own. core.lead_sources keeps the latest version of every source record; each affected lead is
-- re-merged from them: per field the most recently updated non-null value, consent false as soon as
-- any source says so, the earliest creation, the latest unsubscription.

CREATE TEMP TABLE _lead_versions ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'leads'),
keys AS (
    SELECT DISTINCT n.source_system, n.source_id
    FROM raw.leads n, w
    WHERE n.batch_id > w.low AND n.batch_id <= w.high
),
latest AS (
    SELECT DISTINCT ON (r.source_system, r.source_id)
           r.source_system, r.source_id, r.source_updated_at, r.batch_id, r.payload AS p,
           lower(btrim(r.payload->>'email')) AS email_clean
    FROM (
        -- every version in the window, plus older versions of the same records
        SELECT r.* FROM raw.leads r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM raw.leads r JOIN keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
    -- records and batches the quality gate holds back never reach core (dq.quarantine, dq.batch_verdicts)
    WHERE NOT EXISTS (SELECT 1 FROM dq.held_records h
                      WHERE h.table_name = 'raw.leads' AND h.batch_id = r.batch_id AND h.record_no = r.record_no)
      AND NOT EXISTS (SELECT 1 FROM dq.rejected_batches x WHERE x.batch_id = r.batch_id)
    ORDER BY r.source_system, r.source_id, r.source_updated_at DESC NULLS LAST, r.batch_id DESC, r.record_no DESC
)
SELECT l.source_system, l.source_id, l.source_updated_at, l.batch_id, l.p,
       CASE WHEN l.email_clean ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' THEN l.email_clean END AS email_norm
FROM latest l;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _lead_versions;

WITH ins AS (
    INSERT INTO core.leads (source_system, source_id, email_normalized, email_domain)
    SELECT DISTINCT ON (email_norm) source_system, source_id, email_norm, split_part(email_norm, '@', 2)
    FROM _lead_versions
    WHERE email_norm IS NOT NULL
    ORDER BY email_norm, source_system, source_id
    ON CONFLICT (email_normalized) WHERE email_normalized IS NOT NULL DO NOTHING
    RETURNING lead_id
)
INSERT INTO _touched_leads SELECT lead_id FROM ins;

WITH ins AS (
    INSERT INTO core.leads (source_system, source_id)
    SELECT source_system, source_id FROM _lead_versions WHERE email_norm IS NULL
    ON CONFLICT (source_system, source_id) WHERE email_normalized IS NULL DO NOTHING
    RETURNING lead_id
)
INSERT INTO _touched_leads SELECT lead_id FROM ins;

WITH targets AS (
    SELECT v.source_system, v.source_id, v.source_updated_at, v.batch_id, v.p,
           COALESCE(e.lead_id, o.lead_id) AS lead_id
    FROM _lead_versions v
    LEFT JOIN core.leads e ON e.email_normalized = v.email_norm
    LEFT JOIN core.leads o
           ON v.email_norm IS NULL AND o.email_normalized IS NULL
          AND o.source_system = v.source_system AND o.source_id = v.source_id
),
prev AS (
    SELECT s.source_system, s.source_id, s.lead_id
    FROM core.lead_sources s JOIN _lead_versions v USING (source_system, source_id)
),
up AS (
    INSERT INTO core.lead_sources AS s (source_system, source_id, lead_id, source_updated_at, batch_id, record)
    SELECT source_system, source_id, lead_id, source_updated_at, batch_id, p FROM targets
    ON CONFLICT (source_system, source_id) DO UPDATE
       SET lead_id = EXCLUDED.lead_id, source_updated_at = EXCLUDED.source_updated_at,
           batch_id = EXCLUDED.batch_id, record = EXCLUDED.record
     -- a re-delivered identical version changes nothing
     WHERE (s.lead_id, s.source_updated_at, s.batch_id, s.record)
           IS DISTINCT FROM (EXCLUDED.lead_id, EXCLUDED.source_updated_at, EXCLUDED.batch_id, EXCLUDED.record)
    RETURNING s.source_system, s.source_id, s.lead_id
)
INSERT INTO _changed_lead_sources (source_system, source_id, lead_id, old_lead_id)
SELECT up.source_system, up.source_id, up.lead_id, prev.lead_id
FROM up LEFT JOIN prev USING (source_system, source_id);
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

WITH src AS (
    SELECT ls.lead_id, ls.source_system, ls.source_id, ls.batch_id, ls.record AS p,
           COALESCE(ls.source_updated_at, (ls.record->>'updated_at')::timestamptz) AS version_at,
           (ls.record->>'created_at')::timestamptz AS created_at,
           cs.company_id
    FROM core.lead_sources ls
    JOIN _affected_leads a USING (lead_id)
    LEFT JOIN core.company_sources cs
           ON cs.source_system = ls.source_system AND cs.source_id = (ls.record->>'company_source_id')
),
merged AS (
    SELECT lead_id,
           -- the record that created the lead: the earliest created one
           (array_agg(source_system ORDER BY created_at NULLS LAST, source_system, source_id))[1] AS source_system,
           (array_agg(source_id ORDER BY created_at NULLS LAST, source_system, source_id))[1] AS source_id,
           (array_agg(p->>'job_title' ORDER BY version_at DESC NULLS LAST, batch_id DESC, source_system, source_id)
               FILTER (WHERE p->>'job_title' IS NOT NULL))[1] AS job_title,
           (array_agg(p->>'country' ORDER BY version_at DESC NULLS LAST, batch_id DESC, source_system, source_id)
               FILTER (WHERE p->>'country' IS NOT NULL))[1] AS country,
           (array_agg(company_id ORDER BY version_at DESC NULLS LAST, batch_id DESC, source_system, source_id)
               FILTER (WHERE company_id IS NOT NULL))[1] AS company_id,
           (array_agg(p->>'lifecycle_stage' ORDER BY version_at DESC NULLS LAST, batch_id DESC, source_system, source_id)
               FILTER (WHERE p->>'lifecycle_stage' IS NOT NULL))[1] AS lifecycle_stage,
           (array_agg(source_system || ':' || (p->>'owner_source_id')
                      ORDER BY version_at DESC NULLS LAST, batch_id DESC, source_system, source_id)
               FILTER (WHERE p->>'owner_source_id' IS NOT NULL))[1] AS owner_id,
           min(created_at) AS created_at,
           max(version_at) AS updated_at,
           bool_and((p->>'consent_email')::boolean) FILTER (WHERE jsonb_typeof(p->'consent_email') = 'boolean')
               AS consent_email,
           max((p->>'unsubscribed_at')::timestamptz) AS unsubscribed_at
    FROM src
    GROUP BY lead_id
),
attrs AS (
    SELECT lead_id, jsonb_object_agg(key, value) AS attributes
    FROM (
        SELECT DISTINCT ON (src.lead_id, a.key) src.lead_id, a.key, a.value
        FROM src CROSS JOIN LATERAL jsonb_each(COALESCE(src.p->'attributes', '{}'::jsonb)) a
        WHERE jsonb_typeof(a.value) <> 'null'
        ORDER BY src.lead_id, a.key, src.version_at DESC NULLS LAST, src.batch_id DESC, src.source_system, src.source_id
    ) latest_values
    GROUP BY lead_id
),
changed AS (
    UPDATE core.leads l
       SET source_system = m.source_system, source_id = m.source_id, job_title = m.job_title,
           country = m.country, company_id = m.company_id, lifecycle_stage = m.lifecycle_stage,
           owner_id = m.owner_id, created_at = m.created_at, updated_at = m.updated_at,
           consent_email = m.consent_email, unsubscribed_at = m.unsubscribed_at,
           attributes = COALESCE(a.attributes, '{}'::jsonb)
      FROM merged m LEFT JOIN attrs a USING (lead_id)
     WHERE l.lead_id = m.lead_id
       AND (l.source_system, l.source_id, l.job_title, l.country, l.company_id, l.lifecycle_stage, l.owner_id,
            l.created_at, l.updated_at, l.consent_email, l.unsubscribed_at, l.attributes)
           IS DISTINCT FROM (m.source_system, m.source_id, m.job_title, m.country, m.company_id, m.lifecycle_stage,
                             m.owner_id, m.created_at, m.updated_at, m.consent_email, m.unsubscribed_at,
                             COALESCE(a.attributes, '{}'::jsonb))
    RETURNING l.lead_id
)
INSERT INTO _touched_leads SELECT lead_id FROM changed;

INSERT INTO _build_stats (key, n) SELECT 'leads', count(DISTINCT lead_id) FROM _touched_leads;
