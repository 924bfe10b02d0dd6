"""File-export source: CSV / Parquet exports landed into raw.* as canonical records.

For every file a mapping names: hash the bytes (the same bytes again are skipped), check the text is
strict UTF-8 with no NUL, check the header has the required columns, then stream the file in Arrow
chunks: map columns and values, parse timestamps / numbers / booleans column-wise, build the JSON
payloads column-wise and COPY them in, all inside one transaction per file. Any bad value stops the
file with an error naming the file, the column, the row and the value; nothing of it is kept.
Records raw already holds with the same id and content are then taken out of the batch in the same
transaction, so a re-export of the same records in other bytes (CRLF, another row order) lands once.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from smarketing.errors import SmarketingError
from smarketing.privacy import safe_value
from smarketing.sources.mapping import (
    CANONICAL_FIELDS,
    FieldType,
    FileSpec,
    SourceMapping,
    load_mapping,
    template_parts,
)
from smarketing.warehouse.connection import connect
from smarketing.warehouse.loading import (
    LandedBatch,
    already_landed,
    json_literal_tokens,
    json_objects,
    json_string_tokens,
    land_batch,
)

log = logging.getLogger(__name__)

CSV_BLOCK_BYTES = 16 << 20  # ~100k-200k rows per chunk: bounded memory, few kernel calls
PARQUET_BATCH_ROWS = 200_000
HASH_BLOCK_BYTES = 8 << 20
_GLOB_CHARS = re.compile(r"[*?\[]")
# An explicit UTC offset after a time of day; a date alone ("2018-02-01") has none.
_AWARE_TIME = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


class SourceFileError(SmarketingError):
    """A file cannot be landed; the message names the file and, when known, column, row and value."""

    exit_code = 2

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        column: str | None = None,
        row: int | None = None,
        line: int | None = None,
        value: str | None = None,
    ) -> None:
        self.file, self.column, self.row, self.line, self.value = file, column, row, line, value
        where = [file]
        if column is not None:
            where.append(f"column '{column}'")
        if row is not None:
            where.append(f"row {row}" + (f" (line {line})" if line is not None else ""))
        elif line is not None:
            where.append(f"line {line}")
        shown = f": {safe_value(value)!r}" if value is not None else ""
        super().__init__(f"{', '.join(where)}: {problem}{shown}")


# -- public entry point -----------------------------------------------------------------------------
def ingest_source(
    dsn: str, mapping_path: Path | str, *, root: Path | str | None = None, run_id: str | None = None
) -> dict[str, int]:
    """Land every file of a file-export source; returns rows landed per canonical object.

    Each file is its own transaction; a file whose bytes were landed before loads nothing. The
    first file that cannot be landed stops the run with a SourceFileError (earlier files stay).
    """
    mapping_path = Path(mapping_path)
    mapping = load_mapping(mapping_path)
    base = mapping.resolve_root(mapping_path, Path(root) if root is not None else None)
    plan = [(spec, path) for spec in mapping.files for path in matching_files(base, spec)]
    landed = {spec.object: 0 for spec in mapping.files}
    with connect(dsn, autocommit=True) as conn:
        for spec, path in plan:
            batch = land_file(conn, mapping, spec, path, origin=_origin(path, base), run_id=run_id)
            if batch is not None:
                landed[spec.object] += batch.rows
    return landed


def matching_files(base: Path, spec: FileSpec) -> list[Path]:
    """Files a spec names, in name order (so dated deliveries land oldest first)."""
    if _GLOB_CHARS.search(spec.path):
        found = sorted(p for p in base.glob(spec.path) if p.is_file())
        if not found:
            log.warning("no file matches %s under %s", spec.path, base)
        return found
    path = base / spec.path
    if not path.is_file():
        raise SourceFileError(str(path), "file not found (check the mapping's root and path)")
    return [path]


def land_file(
    conn: psycopg.Connection,
    mapping: SourceMapping,
    spec: FileSpec,
    path: Path,
    *,
    origin: str,
    run_id: str | None = None,
) -> LandedBatch | None:
    """Land one file as one batch; None when the same bytes were landed before for this object."""
    is_csv = spec.file_format == "csv"
    sha = file_digest(path, label=origin, check_text=is_csv, delimiter=spec.delimiter)
    if already_landed(conn, source_system=mapping.source_system, object=spec.object, content_sha256=sha):
        log.info(
            "skipped %s for %s/%s: these bytes were landed before", origin, mapping.source_system, spec.object
        )
        return None
    chunks = read_chunks(path, spec, label=origin)
    rows = (
        canonical_rows(chunk, spec, mapping, file=origin, first_row=first_row, is_csv=is_csv)
        for first_row, chunk in chunks
    )
    with conn.transaction():
        redelivery = _has_records(conn, mapping.source_system, spec.object)
        batch = land_batch(
            conn,
            source_system=mapping.source_system,
            object=spec.object,
            origin=origin,
            rows=rows,
            content_sha256=sha,
            run_id=run_id,
        )
        if batch is not None and redelivery:
            batch = _drop_landed_records(conn, mapping.source_system, spec.object, batch)
    return batch


def _has_records(conn: psycopg.Connection, source_system: str, object: str) -> bool:
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM raw.{} WHERE source_system = %s)").format(
        sql.Identifier(object)
    )
    row = conn.execute(query, (source_system,)).fetchone()
    return bool(row and row[0])


def _drop_landed_records(
    conn: psycopg.Connection, source_system: str, object: str, batch: LandedBatch
) -> LandedBatch:
    """Remove from a fresh batch the records raw already holds with the same id and content.

    The file hash only catches the same bytes; a re-export with other line endings, another row or
    column order or a new export date in its name holds the same records, and they must land once.
    The key is the mapping's id, the version time and the canonical payload (JSON equality: key order
    does not count), so a changed record still lands. A copy in a batch the quality gate rejected does not count (the
    re-delivery is how such records get another chance). Kept records keep their file row number.
    """
    removed = conn.execute(
        sql.SQL(
            """
            DELETE FROM raw.{t} n USING raw.{t} o
            WHERE n.batch_id = %(batch)s AND o.batch_id <> %(batch)s
              AND o.source_system = %(source)s AND o.source_id = n.source_id AND o.payload = n.payload
              AND o.source_updated_at IS NOT DISTINCT FROM n.source_updated_at
              AND NOT EXISTS (
                  SELECT 1 FROM dq.batch_verdicts v WHERE v.batch_id = o.batch_id AND v.verdict = 'rejected'
              )
            """
        ).format(t=sql.Identifier(object)),
        {"batch": batch.batch_id, "source": source_system},
    ).rowcount
    if removed <= 0:
        return batch
    kept = batch.rows - removed
    conn.execute("UPDATE ops.load_batches SET row_count = %s WHERE batch_id = %s", (kept, batch.batch_id))
    log.info(
        "%s/%s batch %s: %d record(s) landed before left out", source_system, object, batch.batch_id, removed
    )
    return LandedBatch(batch_id=batch.batch_id, rows=kept)


def _origin(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name


# -- bytes: hash, strict UTF-8, no NUL --------------------------------------------------------------
def file_digest(path: Path, *, label: str, check_text: bool, delimiter: str = ",") -> str:
    """SHA-256 of the file; for text files also proves it is UTF-8 without NUL, in the same pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK_BYTES):
            digest.update(block)
            if check_text:
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    _raise_bad_byte(
                        path, label, offset - pending + exc.start, delimiter, "is not valid UTF-8"
                    )
                if (nul := block.find(b"\x00")) >= 0:
                    _raise_bad_byte(path, label, offset + nul, delimiter, "holds a NUL byte")
            offset += len(block)
    if check_text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            _raise_bad_byte(path, label, offset - 1, delimiter, "ends inside a UTF-8 character")
    return digest.hexdigest()


def _raise_bad_byte(path: Path, label: str, position: int, delimiter: str, problem: str) -> None:
    """Locate a bad byte by line and column (error path only: rereads the file up to the byte)."""
    newlines = 0
    line_start = 0
    with path.open("rb") as handle:
        done = 0
        while done < position:
            block = handle.read(min(HASH_BLOCK_BYTES, position - done))
            if not block:
                break
            count = block.count(b"\n")
            if count:
                newlines += count
                line_start = done + block.rfind(b"\n") + 1
            done += len(block)
        handle.seek(0)
        header_text = handle.readline().decode("utf-8", errors="replace")
        handle.seek(line_start)
        prefix = handle.read(position - line_start).decode("utf-8", errors="replace")
        bad = handle.read(1)
    line = newlines + 1
    header = next(csv.reader([header_text.rstrip("\r\n")], delimiter=delimiter), [])
    fields = next(csv.reader([prefix], delimiter=delimiter), [""]) if prefix else [""]
    index = len(fields) - 1
    column = header[index] if line > 1 and index < len(header) else None
    raise SourceFileError(
        label,
        f"byte 0x{bad.hex()} at offset {position} {problem}",
        column=column,
        row=line - 1 if line > 1 else None,
        line=line,
    )


# -- reading -----------------------------------------------------------------------------------------
def read_chunks(path: Path, spec: FileSpec, *, label: str) -> Iterator[tuple[int, pa.Table]]:
    """(first row number, chunk of string columns with empty cells as nulls).

    The header is checked now, before any transaction opens; the rows are read lazily.
    """
    if spec.file_format == "parquet":
        try:
            handle = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceFileError(label, f"cannot read the Parquet file: {exc}") from None
        _check_header(handle.schema_arrow.names, spec, label)
        return _parquet_chunks(handle, label)
    names = _csv_header(path, spec.delimiter, label)
    _check_header(names, spec, label)
    parse = pacsv.ParseOptions(delimiter=spec.delimiter, newlines_in_values=True)
    return _csv_chunks(path, names, parse, label)


def _csv_header(path: Path, delimiter: str, label: str) -> list[str]:
    """Column names from the first record (file_digest has already proved the bytes are UTF-8)."""
    with path.open("rb") as handle:
        head = handle.read(1 << 20).decode("utf-8", errors="replace").removeprefix("\ufeff")
    names = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter), None)
    if not names:
        raise SourceFileError(label, "the file is empty: no header", line=1)
    return names


def _check_header(names: list[str], spec: FileSpec, label: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SourceFileError(label, "the header names this column twice", column=name)
        seen.add(name)
    for name in spec.required_columns() + _template_columns(spec):
        if name not in seen:
            raise SourceFileError(label, "required column is missing from the header", column=name, line=1)
    missing = sorted(c for c in spec.consumed_columns() if c not in seen)
    if missing:
        log.warning("%s: mapped columns absent from the file, landed as empty: %s", label, ", ".join(missing))


def _template_columns(spec: FileSpec) -> tuple[str, ...]:
    template = spec.id_template
    if template is None:
        return ()
    provided = set(spec.columns) | set(spec.constants) | {n for r in spec.rules for n in r.set}
    return tuple(name for _, name in template_parts(template) if name and name not in provided)


def _csv_chunks(
    path: Path, names: list[str], parse: pacsv.ParseOptions, label: str
) -> Iterator[tuple[int, pa.Table]]:
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
        check_utf8=False,  # file_digest proved it, and knows where a bad byte sits
    )
    try:  # opening already parses the first block
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            parse_options=parse,
            convert_options=convert,
        )
    except pa.ArrowInvalid as exc:
        raise _malformed_csv(path, names, parse.delimiter, label, exc, first_row=1) from None
    first_row = 1
    with reader:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise _malformed_csv(path, names, parse.delimiter, label, exc, first_row=first_row) from None
            yield first_row, pa.Table.from_batches([batch])
            first_row += batch.num_rows


def _malformed_csv(
    path: Path, names: list[str], delimiter: str, label: str, exc: pa.ArrowInvalid, *, first_row: int
) -> SourceFileError:
    """The error for a CSV Arrow could not parse, naming the first record whose field count differs
    from the header's by row and line (Arrow does not know the line once values may hold newlines).

    Error path only: rereads the file with the csv module up to that record.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)  # the header
        line = reader.line_num + 1
        for row, fields in enumerate(reader, start=1):
            if len(fields) != len(names):
                return SourceFileError(
                    label,
                    f"the header has {len(names)} columns, this record {len(fields)}",
                    row=row,
                    line=line,
                    value=delimiter.join(fields),
                )
            line = reader.line_num + 1
    return SourceFileError(label, f"malformed CSV at or after row {first_row}: {safe_value(str(exc), 200)}")


def _parquet_chunks(handle: pq.ParquetFile, label: str) -> Iterator[tuple[int, pa.Table]]:
    first_row = 1
    for batch in handle.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        columns = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            try:
                text = column.cast(pa.string())
                text.validate(full=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise SourceFileError(
                    label,
                    f"values in rows {first_row}-{first_row + batch.num_rows - 1} are not text: {exc}",
                    column=name,
                ) from None
            columns.append(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text))
        yield first_row, pa.table(columns, names=batch.schema.names)
        first_row += batch.num_rows


# -- canonical records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Chunk:
    table: pa.Table
    file: str
    first_row: int
    is_csv: bool

    @property
    def size(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> pa.Array:
        if name in self.table.column_names:
            return self.table.column(name).combine_chunks()
        return pa.nulls(self.size, pa.string())

    def error(self, problem: str, *, column: str, index: int, value: str | None) -> SourceFileError:
        row = self.first_row + index
        return SourceFileError(
            self.file, problem, column=column, row=row, line=row + 1 if self.is_csv else None, value=value
        )


@dataclass(frozen=True)
class _Typed:
    tokens: pa.Array  # JSON value tokens, `null` for missing
    text: pa.Array  # canonical text (ISO timestamps, numbers as written in JSON), null for missing


def canonical_rows(
    table: pa.Table, spec: FileSpec, mapping: SourceMapping, *, file: str, first_row: int, is_csv: bool = True
) -> pa.Table:
    """Landing rows (source_id, source_updated_at, payload) for one chunk of a file."""
    chunk = _Chunk(table, file, first_row, is_csv)
    timezone = spec.timezone or mapping.timezone
    booleans = mapping.booleans_for(spec)
    typed: dict[str, _Typed] = {}
    for name, kind in CANONICAL_FIELDS[spec.object].items():
        text = _field_text(chunk, spec, name)
        if text is not None:
            typed[name] = _typed(
                chunk, text, kind, label=_label(spec, name), timezone=timezone, booleans=booleans
            )
    updated = _version_time(chunk, spec, typed, timezone)
    if updated is not None and "updated_at" in CANONICAL_FIELDS[spec.object] and "updated_at" not in typed:
        typed["updated_at"] = updated
    source_id = _source_id(chunk, spec, typed)
    attributes = [(name, json_string_tokens(chunk.column(name))) for name in _attribute_columns(chunk, spec)]
    payload = json_objects(
        [(name, value.tokens) for name, value in typed.items()],
        nested=[("attributes", attributes)],
        length=chunk.size,
    )
    return pa.table(
        {
            "source_id": source_id,
            "source_updated_at": updated.text if updated is not None else pa.nulls(chunk.size, pa.string()),
            "payload": payload,
        }
    )


def _label(spec: FileSpec, name: str) -> str:
    return "+".join(spec.source_columns(name)) or name


def _field_text(chunk: _Chunk, spec: FileSpec, name: str) -> pa.Array | None:
    """Source text of a canonical field after column mapping, value mapping, rules and constants."""
    ruled = [rule for rule in spec.rules if name in rule.set]
    if name in spec.constants:
        return pc.fill_null(pa.nulls(chunk.size, pa.string()), spec.constants[name])
    if name not in spec.columns and not ruled:
        return None
    text = _joined_columns(chunk, spec.source_columns(name)) if name in spec.columns else pa.nulls(chunk.size)
    text = text.cast(pa.string())
    if table := spec.values.get(name):
        position = pc.index_in(text, value_set=pa.array(list(table), pa.string()))
        text = pc.coalesce(pc.take(pa.array(list(table.values()), pa.string()), position), text)
    for rule in ruled:
        text = pc.if_else(_rule_mask(chunk, rule.when), rule.set[name], text)
    return text


def _joined_columns(chunk: _Chunk, names: tuple[str, ...]) -> pa.Array:
    if len(names) == 1:
        return chunk.column(names[0])
    joined = pc.binary_join_element_wise(*(chunk.column(n) for n in names), " ", null_handling="skip")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


def _rule_mask(chunk: _Chunk, conditions: tuple) -> pa.Array:
    mask = pa.array(np.ones(chunk.size, dtype=bool))
    for cond in conditions:
        values = chunk.column(cond.column)
        if cond.equals is not None:
            hit = pc.equal(values, cond.equals)
        elif cond.in_ is not None:
            hit = pc.is_in(values, value_set=pa.array(list(cond.in_), pa.string()))
        elif cond.contains is not None:
            hit = pc.match_substring(values, cond.contains)
        else:
            hit = pc.is_null(values) if cond.empty else pc.is_valid(values)
        mask = pc.and_(mask, pc.fill_null(hit, False))
    return mask


def _typed(
    chunk: _Chunk, text: pa.Array, kind: FieldType, *, label: str, timezone: str, booleans: dict
) -> _Typed:
    if kind == "text":
        return _Typed(json_string_tokens(text), text)
    if kind == "timestamp":
        iso = parse_timestamps(chunk, text, label=label, timezone=timezone)
        return _Typed(json_string_tokens(iso), iso)
    if kind == "boolean":
        literal = parse_booleans(chunk, text, label=label, spellings=booleans)
    else:
        literal = parse_numbers(chunk, text, label=label, integer=kind == "integer")
    return _Typed(json_literal_tokens(literal), literal)


def _first_bad(chunk: _Chunk, bad: np.ndarray, text: pa.Array, *, label: str, problem: str) -> None:
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise chunk.error(
            f"{problem} ({int(bad.sum())} bad value(s) in this part of the file)",
            column=label,
            index=index,
            value=text[index].as_py(),
        )


def parse_timestamps(chunk: _Chunk, text: pa.Array, *, label: str, timezone: str) -> pa.Array:
    """ISO 8601 text → `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`; naive values are in `timezone`."""
    present = np.asarray(pc.is_valid(text))
    if not present.any():
        return pa.nulls(len(text), pa.string())
    values = pd.Series(pc.utf8_trim_whitespace(text).to_pandas())
    if timezone == "UTC":
        parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    else:
        aware = np.asarray(pc.fill_null(pc.match_substring_regex(text, _AWARE_TIME), False))
        parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
        if aware.any():
            parsed[aware] = pd.to_datetime(values[aware], format="ISO8601", utc=True, errors="coerce")
        naive = present & ~aware
        if naive.any():
            local = pd.to_datetime(values[naive], format="ISO8601", errors="coerce")
            # Wall-clock times repeated or skipped by a DST change still name one instant.
            parsed[naive] = local.dt.tz_localize(
                timezone, ambiguous=np.ones(int(naive.sum()), dtype=bool), nonexistent="shift_forward"
            ).dt.tz_convert("UTC")
    _first_bad(
        chunk,
        present & parsed.isna().to_numpy(),
        text,
        label=label,
        problem="cannot parse as an ISO 8601 timestamp",
    )
    naive_utc = parsed.dt.tz_convert(None).astype("datetime64[us]")
    micros = naive_utc.to_numpy().view(np.int64)[present]
    if not (micros % 1_000_000).any():
        naive_utc = naive_utc.astype("datetime64[s]")
    iso = pc.replace_substring(pa.array(naive_utc).cast(pa.string()), " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(iso, "+00:00", "")


def parse_numbers(chunk: _Chunk, text: pa.Array, *, label: str, integer: bool) -> pa.Array:
    """Number text → JSON number text (integers checked to be whole)."""
    values = pd.Series(pc.utf8_trim_whitespace(text).to_pandas())
    present = np.asarray(pc.is_valid(text))
    numbers = pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable").astype("Float64")
    finite = numbers.notna().to_numpy() & np.isfinite(numbers.fillna(0).to_numpy(dtype=float))
    _first_bad(chunk, present & ~finite, text, label=label, problem="cannot parse as a number")
    if integer:
        whole = (numbers.fillna(0) % 1 == 0).to_numpy(dtype=bool)
        _first_bad(chunk, present & ~whole, text, label=label, problem="is not a whole number")
        return pa.array(numbers.astype("Int64")).cast(pa.string())
    return pa.array(numbers).cast(pa.string())


def parse_booleans(chunk: _Chunk, text: pa.Array, *, label: str, spellings: dict[str, bool]) -> pa.Array:
    """Spelled booleans (case-insensitive) → `true` / `false`."""
    norm = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    is_true = pc.is_in(norm, value_set=pa.array([k for k, v in spellings.items() if v], pa.string()))
    is_false = pc.is_in(norm, value_set=pa.array([k for k, v in spellings.items() if not v], pa.string()))
    bad = np.asarray(pc.is_valid(text)) & ~np.asarray(is_true) & ~np.asarray(is_false)
    known = ", ".join(sorted(spellings))
    _first_bad(chunk, bad, text, label=label, problem=f"is not a boolean (spellings: {known})")
    return pc.if_else(is_true, "true", pc.if_else(is_false, "false", pa.scalar(None, pa.string())))


def _version_time(chunk: _Chunk, spec: FileSpec, typed: dict[str, _Typed], timezone: str) -> _Typed | None:
    """The record's last-modified time: the `updated_at` column, else a mapped canonical updated_at."""
    if spec.updated_at is None:
        return typed.get("updated_at")
    mapped = spec.columns.get("updated_at")
    if mapped == spec.updated_at and "updated_at" in typed:
        return typed["updated_at"]
    iso = parse_timestamps(chunk, chunk.column(spec.updated_at), label=spec.updated_at, timezone=timezone)
    return _Typed(json_string_tokens(iso), iso)


def _source_id(chunk: _Chunk, spec: FileSpec, typed: dict[str, _Typed]) -> pa.Array:
    template = spec.id_template
    if template is None:
        columns = spec.id_columns
        label = "+".join(columns)
        values = [chunk.column(c) for c in columns]
    else:
        label = f"id {template}"
        values = []
        for literal, name in template_parts(template):
            if literal:
                values.append(literal)
            if name:
                values.append(typed[name].text if name in typed else chunk.column(name))
    source_id = (
        values[0] if len(values) == 1 else pc.binary_join_element_wise(*values, "" if template else "|")
    )
    if isinstance(source_id, str):  # a template of literals only cannot pass validation; be safe
        source_id = pc.fill_null(pa.nulls(chunk.size, pa.string()), source_id)
    empty = np.asarray(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(source_id), ""), True))
    if empty.any():
        index = int(np.flatnonzero(empty)[0])
        raise chunk.error("empty id: every record needs one", column=label, index=index, value=None)
    return source_id


def _attribute_columns(chunk: _Chunk, spec: FileSpec) -> list[str]:
    names = chunk.table.column_names
    if spec.attributes is not None:
        return [n for n in spec.attributes if n in names]
    consumed = spec.consumed_columns()
    return [n for n in names if n not in consumed]
