"""Source mappings: how the columns of a file export become canonical records (docs/sources.md).

A mapping is a small YAML file, validated here with pydantic. Every problem is reported with its key
path (`files[2].columns.evnt_type: not a canonical field of marketing_events`) so a bad edit is fixed
in one round, before any file is read.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smarketing.errors import ConfigurationError

FieldType = Literal["text", "timestamp", "integer", "number", "boolean"]

# The canonical record contract (docs/sources.md). The core build in sql/core/ reads these names.
CANONICAL_FIELDS: dict[str, dict[str, FieldType]] = {
    "leads": {
        "email": "text",
        "job_title": "text",
        "country": "text",
        "company_source_id": "text",
        "lifecycle_stage": "text",
        "owner_source_id": "text",
        "owner_assigned_at": "timestamp",
        "created_at": "timestamp",
        "updated_at": "timestamp",
        "consent_email": "boolean",
        "unsubscribed_at": "timestamp",
        # ids of the records merged into this one, separated by ";" (HubSpot's hs_merged_object_ids)
        "merged_source_ids": "text",
    },
    "companies": {
        "name": "text",
        "domain": "text",
        "industry": "text",
        "employees": "integer",
        "annual_revenue": "number",
        "country": "text",
        "updated_at": "timestamp",
    },
    "owners": {
        "name": "text",
        "team": "text",
        "manager_source_id": "text",
        "timezone": "text",
        "active": "boolean",
        "updated_at": "timestamp",
    },
    "marketing_events": {
        "lead_source_id": "text",
        "event_type": "text",
        "occurred_at": "timestamp",
        "campaign_id": "text",
        "content_topic": "text",
    },
    "sales_activities": {
        "lead_source_id": "text",
        "owner_source_id": "text",
        "activity_type": "text",
        "occurred_at": "timestamp",
    },
    "deals": {
        "lead_source_id": "text",
        "company_source_id": "text",
        "amount": "number",
        "stage": "text",
        "created_at": "timestamp",
        "closed_at": "timestamp",
        "is_won": "boolean",
    },
    "lifecycle_history": {
        "lead_source_id": "text",
        "stage": "text",
        "entered_at": "timestamp",
    },
}

# Fields without which a record means nothing in core; a mapping must provide them (column, rule or constant).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "marketing_events": ("lead_source_id", "event_type", "occurred_at"),
    "sales_activities": ("lead_source_id", "activity_type", "occurred_at"),
    "lifecycle_history": ("lead_source_id", "stage", "entered_at"),
}

# lifecycle_history records have no id of their own in most exports: one entry per lead and stage.
DEFAULT_ID_TEMPLATES: dict[str, str] = {"lifecycle_history": "{lead_source_id}|{stage}"}

DEFAULT_TRUE = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE = ("false", "f", "no", "n", "0")

ObjectName = Literal[
    "leads", "companies", "owners", "marketing_events", "sales_activities", "deals", "lifecycle_history"
]


class MappingError(ConfigurationError):
    """A mapping file is invalid; `problems` lists every problem with its key path."""

    exit_code = 2

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the source mapping:\n{listed}")


def _scalar_text(value: Any) -> str:
    """YAML turns `true`, `1`, `2026-01-01` into typed values; the mapping compares source text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Booleans(_Strict):
    """Spellings of true and false in the source (compared case-insensitively, after trimming)."""

    true: tuple[str, ...] = DEFAULT_TRUE
    false: tuple[str, ...] = DEFAULT_FALSE

    @model_validator(mode="before")
    @classmethod
    def _yaml_bool_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {(_scalar_text(k) if isinstance(k, bool) else k): v for k, v in data.items()}
            for key in ("true", "false"):
                if isinstance(data.get(key), list):
                    data[key] = [_scalar_text(v) for v in data[key]]
        return data

    @model_validator(mode="after")
    def _disjoint(self) -> Booleans:
        both = {s.strip().lower() for s in self.true} & {s.strip().lower() for s in self.false}
        if both:
            raise ValueError(f"spelled both true and false: {sorted(both)}")
        return self

    def table(self) -> dict[str, bool]:
        spelled = {s.strip().lower(): True for s in self.true} | {
            s.strip().lower(): False for s in self.false
        }
        # The canonical spellings always parse: value maps and constants produce them.
        return spelled | {"true": True, "false": False}


class Condition(_Strict):
    """One test on a source column; exactly one operator."""

    column: str
    equals: str | None = None
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    contains: str | None = None
    empty: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _texts(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "equals" in data and data["equals"] is not None:
                data["equals"] = _scalar_text(data["equals"])
            if isinstance(data.get("in"), list):
                data["in"] = [_scalar_text(v) for v in data["in"]]
        return data

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        given = [k for k in ("equals", "in_", "contains", "empty") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, in, contains, empty")
        return self


class Rule(_Strict):
    """Set canonical fields on the rows where every condition holds (later rules win)."""

    when: tuple[Condition, ...]
    set: dict[str, str]

    @field_validator("when", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("set", mode="before")
    @classmethod
    def _set_texts(cls, value: Any) -> Any:
        return {k: _scalar_text(v) for k, v in value.items()} if isinstance(value, dict) else value


class FileSpec(_Strict):
    """One file (or glob of files) of the export and the canonical object its rows become."""

    object: ObjectName
    path: str
    format: Literal["csv", "parquet"] | None = None
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    id: str | tuple[str, ...] | None = None
    updated_at: str | None = None
    timezone: str | None = None
    columns: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    constants: dict[str, str] = Field(default_factory=dict)
    booleans: Booleans | None = None
    required: tuple[str, ...] | None = None
    attributes: tuple[str, ...] | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _value_texts(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            field: (
                {_scalar_text(k): _scalar_text(v) for k, v in table.items()}
                if isinstance(table, dict)
                else table
            )
            for field, table in value.items()
        }

    @field_validator("constants", mode="before")
    @classmethod
    def _constant_texts(cls, value: Any) -> Any:
        return {k: _scalar_text(v) for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        return _check_timezone(value) if value is not None else None

    @model_validator(mode="after")
    def _canonical_names(self) -> FileSpec:
        fields = CANONICAL_FIELDS[self.object]
        problems: list[str] = []
        known = ", ".join(fields)
        for section, names in (
            ("columns", self.columns),
            ("values", self.values),
            ("constants", self.constants),
        ):
            problems += [
                f"{section}.{name}: not a canonical field of {self.object} (fields: {known})"
                for name in names
                if name not in fields
            ]
        for i, rule in enumerate(self.rules):
            problems += [
                f"rules[{i}].set.{name}: not a canonical field of {self.object} (fields: {known})"
                for name in rule.set
                if name not in fields
            ]
        ruled = {n for r in self.rules for n in r.set}
        problems += [
            f"constants.{name}: a constant holds for every row; remove it from {where}"
            for name in self.constants
            for where, names in (("columns", self.columns), ("rules", ruled))
            if name in names
        ]
        provided = set(self.columns) | set(self.constants) | ruled
        problems += [
            f"columns.{name}: {self.object} needs {name} (map a column, or give it under constants)"
            for name in REQUIRED_FIELDS.get(self.object, ())
            if name not in provided
        ]
        if self.id is None and self.object not in DEFAULT_ID_TEMPLATES:
            problems.append(f"id: {self.object} needs the column(s) that identify a record")
        if (template := self.id_template) is not None:
            problems += [f"id: {p}" for p in _template_problems(template)]
        problems += self._typed_value_problems()
        if self.format is None and self.inferred_format is None:
            problems.append(f"format: cannot tell from '{self.path}'; give csv or parquet")
        if problems:
            raise ValueError(" || ".join(problems))
        return self

    def _typed_value_problems(self) -> list[str]:
        """Values the mapping itself supplies must already have their field's type."""
        fields = CANONICAL_FIELDS[self.object]
        supplied = [(f"constants.{k}", k, v) for k, v in self.constants.items()]
        supplied += [(f"values.{k}", k, v) for k, table in self.values.items() for v in table.values()]
        supplied += [
            (f"rules[{i}].set.{k}", k, v) for i, r in enumerate(self.rules) for k, v in r.set.items()
        ]
        return [
            f"{where}: '{value}' is not a {fields[name]}{_TYPE_HINTS[fields[name]]}"
            for where, name, value in supplied
            if name in fields and not _is_typed(fields[name], value)
        ]

    # -- derived ------------------------------------------------------------------------------
    @property
    def id_template(self) -> str | None:
        """The id as a template (`{lead_source_id}|{stage}`), when it is one rather than column names."""
        if self.id is None:
            return DEFAULT_ID_TEMPLATES.get(self.object)
        if isinstance(self.id, str) and "{" in self.id:
            return self.id
        return None

    @property
    def id_columns(self) -> tuple[str, ...]:
        if self.id is None or self.id_template is not None:
            return ()
        return (self.id,) if isinstance(self.id, str) else self.id

    @property
    def inferred_format(self) -> Literal["csv", "parquet"] | None:
        suffix = self.path.lower().rsplit(".", 1)[-1]
        return {"csv": "csv", "tsv": "csv", "txt": "csv", "parquet": "parquet", "pq": "parquet"}.get(suffix)  # type: ignore[return-value]

    @property
    def file_format(self) -> Literal["csv", "parquet"]:
        return self.format or self.inferred_format or "csv"

    def source_columns(self, field: str) -> tuple[str, ...]:
        mapped = self.columns.get(field, ())
        return (mapped,) if isinstance(mapped, str) else mapped

    def required_columns(self) -> tuple[str, ...]:
        """Source columns a file must have: explicit `required`, else id and required canonical fields."""
        if self.required is not None:
            return self.required
        needed: list[str] = list(self.id_columns)
        for name in REQUIRED_FIELDS.get(self.object, ()):
            needed += self.source_columns(name)
        return tuple(dict.fromkeys(needed))

    def consumed_columns(self) -> set[str]:
        """Source columns that became canonical fields, the id or the version time (not attributes)."""
        used = {c for name in self.columns for c in self.source_columns(name)} | set(self.id_columns)
        if self.updated_at:
            used.add(self.updated_at)
        return used


class SourceMapping(_Strict):
    """A file-export source: one source system, its files, and how they map to canonical objects."""

    source_system: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    root: str | None = None
    timezone: str = "UTC"
    booleans: Booleans = Booleans()
    files: tuple[FileSpec, ...]

    @field_validator("files", mode="before")
    @classmethod
    def _some_files(cls, value: Any) -> Any:
        # Checked on the input: a length rule on the result would also fire when one file is invalid.
        if isinstance(value, list | tuple) and not value:
            raise ValueError("list at least one file")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    def resolve_root(self, mapping_path: Path, override: Path | None = None) -> Path:
        """The directory file paths are relative to: `override`, else `root` next to the mapping file."""
        if override is not None:
            return Path(override)
        base = mapping_path.resolve().parent
        return (base / self.root).resolve() if self.root else base

    def booleans_for(self, spec: FileSpec) -> dict[str, bool]:
        return (spec.booleans or self.booleans).table()


_TYPE_HINTS: dict[str, str] = {
    "text": "",
    "timestamp": " (ISO 8601, e.g. 2026-11-03T14:05:00Z)",
    "integer": "",
    "number": "",
    "boolean": " (true or false)",
}


def _is_typed(kind: FieldType, value: str) -> bool:
    if kind == "boolean":
        return value in {"true", "false"}
    if kind in {"integer", "number"}:
        try:
            number = float(value)
        except ValueError:
            return False
        return kind == "number" or number.is_integer()
    if kind == "timestamp":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
    return True


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{value}'") from exc
    return value


def _template_problems(template: str) -> list[str]:
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return [f"bad template '{template}': {exc}"]
    if not any(name for _, name, _, _ in parts):
        return [f"template '{template}' names no field"]
    return [
        f"template field '{{{name}}}' must be a plain name"
        for _, name, spec, conv in parts
        if name and (spec or conv)
    ]


def template_parts(template: str) -> list[tuple[str, str | None]]:
    """`"{a}|{b}"` → [("", "a"), ("|", "b")]: literal text, then the field that follows it."""
    return [(literal, name) for literal, name, _, _ in string.Formatter().parse(template)]


# -- loading and error formatting ---------------------------------------------------------------
def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _format_errors(exc: ValidationError) -> list[str]:
    problems: list[str] = []
    for err in exc.errors():
        # Union types add the member type name to the location; it means nothing to the reader.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {"str", "tuple"})))
        where = _loc(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            problems.append(f"{where}: unknown key")
        elif kind == "literal_error" and loc and loc[-1] == "object":
            problems.append(
                f"{where}: unknown object {err['input']!r} (objects: {', '.join(CANONICAL_FIELDS)})"
            )
        elif kind == "value_error":
            message = str(err["msg"]).removeprefix("Value error, ")
            for piece in message.split(" || "):
                sub, sep, rest = piece.partition(": ")
                if sep and re.fullmatch(r"[\w\[\].|{}-]+", sub):
                    problems.append(f"{where}.{sub}: {rest}" if where else f"{sub}: {rest}")
                else:
                    problems.append(f"{where}: {piece}" if where else piece)
        elif kind == "missing":
            problems.append(f"{where}: required key is missing")
        else:
            problems.append(f"{where}: {err['msg']}")
    return list(dict.fromkeys(problems))


def parse_mapping(data: Any, *, origin: Path | str = "<mapping>") -> SourceMapping:
    """Validate a mapping already read from YAML; raise MappingError listing every problem."""
    if not isinstance(data, dict):
        raise MappingError(origin, ["the file must hold a mapping (source_system, files, ...)"])
    try:
        return SourceMapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(origin, _format_errors(exc)) from None


def load_mapping(path: Path | str) -> SourceMapping:
    """Read and validate a mapping YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(path, ["file not found"]) from None
    except yaml.YAMLError as exc:
        raise MappingError(path, [f"not valid YAML: {exc}"]) from None
    return parse_mapping(data, origin=path)
