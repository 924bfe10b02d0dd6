-- Lifecycle history: when each lead first entered each stage, per source system. Every landed version
-- counts (the earliest entered_at wins), so the order batches arrive in does not matter. Candidates: new
-- versions in the window, plus entries whose lead record arrived or moved in this build. A lead a record
-- left (merged into another lead, or a new e-mail) has that system's entries recomputed from the records
-- it keeps, so the moved record's stages go with it.

CREATE TEMP TABLE _lifecycle_left ON COMMIT DROP AS
SELECT DISTINCT old_lead_id AS lead_id, source_system
FROM _changed_lead_sources
WHERE old_lead_id <> lead_id;

-- The keys of the records whose older versions count too: a first fold (low = 0) has no older versions.
CREATE TEMP TABLE _lifecycle_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'lifecycle_history')
SELECT r.source_system, r.source_id
FROM raw.lifecycle_history r, w
WHERE r.batch_id > w.low AND r.batch_id <= w.high AND w.low > 0
UNION
-- records already folded whose lead record arrived or moved (newer ones are candidates already)
SELECT r.source_system, r.source_id
FROM _changed_lead_sources c
JOIN raw.lifecycle_history r
  ON r.source_system = c.source_system AND (r.payload->>'lead_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_lead_id IS DISTINCT FROM c.lead_id AND r.batch_id <= w.low AND w.low > 0
UNION
-- entries of the records that stay on a lead another record left
SELECT r.source_system, r.source_id
FROM _lifecycle_left x
JOIN core.lead_sources ls ON ls.lead_id = x.lead_id AND ls.source_system = x.source_system
JOIN raw.lifecycle_history r
  ON r.source_system = ls.source_system AND (r.payload->>'lead_source_id') = ls.source_id
CROSS JOIN w
WHERE r.batch_id <= w.low AND w.low > 0;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _lifecycle_keys;

-- Each entry's lead is looked up before the entries are grouped (a record names one lead record, so the
-- groups are the same): grouped first, the planner expected 1% of the entries and probed the index once
-- per entry, where a hash join of all of them costs 40% less CPU on a first load.
CREATE TEMP TABLE _lifecycle_rows ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'lifecycle_history'),
entries AS (
    SELECT r.source_system,
           r.payload->>'stage' AS stage,
           min((r.payload->>'entered_at')::timestamptz) AS entered_at,
           ls.lead_id
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_lifecycle_history r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_lifecycle_history r JOIN _lifecycle_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
    LEFT JOIN core.lead_sources ls ON ls.source_system = r.source_system AND ls.source_id = (r.payload->>'lead_source_id')
    GROUP BY r.source_system, r.payload->>'lead_source_id', r.payload->>'stage', ls.lead_id
)
SELECT e.source_system, e.stage, e.entered_at, e.lead_id,
       CASE WHEN e.lead_id IS NULL THEN 'orphans'
            WHEN e.stage IS NULL OR e.entered_at IS NULL THEN 'incomplete'
            ELSE 'ok' END AS status
FROM entries e;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _lifecycle_rows;

DELETE FROM core.lifecycle_history h USING _lifecycle_left x
WHERE h.lead_id = x.lead_id AND h.source_system = x.source_system;

-- An entry no lead has yet is inserted; one it has keeps the earlier time. (`INSERT ... ON CONFLICT` of
-- every entry cost 60% more CPU on a first load: a speculative insertion per row.)
WITH entries AS (
    SELECT lead_id, stage, min(entered_at) AS entered_at, source_system
    FROM _lifecycle_rows WHERE status = 'ok'
    GROUP BY lead_id, stage, source_system
),
added AS (
    INSERT INTO core.lifecycle_history (lead_id, stage, entered_at, source_system)
    SELECT e.lead_id, e.stage, e.entered_at, e.source_system
    FROM entries e
    WHERE NOT EXISTS (SELECT 1 FROM core.lifecycle_history h
                      WHERE h.lead_id = e.lead_id AND h.stage = e.stage AND h.source_system = e.source_system)
    RETURNING 1
),
earlier AS (
    UPDATE core.lifecycle_history h
       SET entered_at = e.entered_at
      FROM entries e
     WHERE h.lead_id = e.lead_id AND h.stage = e.stage AND h.source_system = e.source_system
       AND e.entered_at < h.entered_at
    RETURNING 1
),
up AS (SELECT 1 FROM added UNION ALL SELECT 1 FROM earlier),
-- the entries not written, read once for their counts (not once per status)
odd AS MATERIALIZED (SELECT status FROM _lifecycle_rows WHERE status <> 'ok')
INSERT INTO _build_stats (key, n)
SELECT 'lifecycle_history', (SELECT count(*) FROM up)
UNION ALL SELECT 'lifecycle_history.' || s, (SELECT count(*) FROM odd WHERE status = s)
          FROM unnest(ARRAY['orphans', 'incomplete']) AS s;
