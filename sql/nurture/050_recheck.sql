-- Just before a target's adds go out: planned entries that must not go any more, because the lead
-- became ineligible since the plan (consent withdrawn, unsubscribed, bounced, deleted or merged
-- away, customer, with sales) or its contact in the tool was deleted or merged away. Only rows never
-- sent (attempts = 0) are skipped here: one that may already be in the tool is left to the exits.
-- Needs nurture_leads (for these leads) and nurture_scenarios. Returns the skips per reason.
WITH planned AS (
    SELECT e.enrollment_id, e.lead_id, e.scenario_id, e.source_system, e.external_ref
    FROM nurture.enrollments e
    WHERE e.state = 'planned' AND e.attempts = 0
      AND e.target_system = %(system)s AND e.target_kind = %(kind)s AND e.target_id = %(target_id)s
),
blocked AS (
    SELECT p.enrollment_id,
           COALESCE(
               CASE WHEN n.lead_id IS NULL THEN 'deleted' END,
               n.blocked_by,
               CASE WHEN sc.requires_consent AND n.consent_email IS NOT TRUE THEN 'no_consent' END,
               CASE WHEN NOT EXISTS (
                        SELECT 1 FROM core.lead_sources ls
                        WHERE ls.source_system = p.source_system AND ls.source_id = p.external_ref
                          AND ls.lead_id = p.lead_id AND ls.archived_at IS NULL
                          AND NOT EXISTS (SELECT 1 FROM core.lead_merges lm
                                          WHERE lm.source_system = ls.source_system AND lm.source_id = ls.source_id))
                    THEN 'not_in_target' END
           ) AS reason
    FROM planned p
    LEFT JOIN nurture_leads n ON n.lead_id = p.lead_id
    LEFT JOIN nurture_scenarios sc ON sc.scenario_id = p.scenario_id
),
skipped AS (
    UPDATE nurture.enrollments e
    SET state = 'skipped', skip_reason = b.reason, updated_at = now()
    FROM blocked b
    WHERE e.enrollment_id = b.enrollment_id AND b.reason IS NOT NULL
    RETURNING e.skip_reason
)
SELECT skip_reason, count(*) FROM skipped GROUP BY skip_reason
