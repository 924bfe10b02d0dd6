"""Freshness of a smarketing DAG on the Smarketing page: the last success against the DAG's cadence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smarketing.ui.runs import DagStatus, Run

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


def status(
    last_success: datetime | None, cadence: timedelta | None, states: tuple[str, ...] = ()
) -> DagStatus:
    runs = [
        Run(f"r{i}", state, "scheduled", NOW - timedelta(hours=i), None, None)
        for i, state in enumerate(states)
    ]
    return DagStatus("smarketing_sla", False, "Every hour", cadence, None, runs, last_success)


def test_an_hourly_dag_is_fresh_until_two_hours_without_success() -> None:
    hour = timedelta(hours=1)
    assert status(NOW - timedelta(minutes=119), hour).freshness(NOW) == "fresh"
    assert status(NOW - timedelta(minutes=121), hour).freshness(NOW) == "stale"


def test_a_nightly_dag_is_judged_by_its_day() -> None:
    assert status(NOW - timedelta(hours=30), timedelta(days=1)).freshness(NOW) == "fresh"
    assert status(NOW - timedelta(hours=49), timedelta(days=1)).freshness(NOW) == "stale"


def test_never_succeeded_and_asset_triggered_dags_say_so() -> None:
    assert status(None, timedelta(hours=1)).freshness(NOW) == "never"
    assert status(NOW - timedelta(days=9), None).freshness(NOW) == "unknown"


def test_failing_means_the_newest_run_failed() -> None:
    assert status(NOW, None, ("failed", "success")).failing
    assert not status(NOW, None, ("success", "failed")).failing
    assert not status(NOW, None).failing
