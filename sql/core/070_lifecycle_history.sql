-- Lifecycle history: when each lead first entered each stage, per source system. Every landed version
-- counts (the earliest entered_at wins), so the order batches arrive in does not matter. Candidates: new
-- versions in the window, plus entries whose lead record arrived or moved in this build. A lead a record
-- left (merged into another lead, or a new e-mail) has that system's entries recomputed from the records
-- it keeps, so the moved record's stages go with it.

CREATE TEMP TABLE _lifecycle_left ON COMMIT DROP AS
SELECT DISTINCT old_lead_id AS lead_id, source_system
FROM _changed_lead_sources
WHERE old_lead_id <> lead_id;

CREATE TEMP TABLE _lifecycle_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'lifecycle_history')
SELECT r.source_system, r.source_id
FROM raw.lifecycle_history r, w
WHERE r.batch_id > w.low AND r.batch_id <= w.high
UNION
-- records already folded whose lead record arrived or moved (newer ones are candidates already)
SELECT r.source_system, r.source_id
FROM _changed_lead_sources c
JOIN raw.lifecycle_history r
  ON r.source_system = c.source_system AND (r.payload->>'lead_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_lead_id IS DISTINCT FROM c.lead_id AND r.batch_id <= w.low
UNION
-- entries of the records that stay on a lead another record left
SELECT r.source_system, r.source_id
FROM _lifecycle_left x
JOIN core.lead_sources ls ON ls.lead_id = x.lead_id AND ls.source_system = x.source_system
JOIN raw.lifecycle_history r
  ON r.source_system = ls.source_system AND (r.payload->>'lead_source_id') = ls.source_id
CROSS JOIN w
WHERE r.batch_id <= w.low;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _lifecycle_keys;

CREATE TEMP TABLE _lifecycle_rows ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'lifecycle_history'),
entries AS (
    SELECT r.source_system,
           r.payload->>'lead_source_id' AS lead_source_id,
           r.payload->>'stage' AS stage,
           min((r.payload->>'entered_at')::timestamptz) AS entered_at
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_lifecycle_history r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_lifecycle_history r JOIN _lifecycle_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
    GROUP BY 1, 2, 3
)
SELECT e.source_system, e.stage, e.entered_at, ls.lead_id,
       CASE WHEN ls.lead_id IS NULL THEN 'orphans'
            WHEN e.stage IS NULL OR e.entered_at IS NULL THEN 'incomplete'
            ELSE 'ok' END AS status
FROM entries e
LEFT JOIN core.lead_sources ls ON ls.source_system = e.source_system AND ls.source_id = e.lead_source_id;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _lifecycle_rows;

DELETE FROM core.lifecycle_history h USING _lifecycle_left x
WHERE h.lead_id = x.lead_id AND h.source_system = x.source_system;

WITH up AS (
    INSERT INTO core.lifecycle_history AS h (lead_id, stage, entered_at, source_system)
    SELECT lead_id, stage, min(entered_at), source_system
    FROM _lifecycle_rows WHERE status = 'ok'
    GROUP BY lead_id, stage, source_system
    ON CONFLICT (lead_id, stage, source_system) DO UPDATE
       SET entered_at = EXCLUDED.entered_at
     WHERE EXCLUDED.entered_at < h.entered_at
    RETURNING 1
)
INSERT INTO _build_stats (key, n)
SELECT 'lifecycle_history', (SELECT count(*) FROM up)
UNION ALL SELECT 'lifecycle_history.' || s, (SELECT count(*) FROM _lifecycle_rows WHERE status = s)
          FROM unnest(ARRAY['orphans', 'incomplete']) AS s;
