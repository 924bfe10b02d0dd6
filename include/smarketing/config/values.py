"""Value types of the agreement's settings: each checks one value on its own, and the base of every section.

A value type is an `Annotated` alias whose validator raises `ValueError` with a message for the teams
(`Slug`, `Regex`, `TimeZoneName`, `BusinessMinutes`...); the `Settings` base forbids unknown keys.
"""

from __future__ import annotations

import math
import re
from datetime import date, time
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict

from smarketing.config.patterns import check_pattern
from smarketing.config.problems import closest
from smarketing.vocabulary import ACTIVITY_TYPES, EVENT_TYPES, TOUCH_ACTIVITY_TYPES

_DURATION_TEXT = re.compile(r"(?:\s*\d+\s*[dhm])+\s*")
_DURATION_PART = re.compile(r"(\d+)\s*([dhm])")
_MINUTES_PER_UNIT = {"d": 24 * 60, "h": 60, "m": 1}
_CLOCK_TEXT = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def _duration_parts(text: str) -> list[tuple[int, str]]:
    if not _DURATION_TEXT.fullmatch(text):
        raise ValueError(
            f"invalid duration {text!r}: write a number and a unit, e.g. '90m', '4h', '2d' or '1h30m'"
        )
    parts = [(int(amount), unit) for amount, unit in _DURATION_PART.findall(text)]
    units = [unit for _, unit in parts]
    # Units in d, h, m order and each once, so '1h 2h' or '30m 1h' is a typo rather than a sum.
    if units != sorted(set(units), key="dhm".index):
        raise ValueError(
            f"invalid duration {text!r}: give each unit once, largest first (e.g. '1d4h', '1h30m')"
        )
    return parts


def parse_duration(text: str) -> int:
    """Minutes in a duration such as '90m', '4h', '2d' or '1h30m' (a day is 24 hours)."""
    return sum(amount * _MINUTES_PER_UNIT[unit] for amount, unit in _duration_parts(text))


def parse_clock_time(text: str) -> time:
    """A wall-clock time written "HH:MM" (00:00 to 23:59)."""
    match = _CLOCK_TEXT.fullmatch(text.strip())
    if not match:
        raise ValueError(f'invalid time {text!r}: write "HH:MM", e.g. "09:00"')
    return time(int(match.group(1)), int(match.group(2)))


_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            f"invalid id {value!r}: use lower-case letters, digits, '_' or '-', starting with a letter or digit"
        )
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        hint = closest(value, available_timezones())
        raise ValueError(
            f"unknown time zone {value!r}{hint}: use an IANA name such as Europe/Paris"
        ) from None
    return value


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(
            f"unknown event type {value!r}{closest(value, EVENT_TYPES)}; known: {', '.join(sorted(EVENT_TYPES))}"
        )
    return value


def _touch_type(value: str) -> str:
    if value not in ACTIVITY_TYPES:
        known = ", ".join(sorted(ACTIVITY_TYPES))
        raise ValueError(f"unknown activity type {value!r}{closest(value, ACTIVITY_TYPES)}; known: {known}")
    if value not in TOUCH_ACTIVITY_TYPES:
        raise ValueError(f"{value!r} is internal and does not reach the lead, so it cannot count as a touch")
    return value


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f"invalid currency {value!r}: use a 3-letter ISO 4217 code such as EUR")
    return value


def _clock_input(value: object) -> object:
    if isinstance(value, str):
        return parse_clock_time(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 18:00 as the sexagesimal number 1080.
        raise ValueError('write the time in quotes, e.g. "18:00" (unquoted, YAML reads it as a number)')
    return value


def _end_clock_input(value: object) -> object:
    # "24:00" is the only way to say "until midnight"; datetime.time cannot hold it, so it becomes None.
    if value is None:
        raise ValueError('write the end time, e.g. "18:00" (or "24:00" for midnight)')
    if isinstance(value, str) and value.strip() == "24:00":
        return None
    return _clock_input(value)


def duration_input(value: object) -> object:
    if isinstance(value, str):
        minutes = parse_duration(value)
        if minutes <= 0:
            raise ValueError(f"duration {value!r} must be longer than zero")
        if minutes > MAX_DURATION_MINUTES:
            raise ValueError(f"duration {value!r} is longer than a year ({MAX_DURATION_MINUTES // 60}h)")
        return minutes
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("write a duration with its unit, e.g. '90m', '4h' or '2d'")
    return value


def business_duration_input(value: object) -> object:
    if isinstance(value, str) and "d" in value:
        raise ValueError(
            f"invalid duration {value!r} on the business clock: write business hours (e.g. '9h' for one "
            "09:00-18:00 day), because a day of 24 business hours is never what anyone means"
        )
    return duration_input(value)


def as_tuple(value: object) -> object:
    """Lets a single value stand for a one-item list (`content_topic: pricing`)."""
    return (value,) if isinstance(value, (str, int)) and not isinstance(value, bool) else value


def _external_id(value: object) -> object:
    # Tools number their segments and campaigns; keep every id as text so `12` and "12" are the same id.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _scalar(value: object) -> object:
    if value is None or isinstance(value, (list, tuple, dict)):
        raise ValueError("expected a single value (text, number or true/false)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


def unique(values: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"listed more than once: {', '.join(repeated)}")
    return values


# Every number lands somewhere: points in numeric(12, 2) totals and integer fit sums, days in date
# arithmetic, counts and targets in integer columns, durations in business-calendar arithmetic. These
# bounds keep an agreement that passes the check inside them (docs/agreement.md, "Numbers").
MAX_POINTS = 10_000  # points of one rule or event
MAX_TOTAL = 1_000_000_000  # caps, floors, grade and band thresholds: sums of points
MAX_DAYS = 36_500  # half-lives, windows, cooldowns: a hundred years
MAX_COUNT = 2_147_483_647  # PostgreSQL integer: per-day limits, monthly targets
MAX_AMOUNT = 1e12  # goal targets (amounts in the reporting currency)
MAX_DURATION_MINUTES = 366 * 24 * 60  # SLA durations: a year

Int = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, AfterValidator(_non_blank)]
Slug = Annotated[str, AfterValidator(_slug)]
Regex = Annotated[str, AfterValidator(check_pattern)]  # the one dialect: see `patterns`
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
EventType = Annotated[str, AfterValidator(_event_type)]
TouchType = Annotated[str, AfterValidator(_touch_type)]
Currency = Annotated[str, AfterValidator(_currency)]
ClockTime = Annotated[time, BeforeValidator(_clock_input)]
EndTime = Annotated[time | None, BeforeValidator(_end_clock_input)]
Minutes = Annotated[int, BeforeValidator(duration_input)]
BusinessMinutes = Annotated[int, BeforeValidator(business_duration_input)]
ExternalId = Annotated[Text, BeforeValidator(_external_id)]
Scalar = Annotated[Any, AfterValidator(_scalar)]
Score = Annotated[float, Strict(), Field(ge=0, le=1000)]
Points = Annotated[float, Strict(), Field(ge=-MAX_POINTS, le=MAX_POINTS)]
WholePoints = Annotated[int, Strict(), Field(ge=-MAX_POINTS, le=MAX_POINTS)]
Total = Annotated[float, Strict(), Field(ge=-MAX_TOTAL, le=MAX_TOTAL)]
WholeTotal = Annotated[int, Strict(), Field(ge=-MAX_TOTAL, le=MAX_TOTAL)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Clock = Literal["business", "calendar"]
DateValue = Annotated[date, Strict(False)]


class Settings(BaseModel):
    """Base of every section: unknown keys are errors (a typo must not be ignored), values immutable."""

    # allow_inf_nan=False: YAML's .nan and .inf are refused wherever a number goes.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)
    # Extra advice when someone writes a key this section does not have (see `_unknown_key`).
    key_hints: ClassVar[dict[str, str]] = {}


SEGMENT_DIMENSIONS: tuple[str, ...] = ("persona", "country", "industry")


def _segment(value: str) -> str:
    dimension, sep, key = value.partition(":")
    if not sep or dimension not in SEGMENT_DIMENSIONS or not key.strip():
        raise ValueError(
            f"invalid segment {value!r}: write <dimension>:<value> with dimension one of "
            f"{', '.join(SEGMENT_DIMENSIONS)} (e.g. persona:it_leader, country:FR)"
        )
    return value


Segment = Annotated[str, AfterValidator(_segment)]
