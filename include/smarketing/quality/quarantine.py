"""Failing rows, quarantine, batch verdicts and releases: every write of the raw validation.

Keys of failing rows go into a session temp table (`_dq_failing`), filled set-based from the query GX
wrote for each failing expectation (or, when that query cannot be used, from GX's key list via COPY).
Everything else is SQL over that table: records into dq.quarantine, a verdict per batch, releases.
A released record is copied into a new batch (origin `dq-release:<run>`) under the landing lock, so
the core build folds it like any new record; the quarantined original stays out of core.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from smarketing.privacy import safe_value
from smarketing.quality.engine import CheckResult, GxSession, SuiteRun
from smarketing.quality.staging import RELEASE_ORIGIN, qualified
from smarketing.sqlfiles import composed, statement
from smarketing.warehouse.copy import copy_in_frame
from smarketing.warehouse.loading import LANDING_LOCK_KEY

log = logging.getLogger(__name__)

SAMPLE_KEYS = 20


def prepare(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _dq_failing (k1 text NOT NULL, k2 text, check_id text NOT NULL)"
    )
    conn.execute("TRUNCATE _dq_failing")


# GX writes datetime bounds into its row query as Python text (datetime.datetime(2026, 11, 23, 14, 5,
# tzinfo=datetime.timezone.utc)); turned into SQL literals here. The row count is checked afterwards.
_PY_DATETIME = re.compile(
    r"datetime\.datetime\((\d+), (\d+), (\d+)(?:, (\d+))?(?:, (\d+))?(?:, (\d+))?(?:, (\d+))?,"
    r" tzinfo=datetime\.timezone\.utc\)"
)


def _sql_datetime(match: re.Match[str]) -> str:
    y, mo, d, h, mi, sec, us = (int(g) if g else 0 for g in match.groups())
    return f"'{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{sec:02d}.{us:06d}+00:00'"


def _gx_query(result: CheckResult) -> str | None:
    query = (result.index_query or "").strip().rstrip(";").strip()
    return _PY_DATETIME.sub(_sql_datetime, query) or None


def collect_failing(
    conn: psycopg.Connection,
    session: GxSession,
    run: SuiteRun,
    result: CheckResult,
    *,
    limit: int | None = None,
    into: str = "_dq_failing",
) -> int:
    """Append the keys of rows failing `result` to `into` (all of them, or up to `limit`); returns how many.

    From the SQL query GX wrote for the failing rows when it runs and returns as many rows as GX
    counted; else from GX's own key list.
    """
    expected = int(result.unexpected_count or 0)
    wanted = expected if limit is None else min(expected, limit)
    if wanted == 0:
        return 0
    inserted = _insert_from_gx_query(conn, run, result, wanted, limit=limit, into=into)
    if inserted is not None:
        return inserted
    found = session.failing_keys(run, result.check, wanted)  # the failure path only: a few thousand keys
    keys = pd.DataFrame(
        {
            "k1": [str(key[0]) for key in found],
            "k2": [str(key[1]) if len(key) > 1 else None for key in found],
            "check_id": result.check.check_id,
        }
    )
    return copy_in_frame(conn, into, keys)


def _insert_from_gx_query(
    conn: psycopg.Connection, run: SuiteRun, result: CheckResult, wanted: int, *, limit: int | None, into: str
) -> int | None:
    """INSERT ... SELECT the keys through GX's row query; None (nothing kept) when it is missing, fails
    or returns another number of rows than expected."""
    query = _gx_query(result)
    if query is None:
        return None
    keys = [sql.SQL("u.{}::text").format(sql.Identifier(k)) for k in run.key_columns]
    if len(keys) == 1:
        keys.append(sql.SQL("NULL"))
    statement = sql.SQL(
        "INSERT INTO {into} (k1, k2, check_id) SELECT {keys}, {check} FROM ({q}) u{limit}"
    ).format(
        into=sql.Identifier(into),
        keys=sql.SQL(", ").join(keys),
        check=sql.Literal(result.check.check_id),
        q=sql.SQL(query),  # type: ignore[arg-type]  # written by GX for our own staged table
        limit=sql.SQL(" LIMIT {}").format(sql.Literal(limit)) if limit is not None else sql.SQL(""),
    )
    try:
        with conn.transaction():
            inserted = conn.execute(statement).rowcount
            if inserted != wanted:
                raise _Mismatch(inserted)
        return inserted
    except (psycopg.Error, _Mismatch) as exc:
        log.info(
            "%s %s: GX's row query was not usable (%s); asking GX for the keys",
            run.label,
            result.check.check_id,
            exc,
        )
        return None


class _Mismatch(Exception):
    def __init__(self, inserted: int) -> None:
        super().__init__(f"it returned {inserted} rows")


def sample_keys(
    conn: psycopg.Connection,
    session: GxSession,
    run: SuiteRun,
    result: CheckResult,
    *,
    raw: bool,
    collected: bool = False,
) -> list[str]:
    """Up to SAMPLE_KEYS keys of failing rows, readable and with e-mail addresses masked.

    `collected`: the keys are in _dq_failing already (rows being quarantined): take them from there.
    """
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _dq_sample (k1 text NOT NULL, k2 text, check_id text NOT NULL)"
    )
    conn.execute("TRUNCATE _dq_sample")
    if collected:
        conn.execute(
            "INSERT INTO _dq_sample SELECT k1, k2, check_id FROM _dq_failing WHERE check_id = %s"
            " ORDER BY k1::bigint, k2::bigint LIMIT %s",
            (result.check.check_id, SAMPLE_KEYS),
        )
    else:
        collect_failing(conn, session, run, result, limit=SAMPLE_KEYS, into="_dq_sample")
    if raw:
        # Through raw's primary key: the staged table has no index to find 20 rows in a million.
        schema, table = run.suite.split(".", 1)
        rows = conn.execute(
            sql.SQL(
                "SELECT r.source_system || ':' || r.source_id FROM _dq_sample f JOIN {raw} r"
                " ON r.batch_id = f.k1::bigint AND r.record_no = f.k2::int ORDER BY r.batch_id, r.record_no"
            ).format(raw=sql.Identifier(schema, table))
        ).fetchall()
    else:
        rows = conn.execute("SELECT k1 || COALESCE(' ' || k2, '') FROM _dq_sample ORDER BY 1").fetchall()
    return [safe_value(str(key), limit=80) for (key,) in rows]


# -- quarantine -----------------------------------------------------------------------------------
def quarantine_failing(conn: psycopg.Connection, *, object: str, run_id: str, validation_run_id: int) -> int:
    """Quarantine the records in _dq_failing (one row per record, every failed check listed)."""
    return conn.execute(
        composed(
            "quality",
            "quarantine_failing",
            table=sql.Literal(f"raw.{object}"),
            run=sql.Literal(run_id),
            vr=sql.Literal(validation_run_id),
            obj=sql.Identifier(object),
        )
    ).rowcount


@dataclass
class BatchVerdict:
    batch_id: int
    source_system: str
    row_count: int
    quarantined: int
    warnings: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return bool(self.reasons)


def batch_counts(
    conn: psycopg.Connection, *, object: str, batch_ids: Sequence[int]
) -> dict[int, tuple[str, int, int]]:
    """batch_id -> (source system, rows, quarantined rows)."""
    rows = conn.execute(
        statement("quality", "batch_counts"), {"t": f"raw.{object}", "ids": list(batch_ids)}
    ).fetchall()
    return {int(b): (str(s), int(n), int(q)) for b, s, n, q in rows}


def record_verdicts(
    conn: psycopg.Connection,
    *,
    object: str,
    verdicts: Sequence[BatchVerdict],
    run_id: str,
    validation_run_id: int,
) -> None:
    if not verdicts:
        return
    rows = [
        {
            "batch_id": v.batch_id,
            "source_system": v.source_system,
            "row_count": v.row_count,
            "quarantined": v.quarantined,
            "warnings": v.warnings,
            "reasons": v.reasons,
        }
        for v in verdicts
    ]
    conn.execute(
        statement("quality", "record_verdicts"),
        {"t": f"raw.{object}", "run": run_id, "vr": validation_run_id, "rows": Jsonb(rows)},
    )


# -- releases -------------------------------------------------------------------------------------
def supersede(conn: psycopg.Connection, *, object: str, source_system: str, run_id: str) -> int:
    """Release held records that a newer, accepted version of the same record replaces."""
    return conn.execute(
        composed(
            "quality",
            "supersede",
            obj=sql.Identifier(object),
            table=sql.Literal(f"raw.{object}"),
            src=sql.Literal(source_system),
            run=sql.Literal(run_id),
        )
    ).rowcount


def release_passing(
    conn: psycopg.Connection,
    *,
    object: str,
    source_system: str,
    stage: str,
    run_id: str,
    validation_run_id: int,
) -> tuple[int, int | None]:
    """Release the rechecked records (staged in `stage`) with no critical failure in _dq_failing.

    They are copied into one new batch, committed under the landing lock like any landing, and marked
    released; records still failing get their current reasons. Returns (released, new batch id).
    """
    table = sql.Literal(f"raw.{object}")
    conn.execute(composed("quality", "recheck_reasons", run=sql.Literal(run_id), table=table))
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _dq_release (batch_id bigint NOT NULL, record_no int NOT NULL)"
    )
    conn.execute("TRUNCATE _dq_release")
    count = conn.execute(composed("quality", "release_pick", stage=qualified(stage))).rowcount
    if count == 0:
        return 0, None
    batch_id = _release_batch(conn, source_system, object, f"{RELEASE_ORIGIN}{run_id}", count, run_id)
    batch = sql.Literal(batch_id)
    conn.execute(composed("quality", "release_reland", obj=sql.Identifier(object), batch=batch))
    conn.execute(composed("quality", "release_mark", run=sql.Literal(run_id), batch=batch, table=table))
    conn.execute(
        "INSERT INTO dq.batch_verdicts (batch_id, table_name, source_system, verdict, row_count, run_id,"
        " validation_run_id, reasons) VALUES (%s, %s, %s, 'passed', %s, %s, %s,"
        " ARRAY['records released from quarantine after passing every critical check'])",
        (batch_id, f"raw.{object}", source_system, count, run_id, validation_run_id),
    )
    log.info(
        "raw.%s of %s: %s quarantined record(s) pass now; re-landed as batch %s",
        object,
        source_system,
        count,
        batch_id,
    )
    return count, batch_id


def _release_batch(
    conn: psycopg.Connection, source_system: str, object: str, origin: str, rows: int, run_id: str
) -> int:
    """A new batch for records let out of quarantine, under the landing lock (held to the commit) so
    the core build never sees a batch id below one still being written. Returns its id."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (LANDING_LOCK_KEY,))
    row = conn.execute(
        "INSERT INTO ops.load_batches (source_system, object, origin, row_count, run_id)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING batch_id",
        (source_system, object, origin, rows, run_id),
    ).fetchone()
    assert row is not None
    return int(row[0])


def admit_batch(
    conn: psycopg.Connection, *, batch_id: int, run_id: str, reason: str
) -> tuple[int, int | None]:
    """Let a rejected batch through: its records not quarantined are re-landed as a new batch.

    Returns (records re-landed, new batch id). Raises ValueError when the batch is not rejected.
    """
    row = conn.execute(
        "SELECT table_name, source_system FROM dq.batch_verdicts WHERE batch_id = %s AND verdict = 'rejected'",
        (batch_id,),
    ).fetchone()
    if row is None:
        raise ValueError(f"batch {batch_id} is not a rejected batch (see dq.batch_verdicts)")
    table_name, source_system = str(row[0]), str(row[1])
    object = table_name.removeprefix("raw.")
    with conn.transaction():
        origin = f"{RELEASE_ORIGIN}{run_id}:admit batch {batch_id}"
        new_id = _release_batch(conn, source_system, object, origin, 0, run_id)
        count = conn.execute(
            composed(
                "quality",
                "admit_reland",
                obj=sql.Identifier(object),
                new=sql.Literal(new_id),
                old=sql.Literal(batch_id),
                table=sql.Literal(table_name),
            )
        ).rowcount
        conn.execute("UPDATE ops.load_batches SET row_count = %s WHERE batch_id = %s", (count, new_id))
        conn.execute(
            "UPDATE dq.batch_verdicts SET verdict = 'admitted', reasons = reasons || %s::text, decided_at = now()"
            " WHERE batch_id = %s",
            (f"admitted by {run_id}: {reason}; good records re-landed as batch {new_id}", batch_id),
        )
        conn.execute(
            "INSERT INTO dq.batch_verdicts (batch_id, table_name, source_system, verdict, row_count, run_id,"
            " reasons) VALUES (%s, %s, %s, 'passed', %s, %s, ARRAY[%s])",
            (new_id, table_name, source_system, count, run_id, f"good records of admitted batch {batch_id}"),
        )
    return count, new_id
