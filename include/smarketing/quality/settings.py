"""Severities and thresholds of the data-quality checks (`config/quality.yaml`), validated with pydantic.

The agreement (`config/smarketing.yaml`) says which values are allowed (lifecycle stages, personas);
this file says how strict validation is: which checks stop the line, how many quarantined records a
batch may have, what counts as "late" or "too small". Every problem is reported with its key path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from smarketing.config.problems import format_key_path
from smarketing.config.values import Regex, parse_duration
from smarketing.errors import ConfigurationError
from smarketing.paths import CONFIG_DIR, PROJECT_ROOT

CONFIG_ENV = "SMARKETING_QUALITY_CONFIG"
DATA_DOCS_ENV = "SMARKETING_DATA_DOCS_DIR"

Severity = Literal["critical", "warning"]


class QualityConfigError(ConfigurationError):
    """config/quality.yaml is invalid; `problems` lists every problem with its key path."""

    exit_code = 2

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the quality settings:\n{listed}")


def _minutes(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("write a duration with its unit, e.g. '10m', '2h' or '1d'")
    return value


Minutes = Annotated[int, BeforeValidator(_minutes), Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gate(_Strict):
    # A batch with more quarantined records than this share is rejected whole.
    max_quarantine_share: Share = 0.05


class Timestamps(_Strict):
    # Clocks of sources and warehouse drift; a timestamp this far ahead of the check is not "future".
    future_tolerance: Minutes = 10


class Volume(_Strict):
    severity: Severity = "warning"
    history_batches: Annotated[int, Field(ge=1)] = 10
    min_history: Annotated[int, Field(ge=1)] = 3
    # "80% smaller than usual": fewer rows than 20% of the median of the recent batches.
    min_share_of_usual: Share = 0.2


class Freshness(_Strict):
    severity: Severity = "warning"
    max_age: Minutes = 26 * 60
    # Per "<source_system>" or "<source_system>.<object>" (the more precise key wins).
    sources: dict[str, Minutes] = Field(default_factory=dict)
    # Sources and objects with no batch in this many days are no longer watched.
    lookback_days: Annotated[int, Field(ge=1)] = 30

    def max_age_for(self, source_system: str, object: str) -> int:
        return self.sources.get(f"{source_system}.{object}", self.sources.get(source_system, self.max_age))


class DataDocs(_Strict):
    enabled: bool = True
    dir: str = ".local/data_docs"
    project_dir: str = ".local/gx"
    keep_days: Annotated[int, Field(ge=1)] = 14
    index_limit: Annotated[int, Field(ge=1)] = 100

    def site_dir(self) -> Path:
        return _project_path(os.environ.get(DATA_DOCS_ENV) or self.dir)

    def store_dir(self) -> Path:
        return _project_path(self.project_dir)


class ExtraCheck(_Strict):
    """A check of one source system: a canonical field or `attributes.<name>` against a rule."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    field: Annotated[str, Field(pattern=r"^(attributes\.)?[A-Za-z_][A-Za-z0-9_ -]*$")]
    severity: Severity = "warning"
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    regex: Regex | None = None  # the agreement's dialect: GX runs it in PostgreSQL (docs/agreement.md)
    not_null: bool | None = None
    min: float | None = None
    max: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_rule(self) -> ExtraCheck:
        rules = [name for name in ("in_", "regex", "not_null") if getattr(self, name) not in (None, False)]
        if self.min is not None or self.max is not None:
            rules.append("min/max")
        if len(rules) != 1:
            raise ValueError("give exactly one rule: in, regex, not_null: true, or min and/or max")
        return self


ObjectName = Literal[
    "leads", "companies", "owners", "marketing_events", "sales_activities", "deals", "lifecycle_history"
]


class QualitySettings(_Strict):
    gate: Gate = Gate()
    timestamps: Timestamps = Timestamps()
    volume: Volume = Volume()
    freshness: Freshness = Freshness()
    data_docs: DataDocs = DataDocs()
    # Severity overrides by "<suite>.<check id>", e.g. raw.deals.company_resolves: critical.
    severities: dict[str, Severity] = Field(default_factory=dict)
    # Extra checks of one source system: sources.<source_system>.<object>: [ExtraCheck, ...].
    sources: dict[str, dict[ObjectName, tuple[ExtraCheck, ...]]] = Field(default_factory=dict)

    def severity(self, suite: str, check_id: str, default: Severity) -> Severity:
        return self.severities.get(f"{suite}.{check_id}", default)

    def extra_checks(self, source_system: str, object: str) -> tuple[ExtraCheck, ...]:
        return self.sources.get(source_system, {}).get(object, ())  # type: ignore[call-overload]


def _project_path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_settings(data: object, *, origin: Path | str = "(settings)") -> QualitySettings:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise QualityConfigError(origin, ["(file): expected a mapping of settings"])
    try:
        return QualitySettings.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{format_key_path(tuple(p for p in err['loc'] if p != 'in_'))}: {err['msg']}"
            for err in exc.errors()
        ]
        raise QualityConfigError(origin, problems) from None


def default_path() -> Path:
    """config/quality.yaml, or the file SMARKETING_QUALITY_CONFIG names (read at each call)."""
    return Path(os.environ.get(CONFIG_ENV) or CONFIG_DIR / "quality.yaml")


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QualityConfigError(path, ["(file): not found"]) from None
    except yaml.YAMLError as exc:
        raise QualityConfigError(path, [f"(file): not valid YAML: {exc}"]) from None


def load_settings(path: Path | str | None = None, *overlays: Path | str | dict[str, Any]) -> QualitySettings:
    """The quality settings (default: config/quality.yaml; built-in defaults when that file is absent),
    with `overlays` (YAML files or documents, e.g. a source's extra checks) laid over them key by key."""
    target = Path(path) if path is not None else default_path()
    data: Any = {} if path is None and not target.exists() else _read(target)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise QualityConfigError(target, ["(file): expected a mapping of settings"])
    origin: Path | str = target
    for overlay in overlays:
        layer = overlay if isinstance(overlay, dict) else _read(Path(overlay))
        if not isinstance(layer, dict):
            raise QualityConfigError(str(overlay), ["(file): expected a mapping of settings"])
        data = _deep_merge(data, layer)
        origin = f"{target} + {overlay if not isinstance(overlay, dict) else '(overlay)'}"
    return parse_settings(data, origin=origin)
