-- kpi.marketing_delivery_monthly: marketing's MQL delivery against target, per month and segment, as the
-- SLA pace (sla.marketing_delivery) last measured it, with attainment and acceptance rates.
--   %(lo)s, %(hi)s  the months to build (first days): lo <= month < hi
WITH delivery AS (
    SELECT * FROM sla.marketing_delivery WHERE period >= %(lo)s AND period < %(hi)s
)

SELECT period AS month, segment, target, delivered, accepted,
       round(delivered::numeric / target, 4) AS attainment,
       round(accepted::numeric / NULLIF(delivered, 0), 4) AS acceptance_rate,
       expected_to_date, status
FROM delivery
