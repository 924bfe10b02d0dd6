-- Owners: the latest version of each owner record with a new version, keyed "<source_system>:<source id>".
CREATE TEMP TABLE _owner_versions ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'owners'),
keys AS (
    SELECT DISTINCT n.source_system, n.source_id
    FROM raw.owners n, w
    WHERE n.batch_id > w.low AND n.batch_id <= w.high
)
SELECT DISTINCT ON (r.source_system, r.source_id)
       r.source_system, r.source_id, r.source_updated_at, r.payload AS p
FROM (
    -- every version in the window, plus older versions of the same records (those the quality gate admits)
    SELECT r.* FROM _admitted_owners r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
    UNION ALL
    SELECT r.* FROM _admitted_owners r JOIN keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
) r
ORDER BY r.source_system, r.source_id, r.source_updated_at DESC NULLS LAST, r.batch_id DESC, r.record_no DESC;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _owner_versions;

WITH up AS (
    INSERT INTO core.owners AS o (owner_id, source_system, source_id, name, team, manager_id, timezone, active, updated_at)
    SELECT v.source_system || ':' || v.source_id,
           v.source_system,
           v.source_id,
           v.p->>'name',
           v.p->>'team',
           v.source_system || ':' || (v.p->>'manager_source_id'),
           v.p->>'timezone',
           -- an owner the source does not say is inactive can be assigned leads
           COALESCE(CASE WHEN jsonb_typeof(v.p->'active') = 'boolean' THEN (v.p->>'active')::boolean END, true),
           COALESCE((v.p->>'updated_at')::timestamptz, v.source_updated_at)
    FROM _owner_versions v
    ON CONFLICT (owner_id) DO UPDATE
       SET name = EXCLUDED.name, team = EXCLUDED.team, manager_id = EXCLUDED.manager_id,
           timezone = EXCLUDED.timezone, active = EXCLUDED.active, updated_at = EXCLUDED.updated_at
     WHERE (o.name, o.team, o.manager_id, o.timezone, o.active, o.updated_at)
           IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.team, EXCLUDED.manager_id, EXCLUDED.timezone, EXCLUDED.active, EXCLUDED.updated_at)
    RETURNING 1
)
INSERT INTO _build_stats (key, n) SELECT 'owners', count(*) FROM up;
