-- One row per company from its leads' current scores (scoring.account_scores is emptied first).
INSERT INTO scoring.account_scores (company_id, leads, engaged_leads, mql_leads, best_total, best_grade,
                                    total_engagement, top_lead_id, model_version, as_of)
SELECT l.company_id, count(*), count(*) FILTER (WHERE s.engagement > 0), count(*) FILTER (WHERE s.is_mql),
       max(s.total), min(s.grade), sum(s.engagement),
       (array_agg(s.lead_id ORDER BY s.total DESC, s.lead_id))[1], %(version)s, %(as_of)s
FROM scoring.lead_scores s JOIN core.leads l ON l.lead_id = s.lead_id
WHERE l.company_id IS NOT NULL
GROUP BY l.company_id
