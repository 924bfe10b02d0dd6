-- First qualification per lead and model version, from the shard's qualified leads (_scoring_mql).
-- A crossing is kept at its earliest reference time: a rerun, or a later run, never moves it forward.
-- is_first: no other model version had qualified the lead by then.
INSERT INTO scoring.mql_crossings AS c
       (lead_id, model_version, crossed_at, total, grade, profile_id, run_id, is_first)
SELECT m.lead_id, %(version)s, %(as_of)s, m.total, m.grade, m.profile_id, %(run)s,
       NOT EXISTS (SELECT 1 FROM scoring.mql_crossings o
                   WHERE o.lead_id = m.lead_id AND o.model_version <> %(version)s
                     AND o.crossed_at <= %(as_of)s)
FROM _scoring_mql m
ON CONFLICT (lead_id, model_version) DO UPDATE
   SET crossed_at = EXCLUDED.crossed_at, total = EXCLUDED.total, grade = EXCLUDED.grade,
       profile_id = EXCLUDED.profile_id, run_id = EXCLUDED.run_id, is_first = EXCLUDED.is_first
 WHERE EXCLUDED.crossed_at < c.crossed_at
RETURNING 1
