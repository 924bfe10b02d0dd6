"""Two scoring runs at once (issue 10.9): the second says another run is in progress and exits with 75,
writing nothing; the first finishes. Real processes of the `smarketing` command line against PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from smarketing.scoring.runguard import SCORING_LOCK_KEY, ScoringBusy, exclusive_run
from smarketing.scoring.runner import finalize_run, plan_run, score_shard
from smarketing.warehouse.core_build import BUILD_LOCK_KEY
from tests.integration.test_scoring_runs import N_LEADS, T0, _rows, add_events, make_model, reset

pytestmark = pytest.mark.integration


def _score_run(dsn: str, run_id: str) -> subprocess.Popen:
    command = "from smarketing.cli import main; main()"
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            command,
            "score",
            "run",
            "--dsn",
            dsn,
            "--run-id",
            run_id,
            "--as-of",
            T0.isoformat(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _finish(process: subprocess.Popen, dsn: str, timeout: float = 600) -> str:
    """The process's stderr once it ends; on a hang, what it printed and what the database was doing.

    The timeout only guards against a hang: on a loaded machine a cold interpreter start alone can take minutes.
    """
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        with psycopg.connect(dsn, autocommit=True) as conn:
            activity = conn.execute(
                "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"{process.args[-5:]} still running after {timeout:.0f} s\nstdout: {out}\nstderr: {err}\n"
            f"database sessions: {activity}"
        ) from None


def _scoring_lock_holders(conn: psycopg.Connection) -> int:
    return conn.execute(
        # Advisory locks are per database, pg_locks shows the whole server's: other test sessions score too.
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = %s"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (SCORING_LOCK_KEY,),
    ).fetchone()[0]


def _wait_for(condition, what: str, seconds: float = 600.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_second_score_run_is_turned_away_while_the_first_runs(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    reset(dsn)
    with psycopg.connect(dsn) as conn:
        add_events(conn, _rows([(2, "form_submission", -5, None)], 0, T0))
    with psycopg.connect(dsn, autocommit=True) as holder:
        # Hold the core build's lock: the first run takes the scoring lock, plans, then waits in its
        # shard, so the second one starts while the first is surely in progress.
        holder.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK_KEY,))
        first = _score_run(dsn, "first")
        try:
            _wait_for(lambda: _scoring_lock_holders(holder) == 1, "the first run to take the scoring lock")
            second = _score_run(dsn, "second")
            err = _finish(second, dsn)
            assert second.returncode == 75, err
            assert "another scoring run is in progress" in err and "Traceback" not in err
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK_KEY,))
        err = _finish(first, dsn)
    assert first.returncode == 0, err
    with psycopg.connect(dsn) as conn:
        runs = conn.execute("SELECT run_id, finished_at IS NOT NULL FROM scoring.runs").fetchall()
        scored = conn.execute("SELECT count(*) FROM scoring.lead_scores").fetchone()[0]
    assert runs == [("first", True)]
    assert scored == N_LEADS


def test_airflow_steps_share_the_lock_with_each_other_and_not_with_a_whole_run(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    reset(dsn)
    model = make_model(2.0, 3)
    with exclusive_run(dsn), pytest.raises(ScoringBusy):
        plan_run(dsn, model, run_id="dag", as_of=T0, shard_count=2)
    plan = plan_run(dsn, model, run_id="dag", as_of=T0, shard_count=2)
    with psycopg.connect(dsn) as other_shard, other_shard.transaction():
        # A sibling shard of the same Airflow run holds the lock shared: this one goes on beside it.
        other_shard.execute("SELECT pg_advisory_xact_lock_shared(%s)", (SCORING_LOCK_KEY,))
        score_shard(dsn, model, plan, 0)
        with pytest.raises(ScoringBusy), exclusive_run(dsn):
            pass
    with exclusive_run(dsn):
        with pytest.raises(ScoringBusy):
            score_shard(dsn, model, plan, 1)
        with pytest.raises(ScoringBusy):
            finalize_run(dsn, model, plan)
    score_shard(dsn, model, plan, 1)
    finalize_run(dsn, model, plan)
    with psycopg.connect(dsn) as conn:
        finished, stats = conn.execute(
            "SELECT finished_at, stats FROM scoring.runs WHERE run_id = 'dag'"
        ).fetchone()
    assert finished is not None and "failed" not in stats
