"""What every smarketing DAG shares: default arguments, timetables, assets, task-side helpers.

Nothing here touches the database or the network at import time: DAG files import it while the
scheduler parses them.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset, CronDataIntervalTimetable

from smarketing.notify import FailureNotifier

# The run-setting lookup lives in smarketing.run_settings (capabilities use it too); the DAG files
# import it from here with the rest of what they share.
from smarketing.run_settings import (  # noqa: F401
    API_SOURCES_ENV,
    API_SOURCES_VARIABLE,
    FILE_SOURCES_ENV,
    FILE_SOURCES_VARIABLE,
    configured_api_sources,
    configured_file_sources,
    json_run_setting,
    run_setting,
)
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
    # A mail per failed task (after its last retry) through the SLA alerts' SMTP connection.
    "on_failure_callback": [FailureNotifier()],
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
