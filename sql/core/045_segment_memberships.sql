-- Segment memberships: who is in which marketing-tool segment now, and since when. Raw holds one record
-- per change (added or removed, never modified); a membership (source system, contact, segment) is
-- re-derived from ALL its landed changes whenever one of them is new, so the order batches arrive in
-- does not matter. Candidates: memberships with a change in the window, plus those whose contact record
-- arrived or moved in this build. Changes whose contact does not resolve, or without a segment id, a
-- direction or a time, are not folded; they stay in raw and are counted.

CREATE TEMP TABLE _membership_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'segment_memberships')
SELECT r.source_system, r.payload->>'lead_source_id' AS contact_id
FROM raw.segment_memberships r, w
WHERE r.batch_id > w.low AND r.batch_id <= w.high
UNION
-- changes already folded whose contact record arrived or moved (newer ones are candidates already)
SELECT r.source_system, r.payload->>'lead_source_id'
FROM _changed_lead_sources c
JOIN raw.segment_memberships r
  ON r.source_system = c.source_system AND (r.payload->>'lead_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_lead_id IS DISTINCT FROM c.lead_id AND r.batch_id <= w.low;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _membership_keys;

CREATE TEMP TABLE _membership_rows ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'segment_memberships'),
changes AS (
    -- every change of the candidate contacts, once each (a change re-landed under the same id is one)
    SELECT DISTINCT ON (r.source_system, r.source_id)
           r.source_system, r.source_id,
           r.payload->>'lead_source_id' AS contact_id,
           r.payload->>'segment_id' AS segment_id,
           r.payload->>'segment_name' AS segment_name,
           r.payload->>'segment_alias' AS segment_alias,
           (r.payload->>'is_member')::boolean AS is_member,
           (r.payload->>'changed_at')::timestamptz AS changed_at
    FROM _admitted_segment_memberships r
    JOIN _membership_keys k ON k.source_system = r.source_system AND k.contact_id = (r.payload->>'lead_source_id')
    CROSS JOIN w
    WHERE r.batch_id <= w.high
    ORDER BY r.source_system, r.source_id, r.batch_id DESC, r.record_no DESC
),
sequenced AS (
    -- Changes within one second are ordered by their log id (ids like "segment_membership123" grow
    -- with time; by length first, so 99 comes before 100). Each row also gets its membership streak:
    -- the number of removals before it, which the additions of one streak share.
    SELECT c.*,
           row_number() OVER latest_first AS recency,
           count(*) FILTER (WHERE NOT c.is_member) OVER oldest_first
             - CASE WHEN c.is_member THEN 0 ELSE 1 END AS streak
    FROM changes c
    WHERE c.segment_id IS NOT NULL AND c.is_member IS NOT NULL AND c.changed_at IS NOT NULL
    WINDOW oldest_first AS (PARTITION BY c.source_system, c.contact_id, c.segment_id
                            ORDER BY c.changed_at, length(c.source_id), c.source_id
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           latest_first AS (PARTITION BY c.source_system, c.contact_id, c.segment_id
                            ORDER BY c.changed_at DESC, length(c.source_id) DESC, c.source_id DESC)
),
latest AS (
    -- the latest change of each membership, with the first addition of its streak
    SELECT * FROM (
        SELECT s.*,
               min(s.changed_at) FILTER (WHERE s.is_member)
                   OVER (PARTITION BY s.source_system, s.contact_id, s.segment_id, s.streak) AS added_at
        FROM sequenced s
    ) t
    WHERE t.recency = 1
)
SELECT l.source_system, l.contact_id, l.segment_id, l.segment_name, l.segment_alias, l.is_member,
       l.added_at, CASE WHEN NOT l.is_member THEN l.changed_at END AS removed_at, l.changed_at,
       ls.lead_id,
       CASE WHEN ls.lead_id IS NULL THEN 'orphans' ELSE 'ok' END AS status
FROM latest l
LEFT JOIN core.lead_sources ls ON ls.source_system = l.source_system AND ls.source_id = l.contact_id;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _membership_rows;

WITH up AS (
    INSERT INTO core.segment_memberships AS m
           (source_system, source_id, segment_id, lead_id, segment_name, segment_alias, is_member,
            added_at, removed_at, changed_at)
    SELECT source_system, contact_id, segment_id, lead_id, segment_name, segment_alias, is_member,
           added_at, removed_at, changed_at
    FROM _membership_rows WHERE status = 'ok'
    ON CONFLICT (source_system, source_id, segment_id) DO UPDATE
       SET lead_id = EXCLUDED.lead_id, segment_name = EXCLUDED.segment_name,
           segment_alias = EXCLUDED.segment_alias, is_member = EXCLUDED.is_member,
           added_at = EXCLUDED.added_at, removed_at = EXCLUDED.removed_at, changed_at = EXCLUDED.changed_at
     WHERE (m.lead_id, m.segment_name, m.segment_alias, m.is_member, m.added_at, m.removed_at, m.changed_at)
           IS DISTINCT FROM (EXCLUDED.lead_id, EXCLUDED.segment_name, EXCLUDED.segment_alias, EXCLUDED.is_member,
                             EXCLUDED.added_at, EXCLUDED.removed_at, EXCLUDED.changed_at)
    RETURNING 1
),
incomplete AS (
    SELECT count(*) AS n
    FROM raw.segment_memberships r
    JOIN _membership_keys k ON k.source_system = r.source_system AND k.contact_id = (r.payload->>'lead_source_id')
    WHERE r.batch_id > (SELECT low FROM _build_window WHERE object = 'segment_memberships')
      AND r.batch_id <= (SELECT high FROM _build_window WHERE object = 'segment_memberships')
      AND (r.payload->>'segment_id' IS NULL OR r.payload->>'is_member' IS NULL OR r.payload->>'changed_at' IS NULL)
)
-- Reported only when the build folded memberships: a warehouse without a segment source sees no new keys.
INSERT INTO _build_stats (key, n)
SELECT key, n FROM (
    SELECT 'segment_memberships' AS key, (SELECT count(*) FROM up) AS n
    UNION ALL SELECT 'segment_memberships.orphans', (SELECT count(*) FROM _membership_rows WHERE status = 'orphans')
    UNION ALL SELECT 'segment_memberships.incomplete', (SELECT n FROM incomplete)
) s
WHERE EXISTS (SELECT 1 FROM _membership_keys);
