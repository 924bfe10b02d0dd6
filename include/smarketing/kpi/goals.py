"""The days of each SMART goal with their business-day pro-rating, for kpi.goals_progress.

Business days come from the agreement's calendar (`smarketing.sla.calendar.BusinessCalendar`: working
weekdays, public holidays, closed days): the same days the SLA clock runs on.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg

from smarketing.kpi.settings import GoalSpec, KpiSettings
from smarketing.sla.calendar import BusinessCalendar
from smarketing.warehouse.copy import copy_in_frame

GOAL_DAY_COLUMNS = (
    "goal_id",
    "metric",
    "unit",
    "higher_is_better",
    "segment",
    "target",
    "period_start",
    "period_end",
    "day",
    "business_days_elapsed",
    "business_days_total",
)


def goal_days(goal: GoalSpec, calendar: BusinessCalendar, today: date) -> list[tuple]:
    """Rows (GOAL_DAY_COLUMNS) for each day of the goal from its start to `today` (or its end)."""
    last = min(goal.ends_on, today)
    if last < goal.starts_on:
        return []
    working = np.array(calendar.working_days(goal.starts_on, goal.ends_on), dtype="datetime64[D]")
    days = np.arange(np.datetime64(goal.starts_on, "D"), np.datetime64(last + timedelta(days=1), "D"))
    elapsed = np.searchsorted(working, days, side="right")
    head = (goal.id, goal.metric, goal.unit, goal.higher_is_better, goal.segment, goal.target)
    return [
        (*head, goal.starts_on, goal.ends_on, day.item(), int(n), len(working))
        for day, n in zip(days, elapsed, strict=True)
    ]


def load_goal_days(conn: psycopg.Connection, settings: KpiSettings, today: date) -> int:
    """(Re)create the session's _kpi_goal_days table for every goal of the agreement; returns its rows."""
    calendar = BusinessCalendar(settings.calendar)
    conn.execute("DROP TABLE IF EXISTS _kpi_goal_days")
    conn.execute(
        """
        CREATE TEMP TABLE _kpi_goal_days (
            goal_id text, metric text, unit text, higher_is_better boolean, segment text, target numeric,
            period_start date, period_end date, day date, business_days_elapsed integer,
            business_days_total integer)
        """
    )
    rows = [row for goal in settings.goals for row in goal_days(goal, calendar, today)]
    return copy_in_frame(conn, "_kpi_goal_days", pd.DataFrame(rows, columns=list(GOAL_DAY_COLUMNS)))
