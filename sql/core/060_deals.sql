-- Deals, id "<source_system>:<source id>". A deal naming a lead record that does not resolve is counted
-- as an orphan, not inserted; a deal naming no lead at all is kept with an empty lead. The company comes
-- from core.company_sources when the deal names one. Candidates: new versions in the window, plus deals
-- whose lead record or company record arrived or moved in this build. A deal the source deleted keeps its
-- row with `deleted_at` (its archival), so KPIs can leave it out at any moment.

-- The keys of the records whose older versions count too: a first fold (low = 0) has no older versions.
CREATE TEMP TABLE _deal_keys ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'deals')
SELECT r.source_system, r.source_id
FROM raw.deals r, w
WHERE r.batch_id > w.low AND r.batch_id <= w.high AND w.low > 0
UNION
-- records already folded whose lead record arrived or moved (newer ones are candidates already)
SELECT r.source_system, r.source_id
FROM _changed_lead_sources c
JOIN raw.deals r ON r.source_system = c.source_system AND (r.payload->>'lead_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_lead_id IS DISTINCT FROM c.lead_id AND r.batch_id <= w.low AND w.low > 0
UNION
-- records already folded whose company record arrived or moved
SELECT r.source_system, r.source_id
FROM _changed_company_sources c
JOIN raw.deals r ON r.source_system = c.source_system AND (r.payload->>'company_source_id') = c.source_id
CROSS JOIN w
WHERE c.old_company_id IS DISTINCT FROM c.company_id AND r.batch_id <= w.low AND w.low > 0;

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _deal_keys;

CREATE TEMP TABLE _deal_rows ON COMMIT DROP AS
WITH w AS (SELECT low, high FROM _build_window WHERE object = 'deals'),
v AS (
    SELECT DISTINCT ON (r.source_system, r.source_id)
           r.source_system, r.source_id, r.source_updated_at, r.batch_id, r.payload AS p,
           -- the record's lead (000_setup.sql: the narrow _changed_lead_sources first)
           COALESCE(c.lead_id, (SELECT ls.lead_id FROM core.lead_sources ls
                                WHERE ls.source_system = r.source_system AND ls.source_id = (r.payload->>'lead_source_id')))
               AS lead_id
    FROM (
        -- every version in the window, plus older versions of the same records (those the quality gate admits)
        SELECT r.* FROM _admitted_deals r, w WHERE r.batch_id > w.low AND r.batch_id <= w.high
        UNION ALL
        SELECT r.* FROM _admitted_deals r JOIN _deal_keys k USING (source_system, source_id), w WHERE r.batch_id <= w.low
    ) r
    LEFT JOIN _changed_lead_sources c ON c.source_system = r.source_system AND c.source_id = (r.payload->>'lead_source_id')
    ORDER BY r.source_system, r.source_id, r.source_updated_at DESC NULLS LAST, r.batch_id DESC, r.record_no DESC
)
SELECT v.source_system || ':' || v.source_id AS deal_id,
       core.archived_at(v.p, v.source_updated_at, v.batch_id) AS deleted_at,
       v.lead_id,
       cs.company_id,
       CASE WHEN jsonb_typeof(v.p->'amount') = 'number' THEN (v.p->>'amount')::numeric(18, 2) END AS amount,
       v.p->>'stage' AS stage,
       (v.p->>'created_at')::timestamptz AS created_at,
       (v.p->>'closed_at')::timestamptz AS closed_at,
       CASE WHEN jsonb_typeof(v.p->'is_won') = 'boolean' THEN (v.p->>'is_won')::boolean END AS is_won,
       v.source_system,
       COALESCE(v.p->'attributes', '{}'::jsonb) AS attributes,
       CASE WHEN v.p->>'lead_source_id' IS NOT NULL AND v.lead_id IS NULL THEN 'orphans' ELSE 'ok' END AS status
FROM v
LEFT JOIN core.company_sources cs ON cs.source_system = v.source_system AND cs.source_id = (v.p->>'company_source_id');

-- temp tables are never auto-analysed; the next joins need real row counts
ANALYZE _deal_rows (deal_id, deleted_at, lead_id, company_id, amount, stage, created_at, closed_at, is_won, source_system,
                   status);

WITH up AS (
    INSERT INTO core.deals AS d
           (deal_id, lead_id, company_id, amount, stage, created_at, closed_at, is_won, source_system, attributes,
            deleted_at)
    SELECT deal_id, lead_id, company_id, amount, stage, created_at, closed_at, is_won, source_system, attributes,
           deleted_at
    FROM _deal_rows WHERE status = 'ok'
    ON CONFLICT (deal_id) DO UPDATE
       SET lead_id = EXCLUDED.lead_id, company_id = EXCLUDED.company_id, amount = EXCLUDED.amount,
           stage = EXCLUDED.stage, created_at = EXCLUDED.created_at, closed_at = EXCLUDED.closed_at,
           is_won = EXCLUDED.is_won, attributes = EXCLUDED.attributes, deleted_at = EXCLUDED.deleted_at
     WHERE (d.lead_id, d.company_id, d.amount, d.stage, d.created_at, d.closed_at, d.is_won, d.attributes,
            d.deleted_at)
           IS DISTINCT FROM (EXCLUDED.lead_id, EXCLUDED.company_id, EXCLUDED.amount, EXCLUDED.stage,
                             EXCLUDED.created_at, EXCLUDED.closed_at, EXCLUDED.is_won, EXCLUDED.attributes,
                             EXCLUDED.deleted_at)
    RETURNING 1
),
gone AS (
    DELETE FROM core.deals d USING _deal_rows r
    WHERE d.deal_id = r.deal_id AND r.status <> 'ok'
    RETURNING 1
)
INSERT INTO _build_stats (key, n)
SELECT 'deals', (SELECT count(*) FROM up)
UNION ALL SELECT 'deals.removed', (SELECT count(*) FROM gone)
UNION ALL SELECT 'deals.orphans', (SELECT count(*) FROM _deal_rows WHERE status = 'orphans');
