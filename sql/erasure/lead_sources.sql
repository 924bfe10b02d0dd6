-- The person's folded records keep only what is not about them as a person (dates, stage, consent,
-- country, company and owner references, archival, merges): the lead keeps its history and its KPIs,
-- the record its links from deals. Address, names, job title and every other attribute go.
WITH anonymised AS (
    SELECT s.source_system, s.source_id,
           (SELECT COALESCE(jsonb_object_agg(f.key, f.value), '{}'::jsonb)
            FROM jsonb_each(s.record) f WHERE f.key = ANY (%(kept)s))
           || jsonb_build_object('attributes',
                  (SELECT COALESCE(jsonb_object_agg(a.key, a.value), '{}'::jsonb)
                   FROM jsonb_each(CASE WHEN jsonb_typeof(s.record->'attributes') = 'object'
                                        THEN s.record->'attributes' ELSE '{}'::jsonb END) a
                   WHERE a.key IN ('archived', 'archived_at'))) AS record
    FROM core.lead_sources s JOIN _erase_records USING (source_system, source_id)
)
UPDATE core.lead_sources s SET record = a.record
  FROM anonymised a
 WHERE s.source_system = a.source_system AND s.source_id = a.source_id AND s.record <> a.record
