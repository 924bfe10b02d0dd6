"""Settings a run may override, and the ONE order they are looked up in (param, else Airflow Variable,
else environment, else default): `run_setting`. Every capability and DAG that lets a run override a
setting asks here, so the precedence is the same everywhere.

It sits at the bottom of the package (it imports no other smarketing module): capabilities (`sla`,
`sources`) use it without depending on the DAG-side helpers in `airflow_support`, which re-exports it
for the DAG files. Airflow's `Variable` is imported only when a lookup reaches it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from smarketing.errors import ConfigurationError


class RunSettingError(ConfigurationError, ValueError):
    """A run setting (param, Airflow Variable or environment variable) has a value that cannot be used;
    the message names the setting, where in the value, and what was expected."""


def run_setting(param: Any, variable: str, env: str, default: str | None = None) -> Any:
    """A setting a run may override, looked up in the project's ONE order:

    1. `param`, the run's DAG param, when given (not None: an empty list given for a run means "none");
    2. the Airflow Variable `variable` (Airflow's variable store: `AIRFLOW_VAR_<NAME>`, secrets backends,
       the metadata database inside tasks; outside Airflow only what those answer);
    3. the environment variable `env`;
    4. `default`.

    Returns `param` as given, else the text found (the caller parses it), else `default`. A failing
    variable store raises: a setting is never silently taken from a lower level because of an error.
    """
    if param is not None:
        return param
    from airflow.sdk import Variable

    found = Variable.get(variable, default=None)
    if found is not None and found != "":
        return found
    return os.environ.get(env) or default


def json_run_setting(param: Any, variable: str, env: str) -> Any:
    """`run_setting` for a JSON value: the param as given, else the text found parsed, else None."""
    found = run_setting(param, variable, env)
    return _loads(found, f"{variable} / {env}") if isinstance(found, str) else found


def _loads(text: str, where: str) -> Any:
    """`text` parsed as JSON; RunSettingError naming `where` when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunSettingError(f"{where} is not valid JSON: {exc.msg} at position {exc.pos}") from None


def object_list_setting(
    param_name: str, param: Any, variable: str, env: str, item_schema: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`run_setting` for a list of objects, validated: the value (param, else Variable, else environment,
    else empty) must be a JSON array of objects matching `item_schema` (a JSON Schema); an entry given as
    a JSON string is parsed first.

    Returns the list; raises RunSettingError naming the param or Variable/environment variable, the
    entry and what was expected.
    """
    origin = f"param {param_name!r}" if param is not None else f"{variable} / {env}"
    found = json_run_setting(param, variable, env)
    if found is None:
        return []
    if not isinstance(found, list):
        raise RunSettingError(f"{origin}: expected a list of objects, got {type(found).__name__}")
    # An entry given as text (a form's text area, a hand-written Variable) is parsed first.
    entries = [_loads(e, f"{origin}[{i}]") if isinstance(e, str) else e for i, e in enumerate(found)]
    _validate(origin, entries, {"type": "array", "items": dict(item_schema)})
    return entries


def _validate(origin: str, value: Any, schema: Mapping[str, Any]) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(value))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        expected = error.schema.get("description") if error.validator in ("required", "type") else None
        hint = f" (expected {expected})" if expected else ""
        raise RunSettingError(f"{origin}{where}: {error.message}{hint}")


# JSON Schemas of the object-list settings: the DAGs' params declare them (the trigger form then
# offers a JSON editor for a list of objects and Airflow refuses a run whose value does not match),
# and `object_list_setting` checks a Variable or environment variable against the same.
FILE_SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'a file source, {"mapping": "config/sources/<file>.yaml", "root": "<directory of the exports>"}',
    "properties": {
        "mapping": {"type": "string", "description": "the mapping YAML (relative to the project root)"},
        "root": {"type": ["string", "null"], "description": "the directory holding the export files"},
    },
    "required": ["mapping"],
    "additionalProperties": False,
}
API_SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'an API source, {"system": "hubspot", "objects": ["contacts", "deals"]} or {"system": "mautic"}',
    "properties": {
        "system": {"type": "string", "description": "the connector: hubspot or mautic"},
        "objects": {
            "type": "array",
            "items": {"type": "string"},
            "description": "objects to pull (default: every object the connector knows)",
        },
        "conn_id": {"type": "string", "description": "the Airflow connection (default smarketing_<system>)"},
        "source_system": {"type": "string", "description": "the name its records carry in the warehouse"},
        "lag_seconds": {"type": "number", "minimum": 0},
        "overlap_seconds": {"type": "number", "minimum": 0},
        "page_limit": {"type": "integer", "minimum": 1},
        "rate_limits": {"type": "object"},
    },
    # Per-system options (docs/extract.md) are the connector's to check.
    "required": ["system"],
}

WRITEBACK_TARGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'a write-back target, {"system": "hubspot", "api": "hubspot", "dry_run": true}',
    "properties": {
        "system": {"type": "string", "description": "the source system whose record ids receive the values"},
        "api": {"type": "string", "enum": ["hubspot", "mautic"], "description": "hubspot or mautic"},
        "dry_run": {"type": "boolean", "description": "record the batches, send nothing (default true)"},
        "conn_id": {"type": "string"},
        "score_property": {"type": "string"},
        "grade_property": {"type": "string"},
        "mql_tag": {"type": "string"},
        "batch_size": {"type": "integer", "minimum": 1},
    },
    "required": ["system", "api"],
    "additionalProperties": False,
}

FILE_SOURCES_VARIABLE = "smarketing_file_sources"
FILE_SOURCES_ENV = "SMARKETING_FILE_SOURCES"


def configured_file_sources(override: list[dict] | None) -> list[dict]:
    """File-export sources to land, by `run_setting`: the run's param, the Airflow Variable
    `smarketing_file_sources`, the `SMARKETING_FILE_SOURCES` environment variable.

    Each entry is `{"mapping": "<path to mapping YAML>", "root": "<directory>" | null}`; relative
    mapping paths are relative to the project root. The list is the task log's summary line.
    """
    from smarketing.tasklog import count, summary

    sources = object_list_setting(
        "file_sources", override, FILE_SOURCES_VARIABLE, FILE_SOURCES_ENV, FILE_SOURCE_SCHEMA
    )
    names = ", ".join(str(s.get("mapping")) for s in sources)
    summary(f"{count(len(sources), 'file source')} to land{': ' + names if names else ''}")
    return sources


API_SOURCES_VARIABLE = "smarketing_api_sources"
API_SOURCES_ENV = "SMARKETING_API_SOURCES"


def configured_api_sources(override: list[dict] | None) -> list[dict]:
    """API sources to pull, by `run_setting`: the run's param, the Airflow Variable
    `smarketing_api_sources`, the `SMARKETING_API_SOURCES` environment variable.

    A JSON list like `[{"system": "hubspot", "objects": ["contacts", "deals"]}, {"system": "mautic"}]`;
    an entry may also set `conn_id`, `source_system`, `rate_limits`, `lag_seconds`, `overlap_seconds`,
    `page_limit` and per-system options (see docs/extract.md).
    """
    return object_list_setting(
        "api_sources", override, API_SOURCES_VARIABLE, API_SOURCES_ENV, API_SOURCE_SCHEMA
    )
