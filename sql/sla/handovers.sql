-- (lead_id, mql_at, mql_source) of every lead handed over by <as_of>: its first MQL moment.
-- <handovers>: the UNION ALL of the CRM's MQL stage entries and, once scoring runs, its crossings, each
-- as (lead_id, mql_at, mql_source). The clock starts at whichever came first.
-- Plain aggregates rather than DISTINCT ON: a hash aggregate, and a row estimate the planner trusts.
SELECT lead_id, least(scoring_at, crm_at) AS mql_at,
       CASE WHEN scoring_at <= crm_at OR crm_at IS NULL THEN 'scoring' ELSE 'crm' END AS mql_source
FROM (
    SELECT lead_id, min(mql_at) FILTER (WHERE mql_source = 'scoring') AS scoring_at,
           min(mql_at) FILTER (WHERE mql_source = 'crm') AS crm_at
    FROM ({handovers}) AS handovers GROUP BY lead_id
) AS firsts
