-- Marketing events, id "<source_system>:<source id>", lead resolved through core.lead_sources of the same
-- source system. Candidates: records with a new version in the window, plus records whose lead record
-- arrived or moved in this build (an event landed before its contact is folded in once the contact is).
-- Rows whose lead does not resolve, whose type is not in core.event_types or that have no time are not
-- inserted; they stay in raw and are counted.

CREATE TEMP TABLE _event_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'marketing_events')
SELECT r.source_system, r.source_id
FROM raw.marketing_events r, w
-- (they are needed only to find older versions: a first fold, low = 0, has none)
WHERE r.batch_id > w.low AND r.batch_id <= w.high AND w.low > 0
UNION
-- records already folded whose lead record arrived or moved (newer ones are candidates already)
SELECT r.source_system, r.source_id
FROM _changed_lead_sources c
JOIN raw.marketing_events r
  ON r.source_system = c.source_system AND (r.payload->>'lead_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_lead_id IS DISTINCT FROM c.lead_id AND r.batch_id <= w.low;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _event_keys;

-- Most records have one version: only records with several are ordered to keep the latest. Finding them
-- is a hash of the narrow keys; sorting every candidate with its payload spills whole windows to disk.
CREATE TEMP TABLE _event_several ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'marketing_events')
SELECT r.source_system, r.source_id
FROM (
    SELECT r.source_system, r.source_id FROM raw.marketing_events r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
    UNION ALL
    SELECT r.source_system, r.source_id
    FROM raw.marketing_events r JOIN _event_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
) r
GROUP BY r.source_system, r.source_id
HAVING count(*) > 1;
ANALYZE _event_several;

CREATE TEMP TABLE _event_rows ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'marketing_events'),
candidates AS NOT MATERIALIZED (
    SELECT r.*
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_marketing_events r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_marketing_events r JOIN _event_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
),
v AS (
    SELECT c.source_system, c.source_id, c.payload AS p
    FROM candidates c
    WHERE NOT EXISTS (SELECT 1 FROM _event_several s
                      WHERE s.source_system = c.source_system AND s.source_id = c.source_id)
    UNION ALL
    SELECT * FROM (
        SELECT DISTINCT ON (c.source_system, c.source_id) c.source_system, c.source_id, c.payload AS p
        FROM candidates c JOIN _event_several s USING (source_system, source_id)
        ORDER BY c.source_system, c.source_id, c.source_updated_at DESC NULLS LAST, c.batch_id DESC, c.record_no DESC
    ) latest
)
SELECT v.source_system || ':' || v.source_id AS event_id,
       ls.lead_id,
       v.p->>'event_type' AS event_type,
       (v.p->>'occurred_at')::timestamptz AS occurred_at,
       v.p->>'campaign_id' AS campaign_id,
       v.p->>'content_topic' AS content_topic,
       v.source_system,
       COALESCE(v.p->'attributes', '{}'::jsonb) AS attributes,
       CASE WHEN ls.lead_id IS NULL THEN 'orphans'
            WHEN t.event_type IS NULL THEN 'unknown_type'
            WHEN v.p->>'occurred_at' IS NULL THEN 'incomplete'
            ELSE 'ok' END AS status
FROM v
LEFT JOIN core.lead_sources ls ON ls.source_system = v.source_system AND ls.source_id = (v.p->>'lead_source_id')
LEFT JOIN core.event_types t ON t.event_type = (v.p->>'event_type');

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _event_rows (event_id, lead_id, event_type, occurred_at, campaign_id, content_topic, source_system, status);

-- A new event is inserted; a stored one goes through `ON CONFLICT`, which probes the key index whatever
-- the statistics say (a plain UPDATE was planned against the whole table on an hourly fold). Sending every
-- event through `ON CONFLICT` cost 36% more CPU on a first load (a speculative insertion per row: 27.8 s
-- against 20.4 s for 4.1M events).
WITH added AS (
    INSERT INTO core.marketing_events
           (event_id, lead_id, event_type, occurred_at, campaign_id, content_topic, source_system, attributes)
    SELECT r.event_id, r.lead_id, r.event_type, r.occurred_at, r.campaign_id, r.content_topic, r.source_system,
           r.attributes
    FROM _event_rows r
    WHERE r.status = 'ok'
      AND NOT EXISTS (SELECT 1 FROM core.marketing_events e WHERE e.event_id = r.event_id)
    RETURNING 1
),
stored AS (
    INSERT INTO core.marketing_events AS e
           (event_id, lead_id, event_type, occurred_at, campaign_id, content_topic, source_system, attributes)
    SELECT r.event_id, r.lead_id, r.event_type, r.occurred_at, r.campaign_id, r.content_topic, r.source_system,
           r.attributes
    FROM _event_rows r
    WHERE r.status = 'ok'
      AND EXISTS (SELECT 1 FROM core.marketing_events s WHERE s.event_id = r.event_id)
    ON CONFLICT (event_id) DO UPDATE
       SET lead_id = EXCLUDED.lead_id, event_type = EXCLUDED.event_type, occurred_at = EXCLUDED.occurred_at,
           campaign_id = EXCLUDED.campaign_id, content_topic = EXCLUDED.content_topic,
           attributes = EXCLUDED.attributes
     WHERE (e.lead_id, e.event_type, e.occurred_at, e.campaign_id, e.content_topic, e.attributes)
           IS DISTINCT FROM (EXCLUDED.lead_id, EXCLUDED.event_type, EXCLUDED.occurred_at, EXCLUDED.campaign_id,
                             EXCLUDED.content_topic, EXCLUDED.attributes)
    RETURNING 1
),
up AS (SELECT 1 FROM added UNION ALL SELECT 1 FROM stored),
-- a newer version that no longer qualifies replaces the older one: it leaves core too
gone AS (
    DELETE FROM core.marketing_events e USING _event_rows r
    WHERE e.event_id = r.event_id AND r.status <> 'ok'
    RETURNING 1
)
INSERT INTO _build_stats (key, n)
SELECT 'marketing_events', (SELECT count(*) FROM up)
UNION ALL SELECT 'marketing_events.removed', (SELECT count(*) FROM gone)
UNION ALL SELECT 'marketing_events.' || s, count(r.status)
          FROM unnest(ARRAY['orphans', 'unknown_type', 'incomplete']) AS s
          LEFT JOIN (SELECT status FROM _event_rows WHERE status <> 'ok') r ON r.status = s
          GROUP BY s;
