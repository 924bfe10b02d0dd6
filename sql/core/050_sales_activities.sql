-- Sales activities, id "<source_system>:<source id>", lead resolved through core.lead_sources of the same
-- source system, owner "<source_system>:<owner source id>". Same candidate rule as marketing events;
-- unresolved leads, unknown activity types and rows without a time are counted, not inserted.

-- The keys of the records whose older versions count too: a first fold (low = 0) has no older versions.
CREATE TEMP TABLE _activity_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'sales_activities')
SELECT r.source_system, r.source_id
FROM raw.sales_activities r, w
WHERE r.batch_id > w.low AND r.batch_id <= w.high AND w.low > 0
UNION
-- records already folded whose lead record arrived or moved (newer ones are candidates already)
SELECT r.source_system, r.source_id
FROM _changed_lead_sources c
JOIN raw.sales_activities r
  ON r.source_system = c.source_system AND (r.payload->>'lead_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_lead_id IS DISTINCT FROM c.lead_id AND r.batch_id <= w.low AND w.low > 0;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _activity_keys;

CREATE TEMP TABLE _activity_rows ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'sales_activities'),
-- Each version's lead is looked up before the latest version is kept: after it, the planner expected 1% of
-- the records and probed the index once per record, where a hash join of all of them costs 30% less CPU
-- on a first load.
v AS (
    SELECT DISTINCT ON (r.source_system, r.source_id) r.source_system, r.source_id, r.payload AS p,
           -- the record's lead (000_setup.sql: the narrow _changed_lead_sources first)
           COALESCE(c.lead_id, (SELECT ls.lead_id FROM core.lead_sources ls
                                WHERE ls.source_system = r.source_system AND ls.source_id = (r.payload->>'lead_source_id')))
               AS lead_id
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_sales_activities r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_sales_activities r JOIN _activity_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
    LEFT JOIN _changed_lead_sources c ON c.source_system = r.source_system AND c.source_id = (r.payload->>'lead_source_id')
    ORDER BY r.source_system, r.source_id, r.source_updated_at DESC NULLS LAST, r.batch_id DESC, r.record_no DESC
)
SELECT v.source_system || ':' || v.source_id AS activity_id,
       v.lead_id,
       v.source_system || ':' || (v.p->>'owner_source_id') AS owner_id,
       v.p->>'activity_type' AS activity_type,
       (v.p->>'occurred_at')::timestamptz AS occurred_at,
       v.source_system,
       COALESCE(v.p->'attributes', '{}'::jsonb) AS attributes,
       CASE WHEN v.lead_id IS NULL THEN 'orphans'
            WHEN t.activity_type IS NULL THEN 'unknown_type'
            WHEN v.p->>'occurred_at' IS NULL THEN 'incomplete'
            ELSE 'ok' END AS status
FROM v
LEFT JOIN core.activity_types t ON t.activity_type = (v.p->>'activity_type');

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _activity_rows (activity_id, lead_id, owner_id, activity_type, occurred_at, source_system, status);

-- A new activity is inserted, a stored one updated if it changed. (`INSERT ... ON CONFLICT` of every
-- activity cost more CPU on a first load: a speculative insertion per row.)
WITH ok AS (SELECT * FROM _activity_rows WHERE status = 'ok'),
added AS (
    INSERT INTO core.sales_activities
           (activity_id, lead_id, owner_id, activity_type, occurred_at, source_system, attributes)
    SELECT r.activity_id, r.lead_id, r.owner_id, r.activity_type, r.occurred_at, r.source_system, r.attributes
    FROM ok r
    WHERE NOT EXISTS (SELECT 1 FROM core.sales_activities a WHERE a.activity_id = r.activity_id)
    RETURNING 1
),
changed AS (
    UPDATE core.sales_activities a
       SET lead_id = r.lead_id, owner_id = r.owner_id, activity_type = r.activity_type,
           occurred_at = r.occurred_at, attributes = r.attributes
      FROM ok r
     WHERE a.activity_id = r.activity_id
       AND (a.lead_id, a.owner_id, a.activity_type, a.occurred_at, a.attributes)
           IS DISTINCT FROM (r.lead_id, r.owner_id, r.activity_type, r.occurred_at, r.attributes)
    RETURNING 1
),
up AS (SELECT 1 FROM added UNION ALL SELECT 1 FROM changed),
-- the rows that are not inserted, read once for their removal and their counts (one scan of the
-- activities per status read a first load's 72k rows four times over)
odd AS MATERIALIZED (SELECT activity_id, status FROM _activity_rows WHERE status <> 'ok'),
gone AS (
    DELETE FROM core.sales_activities a USING odd r
    WHERE a.activity_id = r.activity_id
    RETURNING 1
)
INSERT INTO _build_stats (key, n)
SELECT 'sales_activities', (SELECT count(*) FROM up)
UNION ALL SELECT 'sales_activities.removed', (SELECT count(*) FROM gone)
UNION ALL SELECT 'sales_activities.' || s, (SELECT count(*) FROM odd WHERE status = s)
          FROM unnest(ARRAY['orphans', 'unknown_type', 'incomplete']) AS s;
