-- Sales activities, id "<source_system>:<source id>", lead resolved through core.lead_sources of the same
-- source system, owner "<source_system>:<owner source id>". Same candidate rule as marketing events;
-- unresolved leads, unknown activity types and rows without a time are counted, not inserted.

CREATE TEMP TABLE _activity_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'sales_activities')
SELECT r.source_system, r.source_id
FROM raw.sales_activities r, w
WHERE r.batch_id > w.low AND r.batch_id <= w.high
UNION
-- records already folded whose lead record arrived or moved (newer ones are candidates already)
SELECT r.source_system, r.source_id
FROM _changed_lead_sources c
JOIN raw.sales_activities r
  ON r.source_system = c.source_system AND (r.payload->>'lead_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_lead_id IS DISTINCT FROM c.lead_id AND r.batch_id <= w.low;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _activity_keys;

CREATE TEMP TABLE _activity_rows ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'sales_activities'),
v AS (
    SELECT DISTINCT ON (r.source_system, r.source_id) r.source_system, r.source_id, r.payload AS p
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_sales_activities r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_sales_activities r JOIN _activity_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
    ORDER BY r.source_system, r.source_id, r.source_updated_at DESC NULLS LAST, r.batch_id DESC, r.record_no DESC
)
SELECT v.source_system || ':' || v.source_id AS activity_id,
       ls.lead_id,
       v.source_system || ':' || (v.p->>'owner_source_id') AS owner_id,
       v.p->>'activity_type' AS activity_type,
       (v.p->>'occurred_at')::timestamptz AS occurred_at,
       v.source_system,
       COALESCE(v.p->'attributes', '{}'::jsonb) AS attributes,
       CASE WHEN ls.lead_id IS NULL THEN 'orphans'
            WHEN t.activity_type IS NULL THEN 'unknown_type'
            WHEN v.p->>'occurred_at' IS NULL THEN 'incomplete'
            ELSE 'ok' END AS status
FROM v
LEFT JOIN core.lead_sources ls ON ls.source_system = v.source_system AND ls.source_id = (v.p->>'lead_source_id')
LEFT JOIN core.activity_types t ON t.activity_type = (v.p->>'activity_type');

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _activity_rows;

WITH up AS (
    INSERT INTO core.sales_activities AS a
           (activity_id, lead_id, owner_id, activity_type, occurred_at, source_system, attributes)
    SELECT activity_id, lead_id, owner_id, activity_type, occurred_at, source_system, attributes
    FROM _activity_rows WHERE status = 'ok'
    ON CONFLICT (activity_id) DO UPDATE
       SET lead_id = EXCLUDED.lead_id, owner_id = EXCLUDED.owner_id, activity_type = EXCLUDED.activity_type,
           occurred_at = EXCLUDED.occurred_at, attributes = EXCLUDED.attributes
     WHERE (a.lead_id, a.owner_id, a.activity_type, a.occurred_at, a.attributes)
           IS DISTINCT FROM (EXCLUDED.lead_id, EXCLUDED.owner_id, EXCLUDED.activity_type, EXCLUDED.occurred_at,
                             EXCLUDED.attributes)
    RETURNING 1
),
gone AS (
    DELETE FROM core.sales_activities a USING _activity_rows r
    WHERE a.activity_id = r.activity_id AND r.status <> 'ok'
    RETURNING 1
)
INSERT INTO _build_stats (key, n)
SELECT 'sales_activities', (SELECT count(*) FROM up)
UNION ALL SELECT 'sales_activities.removed', (SELECT count(*) FROM gone)
UNION ALL SELECT 'sales_activities.' || s, (SELECT count(*) FROM _activity_rows WHERE status = s)
          FROM unnest(ARRAY['orphans', 'unknown_type', 'incomplete']) AS s;
