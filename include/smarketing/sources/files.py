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
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from smarketing.privacy import safe_value
from smarketing.sources.filerows import SourceFileError, canonical_rows
from smarketing.sources.mapping import (
    FileSpec,
    SourceMapping,
    load_mapping,
    template_parts,
)
from smarketing.tasklog import count, listing, summary
from smarketing.warehouse.connection import connect
from smarketing.warehouse.loading import (
    LandedBatch,
    already_landed,
    land_batch,
)

log = logging.getLogger(__name__)

CSV_BLOCK_BYTES = 16 << 20  # ~100k-200k rows per chunk: bounded memory, few kernel calls
PARQUET_BATCH_ROWS = 200_000
HASH_BLOCK_BYTES = 8 << 20
_GLOB_CHARS = re.compile(r"[*?\[]")


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
    skipped = 0
    with connect(dsn, autocommit=True) as conn:
        for spec, path in plan:
            batch = land_file(conn, mapping, spec, path, origin=_origin(path, base), run_id=run_id)
            if batch is None:
                skipped += 1
            else:
                landed[spec.object] += batch.rows
    again = f", {count(skipped)} landed before (same bytes, skipped)" if skipped else ""
    summary(
        f"{mapping.source_system}: {count(len(plan), 'file')} read{again}; "
        f"{count(sum(landed.values()), 'row')} new ({listing(landed)})"
    )
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
