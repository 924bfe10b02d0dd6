"""What keeps scoring runs apart, and what a run that fails leaves behind.

Two runs writing at once would both delete a lead-id range and both insert it (a `UniqueViolation` for
the second, after minutes of work). One advisory lock, `SCORING_LOCK_KEY`, keeps them apart:

* a run in one process (`smarketing score run`, `run_scoring`) holds it **exclusively** for its whole
  length, on a session of its own;
* each step of an Airflow run (plan, every shard, finalize) holds it **shared** for its transaction, so
  the shards of one run go on in parallel. Two Airflow runs never overlap (`max_active_runs=1`).

Neither waits: the loser raises `ScoringBusy` at once ("another scoring run is in progress"), which the
command line turns into exit code 75 (EX_TEMPFAIL, try again later) and an Airflow task into a failure
that its retries (exponential back-off) take up once the other run is done.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from smarketing.errors import SmarketingError
from smarketing.privacy import mask_emails
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

SCORING_LOCK_KEY = 4_242_007


class ScoringBusy(SmarketingError):
    """Another scoring run holds the scoring lock; nothing was written."""

    exit_code = 75  # sysexits EX_TEMPFAIL: a temporary condition, try again later


def _busy() -> ScoringBusy:
    return ScoringBusy(
        "another scoring run is in progress; nothing was scored, try again when it has finished"
    )


@contextmanager
def exclusive_run(dsn: str) -> Iterator[None]:
    """Hold the scoring lock exclusively for the block (a whole run in this process).

    Args:
        dsn: the warehouse; the lock lives on a connection of its own, released when the block ends.

    Raises:
        ScoringBusy: another run (in-process or an Airflow step) holds the lock.
    """
    with connect(dsn, autocommit=True) as conn:
        (got,) = conn.execute("SELECT pg_try_advisory_lock(%s)", (SCORING_LOCK_KEY,)).fetchone() or (False,)
        if not got:
            raise _busy()
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCORING_LOCK_KEY,))


def shared_step(conn: psycopg.Connection) -> None:
    """Hold the scoring lock shared until `conn`'s transaction ends (one step of an Airflow run).

    Raises:
        ScoringBusy: a run in one process holds the lock exclusively.
    """
    (got,) = conn.execute("SELECT pg_try_advisory_xact_lock_shared(%s)", (SCORING_LOCK_KEY,)).fetchone() or (
        False,
    )
    if not got:
        raise _busy()


@contextmanager
def recording_failure(dsn: str, run_id: str, step: str) -> Iterator[None]:
    """Mark the run failed (`stats.failed`: step, error type, message) when the block raises.

    The block's own transaction has rolled back by then, so the mark is written in a transaction of its
    own; the error is raised again. A later successful finalize of the same run clears the mark. Being
    turned away by another run (`ScoringBusy`) is not a failure of this run and leaves no mark.
    """
    try:
        yield
    except ScoringBusy:
        raise
    except Exception as exc:
        failure = {"step": step, "error": type(exc).__name__, "message": mask_emails(str(exc))[:500]}
        try:
            with connect(dsn) as conn:
                conn.execute(
                    "UPDATE scoring.runs SET stats = stats || jsonb_build_object('failed', %s::jsonb) "
                    "WHERE run_id = %s",
                    (json.dumps(failure), run_id),
                )
        except psycopg.Error:
            log.exception("scoring run %s: could not record the failure of %s", run_id, step)
        raise
