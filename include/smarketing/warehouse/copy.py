"""COPY in and out of PostgreSQL: the one module every bulk load and bulk read goes through.

No Python object per row on either side: values travel as numpy arrays or Arrow columns.

Out (`COPY ... TO STDOUT`), read through libpq's blocking loop (see `copy_out_stream`):
* `copy_out_stream` / `copy_out_bytes`: the raw stream, in blocks or whole;
* `copy_out_fixed`: binary rows of fixed-width, non-null columns straight into numpy arrays;
* `copy_out_csv`: CSV parsed by Arrow's multi-threaded reader into a frame.

In (`COPY ... FROM STDIN`), written in blocks of `CHUNK` bytes:
* `copy_in_stream`: text or CSV blocks the caller built (e.g. raw landing's Arrow-made lines);
* `copy_in_frame`: a frame written as CSV by Arrow;
* `copy_in_fixed`: non-null fixed-width columns laid out as binary rows in one structured array;
* `copy_in_columns`: `encode`d columns with NULLs and text, in PostgreSQL's own binary layout.

`escape_text` / `text_buffer` build COPY text-format payloads column-wise with Arrow kernels.
Timestamps cross the binary paths as microseconds since the Unix epoch (int64); `utc` turns them back.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import pq, sql

FixedType = Literal["int2", "int4", "int8", "float8", "timestamptz"]
"""PostgreSQL types a fixed-width binary column may have."""
Kind = Literal["int", "float", "time", "text", "int4", "bool", "date", "cents", "int4[]", "float8[]"]
"""How an `encode`d column travels: int8, float8, timestamptz (epoch us) or text (codes); for
`copy_in_columns` straight into a table's own types also int4, boolean (0/1), date (days since the Unix
epoch), numeric from whole cents, and one-dimensional int4[] / float8[] of a fixed length (2-D arrays)."""

CHUNK = 8 << 20  # bytes per write and per streamed block: large enough to amortise, small enough to stream
# PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC.
PG_EPOCH_US = 946_684_800_000_000
PG_EPOCH_DAYS = 10_957
NULL_INT = np.iinfo(np.int64).min  # `encode`'s NULL for integer and time columns
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = _SIGNATURE + bytes(8)  # flags and header extension length: both 0
_TRAILER = b"\xff\xff"  # a field count of -1
_WIDTH = {"int2": 2, "int4": 4, "int8": 8, "float8": 8, "timestamptz": 8}
_NUMPY = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8", "timestamptz": ">i8"}
# COPY text format: backslash, tab, newline and carriage return are special.
_TEXT_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))

Table = str | sql.Composable
"""A table: "schema.name", "name" (temp tables), or a composed identifier."""


def _table(table: Table) -> sql.Composable:
    return sql.Identifier(*table.split(".")) if isinstance(table, str) else table


def _target(table: Table, columns: Iterable[str], options: str = "") -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        _table(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.SQL(options)
    )


# -- out ---------------------------------------------------------------------------------------------
def copy_out_stream(
    conn: psycopg.Connection,
    statement: sql.Composable,
    params: Mapping | None = None,
    *,
    block_size: int | None = CHUNK,
) -> Iterator[bytearray]:
    """Yield the stream of `statement` (a `COPY ... TO STDOUT`) in blocks of at least `block_size` bytes.

    `params` are bound client-side, as psycopg does for COPY. `block_size=None` yields one block.
    PostgreSQL sends one message per row, and psycopg's COPY iterator spends a generator step and a
    wait on each; with millions of rows that outweighs the server's work. libpq's blocking read loop
    (psycopg's documented `pq` layer) pulls the same messages 1.5-2x faster. Stopping early drains
    the rest, so the connection is usable afterwards.
    """
    query = psycopg.ClientCursor(conn).mogrify(statement, params)
    if not conn.autocommit and conn.info.transaction_status == pq.TransactionStatus.IDLE:
        conn.execute("SELECT 1")  # open the transaction psycopg opens before any statement (libpq would not)
    with conn.lock:
        pgconn = conn.pgconn
        pgconn.send_query(query.encode(conn.info.encoding))
        _start_copy_out(conn, pgconn.get_result())
        data, done = bytearray(), False
        try:
            while True:
                size, block = pgconn.get_copy_data(0)
                if size < 0:
                    done = True
                    break
                data += block
                if block_size is not None and len(data) >= block_size:
                    yield data
                    data = bytearray()
        finally:
            while not done and pgconn.get_copy_data(0)[0] >= 0:
                pass
            _finish(conn)
        if data or block_size is None:
            yield data


def _start_copy_out(conn: psycopg.Connection, result: pq.abc.PGresult | None) -> None:
    if result is not None and result.status == pq.ExecStatus.COPY_OUT:
        return
    error = psycopg.errors.error_from_result(result, encoding=conn.info.encoding) if result else None
    while conn.pgconn.get_result() is not None:
        pass
    raise error or psycopg.OperationalError("COPY TO STDOUT did not start")


def _finish(conn: psycopg.Connection) -> None:
    failure = None
    while (result := conn.pgconn.get_result()) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            failure = failure or psycopg.errors.error_from_result(result, encoding=conn.info.encoding)
    if failure:
        raise failure


def copy_out_bytes(
    conn: psycopg.Connection, statement: sql.Composable, params: Mapping | None = None
) -> bytearray:
    """The whole stream of `statement` (a `COPY ... TO STDOUT`) in one buffer."""
    return next(copy_out_stream(conn, statement, params, block_size=None))


def _fixed_row(columns: Sequence[tuple[str, FixedType]]) -> np.dtype:
    """One binary COPY row of these columns: field count, then (length, big-endian value) per column."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for name, kind in columns:
        fields += [(f"{name}__len", ">i4"), (name, _NUMPY[kind])]
    return np.dtype(fields)


def copy_out_fixed(
    conn: psycopg.Connection,
    query: sql.Composable,
    columns: Sequence[tuple[str, FixedType]],
    params: Mapping | None = None,
) -> dict[str, np.ndarray]:
    """Run `query` into native arrays, one per column.

    `columns` are `query`'s columns exactly, as (name, PostgreSQL type), never NULL. Returns arrays in
    native byte order; timestamps as microseconds since the Unix epoch. Raises ValueError when the rows
    are not of that layout (a NULL, another type).
    """
    data = copy_out_bytes(conn, sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(query), params)
    if data[:11] != _SIGNATURE:
        raise ValueError("not a PostgreSQL binary COPY stream")
    start = 19 + int.from_bytes(data[15:19], "big")  # after the header extension
    row = _fixed_row(columns)
    body = memoryview(data)[start : len(data) - 2]  # the trailer is a field count of -1
    if len(body) % row.itemsize:
        raise ValueError("binary COPY rows are not fixed-width: a column is NULL or of another type")
    rows = np.frombuffer(body, dtype=row)
    if len(rows) and (
        (rows["count"] != len(columns)).any()
        or any((rows[f"{name}__len"] != _WIDTH[kind]).any() for name, kind in columns)
    ):
        raise ValueError("binary COPY rows do not have the expected columns")
    out: dict[str, np.ndarray] = {}
    for name, kind in columns:
        values = rows[name].astype(_NUMPY[kind].replace(">", "="))
        out[name] = values + PG_EPOCH_US if kind == "timestamptz" else values
    return out


def copy_out_csv(
    conn: psycopg.Connection,
    query: sql.Composable,
    params: Mapping | None = None,
    *,
    types: Mapping[str, pa.DataType] | None = None,
    infer: bool = False,
) -> pd.DataFrame:
    """Run `query` into a frame (an empty frame without columns when it returns no row).

    `types`: Arrow types for some columns. The others are text, or with `infer=True` typed from their
    values, integers then as nullable `Int64` (64-bit hashes and epoch microseconds stay exact). Booleans
    arrive as PostgreSQL's t/f; an unquoted empty field is NULL, a quoted one the empty string.
    """
    statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)
    data = copy_out_bytes(conn, statement, params)
    if not data:
        return pd.DataFrame()
    column_types = dict(types or {})
    if not infer:
        header = bytes(data[: data.index(b"\n")]).decode().split(",")
        column_types = {name: column_types.get(name, pa.string()) for name in header}
    table = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types=column_types,
            # Only PostgreSQL's NULL (an unquoted empty field): Arrow's default list would also read
            # the texts "NULL", "NA", "nan", ... as missing.
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t", "true"],
            false_values=["f", "false"],
        ),
    )
    if infer:
        return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return table.to_pandas()


# -- in ----------------------------------------------------------------------------------------------
def copy_in_stream(
    conn: psycopg.Connection,
    table: Table,
    columns: Sequence[str],
    blocks: Iterable[bytes | bytearray | memoryview],
    *,
    format: Literal["text", "csv", "binary"] = "text",
) -> int:
    """Stream caller-built `format` blocks into `table`'s `columns`; returns the bytes written.

    `blocks` is consumed inside the COPY: an error it raises aborts the COPY (and the caller's
    transaction). Each block is sent in slices of at most `CHUNK` bytes.
    """
    written = 0
    options = "" if format == "text" else f" (FORMAT {format})"
    with conn.cursor() as cur, cur.copy(_target(table, columns, options)) as copy:
        for block in blocks:
            view = memoryview(block).cast("B")
            for offset in range(0, len(view), CHUNK):
                copy.write(view[offset : offset + CHUNK])
            written += len(view)
    return written


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # Categorical columns (repeated rule and profile ids) arrive as dictionaries: write their values.
    for i, column in enumerate(table.columns):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(i, table.field(i).name, column.cast(column.type.value_type))
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def copy_in_frame(conn: psycopg.Connection, table: Table, frame: pd.DataFrame) -> int:
    """COPY `frame` into `table`, columns by the frame's column names, as CSV; returns its rows.

    Missing values (None, NaN, NaT, pd.NA) become NULL; an empty string stays an empty string.
    """
    if frame.empty:
        return 0
    copy_in_stream(conn, table, [str(c) for c in frame.columns], [_csv_bytes(frame)], format="csv")
    return len(frame)


def copy_in_fixed(
    conn: psycopg.Connection,
    table: Table,
    columns: Sequence[tuple[str, FixedType]],
    arrays: Mapping[str, np.ndarray],
) -> int:
    """COPY non-null fixed-width columns into `table` in binary; returns the rows written.

    `columns`: (name, PostgreSQL type) of the table columns to fill; `arrays`: one array per name
    (timestamps as microseconds since the Unix epoch), all of one length. The rows are one structured
    array: no text formatting of numbers on either side.
    """
    n = len(arrays[columns[0][0]]) if columns else 0
    if not n:
        return 0
    rows = np.empty(n, dtype=_fixed_row(columns))
    rows["count"] = len(columns)
    for name, kind in columns:
        rows[f"{name}__len"] = _WIDTH[kind]
        values = np.asarray(arrays[name])
        rows[name] = values - PG_EPOCH_US if kind == "timestamptz" else values
    body = memoryview(rows).cast("B")
    copy_in_stream(conn, table, [name for name, _ in columns], [_HEADER, body, _TRAILER], format="binary")
    return n


# -- in, binary with NULLs and text ----------------------------------------------------------------------
@dataclass(frozen=True)
class Encoded:
    """A frame's columns as numbers, ready for `copy_in_columns` (or `copy_in_fixed` into a staging
    table of int8/float8 columns, `decode`d back in SQL)."""

    arrays: dict[str, np.ndarray]  # int64 or float64, one per column, no missing values
    kinds: dict[str, Kind]
    vocabularies: dict[str, list[str]]  # text column -> its distinct values (the codes index them)

    def decode(self, column: str) -> sql.Composable:
        """SQL expression turning a staged number back into the column's value (NULL included)."""
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
        """The SQL type of `column` in a staging table filled by `copy_in_fixed(..., staged_columns())`."""
        return "double precision" if self.kinds[column] == "float" else "bigint"

    def plus(self, name: str, kind: Kind, values: np.ndarray, vocabulary: Sequence[str] = ()) -> Encoded:
        """These columns and one more, `values` as `encode` makes them of its kind (int4, bool, date:
        integers, days since the Unix epoch for a date; cents: whole cents as integers; an array kind:
        one row of a 2-D array per row; text: codes into `vocabulary`)."""
        vocabularies = {**self.vocabularies, name: list(vocabulary)} if kind == "text" else self.vocabularies
        return Encoded({**self.arrays, name: values}, {**self.kinds, name: kind}, vocabularies)

    def take(self, rows: np.ndarray) -> Encoded:
        """These columns at `rows` only (a boolean mask or positions)."""
        return Encoded(
            {name: values[rows] for name, values in self.arrays.items()}, self.kinds, self.vocabularies
        )

    def staged_columns(self) -> list[tuple[str, FixedType]]:
        """Every column as the fixed-width type its numbers travel as (float8, else int8)."""
        return [(name, "float8" if kind == "float" else "int8") for name, kind in self.kinds.items()]


def encode(frame: pd.DataFrame, *, times: Sequence[str] = (), texts: Sequence[str] = ()) -> Encoded:
    """`frame`'s columns as numbers: `times` as epoch microseconds, `texts` as codes into their
    distinct values, floats as float64, everything else as int64. NULL is `NULL_INT`, NaN or code -1."""
    arrays: dict[str, np.ndarray] = {}
    kinds: dict[str, Kind] = {}
    vocabularies: dict[str, list[str]] = {}
    for column in frame.columns:
        values = frame[column]
        if column in times:
            index = pd.DatetimeIndex(pd.to_datetime(values, utc=True)).as_unit("us")
            arrays[column], kinds[column] = np.where(index.isna(), NULL_INT, index.asi8), "time"
        elif column in texts:
            codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
            arrays[column], kinds[column] = codes.astype(np.int64), "text"
            vocabularies[column] = [str(u) for u in uniques]
        elif values.dtype.kind == "f":
            arrays[column], kinds[column] = values.to_numpy(dtype=np.float64, na_value=np.nan), "float"
        else:
            numbers = pd.to_numeric(values).astype("Int64")
            arrays[column], kinds[column] = numbers.to_numpy(dtype=np.int64, na_value=NULL_INT), "int"
    return Encoded(arrays, kinds, vocabularies)


def copy_in_columns(conn: psycopg.Connection, table: Table, encoded: Encoded) -> int:
    """COPY `encode`d columns into `table` (columns named alike) in PostgreSQL's binary layout.

    "int" goes to bigint, "float" to double precision, "time" to timestamptz, "text" to text, the other
    kinds to their types (`Kind`); the sentinels become NULL. Rows are not of one size (text has its length, NULL has none), so each block
    of `ROWS_PER_BLOCK` rows is laid out by offsets (a cumulative sum over the rows' field sizes) and
    filled by one vectorised scatter per column, none per row nor per distinct text; blocks are sent as
    they are built, so memory stays bounded. Returns the rows written.
    """
    names = list(encoded.arrays)
    n = len(encoded.arrays[names[0]]) if names else 0
    if not n:
        return 0
    columns = [_Column.of(encoded, name) for name in names]
    blocks = (
        _binary_rows(columns, start, min(start + ROWS_PER_BLOCK, n)) for start in range(0, n, ROWS_PER_BLOCK)
    )
    copy_in_stream(conn, table, names, itertools.chain([_HEADER], blocks, [_TRAILER]), format="binary")
    return n


ROWS_PER_BLOCK = 65_536  # rows per binary block: index arrays stay in cache-friendly sizes


@dataclass(frozen=True)
class _Column:
    """One encoded column with what its binary fields need: byte length per row (-1: NULL) and, for
    text, the vocabulary's UTF-8 bytes end to end with each word's offset."""

    kind: Kind
    values: np.ndarray
    lengths: np.ndarray
    words: np.ndarray
    offsets: np.ndarray
    fixed_words: np.ndarray | None = None  # text: the vocabulary as one fixed-width bytes array

    @classmethod
    def of(cls, encoded: Encoded, name: str) -> _Column:
        values, kind = encoded.arrays[name], encoded.kinds[name]
        empty = np.zeros(0, dtype=np.int64)
        if kind == "text":
            utf8 = [w.encode() for w in encoded.vocabularies[name]]
            sizes = np.array([len(w) for w in utf8], dtype=np.int64)
            lengths = np.append(sizes, -1)[values]  # code -1 picks the appended entry: NULL
            words = np.frombuffer(b"".join(utf8), dtype=np.uint8)
            fixed = np.array(utf8 or [b""], dtype=f"S{max(1, int(sizes.max(initial=0)))}")
            return cls(kind, values, lengths, words, np.cumsum(sizes) - sizes, fixed)
        if kind in _ELEMENT_OID:
            fields = _array_fields(values, kind)
            sizes = np.full(len(values), fields.dtype.itemsize, dtype=np.int64)
            return cls(kind, fields, sizes, empty.astype(np.uint8), empty)
        null = np.isnan(values) if kind == "float" else values == NULL_INT
        values = np.where(null, 0, values)
        if kind == "time":
            values = values - PG_EPOCH_US
        elif kind == "date":
            values = values - PG_EPOCH_DAYS
        fields = _numeric_cents(values) if kind == "cents" else values.astype(_BINARY[kind])
        sizes = np.where(null, -1, fields.dtype.itemsize).astype(np.int64)
        return cls(kind, fields, sizes, empty.astype(np.uint8), empty)


_BINARY = {"int": ">i8", "float": ">f8", "time": ">i8", "int4": ">i4", "bool": "u1", "date": ">i4"}
_ELEMENT_OID = {"int4[]": (23, ">i4"), "float8[]": (701, ">f8")}
NUMERIC_NEGATIVE = 0x4000


def _numeric_cents(cents: np.ndarray) -> np.ndarray:
    """Whole cents as PostgreSQL's binary numeric, every value in one layout: four base-10000 digits
    (10^8, 10^4 and 1 for the whole part, then the cents as the first fraction digit), weight 2, scale 2.
    PostgreSQL strips the zero digits on receipt; amounts of 10^12 or more do not fit (no column here
    holds them)."""
    layout = np.dtype(
        [("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"), ("digits", ">i2", (4,))]
    )
    whole, fraction = np.divmod(np.abs(cents), 100)
    if len(whole) and whole.max() >= 10**12:
        raise ValueError("an amount of 10^12 or more does not fit the numeric layout")
    out = np.zeros(len(cents), dtype=layout)
    out["ndigits"], out["weight"], out["dscale"] = 4, 2, 2
    out["sign"] = np.where(cents < 0, NUMERIC_NEGATIVE, 0)
    out["digits"] = np.stack([whole // 10**8, whole // 10**4 % 10**4, whole % 10**4, fraction * 100], axis=1)
    return out


def _array_fields(values: np.ndarray, kind: Kind) -> np.ndarray:
    """Rows of a 2-D array as PostgreSQL's binary one-dimensional arrays (no NULL element)."""
    oid, element = _ELEMENT_OID[kind]
    width = values.shape[1]
    header = [("ndim", ">i4"), ("flags", ">i4"), ("oid", ">i4")]
    if width:
        header += [
            ("length", ">i4"),
            ("lower", ">i4"),
            ("items", [("size", ">i4"), ("value", element)], (width,)),
        ]
    out = np.zeros(len(values), dtype=np.dtype(header))
    out["ndim"], out["oid"] = (1 if width else 0), oid
    if width:
        out["length"], out["lower"] = width, 1
        out["items"]["size"] = np.dtype(element).itemsize
        out["items"]["value"] = values
    return out


def _binary_rows(columns: Sequence[_Column], start: int, stop: int) -> np.ndarray:
    """Rows `start:stop` of `columns` as binary COPY bytes, grouped by layout (`_layouts`); rows of one
    layout are one structured array, filled a column at a time."""
    lengths = [column.lengths[start:stop] for column in columns]
    groups = _layouts(lengths)
    if groups is None:
        return _scattered_rows(columns, start, stop)
    parts = []
    for rows in groups:
        first, index = rows[0], rows + start
        fields: list[tuple[str, object]] = [("count", ">i2")]
        for j, (column, size) in enumerate(zip(columns, lengths, strict=True)):
            fields.append((f"n{j}", ">i4"))
            if size[first] > 0:
                fields.append((f"v{j}", f"S{size[first]}" if column.kind == "text" else column.values.dtype))
        block = np.empty(len(rows), dtype=np.dtype(fields))
        block["count"] = len(columns)
        for j, (column, size) in enumerate(zip(columns, lengths, strict=True)):
            block[f"n{j}"] = size[first]
            if size[first] > 0:
                values = column.values[index]
                # A text's bytes from the fixed-width vocabulary, cut to the group's length (its own).
                block[f"v{j}"] = column.fixed_words[values] if column.fixed_words is not None else values
        parts.append(block.view(np.uint8))
    return np.concatenate(parts)


MAX_LAYOUTS = 64  # more layouts than this in one block: its rows are scattered one field at a time


def _layouts(lengths: Sequence[np.ndarray]) -> list[np.ndarray] | None:
    """A block's rows grouped by layout (every column's byte length alike: -1 for NULL, a text's size),
    each group in row order; None when there are more than `MAX_LAYOUTS`.

    Scattering every row's fields to their own offsets costs a fancy-indexed write per byte: 0.84 s of
    client CPU for 200k history snapshots (12 state values each), 0.27 s as structured arrays. COPY
    takes rows in any order, and a table's rows have none, so grouping them costs nothing."""
    n = len(lengths[0]) if lengths else 0
    key = np.zeros(n, dtype=np.int64)
    for size in lengths:
        if n and size.min() != size.max():
            _, code = np.unique(size, return_inverse=True)
            _, key = np.unique(key * (int(code.max()) + 1) + code, return_inverse=True)
            if key.max() >= MAX_LAYOUTS:
                return None
    if not n or not key.any():
        return [np.arange(n)]
    order = np.argsort(key, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(key[order])) + 1)


def _scattered_rows(columns: Sequence[_Column], start: int, stop: int) -> np.ndarray:
    """Rows `start:stop` of `columns` as binary COPY bytes in row order, whatever their layouts."""
    lengths = [column.lengths[start:stop] for column in columns]
    row_sizes = 2 + sum(4 + np.maximum(size, 0) for size in lengths)
    ends = np.cumsum(row_sizes)
    body = np.zeros(int(ends[-1]), dtype=np.uint8)
    at = ends - row_sizes
    _scatter(body, at, np.full(stop - start, len(columns), dtype=">i2"))
    at = at + 2
    for column, size in zip(columns, lengths, strict=True):
        _scatter(body, at, size.astype(">i4"))
        at = at + 4
        values = column.values[start:stop]
        if column.kind == "text":
            _gather_words(body, at, values, size, column)
        else:
            present = size >= 0
            _scatter(body, at[present], values[present])
        at = at + np.maximum(size, 0)
    return body


def _scatter(body: np.ndarray, starts: np.ndarray, values: np.ndarray) -> None:
    """Write fixed-width big-endian `values` (one per start) into `body` at byte offsets `starts`."""
    width = values.dtype.itemsize
    if len(starts):
        body[starts[:, None] + np.arange(width)] = values.view(np.uint8).reshape(-1, width)


def _gather_words(
    body: np.ndarray, starts: np.ndarray, codes: np.ndarray, sizes: np.ndarray, column: _Column
) -> None:
    """Write word `codes[i]` at `starts[i]` for every non-empty, non-NULL one, in one fancy-indexed
    copy: each destination byte knows its source byte in the concatenated vocabulary."""
    rows = np.flatnonzero(sizes > 0)
    if not len(rows):
        return
    counts = sizes[rows]
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    source = np.repeat(column.offsets[codes[rows]], counts) + within
    body[np.repeat(starts[rows], counts) + within] = column.words[source]


# -- text format -------------------------------------------------------------------------------------
def escape_text(values: pa.Array) -> pa.Array:
    """Strings escaped for COPY's text format (backslash, tab, newline, carriage return)."""
    if pc.any(pc.match_substring_regex(values, r"[\\\t\n\r]")).as_py():
        for raw, escaped in _TEXT_ESCAPES:
            values = pc.replace_substring(values, raw, escaped)
    return values


def escape_text_value(value: str) -> str:
    """One string escaped for COPY's text format."""
    for raw, escaped in _TEXT_ESCAPES:
        value = value.replace(raw, escaped)
    return value


def text_buffer(lines: pa.Array) -> memoryview:
    """The concatenated bytes of a string array with no null, straight from its Arrow data buffer."""
    if len(lines) == 0:
        return memoryview(b"")
    if lines.null_count:
        raise ValueError("a COPY line is NULL")
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    _, offsets_buf, data_buf = lines.buffers()
    offsets = np.frombuffer(
        offsets_buf, dtype=width, count=len(lines) + 1, offset=lines.offset * width().itemsize
    )
    return memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])]


def utc(us: np.ndarray | int) -> pd.DatetimeIndex | pd.Timestamp:
    """Microseconds since the Unix epoch as UTC timestamps."""
    if isinstance(us, (int, np.integer)):
        return pd.Timestamp(int(us), unit="us", tz="UTC")
    return pd.to_datetime(np.asarray(us, dtype=np.int64), unit="us", utc=True)
