"""What every smarketing DAG shares: default arguments, timetables, assets, task-side helpers.

Nothing here touches the database or the network at import time: DAG files import it while the
scheduler parses them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import (
    Asset,
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    Param,
    RetryDecision,
    RetryPolicy,
)

from smarketing.notify import Failure, FailureNotifier
from smarketing.privacy import mask_emails

# The run-setting lookup lives in smarketing.run_settings (capabilities use it too); the DAG files
# import it from here with the rest of what they share.
from smarketing.run_settings import (  # noqa: F401
    API_SOURCE_SCHEMA,
    API_SOURCES_ENV,
    API_SOURCES_VARIABLE,
    FILE_SOURCE_SCHEMA,
    FILE_SOURCES_ENV,
    FILE_SOURCES_VARIABLE,
    WRITEBACK_TARGET_SCHEMA,
    configured_api_sources,
    configured_file_sources,
    json_run_setting,
    object_list_setting,
    run_setting,
)
from smarketing.warehouse.connection import warehouse_dsn

log = logging.getLogger(__name__)

OWNER = "smarketing"
TIMEZONE = os.environ.get("SMARKETING_SCHEDULE_TIMEZONE", "UTC")

# HTTP statuses by which an API refuses the request itself (credentials, access, a wrong path or body).
_REFUSED_STATUSES = frozenset({400, 401, 403, 404, 405, 422})


def retry_cannot_fix(exc: BaseException) -> bool:
    """Whether a task that raised `exc` would fail the same way again: a configuration error (the
    agreement, a mapping, a source, a connection, a run setting or param: `ConfigurationError`), a
    connection that is not defined, an API that refuses the request itself (HTTP 400/401/403/404/405/422). Anything else (a database or API that is down, slow or busy,
    retries of the HTTP client used up) may pass later. Follows the chain of `raise ... from` causes.
    (A batch the quality gate rejects fails its task with AirflowFailException, never retried either.)
    """
    from airflow.sdk.exceptions import AirflowNotFoundException

    from smarketing.errors import ConfigurationError
    from smarketing.sources.http import ApiError, RetriesExhausted

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, RetriesExhausted):
            return False
        if isinstance(seen, ConfigurationError | AirflowNotFoundException):
            return True
        if isinstance(seen, ApiError) and seen.status in _REFUSED_STATUSES:
            return True
        seen = seen.__cause__
    return False


class FailFastPolicy(RetryPolicy):
    """Airflow's retry decision for every smarketing task: fail at once on what a retry cannot fix
    (`retry_cannot_fix`), else the task's own retries with exponential back-off."""

    def evaluate(self, exception, try_number, max_tries, context=None) -> RetryDecision:  # type: ignore[no-untyped-def]
        if retry_cannot_fix(exception):
            return RetryDecision.fail(
                f"not retried: {type(exception).__name__} is a configuration or input error; "
                "a retry would fail the same way"
            )
        return RetryDecision.default()


DEFAULT_ARGS = {
    "owner": OWNER,
    # Production default 3; the demo sets SMARKETING_TASK_RETRIES=0 so a failure shows at once
    # instead of after minutes of exponential back-off.
    "retries": int(os.environ.get("SMARKETING_TASK_RETRIES", "3")),
    # The cluster tests shorten the first retry delay (SMARKETING_TASK_RETRY_DELAY, seconds).
    "retry_delay": timedelta(seconds=int(os.environ.get("SMARKETING_TASK_RETRY_DELAY", "60"))),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
    "retry_policy": FailFastPolicy(),
    # A mail per failed task (after its last retry) through the SLA alerts' SMTP connection.
    "on_failure_callback": [FailureNotifier()],
    # A task's log ends with its summary line (smarketing.tasklog), not the returned dict; the XCom
    # tab still shows what it returned.
    "show_return_value_in_logs": False,
}


def object_list_param(item_schema: dict, description: str) -> Param:
    """A param holding a list of objects: the trigger form offers a JSON editor for it and Airflow
    refuses a run whose value does not match `item_schema` (naming the param). Empty (null): the
    Airflow Variable, else the environment variable (`run_settings.object_list_setting`)."""
    return Param(None, type=["null", "array"], items=item_schema, description=description)


def run_moment(context) -> str:  # type: ignore[no-untyped-def]
    """The moment a run works as of (ISO 8601): its `as_of` param; else, for a run triggered by hand
    or by an asset, the moment it was triggered (`run_after`: stays put when the run is cleared and
    rerun); else the end of its data interval (a scheduled run covers the interval that just ended)."""
    params, dag_run = context["params"], context["dag_run"]
    if params.get("as_of"):
        return str(params["as_of"])
    run_type = getattr(dag_run.run_type, "value", dag_run.run_type)
    if run_type in ("manual", "asset_triggered", "asset_materialization", "operator_triggered"):
        return dag_run.run_after.isoformat()
    return (context.get("data_interval_end") or context["logical_date"]).isoformat()


def hourly() -> CronDataIntervalTimetable:
    """Runs at the top of every hour and covers the hour before it (a real data interval)."""
    return CronDataIntervalTimetable("0 * * * *", timezone=TIMEZONE)


def nightly(hour: int = 2) -> CronDataIntervalTimetable:
    return CronDataIntervalTimetable(f"0 {hour} * * *", timezone=TIMEZONE)


# -- Deadline Alerts (experimental in Airflow 3.3) -------------------------------------------------
# A scheduled run's logical date is the start of its data interval: the deadline is that plus the
# interval plus the allowance. Runs without a logical date (asset-triggered, or triggered by hand without
# one) get no deadline in Airflow 3.3: docs/operations.md, "Read the alerts".
def deadline(name: str, *, period: timedelta, env: str, default_minutes: int) -> DeadlineAlert | None:
    """A Deadline Alert: the run must be finished `env` minutes (default `default_minutes`) after its
    data interval of length `period` ends; else one failure notice, sent by the triggerer.

    Args:
        name: the alert's name in the UI.
        period: the timetable's interval (a day for nightly, an hour for hourly DAGs).
        env: the environment variable holding the allowance in minutes (read at parse time); `off`: no
            deadline (`airflow dags test` crashes at the end of a run of a DAG with one in Airflow 3.3,
            apache/airflow#73428, so the demo turns them off).
        default_minutes: the allowance when the variable is unset.

    Returns:
        The DeadlineAlert for `@dag(deadline=...)`, None when turned off.
    """
    raw = os.environ.get(env, "").strip() or str(default_minutes)
    if raw.lower() == "off":
        return None
    if not raw.isdigit() or int(raw) == 0:
        raise ValueError(f"{env}: expected a positive number of minutes or 'off', got {raw!r}")
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=period + timedelta(minutes=int(raw)),
        callback=AsyncCallback(deadline_missed),
        name=name,
    )


def missed_deadline_failure(context: dict[str, Any]) -> Failure:
    """The notice for a missed deadline, from the context Airflow 3.3 passes to a deadline callback:
    `{"dag_run": {...the REST API's DAG run...}, "deadline": {"deadline_time": ...}}`."""
    run = context.get("dag_run") or {}
    when = (context.get("deadline") or {}).get("deadline_time")
    return Failure(
        dag_id=str(run.get("dag_id") or "unknown DAG"),
        run_id=run.get("dag_run_id"),
        task_id=None,
        try_number=None,
        log_url=None,
        error=f"Deadline missed: the run was not finished by {when} (state {run.get('state')})",
    )


async def deadline_missed(context: dict[str, Any], **kwargs: Any) -> None:
    """The Deadline Alert callback (awaited by the triggerer): one failure notice for the run. A failure
    to send is logged with addresses masked, never re-raised (as `FailureNotifier.notify` does)."""
    failure = missed_deadline_failure(context)
    try:
        await asyncio.to_thread(FailureNotifier().send, failure)
    except Exception as exc:
        text = mask_emails(str(exc), keep_domain=False)
        log.error("deadline notice for %s not sent: %s: %s", failure.what, type(exc).__name__, text)


# Assets are identified by name AND uri: a uri that followed the live DSN would make the same asset a
# different one in every environment (and Airflow marks the clash inactive), so the authority is a
# fixed label. Set SMARKETING_ASSET_AUTHORITY to the warehouse's host:port for lineage tools.
ASSET_AUTHORITY = os.environ.get("SMARKETING_ASSET_AUTHORITY", "smarketing-warehouse:5432")


def warehouse_asset(name: str, schema: str, table: str, description: str) -> Asset:
    """An Asset for a warehouse table (`postgres://host:port/db/schema/table`, as Airflow requires);
    `description` (what an event means, who consumes it) shows on the asset's page in the UI."""
    return Asset(
        name,
        uri=f"postgres://{ASSET_AUTHORITY}/smarketing/{schema}/{table}",
        group="smarketing",
        extra={"description": description},
    )


# Each asset gets an event only when its producer changed something (a run that changed nothing shows
# its publish task as skipped); the event's extra holds the counts.
CORE_ASSET = warehouse_asset(
    "smarketing_core",
    "core",
    "leads",
    "The core model (core.*) received new or changed records. Produced by smarketing_ingest "
    "(publish_core; extra: rows per core table); starts smarketing_kpi.",
)
LEAD_SCORES_ASSET = warehouse_asset(
    "smarketing_lead_scores",
    "scoring",
    "lead_scores",
    "Lead scores, grades or MQL states moved. Produced by smarketing_scoring (publish_scores; extra: "
    "run, as_of, counts); starts smarketing_nurture (as of that as_of) and smarketing_kpi.",
)
NURTURE_ASSET = warehouse_asset(
    "smarketing_nurture",
    "nurture",
    "enrollments",
    "Leads entered or left nurturing scenarios, or targets were updated. Produced by smarketing_nurture "
    "(publish_nurture; extra: entries, exits, targets); starts smarketing_kpi.",
)
KPI_ASSET = warehouse_asset(
    "smarketing_kpi",
    "kpi",
    "funnel_monthly",
    "KPI periods were rewritten. Produced by smarketing_kpi (publish_kpis; extra: periods per table); "
    "no DAG is scheduled on it (smarketing_review runs monthly and builds the closed month itself).",
)


def task_dsn() -> str:
    """Warehouse DSN inside a running task (asks Airflow's connection store too)."""
    return warehouse_dsn(in_task=True)


def resolve_project_path(path: str) -> Path:
    from smarketing.paths import PROJECT_ROOT

    candidate = Path(path)
    return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate


def preflight() -> list:
    """The first two tasks of every DAG, created inside the calling DAG: `check_agreement` fails fast
    on a broken agreement, `prepare_warehouse` applies migrations a new release shipped (concurrent
    upgrades wait on an advisory lock). Everything else in a DAG runs after both."""
    from airflow.sdk import task

    @task
    def check_agreement() -> str:
        """The agreement's scoring version; a broken file (ConfigError, listing every problem) fails
        the task at once: `FailFastPolicy` does not retry it."""
        from smarketing.config import load_config
        from smarketing.paths import DEFAULT_CONFIG
        from smarketing.tasklog import summary

        version = load_config().scoring.version
        summary(f"agreement {DEFAULT_CONFIG.name} is valid (scoring model {version})")
        return version

    @task
    def prepare_warehouse() -> str:
        from smarketing.warehouse import migrate

        dsn = task_dsn()
        migrate.upgrade(dsn)
        return migrate.current_revision(dsn) or ""

    return [check_agreement(), prepare_warehouse()]
