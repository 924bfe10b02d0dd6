"""Business-time arithmetic, vectorised over arrays of instants.

Every working day of the calendar is one interval `[open, close)` of real (UTC) time, found by
localising the local opening and closing times in the calendar's time zone — so a day on which the
clocks change still opens at 09:00 local time, and a window that spans the change (night shifts, a
24-hour desk) is as long as the wall clock says it is. Laying the working days end to end gives a
continuous *business clock*: the business time elapsed since the first day covered. Converting an
instant to the clock, and back, is a binary search (`np.searchsorted`) over the days, so adding a
business duration to a million instants costs the same handful of array operations as adding it to one.

Instants are handled as `int64` nanoseconds since the Unix epoch (UTC); the public methods accept
anything pandas turns into datetimes (naive values are taken as UTC) and return tz-aware UTC
`DatetimeIndex` values (`NaT` in, `NaT` out).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

NS_PER_MINUTE = 60 * 1_000_000_000
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class CalendarSpec:
    """What makes a business calendar: the organisation's (or one owner's) working time."""

    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # weekday numbers, Monday = 0
    start: time = time(9)
    end: time | None = time(18)  # None = midnight at the end of the day (a 24-hour desk)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_days: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if not self.days or any(d not in range(7) for d in self.days):
            raise ValueError(f"working days must be weekday numbers 0-6, got {self.days!r}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"business hours end ({self.end}) must be after their start ({self.start})")

    @property
    def start_minute(self) -> int:
        return self.start.hour * 60 + self.start.minute

    @property
    def end_minute(self) -> int:
        return 24 * 60 if self.end is None else self.end.hour * 60 + self.end.minute


def to_ns(values: object) -> np.ndarray:
    """Instants as int64 UTC nanoseconds (`NaT` becomes int64 min). Naive values are taken as UTC."""
    index = pd.DatetimeIndex(pd.to_datetime(values, utc=True)).as_unit("ns")
    return index.asi8.copy()


def from_ns(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


def durations_ns(values: object, n: int) -> np.ndarray:
    """One duration (timedelta, pandas Timedelta) or an array of them, as int64 nanoseconds of length n."""
    if isinstance(values, (timedelta, pd.Timedelta, np.timedelta64)):
        return np.full(n, pd.Timedelta(values).as_unit("ns").value, dtype=np.int64)
    out = pd.TimedeltaIndex(pd.to_timedelta(values)).as_unit("ns").asi8.copy()
    if len(out) != n:
        raise ValueError(f"got {len(out)} durations for {n} instants")
    return out


@dataclass(frozen=True)
class _Grid:
    """The working days of a span of whole years, laid end to end."""

    first_year: int
    last_year: int
    opens: np.ndarray  # int64 ns, one per working day, ascending
    closes: np.ndarray
    clock_at_open: np.ndarray  # business ns elapsed before each working day opens
    clock_at_close: np.ndarray

    def covers(self, lo_ns: int, hi_ns: int) -> bool:
        return (
            len(self.opens) > 0
            and _year_of(lo_ns) > self.first_year
            and _year_of(hi_ns) < self.last_year
            and lo_ns >= self.opens[0]
            and hi_ns < self.closes[-1]
        )


def _year_of(ns: int) -> int:
    return int(np.datetime64(int(ns), "ns").astype("datetime64[Y]").astype(np.int64)) + 1970


class BusinessCalendar:
    """Business-time arithmetic on one calendar. Thread-compatible; grids are built lazily per span of years."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self._grid: _Grid | None = None

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.spec!r})"

    def with_timezone(self, timezone: str) -> BusinessCalendar:
        """The same working hours, holidays and closed days, read on another time zone's wall clock."""
        return BusinessCalendar(replace(self.spec, timezone=timezone))

    # -- the grid ---------------------------------------------------------------------------------
    def _build(self, first_year: int, last_year: int) -> _Grid:
        spec = self.spec
        days = np.arange(
            np.datetime64(f"{first_year}-01-01", "D"), np.datetime64(f"{last_year + 1}-01-01", "D")
        )
        weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        working = np.isin(weekday, np.array(spec.days))
        closed: set[date] = set(spec.closed_days)
        if spec.holiday_country:
            closed |= set(
                holidays.country_holidays(
                    spec.holiday_country,
                    subdiv=spec.holiday_subdivision,
                    years=range(first_year, last_year + 1),
                )
            )
        if closed:
            working &= ~np.isin(days, np.array(sorted(closed), dtype="datetime64[D]"))
        work_days = days[working].astype("datetime64[ns]")
        opens = self._localise(work_days + np.timedelta64(spec.start_minute, "m"), earliest=True)
        closes = self._localise(work_days + np.timedelta64(spec.end_minute, "m"), earliest=False)
        lengths = np.maximum(closes - opens, 0)
        clock_at_close = np.cumsum(lengths)
        return _Grid(first_year, last_year, opens, closes, clock_at_close - lengths, clock_at_close)

    def _localise(self, local: np.ndarray, *, earliest: bool) -> np.ndarray:
        # A local time that happens twice (autumn) opens at its first and closes at its second
        # occurrence; one that never happens (spring gap) moves to the end of the gap.
        ambiguous = np.full(len(local), earliest, dtype=bool)
        index = pd.DatetimeIndex(local).tz_localize(
            self.spec.timezone, ambiguous=ambiguous, nonexistent="shift_forward"
        )
        return index.tz_convert("UTC").as_unit("ns").asi8.copy()

    def _grid_for(self, lo_ns: int, hi_ns: int) -> _Grid:
        grid = self._grid
        if grid is None or not grid.covers(lo_ns, hi_ns):
            first = _year_of(lo_ns) - 1
            last = _year_of(hi_ns) + 1
            if grid is not None:
                first, last = min(first, grid.first_year), max(last, grid.last_year)
            grid = self._build(first, last)
            if len(grid.opens) == 0:
                raise ValueError(f"calendar {self.spec} has no working day in {first}-{last}")
            self._grid = grid
        return grid

    # -- arithmetic on int64 ns ----------------------------------------------------------------------
    def _clock(self, grid: _Grid, t: np.ndarray) -> np.ndarray:
        i = np.searchsorted(grid.opens, t, side="right") - 1
        safe = np.clip(i, 0, None)
        inside = np.clip(t - grid.opens[safe], 0, grid.closes[safe] - grid.opens[safe])
        return np.where(i < 0, 0, grid.clock_at_open[safe] + inside)

    def clocks_ns(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """Business ns elapsed at each instant, all on one grid (so differences are meaningful); NaT stays NaT."""
        valid = [a != _NAT for a in arrays]
        present = [a[v] for a, v in zip(arrays, valid, strict=True) if v.any()]
        if not present:
            return [np.full(len(a), _NAT, dtype=np.int64) for a in arrays]
        lo = min(int(p.min()) for p in present)
        hi = max(int(p.max()) for p in present)
        grid = self._grid_for(lo, hi)
        return [
            np.where(v, self._clock(grid, np.where(v, a, grid.opens[0])), _NAT)
            for a, v in zip(arrays, valid, strict=True)
        ]

    def diff_ns(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Business ns from each a to each b (negative when b comes first; int64 min where either is NaT)."""
        ca, cb = self.clocks_ns(a, b)
        return np.where((ca != _NAT) & (cb != _NAT), cb - ca, _NAT)

    def add_ns(self, t: np.ndarray, d: np.ndarray) -> np.ndarray:
        """The first instant at or after t by which d business time has elapsed."""
        if (d[d != _NAT] < 0).any():
            raise ValueError("business durations must not be negative")
        valid = (t != _NAT) & (d != _NAT)
        out = np.full(len(t), _NAT, dtype=np.int64)
        if not valid.any():
            return out
        tv, dv = t[valid], d[valid]
        lo = int(tv.min())
        # Generous first guess at the far end (weekends, holidays), widened until every target fits.
        per_day = max(self.spec.end_minute - self.spec.start_minute, 1) * NS_PER_MINUTE
        span_days = int(dv.max() // per_day) * 7 // len(self.spec.days) + 14
        hi = int(tv.max()) + span_days * 86_400 * 1_000_000_000
        while True:
            grid = self._grid_for(lo, hi)
            target = self._clock(grid, tv) + dv
            if target.max() <= grid.clock_at_close[-1]:
                break
            hi += (hi - lo) + 366 * 86_400 * 1_000_000_000
        j = np.searchsorted(grid.clock_at_close, target, side="left")
        out[valid] = np.maximum(tv, grid.opens[j] + (target - grid.clock_at_open[j]))
        return out

    def add_working_ns(self, t: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Like `add_ns`, but the result is a moment someone on this calendar is at work: one that lands
        on a closing time, or a zero duration from outside hours, moves to the next opening.

        (The first instant by which d + 1 ns has elapsed is 1 ns after that moment, wherever it falls.)
        """
        done = self.add_ns(t, np.where(d != _NAT, d + 1, _NAT))
        return np.where(done != _NAT, done - 1, _NAT)

    def open_interval_ns(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The working day each instant falls in or after: its (open, close), NaT before the first."""
        valid = t != _NAT
        opens = np.full(len(t), _NAT, dtype=np.int64)
        closes = opens.copy()
        if valid.any():
            grid = self._grid_for(int(t[valid].min()), int(t[valid].max()))
            i = np.searchsorted(grid.opens, np.where(valid, t, grid.opens[0]), side="right") - 1
            ok = valid & (i >= 0)
            opens[ok] = grid.opens[i[ok]]
            closes[ok] = grid.closes[i[ok]]
        return opens, closes

    # -- public, datetime-typed -----------------------------------------------------------------------
    def add(self, starts: object, durations: object) -> pd.DatetimeIndex:
        """`starts` plus `durations` of business time: the first instant by which that much has elapsed."""
        t = to_ns(starts)
        return from_ns(self.add_ns(t, durations_ns(durations, len(t))))

    def add_business_days(self, starts: object, days: int | Sequence[int] | np.ndarray) -> pd.DatetimeIndex:
        """`starts` plus whole business days (each worth one nominal working day of business time)."""
        t = to_ns(starts)
        n = np.broadcast_to(np.asarray(days, dtype=np.int64), t.shape)
        return from_ns(self.add_ns(t, n * (self.spec.end_minute - self.spec.start_minute) * NS_PER_MINUTE))

    def minutes_between(self, starts: object, ends: object) -> np.ndarray:
        """Business minutes from each start to each end (negative when the end comes first; NaN for NaT)."""
        d = self.diff_ns(to_ns(starts), to_ns(ends))
        return np.where(d != _NAT, d / NS_PER_MINUTE, np.nan)

    def is_open(self, instants: object, *, closing_included: bool = False) -> np.ndarray:
        """Whether each instant lies within business hours (`[open, close)`, or `[open, close]`)."""
        t = to_ns(instants)
        opens, closes = self.open_interval_ns(t)
        ok = opens != _NAT
        before_close = t <= closes if closing_included else t < closes
        return ok & (t >= opens) & before_close

    def working_days(self, first: date, last: date) -> list[date]:
        """Working days from `first` to `last` inclusive, in this calendar's local dates."""
        lo = to_ns([pd.Timestamp(first)])[0]
        hi = to_ns([pd.Timestamp(last)])[0]
        grid = self._grid_for(lo, hi)
        local = from_ns(grid.opens).tz_convert(self.spec.timezone).normalize().tz_localize(None)
        picked = local[(local >= pd.Timestamp(first)) & (local <= pd.Timestamp(last))]
        return [d.date() for d in picked]


class CalendarSet:
    """The organisation's calendar plus one per owner time zone, dispatched over arrays of instants.

    Owners in another time zone keep the organisation's working hours and closed days, read on their
    own wall clock. The dispatch loops over the distinct time zones (a handful), never over rows.
    """

    def __init__(self, base: BusinessCalendar) -> None:
        self.base = base
        self._by_zone: dict[str, BusinessCalendar] = {base.spec.timezone: base}

    def for_zone(self, timezone: str | None) -> BusinessCalendar:
        if not timezone:
            return self.base
        calendar = self._by_zone.get(timezone)
        if calendar is None:
            try:
                calendar = self.base.with_timezone(timezone)
            except ValueError:
                log.warning("unknown owner time zone %r: the organisation's calendar applies", timezone)
                calendar = self.base
            self._by_zone[timezone] = calendar
        return calendar

    def _groups(self, zones: object, n: int) -> list[tuple[BusinessCalendar, np.ndarray]]:
        if zones is None:
            return [(self.base, np.ones(n, dtype=bool))]
        codes, uniques = pd.factorize(pd.Series(zones, dtype="object"), use_na_sentinel=True)
        groups = [(self.base, codes < 0)] if (codes < 0).any() else []
        groups += [(self.for_zone(z), codes == k) for k, z in enumerate(uniques)]
        return groups

    def add_ns(self, t: np.ndarray, d: np.ndarray, zones: object = None) -> np.ndarray:
        out = np.full(len(t), _NAT, dtype=np.int64)
        for calendar, mask in self._groups(zones, len(t)):
            if mask.any():
                out[mask] = calendar.add_ns(t[mask], d[mask])
        return out

    def clock_diff_ns(self, a: np.ndarray, b: np.ndarray, zones: object = None) -> np.ndarray:
        """Business ns from a to b on each row's calendar (int64 min where either side is NaT)."""
        out = np.full(len(a), _NAT, dtype=np.int64)
        for calendar, mask in self._groups(zones, len(a)):
            if mask.any():
                out[mask] = calendar.diff_ns(a[mask], b[mask])
        return out
