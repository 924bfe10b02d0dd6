"""The agreement (`config/smarketing.yaml`): load it, validate it, explain every mistake.

Both teams edit this file by hand, so validation is built for people, not for stack traces:

* every problem is reported at once, each as ``"<key path>: <message> (line N)"``;
* a key path is dotted for mapping keys and uses ``[i]`` for list positions (0-based), e.g.
  ``personas[2].match.job_title_regex`` or ``scoring.engagement.events.email_open.points``;
  a mapping key that is not a plain word is quoted: ``lists["free mail"]``;
* problems with the file itself (missing, unreadable, YAML syntax, empty, not a mapping) are
  reported under the path ``(file)``.

Checks come in three layers. Pydantic types check each value on its own (a regex compiles, a time
zone exists, an event type is in the controlled vocabulary). Model validators check values of one
section against each other (start before end, exactly one operator per rule, unique ids), raising at
the exact key path. `Agreement` then checks references across sections (a persona named by an SLA
tier exists, a list named by a scoring rule exists) on the raw document, so those problems are found
even when another part of the file is broken.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_lib
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from smarketing import paths
from smarketing.vocabulary import (
    ACTIVITY_TYPES,
    COMPANY_COLUMNS,
    EVENT_TYPES,
    LEAD_COLUMNS,
    LIFECYCLE_STAGES,
    TOUCH_ACTIVITY_TYPES,
)

Loc = tuple[str | int, ...]
FILE_PATH = "(file)"


class ConfigError(Exception):
    """The agreement file cannot be used; `problems` lists every reason, one key path each."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__(self.path, self.problems)

    def __str__(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s) in the agreement:"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reusable parsers
# ---------------------------------------------------------------------------------------------
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


def _closest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean ...?)' when a choice is close to `word`, else ''."""
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


# ---------------------------------------------------------------------------------------------
# Value types: each checks one value on its own
# ---------------------------------------------------------------------------------------------
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


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        hint = _closest(value, available_timezones())
        raise ValueError(
            f"unknown time zone {value!r}{hint}: use an IANA name such as Europe/Paris"
        ) from None
    return value


def _event_type(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(
            f"unknown event type {value!r}{_closest(value, EVENT_TYPES)}; known: {', '.join(sorted(EVENT_TYPES))}"
        )
    return value


def _touch_type(value: str) -> str:
    if value not in ACTIVITY_TYPES:
        known = ", ".join(sorted(ACTIVITY_TYPES))
        raise ValueError(f"unknown activity type {value!r}{_closest(value, ACTIVITY_TYPES)}; known: {known}")
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


def _duration_input(value: object) -> object:
    if isinstance(value, str):
        minutes = parse_duration(value)
        if minutes <= 0:
            raise ValueError(f"duration {value!r} must be longer than zero")
        return minutes
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("write a duration with its unit, e.g. '90m', '4h' or '2d'")
    return value


def _business_duration_input(value: object) -> object:
    if isinstance(value, str) and "d" in value:
        raise ValueError(
            f"invalid duration {value!r} on the business clock: write business hours (e.g. '9h' for one "
            "09:00-18:00 day), because a day of 24 business hours is never what anyone means"
        )
    return _duration_input(value)


def _as_tuple(value: object) -> object:
    """Lets a single value stand for a one-item list (`content_topic: pricing`)."""
    return (value,) if isinstance(value, (str, int)) and not isinstance(value, bool) else value


def _external_id(value: object) -> object:
    # Tools number their segments and campaigns; keep every id as text so `12` and "12" are the same id.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _scalar(value: object) -> object:
    if value is None or isinstance(value, (list, tuple, dict)):
        raise ValueError("expected a single value (text, number or true/false)")
    return value


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"listed more than once: {', '.join(repeated)}")
    return values


Int = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, AfterValidator(_non_blank)]
Slug = Annotated[str, AfterValidator(_slug)]
Regex = Annotated[str, AfterValidator(_regex)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]
EventType = Annotated[str, AfterValidator(_event_type)]
TouchType = Annotated[str, AfterValidator(_touch_type)]
Currency = Annotated[str, AfterValidator(_currency)]
ClockTime = Annotated[time, BeforeValidator(_clock_input)]
EndTime = Annotated[time | None, BeforeValidator(_end_clock_input)]
Minutes = Annotated[int, BeforeValidator(_duration_input)]
BusinessMinutes = Annotated[int, BeforeValidator(_business_duration_input)]
ExternalId = Annotated[Text, BeforeValidator(_external_id)]
Scalar = Annotated[Any, AfterValidator(_scalar)]
Score = Annotated[float, Strict(), Field(ge=0, le=1000)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Clock = Literal["business", "calendar"]
DateValue = Annotated[date, Strict(False)]


def _located(title: str, problems: Sequence[tuple[Loc, str]]) -> ValidationError:
    """A ValidationError whose problems sit at `loc` below the model raising it."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("agreement", "{message}", {"message": message}), loc=loc, input=None
        )
        for loc, message in problems
    ]
    return ValidationError.from_exception_data(title, details)


class _Model(BaseModel):
    """Base of every section: unknown keys are errors (a typo must not be ignored), values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    # Extra advice when someone writes a key this section does not have (see `_unknown_key`).
    key_hints: ClassVar[dict[str, str]] = {}


# ---------------------------------------------------------------------------------------------
# organization
# ---------------------------------------------------------------------------------------------
class BusinessHours(_Model):
    """When the business clock runs: these weekdays, from `start` to `end`, in the organisation's zone."""

    days: Annotated[tuple[Weekday, ...], Field(min_length=1), AfterValidator(_unique)] = (
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
            raise _located(
                "BusinessHours",
                [(("end",), f"must be later than start ({self.start:%H:%M}); got {self.end:%H:%M}")],
            )
        return self

    @property
    def start_minute(self) -> int:
        return self.start.hour * 60 + self.start.minute

    @property
    def end_minute(self) -> int:
        """Minutes after midnight when the day ends (1440 for "24:00")."""
        return 24 * 60 if self.end is None else self.end.hour * 60 + self.end.minute

    @property
    def weekdays(self) -> frozenset[int]:
        """Working weekdays as `date.weekday()` numbers (Monday = 0)."""
        return frozenset(WEEKDAYS.index(day) for day in self.days)

    @property
    def minutes_per_day(self) -> int:
        """Length of one business day: what "one day" means on the business clock."""
        return self.end_minute - self.start_minute


@cache
def _holiday_countries() -> dict[str, list[str]]:
    return holidays_lib.list_supported_countries()


class HolidayCalendar(_Model):
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
                f"unknown country {value!r} for public holidays{_closest(code, _holiday_countries())}: "
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
            raise _located(
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


class Organization(_Model):
    """Where and when the company works: the frame of every business-hours deadline."""

    timezone: TimeZoneName
    business_hours: BusinessHours = BusinessHours()
    holidays: HolidayCalendar | None = None
    closed_days: tuple[DateValue, ...] = ()
    reporting_currency: Currency = "EUR"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# ---------------------------------------------------------------------------------------------
# vocabulary
# ---------------------------------------------------------------------------------------------
class MqlDefinition(_Model):
    """A lead is marketing-qualified when its score reaches `min_score` and its grade `min_grade` or better."""

    min_score: Score
    min_grade: str | None = None

    def is_met(self, score: float | None, grade: str | None) -> bool:
        if score is None or score < self.min_score:
            return False
        # Grades are consecutive letters from A, so alphabetical order is rank order (A is best).
        return self.min_grade is None or (grade is not None and grade <= self.min_grade)


class Vocabulary(_Model):
    """The words both teams use: what an MQL is, which lifecycle stages mean SQL, recycled, disqualified."""

    mql: MqlDefinition
    sql_stages: Annotated[tuple[Slug, ...], Field(min_length=1)] = ("salesqualifiedlead",)
    recycle_stage: Slug = "nurturing"
    disqualified_stages: tuple[Slug, ...] = ("disqualified",)
    lifecycle_stages: Annotated[tuple[Slug, ...], Field(min_length=1), AfterValidator(_unique)] = (
        LIFECYCLE_STAGES
    )


# ---------------------------------------------------------------------------------------------
# personas
# ---------------------------------------------------------------------------------------------
class PersonaMatch(_Model):
    job_title_regex: Regex

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.job_title_regex)


class Persona(_Model):
    """A kind of buyer, recognised from the job title. The first persona whose regex matches wins."""

    id: Slug
    name: Text | None = None
    description: Text | None = None
    match: PersonaMatch

    @property
    def label(self) -> str:
        return self.name or self.id


# ---------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------
FIT_OPERATORS: tuple[str, ...] = ("equals", "in", "in_list", "regex", "between", "missing")


class FieldRef(NamedTuple):
    """Where a fit rule reads its value: a column of core.leads / core.companies, or one JSON attribute."""

    table: Literal["leads", "companies"]
    column: str
    attribute: str | None = None


def resolve_field(name: str) -> FieldRef:
    """Resolve a rule's `field`: `<column>`, `company.<column>`, `attributes.<key>`, `company.attributes.<key>`.

    A bare column name means the lead's column when core.leads has it (`country` is the lead's
    country; write `company.country` for the company's), else the company's (`employees`).
    """
    table: Literal["leads", "companies"] = "leads"
    rest = name
    if name.startswith("company."):
        table, rest = "companies", name.removeprefix("company.")
    if rest.startswith("attributes.") and rest != "attributes.":
        return FieldRef(table, "attributes", rest.removeprefix("attributes."))
    if table == "leads" and rest in LEAD_COLUMNS:
        return FieldRef("leads", rest)
    if rest in COMPANY_COLUMNS:
        return FieldRef("companies", rest)
    choices = sorted(LEAD_COLUMNS | COMPANY_COLUMNS) + [f"company.{c}" for c in sorted(COMPANY_COLUMNS)]
    raise ValueError(
        f"unknown field {name!r}{_closest(name, choices)}: use a column of core.leads or core.companies, "
        "company.<column>, attributes.<key> or company.attributes.<key>"
    )


def _field_name(value: str) -> str:
    resolve_field(value)
    return value


def _low_high(value: object) -> object:
    if isinstance(value, (list, tuple)) and len(value) != 2:
        raise ValueError(f"expected [low, high], got {len(value)} value(s)")
    return value


class FitRule(_Model):
    """Points for who the lead is. Exactly one operator: equals, in, in_list, regex, between or missing.

    `missing: true` matches an empty field, `missing: false` a filled one. `between` includes both ends.
    `id` names the rule in per-rule score contributions; when omitted it is derived from field and operator.
    """

    id: Slug | None = None
    description: Text | None = None
    field: Annotated[str, AfterValidator(_field_name)]
    equals: Scalar = None
    in_: Annotated[tuple[Scalar, ...], Field(min_length=1)] | None = Field(default=None, alias="in")
    in_list: Slug | None = None
    regex: Regex | None = None
    between: Annotated[tuple[Number, Number], BeforeValidator(_low_high)] | None = None
    missing: Bool | None = None
    points: Int

    @model_validator(mode="after")
    def _one_operator(self) -> FitRule:
        given = [op for op in FIT_OPERATORS if self._operand(op) is not None]
        if len(given) != 1:
            found = f"found {', '.join(given)}" if given else "found none"
            raise _located(
                "FitRule", [((), f"give exactly one operator among {', '.join(FIT_OPERATORS)} ({found})")]
            )
        if self.between is not None and self.between[0] > self.between[1]:
            raise _located(
                "FitRule", [(("between",), f"low {self.between[0]:g} is above high {self.between[1]:g}")]
            )
        return self

    def _operand(self, operator: str) -> Any:
        return self.in_ if operator == "in" else getattr(self, operator)

    @property
    def operator(self) -> str:
        return next(op for op in FIT_OPERATORS if self._operand(op) is not None)

    @property
    def operand(self) -> Any:
        return self._operand(self.operator)

    @property
    def source(self) -> FieldRef:
        return resolve_field(self.field)

    @property
    def rule_id(self) -> str:
        """The rule's id (always set once the rule sits in a validated scoring section)."""
        return self.id or _derived_rule_id(self)


def _derived_rule_id(rule: FitRule) -> str:
    """`<field>_<operator>_<operand>`: stable when rules are reordered, so contribution history lines up."""
    operand = rule.operand
    if isinstance(operand, tuple):
        text = "_".join(f"{v:g}" if isinstance(v, float) else str(v) for v in operand)
    elif isinstance(operand, bool):
        text = "true" if operand else "false"
    else:
        text = str(operand)
    words = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if rule.operator == "regex" or not words or len(words) > 40:
        words = hashlib.sha1(text.encode()).hexdigest()[:8]
    return re.sub(r"[^a-z0-9]+", "_", f"{rule.field}_{rule.operator}_{words}".lower()).strip("_")


def _with_rule_ids(rules: tuple[FitRule, ...]) -> tuple[FitRule, ...]:
    """Give rules without an id a stable one derived from field and operator (duplicates: see Agreement)."""
    taken = {rule.id for rule in rules if rule.id}
    named: list[FitRule] = []
    for rule in rules:
        if rule.id is None:
            base = candidate = _derived_rule_id(rule)
            counter = 2
            while candidate in taken:
                candidate, counter = f"{base}_{counter}", counter + 1
            taken.add(candidate)
            rule = rule.model_copy(update={"id": candidate})
        named.append(rule)
    return tuple(named)


FitRules = Annotated[tuple[FitRule, ...], AfterValidator(_with_rule_ids)]


class EventFilter(_Model):
    """Count only events about these content topics, from these campaigns and/or on pages whose URL
    matches `page` (a regular expression searched in the event's page URL)."""

    content_topic: Annotated[tuple[Text, ...], BeforeValidator(_as_tuple), Field(min_length=1)] | None = None
    campaign_id: Annotated[tuple[ExternalId, ...], BeforeValidator(_as_tuple), Field(min_length=1)] | None = (
        None
    )
    page: Regex | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> EventFilter:
        if self.content_topic is None and self.campaign_id is None and self.page is None:
            raise _located(
                "EventFilter",
                [((), "give content_topic and/or campaign_id and/or page, or remove the filter")],
            )
        return self


class EventRule(_Model):
    """Points per event of one type.

    `cap` bounds the total this event type can add (or, for negative points, remove); `max_per_day`
    counts at most that many events of the type per lead and day.
    """

    points: Number
    cap: Annotated[float, Strict(), Field(ge=0)] | None = None
    max_per_day: Annotated[int, Strict(), Field(ge=1)] | None = None
    filter: EventFilter | None = None


class Engagement(_Model):
    """Points for what the lead did, fading with a half-life (null: no fading)."""

    half_life_days: Annotated[float, Strict(), Field(gt=0)] | None = None
    window_days: Annotated[int, Strict(), Field(gt=0)] | None = None
    events: dict[Annotated[str, AfterValidator(_event_type)], EventRule] = Field(default_factory=dict)
    floor: Number | None = None

    def decay(self, age_days: float) -> float:
        """Weight of an event `age_days` old: 1 when new, 1/2 after one half-life, 0 beyond the window."""
        if self.window_days is not None and age_days > self.window_days:
            return 0.0
        if self.half_life_days is None:
            return 1.0
        return math.pow(0.5, max(age_days, 0.0) / self.half_life_days)


def _grades(value: dict[str, int]) -> dict[str, int]:
    problems: list[tuple[Loc, str]] = []
    letters = sorted(value)
    for position, letter in enumerate(letters):
        expected = chr(ord("A") + position)
        if letter != expected:
            problems.append(
                ((letter,), f"grades are consecutive capital letters from A; expected {expected!r} here")
            )
            break
    if not problems:
        for better, worse in itertools.pairwise(letters):
            if value[worse] >= value[better]:
                problems.append(
                    (
                        (worse,),
                        f"threshold {value[worse]} must be lower than grade {better}'s ({value[better]})",
                    )
                )
    if problems:
        raise _located("Grades", problems)
    return {letter: value[letter] for letter in letters}


Grades = Annotated[dict[str, Int], AfterValidator(_grades)]


def _band_keys(value: object) -> object:
    # YAML reads `1: 60` with an integer key; bands are labels, so 1 and "1" are the same band.
    if isinstance(value, Mapping):
        return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()}
    return value


def _bands(value: dict[str, float]) -> dict[str, float]:
    problems: list[tuple[Loc, str]] = []
    labels = sorted(value, key=lambda k: (len(k), k))
    for position, label in enumerate(labels, start=1):
        if label != str(position):
            problems.append(
                ((label,), f"engagement bands are numbered 1, 2, 3, ... (1 hottest); expected {position!r}")
            )
            break
    if not problems:
        for hotter, cooler in itertools.pairwise(labels):
            if value[cooler] >= value[hotter]:
                problems.append(
                    (
                        (cooler,),
                        f"threshold {value[cooler]:g} must be lower than band {hotter}'s ({value[hotter]:g})",
                    )
                )
    if problems:
        raise _located("EngagementBands", problems)
    return {label: value[label] for label in labels}


EngagementBands = Annotated[dict[str, Number], BeforeValidator(_band_keys), AfterValidator(_bands)]


class ScoringProfile(_Model):
    """An alternative rule set (e.g. for a product line) that replaces the base fit and/or engagement."""

    id: Slug
    description: Text | None = None
    fit: FitRules | None = None
    engagement: Engagement | None = None


class Scoring(_Model):
    """Fit (who the lead is) graded A.., engagement (what the lead did) decaying over time."""

    version: Text
    fit: FitRules = ()
    engagement: Engagement = Engagement()
    grades: Grades = Field(default_factory=dict)
    # Engagement points needed for each band; with the grade they make the fit x engagement matrix (A1 best).
    engagement_bands: EngagementBands = Field(default_factory=dict)
    profiles: tuple[ScoringProfile, ...] = ()

    def grade_for(self, fit_points: float | None) -> str | None:
        """The best grade whose threshold the fit points reach; None below the lowest threshold."""
        if fit_points is None:
            return None
        return next((letter for letter, minimum in self.grades.items() if fit_points >= minimum), None)

    def rules_for(self, profile_id: str | None = None) -> tuple[tuple[FitRule, ...], Engagement]:
        """Fit rules and engagement settings of a profile, falling back to the base for what it omits."""
        if profile_id is None:
            return self.fit, self.engagement
        profile = next((p for p in self.profiles if p.id == profile_id), None)
        if profile is None:
            raise KeyError(f"unknown scoring profile {profile_id!r}")
        return (
            profile.fit if profile.fit is not None else self.fit,
            profile.engagement if profile.engagement is not None else self.engagement,
        )


# ---------------------------------------------------------------------------------------------
# sla
# ---------------------------------------------------------------------------------------------
class TierCondition(_Model):
    """Which MQLs a tier covers: all conditions given must hold."""

    min_score: Score | None = None
    min_grade: str | None = None
    personas: Annotated[tuple[Slug, ...], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _some_condition(self) -> TierCondition:
        if self.min_score is None and self.min_grade is None and self.personas is None:
            raise _located(
                "TierCondition", [((), "give min_score, min_grade and/or personas, or remove `when`")]
            )
        return self

    def matches(self, score: float | None, grade: str | None, persona_id: str | None) -> bool:
        if self.min_score is not None and (score is None or score < self.min_score):
            return False
        if self.min_grade is not None and (grade is None or grade > self.min_grade):
            return False
        return self.personas is None or persona_id in self.personas


class SalesTier(_Model):
    """A first-touch deadline: sales touches a handed-over MQL within `within` on the `clock`."""

    id: Slug
    description: Text | None = None
    when: TierCondition | None = None
    # Declared before `within_minutes` so the duration check can see which clock it runs on.
    clock: Clock = "business"
    within_minutes: Annotated[int, Field(alias="within")]

    @field_validator("within_minutes", mode="before")
    @classmethod
    def _within(cls, value: object, info: ValidationInfo) -> object:
        if info.data.get("clock", "business") == "business":
            return _business_duration_input(value)
        return _duration_input(value)


_DEFAULT_TIERS = (SalesTier.model_validate({"id": "default", "within": "4h"}),)
_TIER_HINT = (
    "deadlines are a list under sla.sales.tiers: [{id: ..., when: {...}, within: 4h, clock: business}]"
)


class SalesSla(_Model):
    """What sales promises marketing: touch every handed-over MQL before its tier's deadline."""

    tiers: Annotated[tuple[SalesTier, ...], Field(min_length=1)] = _DEFAULT_TIERS
    qualifying_touches: Annotated[tuple[TouchType, ...], Field(min_length=1), AfterValidator(_unique)] = (
        "call",
        "email",
        "meeting",
        "linkedin",
    )
    at_risk_share: Annotated[float, Strict(), Field(gt=0, lt=1)] = 0.75
    escalate_after_minutes: Annotated[BusinessMinutes | None, Field(alias="escalate_after")] = None
    accept_within_minutes: Annotated[BusinessMinutes | None, Field(alias="accept_within")] = None
    # An owner whose CRM profile names another time zone keeps the business hours on their own wall clock.
    owner_time_zones: Bool = True

    key_hints: ClassVar[dict[str, str]] = {"first_touch": _TIER_HINT, "hot_first_touch": _TIER_HINT}

    @field_validator("tiers")
    @classmethod
    def _tiers_in_order(cls, tiers: tuple[SalesTier, ...]) -> tuple[SalesTier, ...]:
        problems: list[tuple[Loc, str]] = []
        last = len(tiers) - 1
        for index, tier in enumerate(tiers):
            if tier.when is None and index != last:
                problems.append(
                    (
                        (index,),
                        "only the last tier may omit `when`: tiers are tried in order and it matches every MQL",
                    )
                )
        if tiers[last].when is not None:
            problems.append(
                ((last, "when"), "the last tier must have no `when`: it is the deadline of every other MQL")
            )
        if problems:
            raise _located("SalesSla", problems)
        return tiers

    def tier_for(self, score: float | None, grade: str | None, persona_id: str | None) -> SalesTier:
        """The first tier whose conditions the MQL meets (the last tier matches every MQL)."""
        return next(t for t in self.tiers if t.when is None or t.when.matches(score, grade, persona_id))

    @property
    def tier_minutes(self) -> dict[str, int]:
        return {tier.id: tier.within_minutes for tier in self.tiers}


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


class MqlTarget(_Model):
    monthly: Annotated[int, Strict(), Field(gt=0)]
    segments: dict[Segment, Annotated[int, Strict(), Field(gt=0)]] = Field(default_factory=dict)


class MarketingSla(_Model):
    """What marketing promises sales: this many MQLs a month."""

    mql_target: MqlTarget
    # Behind pace: MQLs delivered so far fall short of the pro-rated target by more than this share.
    behind_tolerance: Annotated[float, Strict(), Field(ge=0, lt=1)] = 0.1
    # No pace alert before this share of the month has gone (early days are too noisy to judge).
    alert_from_share: Annotated[float, Strict(), Field(ge=0, lt=1)] = 0.25


_EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email_address(value: str) -> str:
    if not _EMAIL_ADDRESS.fullmatch(value):
        raise ValueError(f"invalid e-mail address {value!r}: write name@domain, e.g. sales-ops@example.com")
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]


class SlaAlerts(_Model):
    """Where SLA alerts go, through the Airflow SMTP connection `smtp_conn_id`.

    Personal addresses are better kept out of this file: the Airflow Variable `smarketing_sla_alerts`
    adds or overrides every entry (JSON with the same keys). An owner without an address gets `team`.
    """

    smtp_conn_id: Text = "smtp_default"
    from_email: EmailAddress | None = None
    team: EmailAddress | None = None
    marketing: EmailAddress | None = None
    recipients: dict[Text, EmailAddress] = Field(default_factory=dict)


class Sla(_Model):
    sales: SalesSla = SalesSla()
    marketing: MarketingSla | None = None
    alerts: SlaAlerts = SlaAlerts()


# ---------------------------------------------------------------------------------------------
# nurturing
# ---------------------------------------------------------------------------------------------
class ScenarioCondition(_Model):
    """Which leads a scenario enrolls: all conditions given must hold."""

    below_mql: Bool = True
    interests_any: tuple[Slug, ...] = ()
    personas: tuple[Slug, ...] = ()
    lifecycle_stages: tuple[Slug, ...] = ()
    min_days_since_last_touch: Annotated[int, Strict(), Field(ge=0)] | None = None

    @property
    def interest_event_types(self) -> frozenset[str]:
        """The interests that are event types; the others are content topics."""
        return frozenset(i for i in self.interests_any if i in EVENT_TYPES)

    @property
    def interest_topics(self) -> frozenset[str]:
        return frozenset(i for i in self.interests_any if i not in EVENT_TYPES)


_TARGET_KINDS: dict[str, tuple[str, ...]] = {"mautic": ("segment", "campaign"), "hubspot": ("list",)}


class NurtureTarget(_Model):
    """Where enrolled leads go: a Mautic segment or campaign, or a HubSpot list."""

    system: Literal["mautic", "hubspot"]
    segment_id: Annotated[ExternalId | None, Field(alias="segment")] = None
    campaign_id: Annotated[ExternalId | None, Field(alias="campaign")] = None
    list_id: Annotated[ExternalId | None, Field(alias="list")] = None

    @model_validator(mode="after")
    def _one_destination(self) -> NurtureTarget:
        given = [kind for kind in ("segment", "campaign", "list") if getattr(self, f"{kind}_id") is not None]
        allowed = _TARGET_KINDS[self.system]
        if len(given) != 1:
            message = f"give exactly one of {' or '.join(allowed)} for {self.system}"
            raise _located("NurtureTarget", [((), message)])
        if given[0] not in allowed:
            message = f"{self.system} takes {' or '.join(allowed)}, not {given[0]}"
            raise _located("NurtureTarget", [((given[0],), message)])
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("segment", "campaign", "list") if getattr(self, f"{k}_id") is not None)

    @property
    def target_id(self) -> str:
        return str(getattr(self, f"{self.kind}_id"))


class Scenario(_Model):
    id: Slug
    description: Text | None = None
    when: ScenarioCondition = ScenarioCondition()
    target: NurtureTarget
    cooldown_days: Annotated[int, Strict(), Field(ge=0)] = 30
    requires_consent: Bool = True


class Nurturing(_Model):
    scenarios: tuple[Scenario, ...] = ()


# ---------------------------------------------------------------------------------------------
# goals
# ---------------------------------------------------------------------------------------------
class GoalMetric(NamedTuple):
    description: str
    unit: Literal["count", "amount", "share", "minutes"]
    higher_is_better: bool = True


GOAL_METRICS: dict[str, GoalMetric] = {
    "mql_count": GoalMetric("Leads that became MQL in the period.", "count"),
    "sql_count": GoalMetric("Leads that entered an SQL stage in the period.", "count"),
    "opportunity_count": GoalMetric("Deals opened in the period.", "count"),
    "won_deals": GoalMetric("Deals won (closed) in the period.", "count"),
    "won_amount": GoalMetric("Amount of the deals won in the period (reporting currency).", "amount"),
    "pipeline_amount": GoalMetric("Amount of the deals opened in the period (reporting currency).", "amount"),
    "mql_to_sql_rate": GoalMetric("Share of the period's MQLs that became SQL.", "share"),
    "sql_to_won_rate": GoalMetric("Share of the period's SQLs that led to a won deal.", "share"),
    "sla_compliance": GoalMetric("Share of handed-over MQLs touched before their SLA deadline.", "share"),
    "median_first_touch_minutes": GoalMetric(
        "Median time from hand-over to first sales touch (on each tier's clock).", "minutes", False
    ),
}


def _metric(value: str) -> str:
    if value not in GOAL_METRICS:
        raise ValueError(
            f"unknown metric {value!r}{_closest(value, GOAL_METRICS)}; known: {', '.join(GOAL_METRICS)}"
        )
    return value


class Goal(_Model):
    """A SMART goal: a metric, a target, a period (both ends included), optionally one segment."""

    id: Slug
    description: Text | None = None
    metric: Annotated[str, AfterValidator(_metric)]
    target: Annotated[float, Strict(), Field(ge=0)]
    starts_on: Annotated[DateValue, Field(alias="from")]
    ends_on: Annotated[DateValue, Field(alias="to")]
    segment: Segment | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Goal:
        problems: list[tuple[Loc, str]] = []
        if self.ends_on < self.starts_on:
            problems.append((("to",), f"{self.ends_on} is before from ({self.starts_on})"))
        if GOAL_METRICS[self.metric].unit == "share" and self.target > 1:
            problems.append(
                (("target",), f"{self.metric} is a share: write it between 0 and 1 (e.g. 0.3 for 30%)")
            )
        if problems:
            raise _located("Goal", problems)
        return self

    @property
    def metric_info(self) -> GoalMetric:
        return GOAL_METRICS[self.metric]


# ---------------------------------------------------------------------------------------------
# the agreement
# ---------------------------------------------------------------------------------------------
class Agreement(_Model):
    """The whole agreement. `Agreement.model_validate(data)` runs every check, cross-section ones included."""

    organization: Organization
    vocabulary: Vocabulary
    personas: tuple[Persona, ...] = ()
    lists: dict[Slug, tuple[Text, ...]] = Field(default_factory=dict)
    scoring: Scoring
    sla: Sla = Sla()
    nurturing: Nurturing = Nurturing()
    goals: tuple[Goal, ...] = ()

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Callable[[Any], Agreement]) -> Agreement:
        # Cross-section references are checked on the raw document whatever else is broken, and all
        # problems leave together with readable messages.
        errors: list[ErrorDetails] = []
        agreement: Agreement | None = None
        try:
            agreement = handler(data)
        except ValidationError as exc:
            errors = exc.errors()
        references = _reference_problems(data) if isinstance(data, Mapping) else []
        if agreement is not None and not references:
            return agreement
        problems = [(_clean_loc(e["loc"]), _describe(e, cls)) for e in errors] + references
        raise _located(cls.__name__, problems)

    @property
    def persona_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.personas)

    def match_persona(self, job_title: str | None) -> str | None:
        """The id of the first persona whose regex finds a match in the job title."""
        if not job_title:
            return None
        return next((p.id for p in self.personas if p.match.pattern.search(job_title)), None)

    def is_mql(self, score: float | None, grade: str | None) -> bool:
        return self.vocabulary.mql.is_met(score, grade)


# ---------------------------------------------------------------------------------------------
# Cross-section references, checked on the raw document
# ---------------------------------------------------------------------------------------------
def _at(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _entries(value: object) -> Iterator[tuple[int, Any]]:
    return enumerate(value) if isinstance(value, list) else iter(())


def _ids(value: object) -> set[str] | None:
    """Ids of a raw list of {id: ...} items; None when the list itself is malformed (checked elsewhere)."""
    if value is None:
        return set()
    if not isinstance(value, list):
        return None
    return {item["id"] for item in value if isinstance(item, Mapping) and isinstance(item.get("id"), str)}


def _keys(value: object) -> set[str] | None:
    if value is None:
        return set()
    return {k for k in value if isinstance(k, str)} if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class _Names:
    """What the document defines, as far as it can be read; None: unreadable, skip the checks."""

    personas: set[str] | None
    lists: set[str] | None
    grades: set[str] | None
    stages: set[str] | None


def _defined_names(data: Mapping[str, Any]) -> _Names:
    stages = _at(data, "vocabulary", "lifecycle_stages")
    if stages is None:
        stage_names: set[str] | None = set(LIFECYCLE_STAGES)
    elif isinstance(stages, list):
        stage_names = {s for s in stages if isinstance(s, str)}
    else:
        stage_names = None
    return _Names(
        personas=_ids(data.get("personas")),
        lists=_keys(data.get("lists")),
        grades=_keys(_at(data, "scoring", "grades")),
        stages=stage_names,
    )


def _reference_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    names = _defined_names(data)
    problems: list[tuple[Loc, str]] = []
    problems += _grade_references(data, names.grades)
    problems += _persona_references(data, names.personas)
    problems += _list_references(data, names.lists)
    problems += _stage_references(data, names.stages)
    problems += _duplicate_ids(data)
    return problems


def _check_name(
    loc: Loc, value: object, known: set[str] | None, what: str, where: str
) -> Iterator[tuple[Loc, str]]:
    if known is not None and isinstance(value, str) and value not in known:
        yield loc, f"unknown {what} {value!r}{_closest(value, known)}; define it in {where}"


def _grade_references(data: Mapping[str, Any], grades: set[str] | None) -> Iterator[tuple[Loc, str]]:
    yield from _check_name(
        ("vocabulary", "mql", "min_grade"),
        _at(data, "vocabulary", "mql", "min_grade"),
        grades,
        "grade",
        "scoring.grades",
    )
    for i, tier in _entries(_at(data, "sla", "sales", "tiers")):
        loc: Loc = ("sla", "sales", "tiers", i, "when", "min_grade")
        yield from _check_name(loc, _at(tier, "when", "min_grade"), grades, "grade", "scoring.grades")


def _persona_references(data: Mapping[str, Any], personas: set[str] | None) -> Iterator[tuple[Loc, str]]:
    def named(loc: Loc, values: object) -> Iterator[tuple[Loc, str]]:
        for j, value in _entries(values):
            yield from _check_name((*loc, j), value, personas, "persona", "personas")

    for i, tier in _entries(_at(data, "sla", "sales", "tiers")):
        yield from named(("sla", "sales", "tiers", i, "when", "personas"), _at(tier, "when", "personas"))
    for i, scenario in _entries(_at(data, "nurturing", "scenarios")):
        yield from named(("nurturing", "scenarios", i, "when", "personas"), _at(scenario, "when", "personas"))
    for loc, rule in _fit_rules(data):
        if isinstance(rule, Mapping) and rule.get("field") == "persona_id":
            if "equals" in rule:
                yield from _check_name((*loc, "equals"), rule["equals"], personas, "persona", "personas")
            yield from named((*loc, "in"), rule.get("in"))
    segments = _at(data, "sla", "marketing", "mql_target", "segments")
    for key in segments if isinstance(segments, Mapping) else ():
        yield from _segment_reference(("sla", "marketing", "mql_target", "segments", key), key, personas)
    for i, goal in _entries(data.get("goals")):
        yield from _segment_reference(("goals", i, "segment"), _at(goal, "segment"), personas)


def _segment_reference(loc: Loc, segment: object, personas: set[str] | None) -> Iterator[tuple[Loc, str]]:
    if isinstance(segment, str) and segment.startswith("persona:"):
        yield from _check_name(loc, segment.removeprefix("persona:"), personas, "persona", "personas")


def _fit_rules(data: Mapping[str, Any]) -> Iterator[tuple[Loc, Any]]:
    for i, rule in _entries(_at(data, "scoring", "fit")):
        yield ("scoring", "fit", i), rule
    for p, profile in _entries(_at(data, "scoring", "profiles")):
        for i, rule in _entries(_at(profile, "fit")):
            yield ("scoring", "profiles", p, "fit", i), rule


def _list_references(data: Mapping[str, Any], lists: set[str] | None) -> Iterator[tuple[Loc, str]]:
    for loc, rule in _fit_rules(data):
        yield from _check_name((*loc, "in_list"), _at(rule, "in_list"), lists, "list", "lists")


def _stage_references(data: Mapping[str, Any], stages: set[str] | None) -> Iterator[tuple[Loc, str]]:
    used: list[tuple[Loc, object]] = [
        (("vocabulary", "recycle_stage"), _at(data, "vocabulary", "recycle_stage"))
    ]
    for key in ("sql_stages", "disqualified_stages"):
        used += [(("vocabulary", key, i), s) for i, s in _entries(_at(data, "vocabulary", key))]
    for i, scenario in _entries(_at(data, "nurturing", "scenarios")):
        for j, stage in _entries(_at(scenario, "when", "lifecycle_stages")):
            used.append((("nurturing", "scenarios", i, "when", "lifecycle_stages", j), stage))
    for loc, stage in used:
        if stages is not None and isinstance(stage, str) and stage not in stages:
            hint = _closest(stage, stages)
            yield loc, f"unknown lifecycle stage {stage!r}{hint}; add it to vocabulary.lifecycle_stages"


def _id_lists(data: Mapping[str, Any]) -> Iterator[tuple[Loc, object]]:
    """Every list whose items carry an `id` that must be unique within the list."""
    yield ("personas",), data.get("personas")
    yield ("goals",), data.get("goals")
    yield ("nurturing", "scenarios"), _at(data, "nurturing", "scenarios")
    yield ("sla", "sales", "tiers"), _at(data, "sla", "sales", "tiers")
    yield ("scoring", "profiles"), _at(data, "scoring", "profiles")
    yield ("scoring", "fit"), _at(data, "scoring", "fit")
    for p, profile in _entries(_at(data, "scoring", "profiles")):
        yield ("scoring", "profiles", p, "fit"), _at(profile, "fit")


def _duplicate_ids(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    for loc, items in _id_lists(data):
        first_seen: dict[str, int] = {}
        for index, item in _entries(items):
            value = _at(item, "id")
            if not isinstance(value, str):
                continue
            if value in first_seen:
                yield (
                    (*loc, index, "id"),
                    f"duplicate id {value!r} (already used by {format_key_path((*loc, first_seen[value]))})",
                )
            else:
                first_seen[value] = index


# ---------------------------------------------------------------------------------------------
# Readable messages
# ---------------------------------------------------------------------------------------------
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _clean_loc(loc: Sequence[str | int]) -> Loc:
    # Pydantic marks a bad mapping key with a trailing '[key]'; the path to the key says it all.
    return tuple(part for part in loc if part != "[key]")


def format_key_path(loc: Sequence[str | int]) -> str:
    """`('personas', 2, 'match', 'job_title_regex')` -> `personas[2].match.job_title_regex`."""
    text = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{json.dumps(str(part), ensure_ascii=False)}]"
    return text or "(top level)"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _yaml_hint(value: object) -> str:
    if isinstance(value, bool):
        return " (YAML reads unquoted yes/no/on/off/true/false as true or false: put the text in quotes)"
    if isinstance(value, (int, float)):
        return " (put it in quotes to keep it as text)"
    return ""


_TYPE_MESSAGES: dict[str, str] = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping (key: value)",
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "date_type": "expected a date (YYYY-MM-DD)",
    "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "expected a date (YYYY-MM-DD) without a time",
    "time_type": 'expected a time ("HH:MM")',
}
_BOUND_MESSAGES: dict[str, tuple[str, str]] = {
    "greater_than": ("gt", "must be greater than {}"),
    "greater_than_equal": ("ge", "must be at least {}"),
    "less_than": ("lt", "must be less than {}"),
    "less_than_equal": ("le", "must be at most {}"),
}


def _describe(error: ErrorDetails, root: type[BaseModel]) -> str:
    """A message for a team member, not a Python developer."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    if kind == "agreement":
        return str(ctx.get("message", error["msg"]))
    if kind in {"value_error", "assertion_error"} and "error" in ctx:
        return str(ctx["error"])
    if kind == "extra_forbidden":
        return _unknown_key(root, _clean_loc(error["loc"]))
    if kind == "missing":
        return "required key is missing"
    if kind == "string_type":
        return f"expected text, got {_shown(value)}{_yaml_hint(value)}"
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {_shown(value)}"
    if kind in _BOUND_MESSAGES:
        key, template = _BOUND_MESSAGES[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{template.format(bound)}, got {_shown(value)}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {_shown(value)}"
    if kind in {"too_short", "string_too_short"} and ctx.get("min_length") == 1:
        return "must not be empty"
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _unknown_key(root: type[BaseModel], loc: Loc) -> str:
    key = str(loc[-1]) if loc else ""
    model = _model_at(root, loc[:-1])
    if model is None:
        return "unknown key"
    if issubclass(model, _Model) and key in model.key_hints and key not in _keys_of(model):
        return f"unknown key: {model.key_hints[key]}"
    allowed = _keys_of(model)
    hint = _closest(key, allowed)
    return f"unknown key{hint}; allowed here: {', '.join(allowed)}"


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional so the walk reaches the list, mapping or model underneath."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the value at `loc`, if the path leads to one."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (info for name, info in current.model_fields.items() if (info.alias or name) == part), None
            )
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (list, tuple) and get_args(current):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


# ---------------------------------------------------------------------------------------------
# Reading the file
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Located:
    loc: Loc
    message: str
    line: int | None = None

    def render(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        return (
            f"{format_key_path(self.loc) if self.loc != (FILE_PATH,) else FILE_PATH}: {self.message}{where}"
        )


def _key_lines(node: yaml.Node, path: Loc, lines: dict[Loc, int], duplicates: list[_Located]) -> None:
    """Record the line of every key path, and every key given twice (YAML silently keeps the last)."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            child = (*path, key)
            if key in seen and key != "<<":
                duplicates.append(_Located(child, f"duplicate key (first given on line {seen[key]})", line))
            seen.setdefault(key, line)
            lines[child] = line
            _key_lines(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _key_lines(item, (*path, index), lines, duplicates)


def _line_of(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    normalised = tuple(p if isinstance(p, int) and not isinstance(p, bool) else str(p) for p in loc)
    for end in range(len(normalised), -1, -1):
        if normalised[:end] in lines:
            return lines[normalised[:end]]
    return None


class _AgreementLoader(yaml.SafeLoader):
    """SafeLoader that keeps an impossible date (2026-09-31) as text, so validation names its key."""


def _lenient_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_AgreementLoader.add_constructor("tag:yaml.org,2002:timestamp", _lenient_timestamp)


def _parse_yaml(text: str) -> tuple[yaml.Node | None, object]:
    """The node tree (it knows lines) and the data built from it, from a single parse."""
    loader = _AgreementLoader(text)
    try:
        root = loader.get_single_node()
        return root, (loader.construct_document(root) if root is not None else None)
    finally:
        loader.dispose()


def _file_problem(message: str, line: int | None = None) -> list[_Located]:
    return [_Located((FILE_PATH,), message, line)]


def _read_document(path: Path) -> tuple[object, dict[Loc, int], list[_Located]]:
    """The parsed YAML, the line of each key path and the problems found reading it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, {}, _file_problem(f"file not found: {path}")
    except IsADirectoryError:
        return None, {}, _file_problem(f"is a directory, not a file: {path}")
    except (OSError, UnicodeDecodeError) as exc:
        return None, {}, _file_problem(f"cannot read {path}: {exc}")
    try:
        root, data = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return None, {}, _file_problem(f"YAML syntax error{where}: {reason or exc}")
    lines: dict[Loc, int] = {}
    duplicates: list[_Located] = []
    if root is not None:
        _key_lines(root, (), lines, duplicates)
    if data is None:
        return None, lines, _file_problem("the file is empty; expected the sections of the agreement")
    if not isinstance(data, Mapping):
        sections = ", ".join(_keys_of(Agreement))
        return (
            None,
            lines,
            _file_problem(f"expected a mapping of sections ({sections}), got {_shown(data)}", 1),
        )
    return data, lines, duplicates


def _evaluate(path: Path) -> tuple[Agreement | None, list[str]]:
    data, lines, problems = _read_document(path)
    agreement: Agreement | None = None
    if isinstance(data, Mapping):
        try:
            agreement = Agreement.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = _clean_loc(error["loc"])
                problems.append(_Located(loc, _describe(error, Agreement), _line_of(loc, lines)))
    # Document order reads best; problems without a line (none expected) go last.
    problems.sort(key=lambda p: p.line if p.line is not None else math.inf)
    return (agreement if not problems else None), [p.render() for p in problems]


def check_config(path: Path) -> list[str]:
    """Every problem of the agreement at `path`, as "<key path>: <message> (line N)"; [] when it is valid."""
    return _evaluate(Path(path))[1]


def load_config(path: Path | None = None) -> Agreement:
    """The validated agreement (default: `smarketing.paths.DEFAULT_CONFIG`); ConfigError lists every problem."""
    target = Path(path) if path is not None else paths.DEFAULT_CONFIG
    agreement, problems = _evaluate(target)
    if agreement is None:
        raise ConfigError(target, problems)
    return agreement
