"""Floors for bench/e2e.py: COPY of the same rows out of or into PostgreSQL, timed.

Every floor is what a stage cannot do without: read the rows it reads (binary COPY out, streamed and
discarded) and write the rows it writes (binary COPY in, into a table of the same shape: same columns,
same indexes and keys, no foreign keys, no triggers). The rows to write are dumped to a file before the
timer starts; the copy tables live in a scratch schema dropped right after, so later stages see the
warehouse as the pipeline left it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import psycopg
from cpu_meter import cpu_of, span
from psycopg import sql

from smarketing.warehouse.connection import connect
from smarketing.warehouse.copy import copy_out_stream

SCRATCH = "e2e_floor"
BLOCK = 8 << 20


def checkpoint(dsn: str) -> None:
    """Start each timed load from a clean WAL state, so one does not pay for the other's checkpoint."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def read_out(dsn: str, queries: Mapping[str, str | sql.Composable], params: object = None) -> dict:
    """Seconds (with CPU seconds under a meter, cpu_meter.span) and bytes to COPY each query's rows out
    (binary, streamed, discarded)."""
    out: dict[str, dict] = {}
    with connect(dsn) as conn:
        for name, query in queries.items():
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(
                sql.SQL(query) if isinstance(query, str) else query
            )
            out[name] = part = {}
            with span(part):
                size = 0
                for block in copy_out_stream(conn, statement, params):
                    size += len(block)
            part["bytes"] = size
        conn.rollback()
    return out


def write_in(dsn: str, sources: Mapping[str, tuple[str, str | sql.Composable]], work: Path) -> dict:
    """Seconds to COPY rows into same-shaped scratch tables.

    `sources` maps a name to (table whose shape the copy takes, query giving the rows to write). Each
    query is dumped (binary) to a file first, outside the timer; the load runs from that file into an
    empty `LIKE ... INCLUDING ALL` copy and commits.
    """
    out: dict[str, dict] = {}
    with connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}").format(sql.Identifier(SCRATCH))
        )
        try:
            for name, (shape, query) in sources.items():
                out[name] = _write_one(conn, name, shape, query, work)
        finally:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCRATCH)))
    return out


def _write_one(
    conn: psycopg.Connection, name: str, shape: str, query: str | sql.Composable, work: Path
) -> dict:
    target = sql.Identifier(SCRATCH, name.replace(".", "_"))
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(target, sql.Identifier(*shape.split(".")))
    )
    rows_query = sql.SQL(query) if isinstance(query, str) else query
    with tempfile.NamedTemporaryFile(dir=work, prefix="floor-", suffix=".copy") as dump:
        for block in copy_out_stream(
            conn, sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(rows_query), None
        ):
            dump.write(block)
        dump.flush()
        size = Path(dump.name).stat().st_size
        conn.execute("CHECKPOINT")
        timed: dict = {}
        with (
            span(timed),
            open(dump.name, "rb") as source,
            conn.transaction(),
            conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(target)) as copy,
        ):
            while block := source.read(BLOCK):
                copy.write(block)
    rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()[0]
    conn.execute(sql.SQL("DROP TABLE {}").format(target))
    return {**timed, "rows": rows, "bytes": size}


def total(parts: Iterable[Mapping[str, dict]]) -> float:
    """The sum of every part's seconds."""
    return round(sum(p["seconds"] for part in parts for p in part.values()), 3)


def total_cpu(parts: Iterable[Mapping[str, dict]]) -> float | None:
    """The sum of every part's server + client CPU seconds (None if any is unknown)."""
    cpus = [cpu_of(p) for part in parts for p in part.values()]
    return None if not cpus or None in cpus else round(sum(c for c in cpus if c is not None), 3)
