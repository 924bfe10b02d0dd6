"""`smarketing_privacy` end to end with dag.test(): a manual run given only the hash of an address erases
that person and records the hash; a rerun changes nothing; every run purges raw records past the
agreement's retention, and a scheduled run (no person) skips the erasure."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import psycopg
import pytest

from smarketing.erasure.identity import email_hash
from tests.e2e.conftest import run_dag
from tests.integration.kpi_world import fold, seed_world

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]


def test_privacy_dag_erases_by_hash_and_purges_on_schedule(
    warehouse_env: str, airflow_ready: None, summary_lines: list[str]
) -> None:
    dsn = warehouse_env
    seed_world(dsn)
    fold(dsn)
    person = "person1@customer1.example"

    states = run_dag("smarketing_privacy", run_conf={"email_sha256": email_hash(person)})
    assert states == {
        "check_agreement": "success",
        "prepare_warehouse": "success",
        "erase": "success",
        "purge": "success",
    }, states
    prefix = email_hash(person)[:12]
    (erased,) = [line for line in summary_lines if line.startswith(f"person {prefix}")]
    assert "1 lead and " in erased and " row" in erased and "@" not in erased, erased
    assert any(line.startswith("retention purge as of ") for line in summary_lines), summary_lines
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM core.leads WHERE email_normalized = %s", (person,)
        ).fetchone() == (0,)
        assert conn.execute(
            "SELECT count(*) FROM raw.leads WHERE payload->>'email' = %s", (person,)
        ).fetchone() == (0,)
        assert conn.execute("SELECT email_sha256, leads FROM ops.erasures").fetchall() == [
            (email_hash(person), 1)
        ]
        raw_before = conn.execute("SELECT count(*) FROM raw.leads").fetchone()[0]
        # every batch but the lead batch landed long ago: past the agreement's 400 days
        conn.execute(
            "UPDATE ops.load_batches SET loaded_at = now() - interval '500 days' WHERE object <> 'leads'"
        )
        old = conn.execute(
            "SELECT count(*) FROM raw.marketing_events UNION ALL SELECT count(*) FROM raw.deals"
        ).fetchall()
        conn.commit()
    assert sum(n for (n,) in old) > 0

    again = run_dag("smarketing_privacy", run_conf={"email": person.upper()})
    assert again["erase"] == "success"
    assert summary_lines[-2] == f"person {prefix}…: nothing of theirs left to erase", summary_lines
    # This run's purge already finds the batches aged past retention; the scheduled one then has none.
    assert " raw.deals" in summary_lines[-1] and summary_lines[-1].endswith(" deleted"), summary_lines
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT leads FROM ops.erasures").fetchall() == [(1,)]

    scheduled = run_dag("smarketing_privacy", logical_date=pendulum.now("UTC") + timedelta(days=1))
    assert scheduled == {
        "check_agreement": "success",
        "prepare_warehouse": "success",
        "erase": "skipped",
        "purge": "success",
    }, scheduled
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM raw.marketing_events").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw.deals").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM raw.leads").fetchone() == (raw_before,)
    assert summary_lines[-1].endswith("nothing past its age"), summary_lines
