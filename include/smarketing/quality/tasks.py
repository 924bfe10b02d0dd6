"""What the DAG tasks call: validation with JSON-only results and Airflow's way of failing.

A failed gate becomes AirflowFailException: retrying cannot change the data, so the task fails at
once, downstream tasks are not run, and the log holds the summary (what failed, how many rows) and
the Data Docs link. Any other error (database down, an expectation that could not be evaluated) is
raised as it is, so the task's retries apply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NoReturn

from smarketing.quality.gate import QualityGateFailed
from smarketing.tasklog import summary

log = logging.getLogger(__name__)


def _fail(exc: QualityGateFailed) -> NoReturn:
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # outside Airflow (CLI, tests): the error itself
        raise exc from None
    raise AirflowFailException(str(exc)) from exc


def _log_docs(report: Any) -> None:
    """The page of every suite (the summary line names the index)."""
    for label, url in report.data_docs.items():
        if label != "index":
            log.info("Data Docs %s: %s", label, url)


def validate_raw(dsn: str, run_id: str, batch_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Validate the raw batches not validated yet (or `batch_ids`) before the core build."""
    from smarketing.quality.raw import validate_raw as run

    try:
        report = run(dsn, run_id=run_id, batch_ids=batch_ids)
    except QualityGateFailed as exc:
        _log_docs(exc.report)
        summary(exc.report.headline())
        _fail(exc)
    _log_docs(report)
    summary(report.headline())
    return report.as_dict()


def validate_core(dsn: str, run_id: str) -> dict[str, Any]:
    """Validate the core tables after the core build, before the core asset is emitted."""
    from smarketing.quality.core import validate_core as run

    try:
        report = run(dsn, run_id=run_id)
    except QualityGateFailed as exc:
        _log_docs(exc.report)
        summary(exc.report.headline())
        _fail(exc)
    _log_docs(report)
    summary(report.headline())
    return report.as_dict()
