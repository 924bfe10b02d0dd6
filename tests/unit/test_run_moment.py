"""The moment a scoring, KPI or SLA run works as of: a manual run without `as_of` works as of its trigger."""

from __future__ import annotations

from types import SimpleNamespace

import pendulum
import pytest

from smarketing.airflow_support import run_moment

TRIGGERED = pendulum.datetime(2026, 12, 7, 9, 41, 5, tz="UTC")
INTERVAL_END = pendulum.datetime(2026, 12, 6, 2, tz="UTC")  # what Airflow infers for a manual run


def _context(run_type: str, as_of: str | None = None) -> dict:
    return {
        "params": {"as_of": as_of},
        "dag_run": SimpleNamespace(run_type=run_type, run_after=TRIGGERED),
        "data_interval_end": INTERVAL_END,
        "logical_date": TRIGGERED,
    }


@pytest.mark.parametrize("run_type", ["manual", "asset_triggered"])
def test_a_triggered_run_works_as_of_its_trigger(run_type: str) -> None:
    assert run_moment(_context(run_type)) == TRIGGERED.isoformat()


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_an_interval_run_works_as_of_its_interval_end(run_type: str) -> None:
    assert run_moment(_context(run_type)) == INTERVAL_END.isoformat()


def test_as_of_wins() -> None:
    assert run_moment(_context("manual", "2026-11-30T02:00:00+00:00")) == "2026-11-30T02:00:00+00:00"
