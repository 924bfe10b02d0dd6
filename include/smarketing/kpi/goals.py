"""The days of each SMART goal with their business-day pro-rating, for kpi.goals_progress.

Business days come from the agreement's calendar (`smarketing.sla.calendar.BusinessCalendar`: working
weekdays, public holidays, closed days): the same days the SLA clock runs on. They are worked out once
for the span of every goal, and the days of each goal are generated in the warehouse from them (no frame,
no COPY: this runs on every build, one-day refreshes included).
"""

from __future__ import annotations

from datetime import date

import psycopg

from smarketing.kpi.settings import KpiSettings
from smarketing.sla.calendar import BusinessCalendar

# One row per goal and day of its period up to the build's day (`today`): business_days_elapsed counts
# the working days from the goal's first day to the day, both included; business_days_total those of the
# whole period.
GOAL_DAYS_SQL = """
CREATE TEMP TABLE _kpi_goal_days AS
WITH goals AS (
    SELECT * FROM unnest(%(ids)s::text[], %(metrics)s::text[], %(units)s::text[], %(higher)s::boolean[],
                         %(segments)s::text[], %(targets)s::numeric[], %(starts)s::date[], %(ends)s::date[])
        AS g (goal_id, metric, unit, higher_is_better, segment, target, period_start, period_end)
),
working AS (
    SELECT unnest(%(working)s::date[]) AS day
)
SELECT g.goal_id, g.metric, g.unit, g.higher_is_better, g.segment, g.target, g.period_start, g.period_end,
       d.day::date AS day,
       (count(w.day) OVER (PARTITION BY g.goal_id ORDER BY d.day))::integer AS business_days_elapsed,
       (SELECT count(*) FROM working t WHERE t.day BETWEEN g.period_start AND g.period_end)::integer
           AS business_days_total
FROM goals g
CROSS JOIN LATERAL generate_series(g.period_start::timestamp, least(g.period_end, %(today)s::date)::timestamp,
                                   interval '1 day') AS d (day)
LEFT JOIN working w ON w.day = d.day::date
"""


def _numeric_text(value: float) -> str:
    """A target as the numeric it was written as: the shortest text that reads back as the float, without
    a trailing ".0" (1200, not 1200.0: the table's rows stay those of earlier builds)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def load_goal_days(conn: psycopg.Connection, settings: KpiSettings, today: date) -> int:
    """(Re)create the session's _kpi_goal_days table for every goal of the agreement, up to `today` (the
    build's day in the organisation's zone); returns its rows."""
    goals = settings.goals
    working: list[date] = []
    if goals:
        first, last = min(g.starts_on for g in goals), max(g.ends_on for g in goals)
        working = BusinessCalendar(settings.calendar).working_days(first, last)
    conn.execute("DROP TABLE IF EXISTS _kpi_goal_days")
    cur = conn.execute(
        GOAL_DAYS_SQL,
        {
            "ids": [g.id for g in goals],
            "metrics": [g.metric for g in goals],
            "units": [g.unit for g in goals],
            "higher": [g.higher_is_better for g in goals],
            "segments": [g.segment for g in goals],
            "targets": [_numeric_text(g.target) for g in goals],
            "starts": [g.starts_on for g in goals],
            "ends": [g.ends_on for g in goals],
            "working": working,
            "today": today,
        },
    )
    return max(cur.rowcount, 0)
