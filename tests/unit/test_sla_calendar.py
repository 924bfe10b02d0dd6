"""Business-time arithmetic: hand-checked cases, daylight-saving nights, and invariants."""

from __future__ import annotations

from datetime import date, time, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.sla.calendar import BusinessCalendar, CalendarSet, CalendarSpec

PARIS = "Europe/Paris"


def paris(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=PARIS)


@pytest.fixture(scope="module")
def paris_office() -> BusinessCalendar:
    return BusinessCalendar(CalendarSpec(PARIS, holiday_country="FR"))


def local(index: pd.DatetimeIndex, tz: str = PARIS) -> list[str]:
    return [t.isoformat() for t in index.tz_convert(tz)]


def test_friday_evening_mql_is_due_monday_lunchtime(paris_office: BusinessCalendar) -> None:
    due = paris_office.add([paris("2026-11-20 17:30")], timedelta(hours=4))
    assert local(due) == ["2026-11-23T12:30:00+01:00"]


def test_afternoon_before_a_public_holiday_skips_the_holiday(paris_office: BusinessCalendar) -> None:
    # 11 November (Armistice Day) is a Wednesday in 2026: 3 hours on Tuesday, the rest on Thursday.
    due = paris_office.add([paris("2026-11-10 15:00")], timedelta(hours=4))
    assert local(due) == ["2026-11-12T10:00:00+01:00"]


def test_subdivision_holidays_apply() -> None:
    bavaria = BusinessCalendar(CalendarSpec("Europe/Berlin", holiday_country="DE", holiday_subdivision="BY"))
    berlin = BusinessCalendar(CalendarSpec("Europe/Berlin", holiday_country="DE", holiday_subdivision="BE"))
    start = [pd.Timestamp("2026-01-05 17:00", tz="Europe/Berlin")]  # Epiphany (6 Jan) is a holiday in BY only
    assert local(bavaria.add(start, timedelta(hours=2)), "Europe/Berlin") == ["2026-01-07T10:00:00+01:00"]
    assert local(berlin.add(start, timedelta(hours=2)), "Europe/Berlin") == ["2026-01-06T10:00:00+01:00"]


def test_closed_days_are_skipped() -> None:
    calendar = BusinessCalendar(CalendarSpec(PARIS, closed_days=frozenset({date(2026, 12, 24)})))
    due = calendar.add([paris("2026-12-23 17:00")], timedelta(hours=2))
    assert local(due) == ["2026-12-25T10:00:00+01:00"]


def test_spring_forward_weekend_keeps_local_opening_hours(paris_office: BusinessCalendar) -> None:
    # Clocks go forward on Sunday 29 March 2026: Monday opens at 09:00 CEST (07:00 UTC), not 08:00 UTC.
    due = paris_office.add([paris("2026-03-27 16:00")], timedelta(hours=4))
    assert local(due) == ["2026-03-30T11:00:00+02:00"]
    assert list(due.tz_convert("UTC").strftime("%H:%M")) == ["09:00"]


def test_fall_back_weekend_keeps_local_opening_hours(paris_office: BusinessCalendar) -> None:
    # Clocks go back on Sunday 25 October 2026.
    due = paris_office.add([paris("2026-10-23 17:00")], timedelta(hours=3))
    assert local(due) == ["2026-10-26T11:00:00+01:00"]


def test_a_window_across_the_change_is_as_long_as_the_wall_clock_says() -> None:
    night_shift = BusinessCalendar(CalendarSpec(PARIS, days=tuple(range(7)), start=time(0), end=time(6)))
    spring = night_shift.minutes_between([paris("2026-03-29 00:00")], [paris("2026-03-29 06:00")])
    autumn = night_shift.minutes_between([paris("2026-10-25 00:00")], [paris("2026-10-25 06:00")])
    assert list(spring) == [5 * 60]
    assert list(autumn) == [7 * 60]
    # Adding six business hours at midnight of the short night ends at the next night's 01:00.
    due = night_shift.add([paris("2026-03-29 00:00")], timedelta(hours=6))
    assert local(due) == ["2026-03-30T01:00:00+02:00"]


def test_round_the_clock_desk_counts_real_hours() -> None:
    desk = BusinessCalendar(CalendarSpec(PARIS, days=tuple(range(7)), start=time(0), end=None))
    minutes = desk.minutes_between(
        [paris("2026-03-28 12:00"), paris("2026-10-24 12:00")],
        [paris("2026-03-29 12:00"), paris("2026-10-25 12:00")],
    )
    assert list(minutes) == [23 * 60, 25 * 60]


def test_before_opening_starts_at_opening_and_zero_duration_is_the_start(
    paris_office: BusinessCalendar,
) -> None:
    starts = [paris("2026-11-23 07:00"), paris("2026-11-21 12:00")]  # Monday early, Saturday
    assert local(paris_office.add(starts, timedelta(hours=1))) == [
        "2026-11-23T10:00:00+01:00",
        "2026-11-23T10:00:00+01:00",
    ]
    assert local(paris_office.add(starts, timedelta(0))) == [s.isoformat() for s in starts]


def test_nat_and_per_row_durations(paris_office: BusinessCalendar) -> None:
    starts = [paris("2026-11-23 09:00"), pd.NaT, paris("2026-11-23 09:00")]
    due = paris_office.add(starts, pd.to_timedelta(["1h", "1h", "10h"]))
    assert due[1] is pd.NaT
    assert local(due[[0, 2]]) == ["2026-11-23T10:00:00+01:00", "2026-11-24T10:00:00+01:00"]
    with pytest.raises(ValueError, match="negative"):
        paris_office.add(starts[:1], timedelta(hours=-1))


def test_minutes_between_is_signed(paris_office: BusinessCalendar) -> None:
    a, b = paris("2026-11-20 17:00"), paris("2026-11-23 10:00")
    assert list(paris_office.minutes_between([a, b, a], [b, a, pd.NaT]))[:2] == [120, -120]
    assert np.isnan(paris_office.minutes_between([a], [pd.NaT])[0])


def test_business_days(paris_office: BusinessCalendar) -> None:
    due = paris_office.add_business_days([paris("2026-11-10 15:00")], 2)
    assert local(due) == ["2026-11-13T15:00:00+01:00"]
    december = paris_office.working_days(date(2026, 12, 1), date(2026, 12, 31))
    assert len(december) == 22  # 23 weekdays minus Christmas Day
    assert date(2026, 12, 25) not in december


def test_long_durations_cross_years() -> None:
    calendar = BusinessCalendar(CalendarSpec("UTC"))
    due = calendar.add([pd.Timestamp("2026-12-31 17:00", tz="UTC")], timedelta(hours=9 * 600))
    assert calendar.minutes_between([pd.Timestamp("2026-12-31 17:00", tz="UTC")], due)[0] == 9 * 600 * 60


def test_owner_time_zones_are_dispatched_per_row() -> None:
    calendars = CalendarSet(BusinessCalendar(CalendarSpec(PARIS)))
    t = pd.DatetimeIndex([paris("2026-11-23 17:00")] * 3).tz_convert("UTC").as_unit("ns").asi8
    d = np.full(3, 60 * 60 * 10**9)
    due = calendars.add_ns(t, d, ["America/New_York", None, "Not/AZone"])
    got = pd.DatetimeIndex(due.astype("datetime64[ns]")).tz_localize("UTC")
    # 17:00 Paris is 11:00 in New York: an hour later there; Paris (and unknown zones) close at 18:00.
    assert [x.isoformat() for x in got] == [
        "2026-11-23T17:00:00+00:00",
        "2026-11-23T17:00:00+00:00",
        "2026-11-23T17:00:00+00:00",
    ]
    due2 = calendars.add_ns(t, d * 2, ["America/New_York", None, None])
    got2 = pd.DatetimeIndex(due2.astype("datetime64[ns]")).tz_localize("UTC")
    assert [
        x.tz_convert(z).isoformat() for x, z in zip(got2, ["America/New_York", PARIS, PARIS], strict=True)
    ] == [
        "2026-11-23T13:00:00-05:00",
        "2026-11-24T10:00:00+01:00",
        "2026-11-24T10:00:00+01:00",
    ]


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="time zone"):
        CalendarSpec("Nowhere/Land")
    with pytest.raises(ValueError, match="after their start"):
        CalendarSpec(PARIS, start=time(18), end=time(9))


# -- properties ---------------------------------------------------------------------------------
SPECS = st.sampled_from(
    [
        CalendarSpec(PARIS, holiday_country="FR"),
        CalendarSpec("America/New_York", start=time(8, 30), end=time(17), holiday_country="US"),
        CalendarSpec("Australia/Sydney", days=(0, 1, 2, 3, 4, 5), start=time(7), end=time(15, 45)),
        CalendarSpec(PARIS, days=tuple(range(7)), start=time(0), end=time(6)),
        CalendarSpec(PARIS, days=tuple(range(7)), start=time(0), end=None),
    ]
)
INSTANTS = st.integers(
    min_value=int(pd.Timestamp("2025-01-01", tz="UTC").value),
    max_value=int(pd.Timestamp("2028-12-31", tz="UTC").value),
)
DURATIONS = st.integers(min_value=1, max_value=60 * 9 * 30)  # minutes, up to a month of business time


@settings(max_examples=60, deadline=None)
@given(spec=SPECS, starts=st.lists(INSTANTS, min_size=1, max_size=40), minutes=DURATIONS)
def test_a_due_time_always_lies_inside_business_hours(
    spec: CalendarSpec, starts: list[int], minutes: int
) -> None:
    calendar = BusinessCalendar(spec)
    start_index = pd.DatetimeIndex(np.array(starts, dtype="datetime64[ns]")).tz_localize("UTC")
    due = calendar.add(start_index, timedelta(minutes=minutes))
    assert calendar.is_open(due, closing_included=True).all()
    assert (due > start_index).all()


@settings(max_examples=60, deadline=None)
@given(spec=SPECS, starts=st.lists(INSTANTS, min_size=1, max_size=40), minutes=DURATIONS)
def test_business_minutes_to_start_plus_d_equal_d(
    spec: CalendarSpec, starts: list[int], minutes: int
) -> None:
    calendar = BusinessCalendar(spec)
    start_index = pd.DatetimeIndex(np.array(starts, dtype="datetime64[ns]")).tz_localize("UTC")
    due = calendar.add(start_index, timedelta(minutes=minutes))
    assert (calendar.minutes_between(start_index, due) == minutes).all()


@settings(max_examples=40, deadline=None)
@given(spec=SPECS, a=INSTANTS, b=INSTANTS, c=INSTANTS)
def test_business_minutes_add_up(spec: CalendarSpec, a: int, b: int, c: int) -> None:
    calendar = BusinessCalendar(spec)
    a_, b_, c_ = sorted((a, b, c))
    idx = pd.DatetimeIndex(np.array([a_, b_], dtype="datetime64[ns]")).tz_localize("UTC")
    idx2 = pd.DatetimeIndex(np.array([b_, c_], dtype="datetime64[ns]")).tz_localize("UTC")
    ab, bc = calendar.minutes_between(idx, idx2)
    total = calendar.minutes_between(idx[:1], idx2[1:])[0]
    assert ab >= 0 and bc >= 0
    assert ab + bc == pytest.approx(total)


@settings(max_examples=60, deadline=None)
@given(
    spec=SPECS,
    starts=st.lists(INSTANTS, min_size=1, max_size=40),
    minutes=st.integers(min_value=0, max_value=60 * 9 * 30),
)
def test_work_placed_on_the_calendar_starts_while_the_desk_is_open(
    spec: CalendarSpec, starts: list[int], minutes: int
) -> None:
    """`add_working_ns` (the sandbox's reps): never at or after closing, never outside hours, d apart."""
    calendar = BusinessCalendar(spec)
    t = np.array(starts, dtype=np.int64)
    d = np.full(len(t), minutes * 60 * 1_000_000_000, dtype=np.int64)
    done = calendar.add_working_ns(t, d)
    assert calendar.is_open(pd.DatetimeIndex(done.astype("datetime64[ns]")).tz_localize("UTC")).all()
    assert (calendar.diff_ns(t, done) == d).all()
    assert (done >= t).all()
