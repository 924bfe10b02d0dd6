"""COPY a frame into PostgreSQL in the binary format, built by numpy in one pass (no Python per row).

Every column travels as an 8-byte number, so every row has the same size and the whole payload is one
structured numpy array: instants as epoch microseconds, floats as float8, and text as an index into the
column's distinct values (sent once, as an array parameter, and looked up in SQL). NULL is a sentinel —
int64 min, NaN, or code -1 — turned back into NULL by `decode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

NULL_INT = np.iinfo(np.int64).min
_HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
_TRAILER = np.array([-1], dtype=">i2").tobytes()


@dataclass(frozen=True)
class Encoded:
    """Columns ready for `copy_numeric`, with what `decode` needs to rebuild them in SQL."""

    arrays: dict[str, np.ndarray]  # int64 or float64, no missing values
    kinds: dict[str, str]  # column -> "int", "float", "time" or "text"
    vocabularies: dict[str, list[str]]  # text column -> its distinct values

    def decode(self, column: str) -> sql.Composable:
        """SQL expression turning the staged number back into the column's value (NULL included)."""
        name = sql.Identifier(column)
        kind = self.kinds[column]
        if kind == "float":
            return sql.SQL("NULLIF({}, 'NaN')").format(name)
        if kind == "text":
            return sql.SQL("({}::text[])[NULLIF({}, -1) + 1]").format(
                sql.Literal(self.vocabularies[column]), name
            )
        value = sql.SQL("NULLIF({}, {})").format(name, sql.Literal(int(NULL_INT)))
        if kind == "time":
            return sql.SQL("timestamptz 'epoch' + {} * interval '1 microsecond'").format(value)
        return value

    def staging_type(self, column: str) -> str:
        return "double precision" if self.kinds[column] == "float" else "bigint"


def encode(frame: pd.DataFrame, *, times: Sequence[str] = (), texts: Sequence[str] = ()) -> Encoded:
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    vocabularies: dict[str, list[str]] = {}
    for column in frame.columns:
        values = frame[column]
        if column in times:
            index = pd.DatetimeIndex(pd.to_datetime(values, utc=True)).as_unit("us")
            arrays[column] = np.where(index.isna(), NULL_INT, index.asi8)
            kinds[column] = "time"
        elif column in texts:
            codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
            arrays[column] = codes.astype(np.int64)
            vocabularies[column] = [str(u) for u in uniques]
            kinds[column] = "text"
        elif values.dtype.kind == "f":
            arrays[column] = values.to_numpy(dtype=np.float64, na_value=np.nan)
            kinds[column] = "float"
        else:
            numbers = pd.to_numeric(values).astype("Int64")
            arrays[column] = numbers.to_numpy(dtype=np.int64, na_value=NULL_INT)
            kinds[column] = "int"
    return Encoded(arrays, kinds, vocabularies)


_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: where PostgreSQL counts from


def copy_native(conn: psycopg.Connection, table: sql.Composable, encoded: Encoded) -> None:
    """COPY the encoded columns straight into `table` in PostgreSQL's own binary layout.

    Rows are no longer of one size (text has its length, NULL has none), so the payload is laid out by
    offsets: each column's field starts are a cumulative sum over the row, and every value is scattered
    into one byte buffer with fancy indexing — one pass per column (and per distinct text), none per row.
    Columns: "int" → bigint, "float" → double precision, "time" → timestamptz, "text" → text.
    """
    names = list(encoded.arrays)
    n = len(next(iter(encoded.arrays.values()))) if names else 0
    payloads: list[tuple[np.ndarray, np.ndarray]] = []  # (length per row, -1 = NULL; payload lengths)
    texts: dict[str, list[bytes]] = {}
    for name in names:
        values, kind = encoded.arrays[name], encoded.kinds[name]
        if kind == "text":
            words = [w.encode() for w in encoded.vocabularies[name]]
            texts[name] = words
            sizes = np.array([len(w) for w in words] + [0], dtype=np.int64)
            null = values < 0
            lengths = np.where(null, -1, sizes[np.where(null, len(words), values)])
        else:
            null = np.isnan(values) if kind == "float" else values == NULL_INT
            lengths = np.where(null, -1, 8)
        payloads.append((lengths.astype(np.int64), np.maximum(lengths, 0)))
    field_sizes = np.stack([4 + p for _, p in payloads], axis=1) if names else np.zeros((n, 0), np.int64)
    row_sizes = 2 + field_sizes.sum(axis=1)
    row_starts = np.concatenate([[0], np.cumsum(row_sizes)[:-1]]).astype(np.int64)
    body = np.zeros(int(row_sizes.sum()), dtype=np.uint8)
    _scatter(body, row_starts, np.full(n, len(names), dtype=">i2"))
    field_starts = row_starts + 2
    for i, name in enumerate(names):
        lengths, sizes = payloads[i]
        _scatter(body, field_starts, lengths.astype(">i4"))
        data = field_starts + 4
        values, kind = encoded.arrays[name], encoded.kinds[name]
        present = lengths >= 0
        if kind == "text":
            for code, word in enumerate(texts[name]):
                rows = np.flatnonzero(values == code)
                if len(rows) and word:
                    body[data[rows, None] + np.arange(len(word))] = np.frombuffer(word, dtype=np.uint8)
        elif kind == "float":
            _scatter(body, data[present], values[present].astype(">f8"))
        else:
            shifted = values[present] - (_PG_EPOCH_US if kind == "time" else 0)
            _scatter(body, data[present], shifted.astype(">i8"))
        field_starts = data + sizes
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in names)
    )
    with conn.cursor().copy(statement) as copy:
        copy.write(_HEADER)
        view = memoryview(body)
        for start in range(0, len(body), 8 << 20):
            copy.write(view[start : start + (8 << 20)])
        copy.write(_TRAILER)


def _scatter(body: np.ndarray, starts: np.ndarray, values: np.ndarray) -> None:
    """Write fixed-width big-endian `values` (one per start) into `body` at byte offsets `starts`."""
    width = values.dtype.itemsize
    if len(starts):
        body[starts[:, None] + np.arange(width)] = values.view(np.uint8).reshape(-1, width)


def copy_numeric(conn: psycopg.Connection, table: str, encoded: Encoded) -> None:
    """COPY the encoded columns into `table` (its columns named alike) as one binary payload."""
    names = list(encoded.arrays)
    n = len(next(iter(encoded.arrays.values()))) if names else 0
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for i, name in enumerate(names):
        fields += [(f"l{i}", ">i4"), (f"v{i}", ">f8" if encoded.kinds[name] == "float" else ">i8")]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(names)
    for i, name in enumerate(names):
        rows[f"l{i}"] = 8
        rows[f"v{i}"] = encoded.arrays[name]
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in names)
    )
    with conn.cursor().copy(statement) as copy:
        copy.write(_HEADER)
        chunk = 50_000
        for start in range(0, n, chunk):
            copy.write(rows[start : start + chunk].tobytes())
        copy.write(_TRAILER)
