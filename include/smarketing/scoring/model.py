"""The scoring model as the engine runs it: small frozen dataclasses compiled from the agreement.

The agreement (`smarketing.config`) is written for people; the engine wants flat, ordered rules whose
identity does not change with formatting. `compile_model` turns the `scoring` section (plus the named
lists it uses and the MQL rule from `vocabulary.mql`) into a `ScoringModel`, whose `config_hash`
changes exactly when a score could change. A changed hash triggers a full rescore.

Profiles: the base rules are the profile "default"; each `scoring.profiles[]` entry is another profile
that replaces the base fit and/or engagement. A lead is scored under every profile and its headline
score is the best of them (see `smarketing.scoring.kernel.pick_primary`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Literal

DEFAULT_PROFILE = "default"
FitOperator = Literal["equals", "in", "not_in", "in_list", "regex", "between", "range", "missing"]
# Predicates are bits of one signed 64-bit mask computed per event (bit 63 is the sign).
MAX_PREDICATES = 62


@dataclass(frozen=True)
class FieldTest:
    """One test of one lead or company field (a compound rule's extra conditions)."""

    field: str
    operator: FitOperator
    operand: Any

    def describe(self) -> str:
        operand = self.operand
        if self.operator in ("in", "not_in"):
            operand = "[" + ", ".join(str(v) for v in operand) + "]"
        elif self.operator in ("between", "range"):
            operand = "[" + ", ".join("null" if v is None else f"{v:g}" for v in operand) + "]"
        return f"{self.field} {self.operator} {operand}"


@dataclass(frozen=True)
class FitRule:
    """Points when a lead passes one test of one field, and every test in `also` (a compound rule)."""

    rule_id: str
    field: str
    operator: FitOperator
    operand: Any
    points: int
    also: tuple[FieldTest, ...] = ()

    @property
    def tests(self) -> tuple[FieldTest, ...]:
        return (FieldTest(self.field, self.operator, self.operand), *self.also)

    def describe(self) -> str:
        return " and ".join(test.describe() for test in self.tests)


@dataclass(frozen=True)
class EventPredicate:
    """Which events a rule counts: one event type, optionally narrowed by topic, campaign or page."""

    event_type: str
    content_topics: tuple[str, ...] | None = None
    campaign_ids: tuple[str, ...] | None = None
    page_regex: str | None = None

    def describe(self) -> str:
        parts = [self.event_type]
        if self.content_topics:
            parts.append("topic in [" + ", ".join(self.content_topics) + "]")
        if self.campaign_ids:
            parts.append("campaign in [" + ", ".join(self.campaign_ids) + "]")
        if self.page_regex:
            parts.append(f"page ~ {self.page_regex}")
        return " and ".join(parts)


@dataclass(frozen=True)
class EngagementRule:
    """Points per counted event matching `predicate` (an index into `ScoringModel.predicates`)."""

    rule_id: str
    predicate: int
    points: float
    cap: float | None = None
    max_per_day: int | None = None


@dataclass(frozen=True)
class Engagement:
    half_life_days: float | None = None
    window_days: int | None = None
    rules: tuple[EngagementRule, ...] = ()
    floor: float | None = None


@dataclass(frozen=True)
class Profile:
    profile_id: str
    fit_rules: tuple[FitRule, ...] = ()
    engagement: Engagement = Engagement()


@dataclass(frozen=True)
class ScoringModel:
    """Everything a score depends on. Profiles are ordered: "default" first, then the agreement's order."""

    version: str
    profiles: tuple[Profile, ...]
    predicates: tuple[EventPredicate, ...]
    grades: tuple[tuple[str, int], ...] = ()  # (letter, minimum fit), best first
    engagement_bands: tuple[tuple[str, float], ...] = ()  # (label, minimum engagement), hottest first
    mql_min_score: float | None = None
    mql_min_grade: str | None = None
    lists: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @cached_property
    def config_hash(self) -> str:
        # Computed once per model (it is frozen): a run asked for it about twenty times, 0.2 s of CPU.
        return hashlib.sha256(json.dumps(self.definition(), sort_keys=True).encode()).hexdigest()[:16]

    def definition(self) -> dict[str, Any]:
        """A JSON-able description: stored in scoring.models, hashed into `config_hash`."""
        data = asdict(self)
        # Plain rules keep the definition (and so the hash) they had before compound rules existed.
        for profile in data["profiles"]:
            for rule in profile["fit_rules"]:
                if not rule["also"]:
                    del rule["also"]
        data["lists"] = {name: sorted(values) for name, values in sorted(self.lists.items())}
        return data

    def profile(self, profile_id: str) -> Profile:
        return next(p for p in self.profiles if p.profile_id == profile_id)

    @property
    def profile_ids(self) -> tuple[str, ...]:
        return tuple(p.profile_id for p in self.profiles)

    def fit_fields(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for profile in self.profiles:
            for rule in profile.fit_rules:
                for test in rule.tests:
                    seen.setdefault(test.field, None)
        return tuple(seen)


# ---------------------------------------------------------------------------------------------
# Compiling
# ---------------------------------------------------------------------------------------------
def _text_tuple(values: Sequence[Any] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(str(v) for v in values)


def _compile_test(test: Any) -> FieldTest:
    operand = test.operand
    if test.operator in ("in", "not_in"):
        operand = tuple(operand)
    elif test.operator in ("between", "range"):
        operand = tuple(None if v is None else float(v) for v in operand)
    return FieldTest(test.field, test.operator, operand)


def _compile_fit(rules: Sequence[Any]) -> tuple[FitRule, ...]:
    compiled = []
    for rule in rules:
        first, *rest = (_compile_test(test) for test in rule.tests)
        compiled.append(
            FitRule(rule.rule_id, first.field, first.operator, first.operand, int(rule.points), tuple(rest))
        )
    return tuple(compiled)


def _compile_engagement(engagement: Any, predicates: list[EventPredicate]) -> Engagement:
    rules = []
    for event_type, rule in engagement.events.items():
        flt = getattr(rule, "filter", None)
        predicate = EventPredicate(
            event_type=event_type,
            content_topics=_text_tuple(getattr(flt, "content_topic", None)),
            campaign_ids=_text_tuple(getattr(flt, "campaign_id", None)),
            page_regex=getattr(flt, "page", None),
        )
        if predicate not in predicates:
            predicates.append(predicate)
        rule_id = getattr(rule, "id", None) or event_type
        rules.append(
            EngagementRule(
                rule_id=rule_id,
                predicate=predicates.index(predicate),
                points=float(rule.points),
                cap=None if rule.cap is None else float(rule.cap),
                max_per_day=rule.max_per_day,
            )
        )
    return Engagement(
        half_life_days=engagement.half_life_days,
        window_days=engagement.window_days,
        rules=tuple(rules),
        floor=engagement.floor,
    )


def compile_model(agreement: Any) -> ScoringModel:
    """The engine's model from a validated agreement (`smarketing.config.Agreement`)."""
    scoring = agreement.scoring
    predicates: list[EventPredicate] = []
    profiles = [
        Profile(
            DEFAULT_PROFILE, _compile_fit(scoring.fit), _compile_engagement(scoring.engagement, predicates)
        )
    ]
    for named in scoring.profiles:
        if named.id == DEFAULT_PROFILE:
            raise ValueError(f"scoring.profiles: the id {DEFAULT_PROFILE!r} is reserved for the base rules")
        fit, engagement = scoring.rules_for(named.id)
        profiles.append(Profile(named.id, _compile_fit(fit), _compile_engagement(engagement, predicates)))
    if len(predicates) > MAX_PREDICATES:
        raise ValueError(f"scoring: at most {MAX_PREDICATES} distinct event filters, got {len(predicates)}")
    used_lists = {
        t.operand for p in profiles for r in p.fit_rules for t in r.tests if t.operator == "in_list"
    }
    lists = {name: frozenset(str(v).strip().casefold() for v in agreement.lists[name]) for name in used_lists}
    bands = getattr(scoring, "engagement_bands", None) or {}
    mql = agreement.vocabulary.mql
    return ScoringModel(
        version=str(scoring.version),
        profiles=tuple(profiles),
        predicates=tuple(predicates),
        grades=tuple(sorted(scoring.grades.items(), key=lambda kv: kv[0])),
        engagement_bands=tuple((str(k), float(v)) for k, v in bands.items()),
        mql_min_score=mql.min_score,
        mql_min_grade=mql.min_grade,
        lists=lists,
    )


def load_model(path: Any | None = None) -> ScoringModel:
    """Load and compile the agreement (default: `config/smarketing.yaml`)."""
    from smarketing.config import load_config

    return compile_model(load_config(path))


_RULE_ID = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _RULE_ID.sub("_", text.lower()).strip("_")
