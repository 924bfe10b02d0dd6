"""Marketing delivery against target: pace pro-rated by business time, forecast, status (pure)."""

from __future__ import annotations

from datetime import date, time

import numpy as np
import pandas as pd
import pytest

from smarketing.sla.calendar import BusinessCalendar, CalendarSpec
from smarketing.sla.delivery import months_around, pace, segment_mask
from smarketing.sla.settings import SlaSettings

PARIS = "Europe/Paris"
# May 2026 in France: 21 weekdays, 4 of them public holidays (1st, 8th, Ascension 14th, Whit Monday 25th).
SETTINGS = SlaSettings(
    calendar=CalendarSpec(PARIS, start=time(9), end=time(18), holiday_country="FR"),
    monthly_target=340,
    segment_targets={"persona:it_leader": 34, "country:FR": 170},
    behind_tolerance=0.1,
)


def paris(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=PARIS)


def mqls(times: list[pd.Timestamp], **columns: list) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame(
        {
            "mql_at": pd.to_datetime(pd.Series(times, dtype=object), utc=True),
            "accepted": columns.get("accepted", [False] * n),
            "persona_id": columns.get("persona_id", [None] * n),
            "country": columns.get("country", [None] * n),
            "industry": columns.get("industry", [None] * n),
        }
    )


def spread(start: str, count: int, step_minutes: int = 7) -> list[pd.Timestamp]:
    return [paris(start) + pd.Timedelta(minutes=step_minutes * i) for i in range(count)]


def test_may_has_17_business_days() -> None:
    calendar = BusinessCalendar(SETTINGS.calendar)
    assert len(calendar.working_days(date(2026, 5, 1), date(2026, 5, 31))) == 17


def test_pace_and_forecast_on_a_month_with_holidays() -> None:
    # Friday 15 May, 18:00: 8 of May's 17 business days are over (4th-7th, 11th-13th and 15th).
    as_of = paris("2026-05-15 18:00")
    times = spread("2026-05-04 09:30", 120) + spread("2026-05-18 10:00", 5)  # the last 5 are in the future
    frame = mqls(
        times,
        accepted=[i % 4 == 0 for i in range(125)],
        persona_id=["it_leader" if i % 3 == 0 else "developer" for i in range(125)],
        country=["fr" if i % 2 == 0 else "DE" for i in range(125)],
    )
    rows = pace(frame, SETTINGS, as_of).set_index(["period", "segment"])
    may = rows.loc[(date(2026, 5, 1), "all")]
    assert may["elapsed_share"] == pytest.approx(8 / 17)
    assert may["expected_to_date"] == pytest.approx(160.0)
    assert may["delivered"] == 120
    assert may["accepted"] == 30
    assert may["forecast"] == pytest.approx(255.0)
    assert may["status"] == "behind"
    assert may["period_end"] == date(2026, 5, 31)
    leaders = rows.loc[(date(2026, 5, 1), "persona:it_leader")]
    assert (leaders["delivered"], leaders["expected_to_date"], leaders["status"]) == (40, 16.0, "ahead")
    france = rows.loc[(date(2026, 5, 1), "country:FR")]
    assert (france["delivered"], france["expected_to_date"], france["status"]) == (60, 80.0, "behind")
    april = rows.loc[(date(2026, 4, 1), "all")]
    assert (april["elapsed_share"], april["delivered"], april["status"]) == (1.0, 0, "missed")


def test_pace_does_not_move_over_a_holiday() -> None:
    frame = mqls(spread("2026-05-04 09:30", 10))
    wednesday_evening = pace(frame, SETTINGS, paris("2026-05-13 18:00")).iloc[-3]
    holiday_noon = pace(frame, SETTINGS, paris("2026-05-14 12:00")).iloc[-3]
    assert wednesday_evening["segment"] == "all"
    assert wednesday_evening["expected_to_date"] == holiday_noon["expected_to_date"] == pytest.approx(140.0)


def test_status_bands_and_closed_month() -> None:
    as_of = paris("2026-05-15 18:00")
    for delivered, status in [(150, "on_pace"), (143, "behind"), (176, "on_pace"), (177, "ahead")]:
        row = pace(mqls(spread("2026-05-04 09:30", delivered, 3)), SETTINGS, as_of).iloc[3]
        assert (row["segment"], row["status"]) == ("all", status), delivered
    closed = pace(mqls(spread("2026-05-04 09:30", 340, 1)), SETTINGS, paris("2026-06-01 08:00")).iloc[0]
    assert (closed["period"], closed["status"], closed["forecast"]) == (date(2026, 5, 1), "met", 340.0)


def test_before_the_first_business_hour_there_is_no_forecast() -> None:
    row = pace(mqls([]), SETTINGS, paris("2026-06-01 08:00")).iloc[3]
    assert (row["period"], row["elapsed_share"], row["status"]) == (date(2026, 6, 1), 0.0, "on_pace")
    assert pd.isna(row["forecast"])


def test_months_around_follow_the_local_calendar() -> None:
    # 31 May 23:30 UTC is already June in Paris.
    periods = months_around(pd.Timestamp("2026-05-31 23:30", tz="UTC"), PARIS)
    assert [p.first_day.date() for p in periods] == [date(2026, 5, 1), date(2026, 6, 1)]
    assert periods[1].start == pd.Timestamp("2026-05-31 22:00", tz="UTC")


def test_segments() -> None:
    frame = mqls(
        [paris("2026-05-04 10:00")] * 3, persona_id=["a", None, "b"], industry=["Software", "software", None]
    )
    assert list(segment_mask(frame, "industry:SOFTWARE")) == [True, True, False]
    assert list(segment_mask(frame, "persona:b")) == [False, False, True]
    assert segment_mask(frame, "all").all()
    with pytest.raises(ValueError):
        segment_mask(frame, "size:big")
    assert np.asarray(segment_mask(frame, "country:FR")).sum() == 0
