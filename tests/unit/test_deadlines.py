"""Deadline Alerts of the nightly and hourly DAGs: where the deadline falls, what the notice says."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk import DeadlineReference

from smarketing.airflow_support import deadline, missed_deadline_failure
from tests.e2e.conftest import load_dag

SCORING_ENV = "SMARKETING_SCORING_DEADLINE_MINUTES"


def test_the_deadline_counts_from_the_end_of_the_data_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCORING_ENV, raising=False)
    alert = deadline("nightly", period=timedelta(days=1), env=SCORING_ENV, default_minutes=180)
    # The logical date is the interval's start: a night's interval plus the allowance (02:00 -> 05:00).
    assert alert.interval == timedelta(days=1, hours=3)
    assert isinstance(alert.reference, type(DeadlineReference.DAGRUN_LOGICAL_DATE))
    assert alert.callback.path == "smarketing.airflow_support.deadline_missed"

    monkeypatch.setenv(SCORING_ENV, "20")
    assert deadline(
        "x", period=timedelta(hours=1), env=SCORING_ENV, default_minutes=45
    ).interval == timedelta(hours=1, minutes=20)


def test_off_turns_the_deadline_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCORING_ENV, "off")
    assert deadline("nightly", period=timedelta(days=1), env=SCORING_ENV, default_minutes=180) is None


@pytest.mark.parametrize("value", ["0", "-5", "1h", "2.5", "none"])
def test_a_bad_allowance_names_its_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(SCORING_ENV, value)
    with pytest.raises(ValueError, match=SCORING_ENV):
        deadline("nightly", period=timedelta(days=1), env=SCORING_ENV, default_minutes=180)


@pytest.mark.parametrize(
    ("dag_id", "interval"),
    [("smarketing_scoring", timedelta(days=1, hours=3)), ("smarketing_ingest", timedelta(minutes=105))],
)
def test_the_scheduled_dags_carry_their_deadline(dag_id: str, interval: timedelta) -> None:
    alert = load_dag(dag_id).deadline
    alert = alert[0] if isinstance(alert, list) else alert
    assert alert.interval == interval


def test_the_notice_names_the_dag_the_run_and_the_deadline() -> None:
    # The context Airflow 3.3 passes to a deadline callback: the REST API's DAG run and the deadline.
    context = {
        "dag_run": {
            "dag_id": "smarketing_scoring",
            "dag_run_id": "scheduled__2026-12-06T02:00:00+00:00",
            "state": "running",
        },
        "deadline": {"id": "x", "deadline_time": "2026-12-07T05:00:00+00:00"},
    }
    failure = missed_deadline_failure(context)
    assert failure.dag_id == "smarketing_scoring"
    assert failure.run_id == "scheduled__2026-12-06T02:00:00+00:00"
    assert failure.task_id is None
    assert "Deadline missed" in failure.error and "2026-12-07T05:00:00" in failure.error
    assert "running" in failure.error
