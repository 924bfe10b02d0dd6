"""Canonical records, column-wise: API answers (lists of dicts) → Arrow columns → landing rows.

Every API connector turns a page into raw tables the same way: the values of one field across the
page become one nullable text column (`strings`, `text_columns`), source spellings are mapped through
small lookup tables (`lookup`), times become epoch milliseconds (`timestamps_ms`) and back into one
ISO text per instant (`iso_text`), and `canonical_table` writes the landing rows (`source_id`,
`source_updated_at`, `updated_ms`, JSON `payload` with the canonical fields and the rest under
`attributes`). Nothing here loops over a page in Python beyond reading the dicts once per field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.warehouse.loading import json_literal_tokens, json_objects, json_string_tokens

FieldKind = Literal["text", "timestamp", "integer", "number", "boolean"]
_DIGITS = r"^\d+$"
_NULL_TEXT = pa.scalar(None, pa.string())


def strings(values: Sequence[Any]) -> pa.Array:
    """Python values → nullable strings ('' becomes null; numbers and booleans become their text)."""
    out = [
        None
        if v is None or v == ""
        else ("true" if v is True else "false" if v is False else v if isinstance(v, str) else str(v))
        for v in values
    ]
    return pa.array(out, pa.string())


def text_columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, pa.Array]:
    """Every key of a page of flat dicts (HubSpot `properties`, Mautic `fields.all`) as one nullable
    text column, named as the source spells it; empty strings become null.

    Arrow reads the page in one pass; a key whose values mix types (schema drift) makes it fall back
    to text one value at a time.
    """
    try:
        table = pa.Table.from_pylist(list(rows))
        cols = {name: table.column(name).combine_chunks().cast(pa.string()) for name in table.column_names}
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        names = dict.fromkeys(k for row in rows for k in row)
        cols = {name: strings([row.get(name) for row in rows]) for name in names}
    return {name: pc.if_else(pc.equal(values, ""), _NULL_TEXT, values) for name, values in cols.items()}


def lookup(values: pa.Array, table: Mapping[str, str], *, keep_unknown: bool = False) -> pa.Array:
    """Each value mapped through `table`; values not in it become null, or stay as they are."""
    position = pc.index_in(values, value_set=pa.array(list(table), pa.string()))
    mapped = pc.take(pa.array(list(table.values()), pa.string()), position)
    return pc.coalesce(mapped, values) if keep_unknown else mapped


def timestamps_ms(text: pa.Array) -> pa.Array:
    """ISO 8601 text (any offset) or epoch-millisecond digits → int64 epoch ms (null when unparsable)."""
    text = text.cast(pa.string())
    if len(text) == 0 or text.null_count == len(text):
        return pa.nulls(len(text), pa.int64())
    digits = np.asarray(pc.fill_null(pc.match_substring_regex(text, _DIGITS), False))
    if not digits.any():
        try:  # the common case, every value ISO 8601 with an offset: Arrow parses it in C++
            stamps = text.cast(pa.timestamp("us", tz="UTC"))
            return pc.cast(stamps, pa.timestamp("ms", tz="UTC"), safe=False).cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # naive or unusual spellings: pandas below, unparsable values become null
    values = pd.Series(text.to_pandas(), dtype=object)
    out = np.full(len(values), np.iinfo(np.int64).min, dtype=np.int64)
    if digits.any():
        out[digits] = pd.to_numeric(values[digits]).astype(np.int64).to_numpy()
    rest = ~digits & values.notna().to_numpy()
    if rest.any():
        parsed = pd.to_datetime(values[rest], utc=True, format="ISO8601", errors="coerce")
        ok = parsed.notna().to_numpy()
        stamp = parsed[ok].dt.tz_convert(None).astype("datetime64[ms]").to_numpy().view(np.int64)
        idx = np.flatnonzero(rest)[ok]
        out[idx] = stamp
    mask = out == np.iinfo(np.int64).min
    return pa.array(out, pa.int64(), mask=mask)


def iso_from_ms(ms: int) -> str:
    """One epoch-ms instant as ISO 8601 UTC text (no `.000` for whole seconds)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace(".000+", "+")


def iso_text(ms: pa.Array) -> pa.Array:
    """int64 epoch ms → `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, as file sources write them.

    The format is decided per value (fractions only when there is one), so the same instant always
    lands as the same text whatever page it comes in.
    """
    values = ms.cast(pa.int64())
    if len(values) == 0:
        return pa.array([], pa.string())
    stamps = values.cast(pa.timestamp("ms"))
    whole = pc.equal(pc.subtract(values, pc.multiply(pc.divide(values, 1000), 1000)), 0)
    seconds = pc.cast(stamps, pa.timestamp("s"), safe=False).cast(pa.string())
    micros = stamps.cast(pa.timestamp("us")).cast(pa.string())
    text = pc.replace_substring(pc.if_else(whole, seconds, micros), " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "+00:00", "")


def number_text(text: pa.Array, *, integer: bool = False) -> pa.Array:
    """Number text → JSON number text; anything unparsable becomes null (kept verbatim in attributes)."""
    values = pd.to_numeric(pd.Series(text.cast(pa.string()).to_pandas()), errors="coerce")
    values = values.where(np.isfinite(values.astype(float)))
    if integer:
        values = values.where(values.isna() | (values % 1 == 0)).astype("Int64")
    return pa.array(values, from_pandas=True).cast(pa.string())


def boolean_text(
    text: pa.Array, *, true: Sequence[str] = ("true", "1", "yes"), invert: bool = False
) -> pa.Array:
    """Text → `true` / `false` (null stays null): `true` lists the spellings of yes, `invert` flips."""
    norm = pc.utf8_lower(pc.utf8_trim_whitespace(text.cast(pa.string())))
    is_true = pc.is_in(norm, value_set=pa.array(list(true), pa.string()))
    if invert:
        is_true = pc.invert(is_true)
    return pc.if_else(pc.is_valid(norm), pc.if_else(is_true, "true", "false"), _NULL_TEXT)


def _field_tokens(kind: FieldKind, values: pa.Array) -> pa.Array:
    """One canonical field's values as JSON tokens of its kind."""
    if kind == "timestamp":
        ms = values if pa.types.is_integer(values.type) else timestamps_ms(values)
        return json_string_tokens(iso_text(ms))
    if kind == "text":
        return json_string_tokens(values.cast(pa.string()))
    if kind in {"integer", "number"}:
        return json_literal_tokens(number_text(values, integer=kind == "integer"))
    return json_literal_tokens(values.cast(pa.string()))


def canonical_table(
    *,
    source_id: pa.Array,
    updated_ms: pa.Array | None,
    fields: Mapping[str, tuple[FieldKind, pa.Array]],
    attributes: Mapping[str, pa.Array],
) -> pa.Table:
    """Landing rows: source_id, source_updated_at, updated_ms (for de-duplication) and the payload.

    `fields` holds source text per canonical field (timestamps may be ISO text or epoch-ms values);
    `attributes` the source's other values by their source names; `updated_ms` None for records that
    never change (events), which are then de-duplicated on their id alone.
    """
    n = len(source_id)
    tokens = [(name, _field_tokens(kind, values)) for name, (kind, values) in fields.items()]
    attrs = [
        (name, json_string_tokens(values.cast(pa.string()))) for name, values in sorted(attributes.items())
    ]
    payload = json_objects(tokens, nested=[("attributes", attrs)], length=n)
    if updated_ms is None:
        updated_ms = pa.nulls(n, pa.int64())
    return pa.table(
        {
            "source_id": source_id.cast(pa.string()),
            "source_updated_at": iso_text(updated_ms),
            "updated_ms": updated_ms.cast(pa.int64()),
            "payload": payload,
        }
    )
