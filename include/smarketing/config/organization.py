"""`organization`: where and when the company works (time zone, business hours, public holidays).

These are the settings of the business calendar; its arithmetic (deadlines, business minutes between
two instants) is `smarketing.sla.calendar`, the one implementation, built from them by
`smarketing.sla.settings.calendar_spec`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import time
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo

import holidays as holidays_lib
from pydantic import AfterValidator, Field, field_validator, model_validator

from smarketing.config.problems import closest, located
from smarketing.config.values import (
    WEEKDAYS,
    ClockTime,
    Currency,
    DateValue,
    EndTime,
    Settings,
    TimeZoneName,
    Weekday,
    unique,
)


class BusinessHours(Settings):
    """When the business clock runs: these weekdays, from `start` to `end`, in the organisation's zone."""

    days: Annotated[tuple[Weekday, ...], Field(min_length=1), AfterValidator(unique)] = (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    start: ClockTime = time(9, 0)
    end: EndTime = time(18, 0)  # None: "24:00", the desk stays open until midnight

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessHours:
        if self.end is not None and self.start >= self.end:
            raise located(
                "BusinessHours",
                [(("end",), f"must be later than start ({self.start:%H:%M}); got {self.end:%H:%M}")],
            )
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        """Working weekdays as `date.weekday()` numbers (Monday = 0)."""
        return frozenset(WEEKDAYS.index(day) for day in self.days)


@cache
def _holiday_countries() -> dict[str, list[str]]:
    return holidays_lib.list_supported_countries()


class HolidayCalendar(Settings):
    """Public holidays from the `holidays` library: a country, and optionally one of its subdivisions."""

    country: str
    subdivision: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, data: object) -> object:
        # `holidays: FR` is the shorthand for `holidays: {country: FR}`; anything else that is not a
        # mapping is passed on as the country so its error names the country key.
        if isinstance(data, Mapping) or data is None:
            return data
        return {"country": data}

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        code = value.upper()
        if code not in _holiday_countries():
            raise ValueError(
                f"unknown country {value!r} for public holidays{closest(code, _holiday_countries())}: "
                "use an ISO 3166-1 alpha-2 code such as FR"
            )
        return code

    @model_validator(mode="after")
    def _known_subdivision(self) -> HolidayCalendar:
        if self.subdivision is None:
            return self
        try:
            holidays_lib.country_holidays(self.country, subdiv=self.subdivision)
        except NotImplementedError:
            known = ", ".join(_holiday_countries()[self.country]) or "none"
            raise located(
                "HolidayCalendar",
                [
                    (
                        ("subdivision",),
                        f"unknown subdivision {self.subdivision!r} of {self.country}; known: {known}",
                    )
                ],
            ) from None
        return self

    def calendar(self, years: int | Iterable[int]) -> holidays_lib.HolidayBase:
        """The public holidays of these years (a dict-like of date -> name)."""
        return holidays_lib.country_holidays(self.country, subdiv=self.subdivision, years=years)


class Organization(Settings):
    """Where and when the company works: the frame of every business-hours deadline."""

    timezone: TimeZoneName
    business_hours: BusinessHours = BusinessHours()
    holidays: HolidayCalendar | None = None
    closed_days: tuple[DateValue, ...] = ()
    reporting_currency: Currency = "EUR"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
