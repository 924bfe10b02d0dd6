-- Records of one source system (<system>) whose score, grade or due MQL stage differ from what write-back
-- last had accepted (scoring.writeback_state), numbered by record id for batching. The MQL stage is only
-- sent forward: to records whose stage is empty or still one of <early>.
WITH current AS (
    SELECT src.source_id AS record_id, s.lead_id, round(s.total)::int AS score, s.grade,
           CASE WHEN s.is_mql AND (l.lifecycle_stage IS NULL OR l.lifecycle_stage = ANY(%(early)s))
                THEN %(mql)s::text END AS stage
    FROM scoring.lead_scores s
    JOIN core.lead_sources src ON src.lead_id = s.lead_id AND src.source_system = %(system)s
    JOIN core.leads l ON l.lead_id = s.lead_id
)
SELECT c.*, row_number() OVER (ORDER BY c.record_id) AS n
FROM current c
LEFT JOIN scoring.writeback_state w ON w.system = %(system)s AND w.record_id = c.record_id
WHERE w.record_id IS NULL
   OR (w.score, w.grade) IS DISTINCT FROM (c.score, c.grade)
   OR (c.stage IS NOT NULL AND w.lifecycle_stage IS DISTINCT FROM c.stage)
