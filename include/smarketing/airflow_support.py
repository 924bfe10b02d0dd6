"""What every smarketing DAG shares: default arguments, timetables, assets, task-side helpers.

Nothing here touches the database or the network at import time: DAG files import it while the
scheduler parses them.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable

from smarketing.warehouse.connection import warehouse_dsn

OWNER = "smarketing"
TIMEZONE = os.environ.get("SMARKETING_SCHEDULE_TIMEZONE", "UTC")

DEFAULT_ARGS = {
    "owner": OWNER,
    # Production default 3; the demo sets SMARKETING_TASK_RETRIES=0 so a failure shows at once
    # instead of after minutes of exponential back-off.
    "retries": int(os.environ.get("SMARKETING_TASK_RETRIES", "3")),
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}


def hourly() -> CronDataIntervalTimetable:
    """Runs at the top of every hour and covers the hour before it (a real data interval)."""
    return CronDataIntervalTimetable("0 * * * *", timezone=TIMEZONE)


def nightly(hour: int = 2) -> CronDataIntervalTimetable:
    return CronDataIntervalTimetable(f"0 {hour} * * *", timezone=TIMEZONE)


# Assets are identified by name AND uri: a uri that followed the live DSN would make the same asset a
# different one in every environment (and Airflow marks the clash inactive), so the authority is a
# fixed label. Set SMARKETING_ASSET_AUTHORITY to the warehouse's host:port for lineage tools.
ASSET_AUTHORITY = os.environ.get("SMARKETING_ASSET_AUTHORITY", "smarketing-warehouse:5432")


def warehouse_asset(name: str, schema: str, table: str) -> Asset:
    """An Asset for a warehouse table (`postgres://host:port/db/schema/table`, as Airflow requires)."""
    return Asset(name, uri=f"postgres://{ASSET_AUTHORITY}/smarketing/{schema}/{table}")


CORE_ASSET = warehouse_asset("smarketing_core", "core", "leads")
# Declared here too (same name and uri as the DAG that emits it) so that consumers never import a DAG file.
LEAD_SCORES_ASSET = warehouse_asset("smarketing_lead_scores", "scoring", "lead_scores")
NURTURE_ASSET = warehouse_asset("smarketing_nurture", "nurture", "enrollments")
KPI_ASSET = warehouse_asset("smarketing_kpi", "kpi", "funnel_monthly")


def task_dsn() -> str:
    """Warehouse DSN inside a running task (asks Airflow's connection store too)."""
    return warehouse_dsn(in_task=True)


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


def resolve_project_path(path: str) -> Path:
    from smarketing.paths import PROJECT_ROOT

    candidate = Path(path)
    return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate


def fail_on_config_error() -> str:
    """Load the agreement; a broken file fails the task at once (no retries) listing every problem."""
    from airflow.sdk.exceptions import AirflowFailException

    from smarketing.config import ConfigError, load_config

    try:
        return load_config().scoring.version
    except ConfigError as exc:
        raise AirflowFailException(str(exc)) from exc


def preflight() -> list:
    """The first two tasks of every DAG, created inside the calling DAG: `check_agreement` fails fast
    on a broken agreement, `prepare_warehouse` applies migrations a new release shipped (concurrent
    upgrades wait on an advisory lock). Everything else in a DAG runs after both."""
    from airflow.sdk import task

    @task
    def check_agreement() -> str:
        return fail_on_config_error()

    @task
    def prepare_warehouse() -> str:
        from smarketing.warehouse import migrate

        dsn = task_dsn()
        migrate.upgrade(dsn)
        return migrate.current_revision(dsn) or ""

    return [check_agreement(), prepare_warehouse()]


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
