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
