-- One row per source system and object seen recently: hours since its last non-empty batch, and the
-- age allowed (its own limit from the quality settings, else the default).
CREATE UNLOGGED TABLE {name} AS
WITH seen AS (
    SELECT source_system, object, max(loaded_at) FILTER (WHERE row_count > 0) AS last_data_at
    FROM ops.load_batches
    WHERE origin NOT LIKE {release}
    GROUP BY 1, 2
    HAVING max(loaded_at) > now() - make_interval(days => {lookback})
),
limits AS (
    SELECT * FROM unnest({srcs}::text[], {objs}::text[], {mins}::int[]) AS l(source_system, object, minutes)
)
SELECT s.source_system || '.' || s.object AS source_object, s.source_system, s.object,
       -- a source that never delivered a record is as stale as can be
       CASE WHEN s.last_data_at IS NULL THEN 999999
            ELSE round((extract(epoch FROM now() - s.last_data_at) / 3600)::numeric, 2) END AS age_hours,
       round(COALESCE(l.minutes, {default}) / 60.0, 2) AS max_age_hours
FROM seen s LEFT JOIN limits l USING (source_system, object)
