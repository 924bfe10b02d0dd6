"""Key paths and readable messages: how every problem of the agreement is named and worded.

A key path is dotted for mapping keys and uses ``[i]`` for list positions (0-based), e.g.
``personas[2].match.job_title_regex``; a mapping key that is not a plain word is quoted:
``lists["free mail"]``. Problems with the file itself are reported under ``(file)``.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from smarketing.errors import ConfigurationError

Loc = tuple[str | int, ...]
FILE_PATH = "(file)"


class ConfigError(ConfigurationError):
    """The agreement file cannot be used; `problems` lists every reason, one key path each.

    The CLI exits 2 on it, like `smarketing config check` when it finds problems.
    """

    exit_code = 2

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        super().__init__(self.path, self.problems)

    def __str__(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s) in the agreement:"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)

    def one_line(self) -> str:
        return f"{self.path}: {len(self.problems)} problem(s) in the agreement: {'; '.join(self.problems)}"


def closest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean ...?)' when a choice is close to `word`, else ''."""
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def located(title: str, problems: Sequence[tuple[Loc, str]]) -> ValidationError:
    """A ValidationError whose problems sit at `loc` below the model raising it."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("agreement", "{message}", {"message": message}), loc=loc, input=None
        )
        for loc, message in problems
    ]
    return ValidationError.from_exception_data(title, details)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def clean_loc(loc: Sequence[str | int]) -> Loc:
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


def shown(value: object) -> str:
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


def describe(error: ErrorDetails, root: type[BaseModel]) -> str:
    """A message for a team member, not a Python developer."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx") or {}
    if kind == "agreement":
        return str(ctx.get("message", error["msg"]))
    if kind in {"value_error", "assertion_error"} and "error" in ctx:
        return str(ctx["error"])
    if kind == "extra_forbidden":
        return _unknown_key(root, clean_loc(error["loc"]))
    if kind == "missing":
        return "required key is missing"
    if kind == "string_type":
        return f"expected text, got {shown(value)}{_yaml_hint(value)}"
    if kind in _TYPE_MESSAGES:
        return f"{_TYPE_MESSAGES[kind]}, got {shown(value)}"
    if kind in _BOUND_MESSAGES:
        key, template = _BOUND_MESSAGES[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{template.format(bound)}, got {shown(value)}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {shown(value)}"
    if kind in {"too_short", "string_too_short"} and ctx.get("min_length") == 1:
        return "must not be empty"
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _unknown_key(root: type[BaseModel], loc: Loc) -> str:
    key = str(loc[-1]) if loc else ""
    model = _model_at(root, loc[:-1])
    if model is None:
        return "unknown key"
    hints: dict[str, str] = getattr(model, "key_hints", {})
    if key in hints and key not in keys_of(model):
        return f"unknown key: {hints[key]}"
    allowed = keys_of(model)
    hint = closest(key, allowed)
    return f"unknown key{hint}; allowed here: {', '.join(allowed)}"


def keys_of(model: type[BaseModel]) -> list[str]:
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
