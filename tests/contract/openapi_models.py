"""Holding JSON bodies against the models of an OpenAPI-generated client (HubSpot's official SDK).

The SDK's own deserializer (`ApiClient.deserialize`) turns a body into model objects and, with the
client-side validation HubSpot ships switched off turned on, refuses a missing required field or a
value outside an enum; but it silently drops keys it does not know and
coerces scalars (`str(5)`). `conform` adds what a contract needs on top: every key of the body must
be a field of the model, and every value must have the model's JSON type. A body passes only when
both agree.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

OneOf = Mapping[str, Callable[[dict[str, Any]], str]]

_LIST = re.compile(r"^list\[(.*)\]$")
_DICT = re.compile(r"^dict\[([^,]*), (.*)\]$")
_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}


@dataclass(frozen=True)
class _Response:
    """What `ApiClient.deserialize` reads from a urllib3 response: the body bytes."""

    data: str


def conform(
    data: Any, type_name: str, models: ModuleType, path: str = "$", one_of: OneOf | None = None
) -> list[str]:
    """Every way `data` (decoded JSON) differs from the SDK type `type_name`: unknown keys, wrong JSON
    types, timestamps that are not ISO 8601, and what the model's own setters refuse (a required field
    missing, a value outside an enum). `one_of` picks the concrete model where the generated SDK merged
    a `oneOf` into one class (`{merged class: chooser(data) -> concrete class name}`)."""
    if data is None:
        return []
    if m := _LIST.match(type_name):
        if not isinstance(data, list):
            return [f"{path}: expected a list, got {type(data).__name__}"]
        return [
            p
            for i, item in enumerate(data)
            for p in conform(item, m.group(1), models, f"{path}[{i}]", one_of)
        ]
    if m := _DICT.match(type_name):
        if not isinstance(data, dict):
            return [f"{path}: expected an object, got {type(data).__name__}"]
        return [p for k, v in data.items() for p in conform(v, m.group(2), models, f"{path}.{k}", one_of)]
    if type_name in _SCALARS:
        wanted = _SCALARS[type_name]
        if (isinstance(data, bool) and bool not in wanted) or not isinstance(data, wanted):
            return [f"{path}: expected {type_name}, got {type(data).__name__} {data!r}"]
        return []
    if type_name in {"datetime", "date"}:
        return _timestamp(data, path)
    if type_name == "object":
        return []
    if one_of and type_name in one_of and isinstance(data, dict):
        type_name = one_of[type_name](data)
    return _model(data, getattr(models, type_name), models, path, one_of)


def _timestamp(data: Any, path: str) -> list[str]:
    if not isinstance(data, str):
        return [f"{path}: expected an ISO 8601 string, got {type(data).__name__} {data!r}"]
    try:
        datetime.fromisoformat(data.replace("Z", "+00:00"))
    except ValueError:
        return [f"{path}: not an ISO 8601 timestamp: {data!r}"]
    return []


def _model(data: Any, klass: type, models: ModuleType, path: str, one_of: OneOf | None) -> list[str]:
    if not isinstance(data, dict):
        return [f"{path}: expected a {klass.__name__} object, got {type(data).__name__}"]
    by_key = {key: attr for attr, key in klass.attribute_map.items()}
    problems = [f"{path}.{key}: not a field of {klass.__name__}" for key in data if key not in by_key]
    for attr, key in klass.attribute_map.items():
        problems += _setter_refusal(klass, attr, data.get(key), f"{path}.{key}", models)
        if data.get(key) is not None:
            problems += conform(data[key], klass.openapi_types[attr], models, f"{path}.{key}", one_of)
    return problems


def _setter_refusal(klass: type, attr: str, value: Any, path: str, models: ModuleType) -> list[str]:
    """What the model's generated setter says of `value` with validation on (required, enums)."""
    instance = klass.__new__(klass)
    instance.local_vars_configuration = _validating_configuration(klass.__module__.rsplit(".models.", 1)[0])
    try:
        setattr(instance, attr, value)
    except ValueError as exc:
        return [f"{path}: {str(exc).splitlines()[0]}"]
    return []


@functools.cache
def _validating_configuration(package: str) -> Any:
    """The SDK package's Configuration with client-side validation on (HubSpot ships it off)."""
    configuration = importlib.import_module(package).Configuration()
    configuration.client_side_validation = True
    return configuration


def deserialize(data: Any, type_name: str, api: ModuleType, *, one_of: OneOf | None = None) -> Any:
    """Check `data` against the SDK type (`conform`), then turn it into the SDK's model objects with the
    SDK's own ApiClient deserializer (skipped with `one_of`: the merged classes cannot hold the concrete
    variants); raises AssertionError naming every problem."""
    problems = conform(data, type_name, api.models, one_of=one_of)
    result = None
    if one_of is None:
        try:
            result = api.ApiClient(_validating_configuration(api.__name__)).deserialize(
                _Response(json.dumps(data)), type_name
            )
        except (ValueError, TypeError) as exc:
            problems.append(f"$: the SDK refuses it as {type_name}: {exc}")
    assert not problems, f"{type_name}:\n  " + "\n  ".join(problems[:20])
    return result
