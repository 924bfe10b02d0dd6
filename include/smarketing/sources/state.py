"""Sync state and exactly-once landing for the API sources.

**The invariant.** For every source system and raw object, a record version — `(source_id,
source_updated_at)`, or `source_id` alone for records without a modified time (events) — is landed in
raw **at most once**, and every version the API showed with a modified time at or below the watermark
has been landed **at least once**. Both hold whatever is killed, retried or re-run:

* a page's records and the state that covers them (`ops.sync_state`) commit in ONE transaction
  (`land_page`);
* before landing, a page is filtered against what raw already holds for those ids (and against its own
  duplicates), so overlapping windows, re-fetched pages and retried runs add nothing twice
  (`new_versions`);
* one extraction per source and object at a time (a PostgreSQL advisory lock, `extraction_lock`).

How the pages are read (keyset, windowed, newest first) is `smarketing.sources.paging`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from smarketing.errors import SmarketingError
from smarketing.warehouse.loading import land_batch

# Arbitrary first key of the extraction advisory locks (the second is the source/object hash).
_LOCK_CLASS = 4_242_004


class ExtractError(SmarketingError):
    """A page could not be extracted; names the source, the object and where the pull stood."""

    def __init__(self, source: str, object: str, cursor: Mapping[str, Any], problem: str) -> None:
        self.source, self.object, self.cursor = source, object, dict(cursor)
        super().__init__(
            f"{source}/{object}: extraction stopped at cursor {json.dumps(self.cursor, sort_keys=True)}: "
            f"{problem} (the watermark stays where it was; the next run resumes from it)"
        )


class SourceBusy(SmarketingError):
    """Another extraction of the same source and object holds the lock."""


@dataclass(frozen=True)
class SyncState:
    """Where a pull of one source object stands: its watermark (epoch ms) and resume cursor."""

    watermark_ms: int | None
    cursor: dict[str, Any]


def read_state(conn: psycopg.Connection, source_system: str, key: str) -> SyncState:
    """The state row of `key` (an object, or a sub-pull like `contacts.archived`); empty when none."""
    row = conn.execute(
        """
        SELECT (extract(epoch FROM watermark) * 1000)::bigint, cursor
        FROM ops.sync_state WHERE source_system = %s AND object = %s
        """,
        (source_system, key),
    ).fetchone()
    if row is None:
        return SyncState(None, {})
    return SyncState(int(row[0]) if row[0] is not None else None, dict(row[1] or {}))


def save_state(
    conn: psycopg.Connection,
    source_system: str,
    key: str,
    *,
    watermark_ms: int | None,
    cursor: Mapping[str, Any],
) -> None:
    """Upsert the state; the watermark never moves backwards (overlaps and backfills re-read older data)."""
    conn.execute(
        """
        INSERT INTO ops.sync_state (source_system, object, watermark, cursor, updated_at)
        VALUES (%(s)s, %(o)s, to_timestamp(%(w)s / 1000.0), %(c)s::jsonb, now())
        ON CONFLICT (source_system, object) DO UPDATE
           SET watermark = GREATEST(ops.sync_state.watermark, EXCLUDED.watermark),
               cursor = EXCLUDED.cursor,
               updated_at = now()
        """,
        {"s": source_system, "o": key, "w": watermark_ms, "c": json.dumps(dict(cursor))},
    )


@contextmanager
def extraction_lock(conn: psycopg.Connection, source_system: str, key: str) -> Iterator[None]:
    """Session-level advisory lock: one extraction per source and object across all workers.

    Raises SourceBusy at once (no waiting) when another session holds it.
    """
    lock_id = zlib.crc32(f"smarketing.extract:{source_system}:{key}".encode()) & 0x7FFFFFFF
    (got,) = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS, lock_id)).fetchone() or (
        False,
    )
    if not got:
        raise SourceBusy(f"{source_system}/{key}: another extraction is running (advisory lock held)")
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, lock_id))


@dataclass
class LandResult:
    """What one landing did: rows received, rows new to raw, the batches written."""

    received: int = 0
    landed: int = 0
    batches: list[int] = field(default_factory=list)

    def add(self, other: LandResult) -> None:
        self.received += other.received
        self.landed += other.landed
        self.batches += other.batches


def _version_keys(ids: pa.Array, updated_ms: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(ids, pc.fill_null(updated_ms.cast(pa.string()), "-"), "|")


def new_versions(conn: psycopg.Connection, *, source_system: str, object: str, rows: pa.Table) -> pa.Table:
    """The rows whose (source_id, updated) version is neither earlier in the page nor already in raw."""
    if rows.num_rows == 0:
        return rows
    ids = rows.column("source_id").combine_chunks().cast(pa.string())
    keys = _version_keys(ids, rows.column("updated_ms").combine_chunks())
    # Within the page: keep the first of each version.
    keep = ~keys.to_pandas().duplicated(keep="first").to_numpy()
    # One index probe per id (a lateral nested loop), planned afresh each time: a plan cached while
    # the table was still small would scan it whole once it has grown within the same run.
    landed = conn.execute(
        sql.SQL(
            """
            SELECT k.id || '|' || coalesce(floor(extract(epoch FROM r.source_updated_at) * 1000)::bigint::text, '-')
            FROM unnest(%s::text[]) AS k(id)
            JOIN LATERAL (
                SELECT source_updated_at FROM raw.{} WHERE source_system = %s AND source_id = k.id
            ) r ON true
            """
        ).format(sql.Identifier(object)),
        (ids.unique().to_pylist(), source_system),
        prepare=False,
    ).fetchall()
    if landed:
        seen = pa.array([k for (k,) in landed], pa.string())
        keep &= ~np.asarray(pc.is_in(keys, value_set=seen))
    return rows.filter(pa.array(keep))


def land_page(
    conn: psycopg.Connection,
    *,
    source_system: str,
    key: str,
    tables: Mapping[str, pa.Table],
    origin: str,
    watermark_ms: int | None,
    cursor: Mapping[str, Any],
    run_id: str | None,
) -> LandResult:
    """Land one page and advance the state of `key`, all in one transaction.

    `tables` holds one table of landing rows (`records.canonical_table`) per raw object; `origin` says
    where the page came from (kept on the batch); `watermark_ms` (None: unchanged) and `cursor` are the
    state the page completes.
    """
    result = LandResult()
    with conn.transaction():
        for object, rows in tables.items():
            result.received += rows.num_rows
            fresh = new_versions(conn, source_system=source_system, object=object, rows=rows)
            if fresh.num_rows == 0:
                continue
            batch = land_batch(
                conn,
                source_system=source_system,
                object=object,
                origin=origin,
                rows=[fresh.select(["source_id", "source_updated_at", "payload"])],
                run_id=run_id,
            )
            if batch is not None:
                result.landed += batch.rows
                result.batches.append(batch.batch_id)
        save_state(conn, source_system, key, watermark_ms=watermark_ms, cursor=cursor)
    return result
