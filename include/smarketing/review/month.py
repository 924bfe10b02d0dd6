"""Which month a review covers and when it may start: the first business day after the month closed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd


def closed_month(interval_start: Any, month: str | None = None) -> date:
    """First day of the month a run reviews.

    interval_start: the run's data-interval start (the schedule makes it the closed month's first day).
    month: an explicit `YYYY-MM` (a manual run's param) wins over the interval.
    """
    if month:
        try:
            return datetime.strptime(month, "%Y-%m").date()
        except ValueError:
            raise ValueError(f"month: expected YYYY-MM, got {month!r}") from None
    start = pd.Timestamp(interval_start)
    # A few hours of time-zone offset never move the 1st at the start of the interval into another month.
    start = start + pd.Timedelta(hours=12)
    return date(start.year, start.month, 1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def first_business_day(month: date, agreement: Any) -> pd.Timestamp:
    """When the review of `month` may start: the opening time of the first working day of the month
    after it, in the agreement's time zone, calendar and holidays (`organization`), as a UTC timestamp."""
    from smarketing.sla.calendar import BusinessCalendar
    from smarketing.sla.settings import calendar_spec

    calendar = BusinessCalendar(calendar_spec(agreement.organization))
    after = next_month(month)
    day = calendar.working_days(after, after + timedelta(days=14))[0]
    spec = calendar.spec
    opening = pd.Timestamp(day) + pd.Timedelta(minutes=spec.start_minute)
    return opening.tz_localize(spec.timezone).tz_convert("UTC")
