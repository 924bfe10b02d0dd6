-- Records a source deleted (HubSpot: archived) or merged into another one. Core keeps the rows, so ids
-- stay stable and replays at an earlier moment still see them; a `deleted_at` says when the entity left
-- the live data, and every consumer (scoring, SLA, KPIs) reads only rows without one at its moment.

ALTER TABLE core.lead_sources ADD COLUMN IF NOT EXISTS archived_at timestamptz;
COMMENT ON COLUMN core.lead_sources.archived_at IS 'When the source deleted or merged away this record (empty while it is live).';

ALTER TABLE core.company_sources ADD COLUMN IF NOT EXISTS archived_at timestamptz;
COMMENT ON COLUMN core.company_sources.archived_at IS 'When the source deleted or merged away this record (empty while it is live).';

ALTER TABLE core.leads ADD COLUMN IF NOT EXISTS deleted_at timestamptz;
COMMENT ON COLUMN core.leads.deleted_at IS 'When the lead left the live data: every source record of it was deleted or merged into another lead (empty while live). Scoring, SLA and KPIs skip deleted leads.';

ALTER TABLE core.companies ADD COLUMN IF NOT EXISTS deleted_at timestamptz;
COMMENT ON COLUMN core.companies.deleted_at IS 'When every source record of the company was deleted (empty while live).';

ALTER TABLE core.deals ADD COLUMN IF NOT EXISTS deleted_at timestamptz;
COMMENT ON COLUMN core.deals.deleted_at IS 'When the source deleted the deal (empty while live); KPIs skip deleted deals.';

-- A merge is an alias: the merged-away record belongs to the lead of the record it was merged into.
CREATE TABLE IF NOT EXISTS core.lead_merges (
    source_system      text NOT NULL,
    source_id          text NOT NULL,
    survivor_source_id text NOT NULL,
    PRIMARY KEY (source_system, source_id, survivor_source_id)
);
CREATE INDEX IF NOT EXISTS lead_merges_survivor_idx ON core.lead_merges (source_system, survivor_source_id);
COMMENT ON TABLE core.lead_merges IS 'Contacts merged into another contact of the same source (HubSpot hs_merged_object_ids): the merged record, its events, activities, deals and lifecycle history belong to the survivor''s lead.';
COMMENT ON COLUMN core.lead_merges.source_system IS 'Source system of both records.';
COMMENT ON COLUMN core.lead_merges.source_id IS 'Id of the merged-away record in the source.';
COMMENT ON COLUMN core.lead_merges.survivor_source_id IS 'Id of the record it was merged into (the one that names it).';

-- One reading of "deleted" for every object: sources mark a deleted record's last version with the
-- attribute `archived` (HubSpot's flag, as the connector lands it) and, when known, `archived_at`.
CREATE OR REPLACE FUNCTION core.archived_at(payload jsonb, version_at timestamptz, batch bigint)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN lower(payload->'attributes'->>'archived') IN ('true', 't', 'yes', '1') THEN
        COALESCE(
            -- a malformed archive time must not stop the build: the version's own time stands in
            CASE WHEN payload->'attributes'->>'archived_at'
                      ~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$'
                 THEN (payload->'attributes'->>'archived_at')::timestamptz END,
            version_at,
            CASE WHEN jsonb_typeof(payload->'updated_at') = 'string' THEN (payload->>'updated_at')::timestamptz END,
            (SELECT b.loaded_at FROM ops.load_batches b WHERE b.batch_id = batch))
    END
$$;
COMMENT ON FUNCTION core.archived_at(jsonb, timestamptz, bigint) IS 'When a landed version says its record was deleted (attributes.archived true): attributes.archived_at, else the version time, else the landing time; empty for a live record.';
