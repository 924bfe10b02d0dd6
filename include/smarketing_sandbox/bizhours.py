"""The sandbox's simulated sales reps keep business hours on the pipeline's own business calendar.

Reps act only during their own working hours, so every sales action is placed "this many business
seconds after that instant, on this rep's calendar" with `smarketing.sla.calendar` — the one
implementation of business time, so the world's reps and the SLA clock that judges them agree on what
a working hour is. This module only says which calendar each rep time zone keeps and works in the
sandbox's unit (int64 seconds since the epoch).
"""

from __future__ import annotations

import numpy as np

from smarketing.sla.calendar import BusinessCalendar, CalendarSpec

HOUR = 3_600
_NS = 1_000_000_000
# Public holidays of each rep time zone (country, subdivision); Mon-Fri 09:00-18:00 everywhere.
REP_HOLIDAYS = {"Europe/Paris": ("FR", None), "America/New_York": ("US", "NY")}


def calendars_for(timezones: tuple[str, ...]) -> dict[str, BusinessCalendar]:
    """One business calendar per rep time zone."""
    out = {}
    for tz in timezones:
        country, subdivision = REP_HOLIDAYS[tz]
        out[tz] = BusinessCalendar(CalendarSpec(tz, holiday_country=country, holiday_subdivision=subdivision))
    return out


def add_seconds(
    calendar: BusinessCalendar, t_utc: np.ndarray, business_seconds: np.ndarray | float
) -> np.ndarray:
    """The instant (epoch seconds) `business_seconds` of working time after each `t_utc`, when the rep
    is at work: a zero delay outside hours, or a delay ending at closing time, lands on the next opening."""
    t = np.asarray(t_utc, dtype=np.int64)
    delay = np.round(np.broadcast_to(np.asarray(business_seconds, dtype=np.float64), t.shape)).astype(
        np.int64
    )
    return calendar.add_working_ns(t * _NS, delay * _NS) // _NS
