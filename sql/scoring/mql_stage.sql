-- The MQL stage of the shard's qualified leads (_scoring_mql) in core.lifecycle_history, source 'scoring',
-- at its earliest reference time.
INSERT INTO core.lifecycle_history AS h (lead_id, stage, entered_at, source_system)
SELECT m.lead_id, %(stage)s, %(as_of)s, %(system)s
FROM _scoring_mql m JOIN core.leads l ON l.lead_id = m.lead_id
ON CONFLICT (lead_id, stage, source_system) DO UPDATE SET entered_at = EXCLUDED.entered_at
 WHERE EXCLUDED.entered_at < h.entered_at
