"""`scoring`: fit rules (who the lead is), engagement (what the lead did), grades, bands and profiles."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BeforeValidator, Field, Strict, model_validator

from smarketing.config.problems import Loc, closest, located
from smarketing.config.values import (
    MAX_COUNT,
    MAX_DAYS,
    MAX_TOTAL,
    Bool,
    EventType,
    ExternalId,
    Number,
    Points,
    Regex,
    Scalar,
    Settings,
    Slug,
    Text,
    Total,
    WholePoints,
    WholeTotal,
    as_tuple,
)
from smarketing.vocabulary import COMPANY_COLUMNS, LEAD_COLUMNS

FIT_OPERATORS: tuple[str, ...] = ("equals", "in", "not_in", "in_list", "regex", "between", "range", "missing")


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
        f"unknown field {name!r}{closest(name, choices)}: use a column of core.leads or core.companies, "
        "company.<column>, attributes.<key> or company.attributes.<key>"
    )


def _field_name(value: str) -> str:
    resolve_field(value)
    return value


def _low_high(value: object) -> object:
    if isinstance(value, (list, tuple)) and len(value) != 2:
        raise ValueError(f"expected [low, high], got {len(value)} value(s)")
    return value


OpenNumber = Number | None


class _FieldTest(Settings):
    """The operators a test of one field can use (exactly one per test)."""

    equals: Scalar = None
    in_: Annotated[tuple[Scalar, ...], Field(min_length=1)] | None = Field(default=None, alias="in")
    not_in: Annotated[tuple[Scalar, ...], Field(min_length=1)] | None = None
    in_list: Slug | None = None
    regex: Regex | None = None
    between: Annotated[tuple[Number, Number], BeforeValidator(_low_high)] | None = None
    range: Annotated[tuple[OpenNumber, OpenNumber], BeforeValidator(_low_high)] | None = None
    missing: Bool | None = None

    def _operators_given(self) -> list[str]:
        return [op for op in FIT_OPERATORS if self._operand(op) is not None]

    def _operator_problems(self) -> list[tuple[Loc, str]]:
        given = self._operators_given()
        if len(given) != 1:
            found = f"found {', '.join(given)}" if given else "found none"
            return [((), f"give exactly one operator among {', '.join(FIT_OPERATORS)} ({found})")]
        if self.between is not None and self.between[0] > self.between[1]:
            return [(("between",), f"low {self.between[0]:g} is above high {self.between[1]:g}")]
        if self.range is not None:
            low, high = self.range
            if low is None and high is None:
                return [(("range",), "give a low bound, a high bound or both ([low, null], [null, high])")]
            if low is not None and high is not None and low >= high:
                return [(("range",), f"low {low:g} is not below high {high:g}")]
        return []

    def _operand(self, operator: str) -> Any:
        return self.in_ if operator == "in" else getattr(self, operator)

    @property
    def operator(self) -> str:
        return next(op for op in FIT_OPERATORS if self._operand(op) is not None)

    @property
    def operand(self) -> Any:
        return self._operand(self.operator)


class FitTest(_FieldTest):
    """One condition of a compound fit rule (`all:`): a field and exactly one operator, no points."""

    field: Annotated[str, AfterValidator(_field_name)]

    @model_validator(mode="after")
    def _one_operator(self) -> FitTest:
        problems = self._operator_problems()
        if problems:
            raise located("FitTest", problems)
        return self

    @property
    def source(self) -> FieldRef:
        return resolve_field(self.field)


class FitRule(_FieldTest):
    """Points for who the lead is: one field and exactly one operator — equals, in, not_in, in_list, regex,
    between, range or missing — or `all:` of two or more such tests (a compound rule: every test must pass).

    `missing: true` matches an empty field, `missing: false` a filled one. `between` includes both ends;
    `range: [low, high]` is low <= value < high, with null for an open end; `not_in` matches a filled value
    outside the list. `id` names the rule in per-rule score contributions; when omitted it is derived from
    the field(s) and operator(s).
    """

    id: Slug | None = None
    description: Text | None = None
    field: Annotated[str, AfterValidator(_field_name)] | None = None
    all_: Annotated[tuple[FitTest, ...], Field(min_length=2)] | None = Field(default=None, alias="all")
    points: WholePoints

    @model_validator(mode="after")
    def _one_operator(self) -> FitRule:
        if self.all_ is not None:
            if self.field is not None or self._operators_given():
                raise located(
                    "FitRule",
                    [((), "a compound rule has `all:` and points only (move field tests into `all`)")],
                )
            return self
        if self.field is None:
            raise located("FitRule", [(("field",), "give a field and one operator, or `all:` of tests")])
        problems = self._operator_problems()
        if problems:
            raise located("FitRule", problems)
        return self

    @property
    def tests(self) -> tuple[FitTest | FitRule, ...]:
        """The conditions that must all hold: the rule itself, or each entry of `all`."""
        return self.all_ if self.all_ is not None else (self,)

    @property
    def source(self) -> FieldRef:
        assert self.field is not None, "a compound rule has one source per test"
        return resolve_field(self.field)

    @property
    def rule_id(self) -> str:
        """The rule's id (always set once the rule sits in a validated scoring section)."""
        return self.id or _derived_rule_id(self)


def _test_words(test: _FieldTest, field: str) -> str:
    operand = test.operand
    if isinstance(operand, tuple):
        text = "_".join(
            "open" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in operand
        )
    elif isinstance(operand, bool):
        text = "true" if operand else "false"
    else:
        text = str(operand)
    words = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if test.operator == "regex" or not words or len(words) > 40:
        words = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{field}_{test.operator}_{words}"


def _derived_rule_id(rule: FitRule) -> str:
    """`<field>_<operator>_<operand>` (joined by `_and_` for a compound rule): stable when rules are
    reordered, so contribution history lines up."""
    words = "_and_".join(_test_words(test, str(test.field)) for test in rule.tests)
    if len(words) > 120:
        words = "all_" + hashlib.sha1(words.encode()).hexdigest()[:12]
    return re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_")


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


class EventFilter(Settings):
    """Count only events about these content topics, from these campaigns and/or on pages whose URL
    matches `page` (a regular expression searched in the event's page URL)."""

    content_topic: Annotated[tuple[Text, ...], BeforeValidator(as_tuple), Field(min_length=1)] | None = None
    campaign_id: Annotated[tuple[ExternalId, ...], BeforeValidator(as_tuple), Field(min_length=1)] | None = (
        None
    )
    page: Regex | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> EventFilter:
        if self.content_topic is None and self.campaign_id is None and self.page is None:
            raise located(
                "EventFilter",
                [((), "give content_topic and/or campaign_id and/or page, or remove the filter")],
            )
        return self


class EventRule(Settings):
    """Points per event of one type.

    `cap` bounds the total this event type can add (or, for negative points, remove); `max_per_day`
    counts at most that many events of the type per lead and day.
    """

    points: Points
    cap: Annotated[float, Strict(), Field(ge=0, le=MAX_TOTAL)] | None = None
    max_per_day: Annotated[int, Strict(), Field(ge=1, le=MAX_COUNT)] | None = None
    filter: EventFilter | None = None


class Engagement(Settings):
    """Points for what the lead did, fading with a half-life (null: no fading)."""

    half_life_days: Annotated[float, Strict(), Field(gt=0, le=MAX_DAYS)] | None = None
    window_days: Annotated[int, Strict(), Field(gt=0, le=MAX_DAYS)] | None = None
    events: dict[EventType, EventRule] = Field(default_factory=dict)
    floor: Total | None = None

    def decay(self, age_days: float) -> float:
        """Weight of an event `age_days` old: 1 when new, 1/2 after one half-life, 0 beyond the window."""
        if self.window_days is not None and age_days > self.window_days:
            return 0.0
        if self.half_life_days is None:
            return 1.0
        return math.pow(0.5, max(age_days, 0.0) / self.half_life_days)


def _ladder(value: dict[str, Any], labels: list[str], expected: list[str], kind: str, rule: str) -> None:
    """Thresholds under consecutive labels, best first, each strictly below the one before it.

    `labels` are the given keys in rank order, `expected` the labels they should be, `kind` names one
    step in messages ("grade", "band") and `rule` says how labels go. Raises at the first wrong key.
    """
    problems: list[tuple[Loc, str]] = []
    wrong = next(((label, want) for label, want in zip(labels, expected, strict=True) if label != want), None)
    if wrong is not None:
        problems.append(((wrong[0],), f"{rule}; expected {wrong[1]!r} here"))
    else:
        for better, worse in itertools.pairwise(labels):
            if value[worse] >= value[better]:
                low, high = _number(value[worse]), _number(value[better])
                message = f"threshold {low} must be lower than {kind} {better}'s ({high})"
                problems.append(((worse,), message))
    if problems:
        raise located(f"{kind.title()}s", problems)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _grades(value: dict[str, int]) -> dict[str, int]:
    letters = sorted(value)
    expected = [chr(ord("A") + position) for position in range(len(letters))]
    _ladder(value, letters, expected, "grade", "grades are consecutive capital letters from A")
    return {letter: value[letter] for letter in letters}


Grades = Annotated[dict[str, WholeTotal], AfterValidator(_grades)]


def _band_keys(value: object) -> object:
    # YAML reads `1: 60` with an integer key; bands are labels, so 1 and "1" are the same band.
    if isinstance(value, Mapping):
        return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()}
    return value


def _bands(value: dict[str, float]) -> dict[str, float]:
    labels = sorted(value, key=lambda k: (len(k), k))
    expected = [str(position) for position in range(1, len(labels) + 1)]
    _ladder(value, labels, expected, "band", "engagement bands are numbered 1, 2, 3, ... (1 hottest)")
    return {label: value[label] for label in labels}


EngagementBands = Annotated[dict[str, Total], BeforeValidator(_band_keys), AfterValidator(_bands)]


class ScoringProfile(Settings):
    """An alternative rule set (e.g. for a product line) that replaces the base fit and/or engagement."""

    id: Slug
    description: Text | None = None
    fit: FitRules | None = None
    engagement: Engagement | None = None


class Scoring(Settings):
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
