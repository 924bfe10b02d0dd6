-- The first instant of a local day. `day::timestamp AT TIME ZONE tz` reads a local time that comes twice
-- (where the clock goes back) at the offset after the change: where it goes back after midnight on `day`
-- (Havana, 2026-11-01 at 01:00, to 00:00), that is the second midnight, an hour after the day began.
-- Midnight at the offset of the day before is the first one when its local date is `day` (an instant
-- later than midnight otherwise, or not earlier). A local midnight that does not exist (the clock goes
-- forward at 00:00) is read at the offset before the change: the instant the day begins. A model that
-- compares instants with these bounds puts each in the month of its local date, without converting it.
CREATE FUNCTION ops.kpi_day_start(day date, tz text) RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s.earlier < s.later AND (s.earlier AT TIME ZONE tz) >= day THEN s.earlier ELSE s.later END
    FROM (SELECT (day - 1)::timestamp AT TIME ZONE tz + interval '24 hours' AS earlier,
                 day::timestamp AT TIME ZONE tz AS later) AS s
$$;
COMMENT ON FUNCTION ops.kpi_day_start(date, text) IS 'First instant whose local date in time zone tz is day (the first of two local midnights where the clock goes back after midnight).';
