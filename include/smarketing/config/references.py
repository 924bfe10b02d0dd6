"""Cross-section references (a persona, list, grade or stage named in one section and defined in another)
and unique ids, checked on the raw document so they are found even when another part is broken."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from smarketing.config.problems import Loc, closest, format_key_path
from smarketing.vocabulary import EVENT_TYPES, LIFECYCLE_STAGES


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


def reference_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    names = _defined_names(data)
    problems: list[tuple[Loc, str]] = []
    problems += _grade_references(data, names.grades)
    problems += _persona_references(data, names.personas)
    problems += _list_references(data, names.lists)
    problems += _stage_references(data, names.stages)
    problems += _scenario_references(data)
    problems += _duplicate_ids(data)
    return problems


def _check_name(
    loc: Loc, value: object, known: set[str] | None, what: str, where: str
) -> Iterator[tuple[Loc, str]]:
    if known is not None and isinstance(value, str) and value not in known:
        yield loc, f"unknown {what} {value!r}{closest(value, known)}; define it in {where}"


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
    """Every field test of the fit rules: a plain rule, or each test of a compound rule's `all`."""
    rules = [(("scoring", "fit", i), rule) for i, rule in _entries(_at(data, "scoring", "fit"))]
    for p, profile in _entries(_at(data, "scoring", "profiles")):
        rules += [(("scoring", "profiles", p, "fit", i), rule) for i, rule in _entries(_at(profile, "fit"))]
    for loc, rule in rules:
        tests = _at(rule, "all")
        if isinstance(tests, list):
            yield from (((*loc, "all", j), test) for j, test in _entries(tests))
        else:
            yield loc, rule


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
            hint = closest(stage, stages)
            yield loc, f"unknown lifecycle stage {stage!r}{hint}; add it to vocabulary.lifecycle_stages"


def _scenario_references(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Nurturing interests name an event type or a topic of nurturing.topics; no two scenarios share a
    target (one scenario's exit would remove the other's leads from it)."""
    topics = _at(data, "nurturing", "topics")
    known = set(EVENT_TYPES) | (
        {t for t in topics if isinstance(t, str)} if isinstance(topics, list) else set()
    )
    targets: dict[tuple[str, ...], int] = {}
    for i, scenario in _entries(_at(data, "nurturing", "scenarios")):
        loc: Loc = ("nurturing", "scenarios", i)
        for j, interest in _entries(_at(scenario, "when", "interests_any")):
            if isinstance(interest, str) and interest not in known:
                yield (
                    (*loc, "when", "interests_any", j),
                    f"unknown interest {interest!r}{closest(interest, known)}: neither an event type "
                    "(core.event_types) nor a topic of nurturing.topics",
                )
        target = _at(scenario, "target")
        if isinstance(target, Mapping):
            key = tuple(f"{k}={target[k]}" for k in ("system", "segment", "campaign", "list") if k in target)
            if key in targets:
                yield (
                    (*loc, "target"),
                    f"the same target as nurturing.scenarios[{targets[key]}]: give each scenario its own "
                    "segment, campaign or list",
                )
            targets.setdefault(key, i)


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
