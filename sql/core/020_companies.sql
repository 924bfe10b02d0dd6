-- Companies: one per normalised web domain (lower case, no scheme, no www., no path); a record without a
-- domain is a company of its own. core.company_sources keeps the latest version of every source record;
-- each affected company is re-merged from them: per field the most recently updated non-null value.

CREATE TEMP TABLE _company_versions ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'companies'),
keys AS (
    SELECT DISTINCT n.source_system, n.source_id
    FROM raw.companies n, w
    WHERE n.batch_id > w.low AND n.batch_id <= w.high
),
latest AS (
    SELECT DISTINCT ON (r.source_system, r.source_id)
           r.source_system, r.source_id, r.source_updated_at, r.batch_id, r.payload AS p
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_companies r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_companies r JOIN keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
    ORDER BY r.source_system, r.source_id, r.source_updated_at DESC NULLS LAST, r.batch_id DESC, r.record_no DESC
)
SELECT l.*,
       NULLIF(split_part(regexp_replace(lower(btrim(l.p->>'domain')), '^([a-z][a-z0-9+.-]*://)?(www\.)?', ''), '/', 1), '')
           AS domain_norm,
       core.archived_at(l.p, l.source_updated_at, l.batch_id) AS archived_at
FROM latest l;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _company_versions (source_system, source_id, source_updated_at, batch_id, domain_norm, archived_at);

-- Companies are written once, merged (below): a company that does not exist yet (a new domain, or a record
-- without one) takes its id here. The sequence is looked up once (an initplan), not once per row.
CREATE TEMP TABLE _company_new ON COMMIT DROP AS
SELECT nextval((SELECT pg_get_serial_sequence('core.companies', 'company_id')::regclass)) AS company_id, k.*
FROM (
    SELECT DISTINCT v.domain_norm,
           CASE WHEN v.domain_norm IS NULL THEN v.source_system END AS source_system,
           CASE WHEN v.domain_norm IS NULL THEN v.source_id END AS source_id
    FROM _company_versions v
    WHERE NOT EXISTS (SELECT 1 FROM core.companies c WHERE c.domain = v.domain_norm)
      AND NOT EXISTS (SELECT 1 FROM core.companies c
                      WHERE v.domain_norm IS NULL AND c.domain IS NULL
                        AND c.source_system = v.source_system AND c.source_id = v.source_id)
) k;
ANALYZE _company_new;

-- The records whose stored version changes (a re-delivered identical version changes nothing), with the
-- company each goes to: the company of its domain (or of the record itself without one), stored or new.
INSERT INTO _changed_company_sources (source_system, source_id, company_id, old_company_id)
SELECT v.source_system, v.source_id, t.company_id, s.company_id
FROM _company_versions v
LEFT JOIN core.companies d ON d.domain = v.domain_norm
LEFT JOIN _company_new nd ON nd.domain_norm = v.domain_norm
LEFT JOIN core.companies o
       ON v.domain_norm IS NULL AND o.domain IS NULL
      AND o.source_system = v.source_system AND o.source_id = v.source_id
LEFT JOIN _company_new no
       ON v.domain_norm IS NULL AND no.domain_norm IS NULL
      AND no.source_system = v.source_system AND no.source_id = v.source_id
CROSS JOIN LATERAL (SELECT COALESCE(d.company_id, nd.company_id, o.company_id, no.company_id) AS company_id) t
LEFT JOIN core.company_sources s ON s.source_system = v.source_system AND s.source_id = v.source_id
WHERE (s.company_id, s.source_updated_at, s.batch_id, s.record, s.archived_at)
      IS DISTINCT FROM (t.company_id, v.source_updated_at, v.batch_id, v.p, v.archived_at);
ANALYZE _changed_company_sources;

WITH affected AS (
    SELECT company_id FROM _changed_company_sources
    UNION
    SELECT old_company_id FROM _changed_company_sources WHERE old_company_id IS NOT NULL
),
-- each affected company's records as they will be stored: the stored version of those that do not change,
-- the new version of those that do (core.company_sources is written after the companies, below)
records AS (
    SELECT s.company_id, s.source_system, s.source_id, s.source_updated_at, s.batch_id, s.record AS p,
           s.archived_at
    FROM core.company_sources s
    JOIN affected a USING (company_id)
    WHERE NOT EXISTS (SELECT 1 FROM _changed_company_sources c
                      WHERE c.source_system = s.source_system AND c.source_id = s.source_id)
    UNION ALL
    SELECT c.company_id, v.source_system, v.source_id, v.source_updated_at, v.batch_id, v.p, v.archived_at
    FROM _changed_company_sources c
    JOIN _company_versions v ON v.source_system = c.source_system AND v.source_id = c.source_id
),
src AS (
    SELECT r.company_id, r.source_system, r.source_id, r.batch_id, r.p, r.archived_at,
           COALESCE(r.source_updated_at, (r.p->>'updated_at')::timestamptz) AS version_at
    FROM records r
),
-- Each "latest non-null" field comes from the record of the lowest rank (most recently updated first) that
-- has it: window functions over the company's records find the ranks on one sort, and the grouping keeps
-- the one value at each (as the leads' merge, 030_leads.sql). The ordered aggregates this replaced,
-- `(array_agg(x ORDER BY ...) FILTER (WHERE x IS NOT NULL))[1]`, started a sort per company and field.
ranked AS (
    SELECT src.*,
           min(rk) FILTER (WHERE p->>'name' IS NOT NULL) OVER company AS name_rk,
           min(rk) FILTER (WHERE p->>'industry' IS NOT NULL) OVER company AS industry_rk,
           min(rk) FILTER (WHERE jsonb_typeof(p->'employees') = 'number') OVER company AS employees_rk,
           min(rk) FILTER (WHERE jsonb_typeof(p->'annual_revenue') = 'number') OVER company AS annual_revenue_rk,
           min(rk) FILTER (WHERE p->>'country' IS NOT NULL) OVER company AS country_rk
    FROM (
        SELECT src.*,
               row_number() OVER (PARTITION BY company_id
                                  ORDER BY version_at DESC NULLS LAST, batch_id DESC, source_system, source_id) AS rk
        FROM src
    ) src
    WINDOW company AS (PARTITION BY company_id)
),
merged AS (
    SELECT company_id,
           max(source_system) FILTER (WHERE rk = 1) AS source_system,
           max(source_id) FILTER (WHERE rk = 1) AS source_id,
           max(p->>'name') FILTER (WHERE rk = name_rk) AS name,
           max(p->>'industry') FILTER (WHERE rk = industry_rk) AS industry,
           max(round((p->>'employees')::numeric)::integer) FILTER (WHERE rk = employees_rk) AS employees,
           max((p->>'annual_revenue')::numeric(18, 2)) FILTER (WHERE rk = annual_revenue_rk) AS annual_revenue,
           max(p->>'country') FILTER (WHERE rk = country_rk) AS country,
           max(version_at) AS updated_at,
           -- deleted once every record of it is (HubSpot archives deleted and merged-away companies)
           CASE WHEN bool_and(archived_at IS NOT NULL) THEN max(archived_at) END AS deleted_at
    FROM ranked
    GROUP BY company_id
),
attrs AS (
    SELECT company_id, jsonb_object_agg(key, value) AS attributes
    FROM (
        SELECT DISTINCT ON (src.company_id, a.key) src.company_id, a.key, a.value
        FROM src CROSS JOIN LATERAL jsonb_each(COALESCE(src.p->'attributes', '{}'::jsonb)) a
        WHERE jsonb_typeof(a.value) <> 'null'
        ORDER BY src.company_id, a.key, src.version_at DESC NULLS LAST, src.batch_id DESC, src.source_system, src.source_id
    ) latest_values
    GROUP BY company_id
),
whole AS (
    SELECT m.*, COALESCE(a.attributes, '{}'::jsonb) AS attributes, n.company_id IS NOT NULL AS is_new,
           n.domain_norm
    FROM merged m
    LEFT JOIN attrs a USING (company_id)
    LEFT JOIN _company_new n USING (company_id)
),
added AS (
    INSERT INTO core.companies
           (company_id, source_system, source_id, name, domain, industry, employees, annual_revenue, country,
            updated_at, attributes, deleted_at)
    SELECT company_id, source_system, source_id, name, domain_norm, industry, employees, annual_revenue, country,
           updated_at, attributes, deleted_at
    FROM whole
    WHERE is_new
    RETURNING company_id
),
changed AS (
    UPDATE core.companies c
       SET source_system = m.source_system, source_id = m.source_id, name = m.name, industry = m.industry,
           employees = m.employees, annual_revenue = m.annual_revenue, country = m.country,
           updated_at = m.updated_at, deleted_at = m.deleted_at, attributes = m.attributes
      FROM whole m
     WHERE c.company_id = m.company_id AND NOT m.is_new
       AND (c.source_system, c.source_id, c.name, c.industry, c.employees, c.annual_revenue, c.country,
            c.updated_at, c.deleted_at, c.attributes)
           IS DISTINCT FROM (m.source_system, m.source_id, m.name, m.industry, m.employees, m.annual_revenue,
                             m.country, m.updated_at, m.deleted_at, m.attributes)
    RETURNING c.company_id
)
INSERT INTO _touched_companies SELECT company_id FROM added UNION ALL SELECT company_id FROM changed;

-- The changed records, now that their companies exist: those not stored yet (no old company) inserted, the
-- stored ones updated in place (as the leads' records, 035_leads_merge.sql).
INSERT INTO core.company_sources
       (source_system, source_id, company_id, source_updated_at, batch_id, record, archived_at)
SELECT c.source_system, c.source_id, c.company_id, v.source_updated_at, v.batch_id, v.p, v.archived_at
FROM _changed_company_sources c
JOIN _company_versions v ON v.source_system = c.source_system AND v.source_id = c.source_id
WHERE c.old_company_id IS NULL;

UPDATE core.company_sources s
   SET company_id = c.company_id, source_updated_at = v.source_updated_at, batch_id = v.batch_id, record = v.p,
       archived_at = v.archived_at
  FROM _changed_company_sources c
  JOIN _company_versions v ON v.source_system = c.source_system AND v.source_id = c.source_id
 WHERE c.old_company_id IS NOT NULL AND s.source_system = c.source_system AND s.source_id = c.source_id;

INSERT INTO _build_stats (key, n) SELECT 'companies', count(DISTINCT company_id) FROM _touched_companies;
