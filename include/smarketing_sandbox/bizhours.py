"""Vectorised business-hours arithmetic for the sandbox's simulated sales reps.

Reps act only during their own working hours, so every sales action is placed with `add`: "this many
business seconds after that instant, on this rep's calendar". Each working day is mapped onto a
continuous business clock (seconds of working time since the first day covered), which turns the
arithmetic into a lookup and a binary search over whole arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import holidays
import numpy as np
import pandas as pd

DAY = 86_400
HOUR = 3_600


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str
    open_s: int  # opening time, seconds after local midnight
    close_s: int
    first_day: int  # local day number (days since 1970-01-01) of the first covered day
    open_day: np.ndarray  # bool per covered day: is it a working day
    clock_at_day: np.ndarray  # business seconds elapsed before each covered day
    working_days: np.ndarray  # local day numbers of the working days, ascending
    clock_at_working_day: np.ndarray  # business seconds elapsed before each working day

    @classmethod
    def build(
        cls,
        timezone: str,
        country: str,
        first: date,
        last: date,
        *,
        open_hour: int = 9,
        close_hour: int = 18,
        subdivision: str | None = None,
    ) -> BusinessCalendar:
        """Mon-Fri working days between `first` and `last` (inclusive), minus the country's public holidays."""
        public = holidays.country_holidays(
            country, subdiv=subdivision, years=range(first.year, last.year + 1)
        )
        n_days = (last - first).days + 1
        days = [first + timedelta(days=i) for i in range(n_days)]
        open_day = np.array([d.weekday() < 5 and d not in public for d in days], dtype=bool)
        span = (close_hour - open_hour) * HOUR
        clock_at_day = np.concatenate([[0], np.cumsum(open_day * span)[:-1]]).astype(np.int64)
        first_day = (first - date(1970, 1, 1)).days
        working = np.flatnonzero(open_day)
        return cls(
            timezone=timezone,
            open_s=open_hour * HOUR,
            close_s=close_hour * HOUR,
            first_day=first_day,
            open_day=open_day,
            clock_at_day=clock_at_day,
            working_days=working.astype(np.int64) + first_day,
            clock_at_working_day=clock_at_day[working],
        )

    def to_local(self, t_utc: np.ndarray) -> np.ndarray:
        """Wall-clock seconds since 1970-01-01 in the calendar's time zone."""
        idx = pd.DatetimeIndex(np.asarray(t_utc, dtype="datetime64[s]"), tz="UTC").tz_convert(self.timezone)
        return idx.tz_localize(None).as_unit("s").asi8

    def to_utc(self, t_local: np.ndarray) -> np.ndarray:
        # Working hours never fall into a DST gap or overlap (those are at night), so this is unambiguous.
        idx = pd.DatetimeIndex(np.asarray(t_local, dtype="datetime64[s]")).tz_localize(self.timezone)
        return idx.tz_convert("UTC").as_unit("s").asi8

    def clock(self, t_utc: np.ndarray) -> np.ndarray:
        """Position of each instant on the business clock (instants outside hours sit at the next opening)."""
        local = self.to_local(t_utc)
        day = np.clip(local // DAY - self.first_day, 0, len(self.open_day) - 1)
        into_day = np.clip(local % DAY - self.open_s, 0, self.close_s - self.open_s)
        return self.clock_at_day[day] + into_day * self.open_day[day]

    def from_clock(self, clock: np.ndarray) -> np.ndarray:
        """UTC instant of each business-clock position (the opening of the next day when a day is used up)."""
        k = np.searchsorted(self.clock_at_working_day, clock, side="right") - 1
        k = np.clip(k, 0, len(self.working_days) - 1)
        local = self.working_days[k] * DAY + self.open_s + (clock - self.clock_at_working_day[k])
        return self.to_utc(local)

    def add(self, t_utc: np.ndarray, business_seconds: np.ndarray | float) -> np.ndarray:
        """The instant `business_seconds` of working time after each `t_utc` (0 snaps to working hours)."""
        delta = np.round(np.asarray(business_seconds, dtype=np.float64)).astype(np.int64)
        return self.from_clock(self.clock(t_utc) + delta)


def calendars_for(
    timezones: tuple[str, ...], start_utc: int, end_utc: int, *, tail_days: int
) -> dict[str, BusinessCalendar]:
    """One calendar per rep time zone, covering the world's window plus `tail_days` after it."""
    first = date(1970, 1, 1) + timedelta(days=start_utc // DAY - 2)
    last = date(1970, 1, 1) + timedelta(days=end_utc // DAY + tail_days)
    countries = {"Europe/Paris": ("FR", None), "America/New_York": ("US", "NY")}
    out: dict[str, BusinessCalendar] = {}
    for tz in timezones:
        country, subdivision = countries[tz]
        out[tz] = BusinessCalendar.build(tz, country, first, last, subdivision=subdivision)
    return out
