"""`smarketing_sla` end to end with dag.test(): clocks, breaches, alerts at a local SMTP sink, reruns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pendulum
import psycopg
import pytest

from tests.e2e.conftest import run_dag
from tests.integration.test_sla_seed import paris, seed
from tests.smtp_sink import Sink
from tests.smtp_sink import smtp_sink as start_sink

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

MQL = "marketingqualifiedlead"
MONDAY_10 = paris("2026-11-23 10:00")  # standard tier (4h): due 14:00 Paris, escalated at 16:00


@pytest.fixture()
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    """A local SMTP server as the agreement's `smtp_default` connection; crm:1 has an address of its own."""
    monkeypatch.setenv(
        "SMARKETING_SLA_ALERTS", json.dumps({"recipients": {"crm:1": "alice@northwind.example"}})
    )
    with start_sink(monkeypatch, "smtp_default") as handler:
        yield handler


def run_hour(at: pendulum.DateTime) -> dict[str, str]:
    """A run triggered at `at`: it reads the clock at `at` (`run_moment`), as the hourly run ending
    then does."""
    return run_dag("smarketing_sla", logical_date=at, run_after=at)


def assert_all_succeeded(states: dict[str, str]) -> None:
    assert states, "no task instances"
    assert all(state == "success" for state in states.values()), states


def rows(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def test_late_touch_between_two_hourly_runs(airflow_ready: None, warehouse_env: str, smtp_sink: Sink) -> None:
    dsn = warehouse_env
    seed(
        dsn,
        owners=[("crm:1", "crm:9", None), ("crm:2", "crm:9", None), ("crm:9", None, None)],
        leads=[
            {"lead_id": 1, "owner_id": "crm:1"},  # touched on time
            {"lead_id": 2, "owner_id": "crm:1"},  # never touched
            {"lead_id": 3, "owner_id": "crm:2"},  # touched at 15:30, synced only after the first run
        ],
        stages=[(i, MQL, MONDAY_10) for i in (1, 2, 3)],
        touches=[(1, "call", paris("2026-11-23 11:00"))],
    )

    # The run covering 15:00-16:00 Paris time reads the clock at 16:00.
    first = run_hour(pendulum.datetime(2026, 11, 23, 14, tz="UTC"))
    assert_all_succeeded(first)
    assert rows(dsn, "SELECT lead_id, status FROM sla.followups ORDER BY 1") == [
        (1, "met"),
        (2, "breached_open"),
        (3, "breached_open"),
    ]
    assert smtp_sink.subjects() == [
        "MQL delivery behind pace: 2026-11/all, 2026-11/country:FR, 2026-11/persona:it_leader",
        "SLA breach: 1 MQL deadline(s) missed (owner crm:1)",
        "SLA breach: 1 MQL deadline(s) missed (owner crm:2)",
    ]
    assert [rcpt for rcpt, m in smtp_sink.messages if "crm:1" in m["Subject"]] == [
        ["alice@northwind.example"]
    ]

    seed(dsn, touches=[(3, "call", paris("2026-11-23 15:30"))])
    smtp_sink.messages.clear()
    second = run_hour(pendulum.datetime(2026, 11, 23, 15, tz="UTC"))
    assert_all_succeeded(second)
    assert rows(dsn, "SELECT lead_id, status FROM sla.followups ORDER BY 1")[1:] == [
        (2, "breached_open"),
        (3, "breached_late"),
    ]
    assert rows(
        dsn,
        "SELECT lead_id, resolution, escalated_at IS NOT NULL FROM sla.breaches "
        "WHERE kind = 'first_touch' ORDER BY 1",
    ) == [(2, None, True), (3, "touched_late", False)]
    assert smtp_sink.subjects() == ["SLA escalation: 1 MQL deadline(s) still missed in your team"]

    smtp_sink.messages.clear()
    again = run_hour(pendulum.datetime(2026, 11, 23, 16, tz="UTC"))
    assert_all_succeeded(again)
    assert smtp_sink.messages == []
    assert rows(dsn, "SELECT count(*) FROM sla.alerts") == [(4,)]


def seed_one_mql(dsn: str) -> None:
    """Lead 1 of owner crm:1 (no address, no manager), handed over on Monday at 10:00 Paris."""
    seed(
        dsn,
        owners=[("crm:1", None, None)],
        leads=[{"lead_id": 1, "owner_id": "crm:1"}],
        stages=[(1, MQL, MONDAY_10)],
    )


def test_replay_param_and_alerts_switched_off(
    airflow_ready: None, warehouse_env: str, smtp_sink: Sink
) -> None:
    dsn = warehouse_env
    seed_one_mql(dsn)
    states = run_dag(
        "smarketing_sla",
        logical_date=pendulum.datetime(2026, 11, 23, 20, tz="UTC"),
        run_conf={"as_of": "2026-11-23T12:00:00+01:00", "send_alerts": False},
    )
    assert states.pop("send_alerts") == "skipped"
    assert_all_succeeded(states)
    assert rows(dsn, "SELECT status, evaluated_at = '2026-11-23T11:00:00Z' FROM sla.followups") == [
        ("pending", True)
    ]
    assert smtp_sink.messages == []


def test_a_manual_run_reads_the_clock_when_it_was_triggered(
    airflow_ready: None, warehouse_env: str, smtp_sink: Sink
) -> None:
    """Trigger pressed at 11:30 UTC reads the clock at 11:30, not at 11:00, the end of the hour Airflow
    infers for a manual run (issue #15)."""
    dsn = warehouse_env
    seed_one_mql(dsn)
    triggered = pendulum.datetime(2026, 11, 23, 11, 30, tz="UTC")
    states = run_dag(
        "smarketing_sla", logical_date=triggered, run_after=triggered, run_conf={"send_alerts": False}
    )
    assert states.pop("send_alerts") == "skipped"
    assert_all_succeeded(states)
    assert rows(dsn, "SELECT status, evaluated_at FROM sla.followups") == [("pending", triggered)]


def test_alerts_skip_only_while_the_smtp_connection_is_not_defined(
    airflow_ready: None, warehouse_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10.7: any error probing the connection used to skip the task; only an absent one may."""
    dsn = warehouse_env
    seed_one_mql(dsn)
    monkeypatch.setenv(
        "SMARKETING_SLA_ALERTS", json.dumps({"recipients": {"crm:1": "alice@northwind.example"}})
    )
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    logical = pendulum.datetime(2026, 11, 23, 14, tz="UTC")
    states = run_hour(logical)
    assert states.pop("send_alerts") == "skipped"
    assert_all_succeeded(states)

    # Defined, but not a connection Airflow can read (it reports that as "isn't defined").
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", '{"conn_type": "smtp", "host": ')
    states = run_hour(logical.add(hours=1))
    assert states.pop("send_alerts") == "failed"
    assert_all_succeeded(states)
    assert rows(dsn, "SELECT count(*) FROM sla.breaches WHERE alerted_at IS NULL") == [(1,)]


def test_on_the_sandbox_world(
    airflow_ready: None, warehouse_env: str, smtp_sink: Sink, tmp_path: Path
) -> None:
    """The synthetic company: reps who sometimes touch late, never, or after the hand-over was rejected."""
    from smarketing.config import load_config
    from smarketing.paths import PROJECT_ROOT
    from smarketing.sources.files import ingest_source
    from smarketing.warehouse.core_build import build_core
    from smarketing_sandbox.world import generate_world

    dsn = warehouse_env
    generate_world(tmp_path, contacts=1500, seed=7, days=60, end=datetime(2026, 11, 16, tzinfo=UTC))
    for source in ("sandbox_crm", "sandbox_ma"):
        ingest_source(
            dsn, PROJECT_ROOT / "config" / "sources" / f"{source}.yaml", root=tmp_path, run_id="e2e"
        )
    build_core(dsn, load_config())

    logical = pendulum.datetime(2026, 11, 15, 23, tz="UTC")
    assert_all_succeeded(run_hour(logical))
    statuses = dict(rows(dsn, "SELECT status, count(*) FROM sla.followups GROUP BY 1"))
    mqls = rows(
        dsn,
        "SELECT count(DISTINCT lead_id) FROM core.lifecycle_history WHERE stage = 'marketingqualifiedlead'",
    )
    assert sum(statuses.values()) == mqls[0][0] > 0
    assert statuses.get("met", 0) > 0 and statuses.get("breached_late", 0) > 0
    open_breaches = rows(dsn, "SELECT count(*) FROM sla.breaches WHERE resolved_at IS NULL")[0][0]
    assert rows(
        dsn, "SELECT count(*) FROM sla.breaches WHERE resolved_at IS NULL AND alerted_at IS NULL"
    ) == [(0,)]
    assert (open_breaches > 0) == (len(smtp_sink.messages) > 0)
    delivery = dict(
        rows(dsn, "SELECT segment, delivered FROM sla.marketing_delivery WHERE period = '2026-11-01'")
    )
    assert set(delivery) == {"all", "persona:it_leader", "country:FR"}

    sent = len(smtp_sink.messages)
    before = rows(dsn, "SELECT lead_id, status, due_at, first_touch_at FROM sla.followups ORDER BY 1")
    assert_all_succeeded(run_hour(logical))
    assert len(smtp_sink.messages) == sent
    assert rows(dsn, "SELECT lead_id, status, due_at, first_touch_at FROM sla.followups ORDER BY 1") == before
