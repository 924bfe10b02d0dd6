-- The rechecked records (staged in {stage}) with no critical failure left: they are released.
INSERT INTO _dq_release (batch_id, record_no)
SELECT s.batch_id, s.record_no FROM {stage} s
WHERE NOT EXISTS (SELECT 1 FROM _dq_failing f WHERE f.k1::bigint = s.batch_id AND f.k2::int = s.record_no)
