-- Leads with a known outcome and the moment the calibration looks at them from (`smarketing calibrate
-- --from-warehouse`): won = a won deal, lost = every deal lost (open deals: no outcome yet). The cut-off
-- is the earliest of the first deal opened, the first entry into a sales stage (the list given) and the first
-- deal closed: what the lead did from then on happened with sales, or after the outcome, and is no signal
-- a score could have used. Leads whose deals carry no date have no cut-off and are left out.
CREATE TEMP TABLE calibration_cutoffs ON COMMIT PRESERVE ROWS AS
WITH outcomes AS (
    SELECT d.lead_id,
           CASE WHEN bool_or(d.is_won) THEN 1 ELSE 0 END AS won,
           min(d.created_at) AS opened,
           min(d.closed_at) AS closed
    FROM core.deals d
    JOIN core.leads l ON l.lead_id = d.lead_id AND l.deleted_at IS NULL
    WHERE d.deleted_at IS NULL
    GROUP BY d.lead_id
    HAVING bool_or(d.is_won) OR bool_and(d.is_won = false)
),
sales_stage AS (
    SELECT h.lead_id, min(h.entered_at) AS entered
    FROM core.lifecycle_history h
    WHERE h.stage = ANY({stages})
    GROUP BY h.lead_id
)
SELECT o.lead_id, o.won, least(o.opened, s.entered, o.closed) AS cutoff
FROM outcomes o
LEFT JOIN sales_stage s ON s.lead_id = o.lead_id
WHERE least(o.opened, s.entered, o.closed) IS NOT NULL
