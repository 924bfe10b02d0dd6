"""Rows of a file export as canonical records: columns mapped, values parsed column-wise (timestamps,
numbers, booleans), ids and version times derived, JSON payloads built — all on Arrow arrays, one chunk
at a time. A bad value raises `SourceFileError` naming the file, the column, the row and the value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.errors import SmarketingError
from smarketing.privacy import safe_value
from smarketing.sources.mapping import (
    CANONICAL_FIELDS,
    FieldType,
    FileSpec,
    SourceMapping,
    template_parts,
)
from smarketing.warehouse.loading import (
    json_literal_tokens,
    json_objects,
    json_string_tokens,
)

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
