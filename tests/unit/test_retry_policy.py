"""Which task errors a retry cannot fix (failed at once) and which may pass (retried with back-off)."""

from __future__ import annotations

import psycopg
import pytest
from airflow.sdk import RetryAction
from airflow.sdk.exceptions import AirflowNotFoundException

from smarketing.airflow_support import FailFastPolicy, retry_cannot_fix
from smarketing.config.problems import ConfigError
from smarketing.errors import ConfigurationError, SmarketingError
from smarketing.run_settings import RunSettingError
from smarketing.scoring.runguard import ScoringBusy
from smarketing.sources.http import ApiError, RetriesExhausted
from smarketing.sources.state import ExtractError
from smarketing.warehouse.connection import WarehouseMisconfigured, WarehouseUnavailable


def _caused(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


DETERMINISTIC = [
    ConfigError("config/smarketing.yaml", ["scoring.grades.A: expected a number"]),
    WarehouseMisconfigured("Airflow connection 'smarketing_warehouse' has conn_type 'http'"),
    RunSettingError("param 'api_sources'[0]: 'system' is a required property"),
    ConfigurationError("Airflow connection 'smarketing_hubspot' is not defined"),
    AirflowNotFoundException("The conn_id `smtp_default` isn't defined"),
    ApiError("hubspot", "GET", "/crm/v3/objects/contacts", 401, "invalid token"),
    _caused(
        ExtractError("hubspot", "contacts", {}, "HTTP 403"), ApiError("hubspot", "GET", "/x", 403, "no scope")
    ),
]
TRANSIENT = [
    WarehouseUnavailable("cannot connect to the warehouse at postgresql://127.0.0.1:1/none"),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    ScoringBusy("another scoring run is in progress"),
    ApiError("hubspot", "GET", "/crm/v3/objects/contacts", 503, "unavailable"),
    RetriesExhausted("mautic", "GET", "/api/contacts", 5, "HTTP 429"),
    _caused(
        ExtractError("mautic", "contacts", {}, "gave up"), RetriesExhausted("mautic", "GET", "/x", 5, "5xx")
    ),
    SmarketingError("Airflow connection 'smarketing_mautic' could not be read: ServerResponseError"),
    TimeoutError("read timed out"),
]


@pytest.mark.parametrize("exc", DETERMINISTIC, ids=lambda e: type(e).__name__)
def test_what_a_retry_cannot_fix_fails_at_once(exc: BaseException) -> None:
    assert retry_cannot_fix(exc)
    decision = FailFastPolicy().evaluate(exc, try_number=1, max_tries=4)
    assert decision.action is RetryAction.FAIL and "not retried" in (decision.reason or "")


@pytest.mark.parametrize("exc", TRANSIENT, ids=lambda e: type(e).__name__)
def test_what_may_pass_keeps_the_task_retries(exc: BaseException) -> None:
    assert not retry_cannot_fix(exc)
    assert FailFastPolicy().evaluate(exc, try_number=1, max_tries=4).action is RetryAction.DEFAULT
