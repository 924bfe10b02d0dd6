-- One row per new batch: its rows, the rows of its delivery (what one run landed for its source and
-- object) and the least a delivery should hold given the recent ones (NULL with too little history).
CREATE UNLOGGED TABLE {name} AS
WITH deliveries AS (
    SELECT source_system, object, COALESCE(run_id, 'batch:' || batch_id) AS delivery,
           sum(row_count)::bigint AS rows, max(batch_id) AS last_batch, min(batch_id) AS first_batch
    FROM ops.load_batches
    WHERE origin NOT LIKE {release}
    GROUP BY 1, 2, 3
),
new AS (
    SELECT d.* FROM deliveries d
    WHERE EXISTS (SELECT 1 FROM ops.load_batches b
                  WHERE b.batch_id = ANY({ids}::bigint[]) AND b.source_system = d.source_system AND b.object = d.object
                    AND COALESCE(b.run_id, 'batch:' || b.batch_id) = d.delivery)
),
usual AS (
    SELECT n.source_system, n.object, n.delivery,
           (SELECT CASE WHEN count(*) >= {min_history}
                        THEN floor({share} * percentile_cont(0.5) WITHIN GROUP (ORDER BY h.rows)) END
            FROM (SELECT p.rows FROM deliveries p
                  WHERE p.source_system = n.source_system AND p.object = n.object
                    AND p.last_batch < n.first_batch AND p.rows > 0
                  ORDER BY p.last_batch DESC LIMIT {history}) h) AS min_usual_rows
    FROM new n
)
SELECT b.batch_id, b.source_system, b.object, b.row_count::bigint AS row_count,
       n.rows AS delivery_rows, u.min_usual_rows::bigint AS min_usual_rows
FROM ops.load_batches b
JOIN new n ON n.source_system = b.source_system AND n.object = b.object
          AND n.delivery = COALESCE(b.run_id, 'batch:' || b.batch_id)
JOIN usual u ON u.source_system = n.source_system AND u.object = n.object AND u.delivery = n.delivery
WHERE b.batch_id = ANY({ids}::bigint[])
