"""Landing records into raw.* with COPY: the helpers every source (files, HubSpot, Mautic) shares.

A batch is one row in ops.load_batches plus its records in raw.<object>, written in ONE transaction:
a failure anywhere loads nothing. Records arrive as column arrays (Arrow tables or pandas frames)
holding `source_id`, `source_updated_at` and `payload` (JSON text); they are turned into COPY text
with Arrow compute kernels and streamed chunk by chunk, so a 20M-row file never needs 20M Python
objects at once.

Batches are also how the core build knows what is new. Landing holds a shared advisory lock for the
length of its transaction; the core build takes the same lock exclusively for an instant to read the
highest committed batch id, so no batch with a lower id can commit after the build has moved past it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from smarketing.warehouse.copy import copy_in_stream, escape_text, escape_text_value, text_buffer
from smarketing.warehouse.suppression import drop_erased

log = logging.getLogger(__name__)

RAW_OBJECTS = (
    "leads",
    "companies",
    "owners",
    "marketing_events",
    "sales_activities",
    "deals",
    "lifecycle_history",
    # API sources only (Mautic segments); no file mapping lands it.
    "segment_memberships",
)
# Arbitrary constant shared by landing (shared lock) and the core build (exclusive, momentarily).
LANDING_LOCK_KEY = 4_242_002
# A landing analyzes its raw table once the rows landed since the table's last ANALYZE reach this many
# and this share of the rows it held then (see `_analyze_if_grown`).
ANALYZE_MIN_ROWS = 10_000
ANALYZE_SHARE = 0.1

_RAW_COLUMNS = ("batch_id", "record_no", "source_system", "source_id", "source_updated_at", "payload")
# Characters JSON strings must escape; everything else (UTF-8 included) passes through unchanged.
_JSON_SPECIALS = r'[\\"\x00-\x1f]'
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


class LandingError(ValueError):
    """Records handed to land_batch break the landing contract (missing column, empty id, NUL)."""


@dataclass(frozen=True)
class LandedBatch:
    batch_id: int
    rows: int


# -- JSON text, built column-wise -----------------------------------------------------------------
def _as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def json_string_tokens(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string as a JSON string literal (`"a\\"b"`), nulls as `null`."""
    values = _as_array(values).cast(pa.string())
    if pc.any(pc.match_substring_regex(values, _JSON_SPECIALS)).as_py():
        for raw, escaped in _JSON_ESCAPES:
            values = pc.replace_substring(values, raw, escaped)
        # Other control characters are rare enough to take a second, regex-driven pass.
        if pc.any(pc.match_substring_regex(values, r"[\x00-\x08\x0b\x0c\x0e-\x1f]")).as_py():
            for code in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]:
                values = pc.replace_substring(values, chr(code), f"\\u{code:04x}")
    return pc.fill_null(pc.binary_join_element_wise('"', values, '"', ""), "null")


def json_literal_tokens(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Numbers or booleans as JSON literals (`12.5`, `true`), nulls as `null`."""
    return pc.fill_null(_as_array(values).cast(pa.string()), "null")


def json_key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def json_objects(
    fields: Sequence[tuple[str, pa.Array]],
    *,
    nested: Sequence[tuple[str, Sequence[tuple[str, pa.Array]]]] = (),
    length: int,
) -> pa.Array:
    """One JSON object per row from pre-encoded value tokens (see json_*_tokens).

    `fields` are (key, tokens) pairs; `nested` adds sub-objects, e.g. ("attributes", [...]).
    """
    parts: list[pa.Array | str] = ["{"]
    first = True

    def add(key: str) -> None:
        nonlocal first
        parts.append(("" if first else ",") + json_key(key) + ":")
        first = False

    for key, tokens in fields:
        add(key)
        parts.append(tokens)
    for key, members in nested:
        add(key)
        if not members:
            parts.append("{}")
            continue
        for i, (member, tokens) in enumerate(members):
            parts.append(("{" if i == 0 else ",") + json_key(member) + ":")
            parts.append(tokens)
        parts.append("}")
    parts.append("}")
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.array(["".join(p for p in parts if isinstance(p, str))] * length, pa.string())
    return _join(parts)


def _join(parts: Sequence[pa.Array | str]) -> pa.Array:
    # Adjacent literals are merged so the kernel sees as few arguments as possible.
    merged: list[pa.Array | str] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return pc.binary_join_element_wise(*merged, "")


# -- COPY text ------------------------------------------------------------------------------------
def _column(rows: pa.Table, name: str) -> pa.Array:
    if name not in rows.column_names:
        raise LandingError(f"landing rows need a '{name}' column (have: {', '.join(rows.column_names)})")
    return _as_array(rows.column(name)).cast(pa.string())


def _to_table(rows: pa.Table | pa.RecordBatch | pd.DataFrame) -> pa.Table:
    if isinstance(rows, pd.DataFrame):
        return pa.Table.from_pandas(rows, preserve_index=False)
    if isinstance(rows, pa.RecordBatch):
        return pa.Table.from_batches([rows])
    return rows


def copy_block(rows: pa.Table, *, batch_id: int, first_record_no: int, source_system: str) -> memoryview:
    """COPY text for raw.<object> rows: one contiguous buffer, no per-row Python objects."""
    n = rows.num_rows
    source_id = _column(rows, "source_id")
    if source_id.null_count or pc.any(pc.equal(source_id, "")).as_py():
        at = int(pc.index(pc.fill_null(source_id, ""), "").as_py())
        raise LandingError(f"record {first_record_no + at}: empty source_id")
    if pc.any(pc.match_substring(source_id, "\x00")).as_py():
        raise LandingError("a source_id holds a NUL character, which PostgreSQL cannot store")
    payload = _column(rows, "payload")
    if payload.null_count:
        raise LandingError(
            f"record {first_record_no + int(pc.index(pc.is_null(payload), True).as_py())}: no payload"
        )
    if "source_updated_at" in rows.column_names:
        updated = pc.fill_null(_column(rows, "source_updated_at"), "\\N")
    else:
        updated = "\\N"
    record_no = pa.array(np.arange(first_record_no, first_record_no + n, dtype=np.int64)).cast(pa.string())
    lines = pc.binary_join_element_wise(
        f"{batch_id}",
        "\t",
        record_no,
        "\t" + escape_text_value(source_system) + "\t",
        escape_text(source_id),
        "\t",
        updated,
        "\t",
        # JSON text has no raw tab or newline (they are escaped), only backslashes to double.
        pc.replace_substring(payload, "\\", "\\\\"),
        "\n",
        "",
    )
    return text_buffer(lines)


# -- batches --------------------------------------------------------------------------------------
def _check_object(obj: str) -> None:
    if obj not in RAW_OBJECTS:
        raise LandingError(f"unknown canonical object '{obj}' (objects: {', '.join(RAW_OBJECTS)})")


def already_landed(conn: psycopg.Connection, *, source_system: str, object: str, content_sha256: str) -> bool:
    """True when these exact bytes were already landed for this source and object."""
    row = conn.execute(
        "SELECT 1 FROM ops.load_batches WHERE source_system = %s AND object = %s AND content_sha256 = %s",
        (source_system, object, content_sha256),
    ).fetchone()
    return row is not None


def land_batch(
    conn: psycopg.Connection,
    *,
    source_system: str,
    object: str,
    origin: str,
    rows: Iterable[pa.Table | pa.RecordBatch | pd.DataFrame],
    content_sha256: str | None = None,
    run_id: str | None = None,
) -> LandedBatch | None:
    """Land one batch in a single transaction; None when the same content was landed before.

    `rows` yields chunks with columns `source_id`, `payload` (JSON object text, canonical field
    names, unmapped fields under "attributes") and optionally `source_updated_at` (ISO 8601). The
    generator is consumed inside the transaction: an error it raises rolls the whole batch back.
    Record numbers run 1..n across chunks in the order given.
    """
    _check_object(object)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (LANDING_LOCK_KEY,))
        inserted = conn.execute(
            """
            INSERT INTO ops.load_batches (source_system, object, origin, content_sha256, run_id)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (source_system, object, content_sha256) WHERE content_sha256 IS NOT NULL DO NOTHING
            RETURNING batch_id
            """,
            (source_system, object, origin, content_sha256, run_id),
        ).fetchone()
        if inserted is None:  # landed concurrently by another run since the caller last looked
            return None
        batch_id = int(inserted[0])
        count = 0

        def blocks() -> Iterator[memoryview]:
            nonlocal count
            for chunk in rows:
                table = _to_table(chunk)
                if table.num_rows:
                    yield copy_block(
                        table, batch_id=batch_id, first_record_no=count + 1, source_system=source_system
                    )
                    count += table.num_rows

        copy_in_stream(conn, f"raw.{object}", _RAW_COLUMNS, blocks())
        dropped = drop_erased(conn, object, batch_id)
        count -= dropped
        conn.execute("UPDATE ops.load_batches SET row_count = %s WHERE batch_id = %s", (count, batch_id))
        _analyze_if_grown(conn, object)
    log.info("landed %s/%s from %s as batch %s: %s rows", source_system, object, origin, batch_id, count)
    if dropped:
        log.info("dropped %s records of erased people from batch %s", dropped, batch_id)
    return LandedBatch(batch_id=batch_id, rows=count)


def _analyze_if_grown(conn: psycopg.Connection, object: str) -> None:
    """ANALYZE raw.<object> when the rows landed since its last ANALYZE have changed it a lot.

    Every later statement on the table plans with these statistics: the re-delivery check of the next
    file, validation's staging, the core build's joins. Without them a first load of 20M events leaves
    the planner a table it believes empty, and the next hour's re-delivery check of a thousand records
    sorted every landed event (64 s at 4M events). Autovacuum analyzes minutes later, if it runs at all;
    the landing does it in its own transaction (ANALYZE counts the batch's uncommitted rows), for about
    the cost of reading 30k sampled rows. Rows since the last ANALYZE are counted from the batches
    (pg_stat's change counter counts rows analyzed inside their own transaction twice).
    """
    row = conn.execute(
        """
        SELECT greatest(c.reltuples, 0),
               (SELECT coalesce(sum(b.row_count), 0) FROM ops.load_batches b
                WHERE b.object = %(object)s
                  AND b.loaded_at > coalesce(greatest(s.last_analyze, s.last_autoanalyze), '-infinity'))
        FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.oid = %(table)s::regclass
        """,
        {"object": object, "table": f"raw.{object}"},
    ).fetchone()
    known, pending = (float(row[0]), int(row[1])) if row else (0.0, 0)
    if pending >= ANALYZE_MIN_ROWS and pending >= ANALYZE_SHARE * known:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier("raw", object)))


def committed_high_water(conn: psycopg.Connection) -> int:
    """Highest batch id such that every batch at or below it has committed (or rolled back).

    Waits for landings in flight, then lets them continue: the exclusive lock is held for one query.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (LANDING_LOCK_KEY,))
    try:
        row = conn.execute("SELECT coalesce(max(batch_id), 0) FROM ops.load_batches").fetchone()
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LANDING_LOCK_KEY,))
    return int(row[0]) if row else 0
