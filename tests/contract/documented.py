"""Holding JSON replies against the example responses of an API's documentation.

A fixture (`fixtures/<system>/<endpoint>.json`) is the documented example response, as published,
with where it comes from:

    {"source": "<URL or repository path@commit>",
     "response": {...the documented example...},
     "maps": ["$.contacts"],                 # objects keyed by record id (PHP arrays): compare values
     "open": ["$.contacts.*.fields.all"],    # objects keyed by the account's own names: scalar values
     "required": ["$.events[].timestamp"],   # what the connector reads: every reply must hold it
     "sandbox_extensions": {"$.events[].details.topic": "why the sandbox serves a key the docs lack"}}

A reply matches when every key it holds is documented at that place (or is a declared extension, with
its reason), every value has the documented JSON type (`null` on either side matches anything, an
integer matches a documented number), and every required path is present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def differences(data: Any, documented: Any, fixture: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `data` departs from the `documented` example at `path`."""
    if data is None or documented is None:
        return []
    if path in fixture.get("open", ()):
        if not isinstance(data, dict):
            return [f"{path}: expected an object, got {_kind(data)}"]
        return [
            f"{path}.{k}: expected a scalar, got {_kind(v)}"
            for k, v in data.items()
            if isinstance(v, list | dict)
        ]
    if path in fixture.get("maps", ()) and isinstance(documented, dict):
        if data == []:  # PHP encodes an empty mapped collection as a list
            return []
        if not isinstance(data, dict):
            return [f"{path}: expected an object keyed by id, got {_kind(data)}"]
        example = next(iter(documented.values()))
        return [p for key, value in data.items() for p in differences(value, example, fixture, f"{path}.*")]
    if _kind(data) != _kind(documented):
        return [f"{path}: documented as {_kind(documented)}, served as {_kind(data)} {data!r:.60}"]
    if isinstance(data, list):
        if not documented:
            return []
        merged = _merged(documented)
        return [p for item in data for p in differences(item, merged, fixture, f"{path}[]")]
    if isinstance(data, dict):
        extensions = fixture.get("sandbox_extensions", {})
        problems = []
        for key, value in data.items():
            where = f"{path}.{key}"
            if key in documented:
                problems += differences(value, documented[key], fixture, where)
            elif where not in extensions:
                problems.append(f"{where}: not in the documented response")
        return problems
    return []


def _merged(examples: list[Any]) -> Any:
    """The documented items of a list as one example: a list of objects documents the union of their
    keys (the docs show one event of each type)."""
    if not all(isinstance(e, dict) for e in examples):
        return examples[0]
    merged: dict[str, Any] = {}
    for example in examples:
        for key, value in example.items():
            if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
                merged[key] = _merged([merged[key], value])
            elif merged.get(key) is None or merged[key] in ([], {}):
                merged[key] = value
    return merged


def _present(data: Any, parts: list[str]) -> list[str]:
    """The places under `data` where the path `parts` is missing."""
    if not parts:
        return []
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        items = data.get(head[:-2]) if isinstance(data, dict) else None
        if isinstance(items, dict):  # a mapped collection
            items = list(items.values())
        if not isinstance(items, list):
            return [head]
        return [f"{head}.{m}" for item in items for m in _present(item, rest)]
    if not isinstance(data, dict) or head not in data:
        return [head]
    return [f"{head}.{m}" for m in _present(data[head], rest)]


def assert_matches_documented(data: Any, fixture: dict[str, Any]) -> None:
    problems = differences(data, fixture["response"], fixture)
    for required in fixture.get("required", ()):
        missing = _present(data, required.removeprefix("$.").split("."))
        problems += [f"$.{m}: required (the connector reads it) but missing" for m in missing[:3]]
    assert not problems, f"{fixture['source']}:\n  " + "\n  ".join(sorted(set(problems))[:25])
