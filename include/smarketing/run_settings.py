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
from typing import Any


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
    if isinstance(found, str):
        try:
            return json.loads(found)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{variable} / {env} is not valid JSON: {exc.msg} at position {exc.pos}"
            ) from None
    return found


FILE_SOURCES_VARIABLE = "smarketing_file_sources"
FILE_SOURCES_ENV = "SMARKETING_FILE_SOURCES"


def configured_file_sources(override: list[dict] | None) -> list[dict]:
    """File-export sources to land, by `run_setting`: the run's param, the Airflow Variable
    `smarketing_file_sources`, the `SMARKETING_FILE_SOURCES` environment variable.

    Each entry is `{"mapping": "<path to mapping YAML>", "root": "<directory>" | null}`; relative
    mapping paths are relative to the project root.
    """
    return json_run_setting(override, FILE_SOURCES_VARIABLE, FILE_SOURCES_ENV) or []


API_SOURCES_VARIABLE = "smarketing_api_sources"
API_SOURCES_ENV = "SMARKETING_API_SOURCES"


def configured_api_sources(override: list[dict] | None) -> list[dict]:
    """API sources to pull, by `run_setting`: the run's param, the Airflow Variable
    `smarketing_api_sources`, the `SMARKETING_API_SOURCES` environment variable.

    A JSON list like `[{"system": "hubspot", "objects": ["contacts", "deals"]}, {"system": "mautic"}]`;
    an entry may also set `conn_id`, `source_system`, `rate_limits`, `lag_seconds`, `overlap_seconds`,
    `page_limit` and per-system options (see docs/extract.md).
    """
    return json_run_setting(override, API_SOURCES_VARIABLE, API_SOURCES_ENV) or []
