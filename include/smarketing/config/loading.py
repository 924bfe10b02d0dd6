"""Reading `config/smarketing.yaml`: YAML with the line of every key, then validation into an `Agreement`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from smarketing import paths
from smarketing.config.agreement import Agreement
from smarketing.config.problems import (
    FILE_PATH,
    ConfigError,
    Loc,
    clean_loc,
    describe,
    format_key_path,
    keys_of,
    shown,
)


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
        sections = ", ".join(keys_of(Agreement))
        return (
            None,
            lines,
            _file_problem(f"expected a mapping of sections ({sections}), got {shown(data)}", 1),
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
                loc = clean_loc(error["loc"])
                problems.append(_Located(loc, describe(error, Agreement), _line_of(loc, lines)))
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
