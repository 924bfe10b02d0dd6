"""The periods an incremental KPI build rewrites: runs of months, and of days for the daily tables."""

from __future__ import annotations

from datetime import date

from smarketing.kpi.periods import day_ranges, days_between, ranges


def test_days_less_than_a_month_apart_are_one_range_and_the_end_is_left_out() -> None:
    days = [date(2026, 5, 3), date(2026, 5, 1), date(2026, 5, 20), date(2026, 7, 1), date(2026, 12, 1)]
    assert day_ranges(days, date(2026, 12, 1)) == [
        (date(2026, 5, 1), date(2026, 5, 21)),
        (date(2026, 7, 1), date(2026, 7, 2)),
    ]
    assert day_ranges([], date(2026, 12, 1)) == []


def test_a_month_named_without_its_days_is_every_day_of_it() -> None:
    february = days_between(date(2028, 2, 1), date(2028, 3, 1))
    assert len(february) == 29 and february[0] == date(2028, 2, 1) and february[-1] == date(2028, 2, 29)
    assert day_ranges(february, date(2028, 3, 1)) == [(date(2028, 2, 1), date(2028, 3, 1))]
    assert ranges([date(2028, 2, 1)], date(2028, 3, 1)) == [(date(2028, 2, 1), date(2028, 3, 1))]
