-- The score and grade at the scoring crossing that handed each lead of _sla_window over (its first
-- crossing by <as_of>), joined to the inputs as `cr`.
LEFT JOIN (
    SELECT DISTINCT ON (c.lead_id) c.lead_id, c.total, c.grade
    FROM scoring.mql_crossings c JOIN _sla_window w ON w.lead_id = c.lead_id
    WHERE c.crossed_at <= %(as_of)s
    ORDER BY c.lead_id, c.crossed_at, c.model_version
) AS cr ON cr.lead_id = w.lead_id
