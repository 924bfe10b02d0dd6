"""Incremental, exactly-once extraction shared by the API sources.

**The invariant.** For every source system and raw object, a record version — `(source_id,
source_updated_at)`, or `source_id` alone for records without a modified time (events) — is landed in
raw **at most once**, and every version the API showed with a modified time at or below the watermark
has been landed **at least once**. Both hold whatever is killed, retried or re-run:

* a page's records and the state that covers them (`ops.sync_state`) commit in ONE transaction;
* before landing, a page is filtered against what raw already holds for those ids (and against its own
  duplicates), so overlapping windows, re-fetched pages and retried runs add nothing twice;
* one extraction per source and object at a time (a PostgreSQL advisory lock).

**Keyset paging.** Records are read in order of modified time with the filter `modified >= lo` and no
offset: the next page starts at the highest modified time seen. Offset paging (`after`, `start`) over a
result set that changes while it is read skips records — one modified mid-pull leaves the window and
shifts every later record one place to the left — and HubSpot stops offsets at 10,000 results. When a
full page holds a single modified time (a bulk update), that instant is read by id (`modified == t and
id > last`), so no count of records sharing a time stops the pull. A window ends a little behind "now"
(`lag`, for the search index's delay) and the next run starts `overlap` before the watermark, to pick up
records that were indexed late.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from smarketing.errors import SmarketingError
from smarketing.warehouse.loading import (
    json_literal_tokens,
    json_objects,
    json_string_tokens,
    land_batch,
)

log = logging.getLogger(__name__)

FieldKind = Literal["text", "timestamp", "integer", "number", "boolean"]
_DIGITS = r"^\d+$"


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


# -- state ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncState:
    watermark_ms: int | None
    cursor: dict[str, Any]


def read_state(conn: psycopg.Connection, source_system: str, key: str) -> SyncState:
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
    """Session-level advisory lock: one extraction per source and object across all workers."""
    lock_id = zlib.crc32(f"smarketing.extract:{source_system}:{key}".encode()) & 0x7FFFFFFF
    (got,) = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (4_242_004, lock_id)).fetchone() or (False,)
    if not got:
        raise SourceBusy(f"{source_system}/{key}: another extraction is running (advisory lock held)")
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (4_242_004, lock_id))


# -- exactly-once landing -------------------------------------------------------------------------
@dataclass
class LandResult:
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
    """Land one page (one table per raw object) and advance the state, all in one transaction."""
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


# -- keyset pulls ---------------------------------------------------------------------------------
@dataclass
class Page:
    """One API response: the records as received, their ids and modified times (epoch ms)."""

    records: list[dict[str, Any]]
    ids: np.ndarray  # int64
    modified: np.ndarray  # int64 epoch ms
    origin: str
    # Whether the API says more records match (HubSpot `paging.next`, Mautic `total`); None when it
    # does not say, and then only a full page means more. A server that caps the page size below the
    # limit asked for must not end a window early.
    more: bool | None = None

    def __len__(self) -> int:
        return len(self.records)

    def has_more(self, limit: int) -> bool:
        return self.more if self.more is not None else len(self.records) >= limit


class KeysetFetcher(Protocol):
    """What a source implements for keyset pulls.

    `resolution_ms` is the precision of the source's modified times (Mautic: whole seconds); the
    pull steps over one instant by that much, since a filter finer than the data means nothing.
    """

    resolution_ms: int

    def since(self, lo_ms: int, hi_ms: int, limit: int) -> Page:
        """Records with lo <= modified <= hi, by modified time ascending, at most `limit`."""
        ...

    def at(self, at_ms: int, after_id: int, limit: int) -> Page:
        """Records with modified == at and id > after_id, by id ascending, at most `limit`."""
        ...


@dataclass
class PullStats:
    pages: int = 0
    received: int = 0
    landed: int = 0
    watermark_ms: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "received": self.received,
            "landed": self.landed,
            "watermark": iso_from_ms(self.watermark_ms) if self.watermark_ms is not None else None,
        }


@dataclass(frozen=True)
class Window:
    """How far a pull reaches: up to `now - lag`, starting `overlap` before the watermark (or `since`)."""

    now_ms: int
    lag_ms: int = 120_000
    overlap_ms: int = 600_000
    since_ms: int | None = None

    @property
    def hi_ms(self) -> int:
        return self.now_ms - self.lag_ms


Converter = Callable[[Page], Mapping[str, pa.Table]]


def pull_keyset(
    conn: psycopg.Connection,
    fetcher: KeysetFetcher,
    convert: Converter,
    *,
    source_system: str,
    key: str,
    window: Window,
    page_limit: int,
    run_id: str | None = None,
    max_pages: int = 1_000_000,
) -> PullStats:
    """Pull every record modified in the window, page by page, each page committed with the state."""
    stats = PullStats()
    state = read_state(conn, source_system, key)
    hi = window.hi_ms
    if window.since_ms is not None:
        lo, tie = window.since_ms, None
    else:
        lo = state.watermark_ms - window.overlap_ms if state.watermark_ms is not None else 0
        tie = state.cursor.get("tie")
    step = max(1, int(getattr(fetcher, "resolution_ms", 1)))
    lo -= lo % step
    cursor: dict[str, Any] = {"lo": lo, "hi": hi}
    stats.watermark_ms = state.watermark_ms

    def land(page: Page, watermark: int | None, next_cursor: dict[str, Any]) -> None:
        result = land_page(
            conn,
            source_system=source_system,
            key=key,
            tables=convert(page) if len(page) else {},
            origin=page.origin,
            watermark_ms=watermark,
            cursor=next_cursor,
            run_id=run_id,
        )
        stats.pages += 1
        stats.received += result.received
        stats.landed += result.landed
        if watermark is not None:
            stats.watermark_ms = max(stats.watermark_ms or watermark, watermark)

    try:
        while stats.pages < max_pages:
            if tie is not None:
                at, after = int(tie["at"]), int(tie["after_id"])
                cursor = {"tie": {"at": at, "after_id": after}, "hi": hi}
                page = fetcher.at(at, after, page_limit)
                if not page.has_more(page_limit):
                    land(page, at + step - 1, {})
                    tie, lo = None, at + step
                    continue
                last = int(page.ids.max())
                if last <= after:
                    raise ExtractError(source_system, key, cursor, "the API returned no id above the cursor")
                land(page, at - 1, {"tie": {"at": at, "after_id": last}})
                tie = {"at": at, "after_id": last}
                continue
            if lo > hi:
                break
            cursor = {"lo": lo, "hi": hi}
            page = fetcher.since(lo, hi, page_limit)
            if not page.has_more(page_limit):
                land(page, hi, {})
                break
            top = int(page.modified.max())
            top -= top % step
            if top <= lo:
                # A full page of one instant: read that instant by id, then carry on after it.
                tie = {"at": lo, "after_id": -1}
                continue
            land(page, top - 1, {"lo": top})
            lo = top
        else:
            log.warning(
                "%s/%s: stopped after %d pages (max_pages); the next run continues",
                source_system,
                key,
                stats.pages,
            )
    except ExtractError:
        raise
    except (SmarketingError, ValueError, KeyError, TypeError) as exc:
        # A page the API will not give, or one whose shape is not what it should be.
        raise ExtractError(source_system, key, cursor, f"{type(exc).__name__}: {exc}") from exc
    return stats


# -- windowed pulls of immutable records -----------------------------------------------------------
@dataclass
class WindowPage:
    """One page of a windowed pull: its raw tables, and the position of the next page (None: last)."""

    tables: Mapping[str, pa.Table]
    received: int
    next_position: Any  # a page number, an opaque offset; None after the last page
    origin: str


WindowFetcher = Callable[[int, int, Any], WindowPage]


def pull_windowed(
    conn: psycopg.Connection,
    fetch: WindowFetcher,
    *,
    source_system: str,
    key: str,
    window: Window,
    first_position: Any,
    run_id: str | None = None,
    max_pages: int = 10_000_000,
) -> PullStats:
    """Pull records that never change once written (events) over `[watermark - overlap, now - lag]`.

    `fetch(lo, hi, position)` returns one page; `position` is the API's own paging (a page number, an
    offset), stable inside a fixed window of the past. Each page commits with the cursor `{from, to,
    position}`; a killed run finishes that window at the next position, then carries on from its end.
    """
    state = read_state(conn, source_system, key)
    resume = state.cursor if window.since_ms is None and "position" in state.cursor else None
    windows: list[tuple[int, int, Any]] = []
    if resume:
        windows.append((int(resume["from"]), int(resume["to"]), resume["position"]))
        lo = int(resume["to"]) - window.overlap_ms
    elif window.since_ms is not None:
        lo = window.since_ms
    else:
        lo = state.watermark_ms - window.overlap_ms if state.watermark_ms is not None else 0
    windows.append((lo, window.hi_ms, first_position))
    stats = PullStats(watermark_ms=state.watermark_ms)
    for start, end, position in windows:
        current: Any = position
        while start <= end and current is not None and stats.pages < max_pages:
            cursor = {"from": start, "to": end, "position": current}
            try:
                page = fetch(start, end, current)
            except ExtractError:
                raise
            except (SmarketingError, ValueError, KeyError, TypeError) as exc:
                raise ExtractError(source_system, key, cursor, f"{type(exc).__name__}: {exc}") from exc
            done = page.next_position is None
            result = land_page(
                conn,
                source_system=source_system,
                key=key,
                tables=page.tables,
                origin=page.origin,
                watermark_ms=end if done else None,
                cursor={} if done else {"from": start, "to": end, "position": page.next_position},
                run_id=run_id,
            )
            stats.pages += 1
            stats.received += result.received
            stats.landed += result.landed
            current = page.next_position
            if done:
                stats.watermark_ms = max(stats.watermark_ms or end, end)
    return stats


# -- newest-first pulls of immutable records ------------------------------------------------------
@dataclass
class RecentPage:
    """One page of an API that lists records newest first with no time filter: the records as
    received, their times (epoch ms), and the position of the next page (None: last)."""

    records: list[dict[str, Any]]
    times: np.ndarray  # int64 epoch ms
    next_position: Any
    origin: str


RecentFetcher = Callable[[Any], RecentPage]
RecordsConverter = Callable[[list[dict[str, Any]]], Mapping[str, pa.Table]]


def pull_newest_first(
    conn: psycopg.Connection,
    fetch: RecentFetcher,
    convert: RecordsConverter,
    *,
    source_system: str,
    key: str,
    window: Window,
    first_position: Any = None,
    run_id: str | None = None,
    max_pages: int = 1_000_000,
) -> PullStats:
    """Pull records that never change once written from an API that only lists them newest first
    (HubSpot form submissions): page back from the newest until `watermark - overlap` (or `since`),
    landing the records of `[watermark - overlap, now - lag]`.

    Each page lands (de-duplicated against raw) with the state in one transaction, but the watermark
    moves to `now - lag` only with the last page: until a pull has reached back to its start, newer
    pages landing prove nothing about older ones. A killed pull leaves the watermark where it was and
    the next run pages back from the newest again, landing only what is missing (positions count
    from the newest, which moves, so they cannot be resumed).
    """
    state = read_state(conn, source_system, key)
    if window.since_ms is not None:
        lo = window.since_ms
    else:
        lo = state.watermark_ms - window.overlap_ms if state.watermark_ms is not None else 0
    stats = PullStats(watermark_ms=state.watermark_ms)
    position = first_position
    while stats.pages < max_pages:
        cursor = {"lo": lo, "position": position}
        try:
            page = fetch(position)
            reached = page.times < lo
            # Records newer than `now - lag` wait for the next run, as in the other pulls.
            wanted = ~reached & (page.times <= window.hi_ms)
            fresh = [r for r, keep in zip(page.records, wanted.tolist(), strict=True) if keep]
            tables = convert(fresh) if fresh else {}
        except ExtractError:
            raise
        except (SmarketingError, ValueError, KeyError, TypeError) as exc:
            raise ExtractError(source_system, key, cursor, f"{type(exc).__name__}: {exc}") from exc
        done = page.next_position is None or bool(reached.any())
        result = land_page(
            conn,
            source_system=source_system,
            key=key,
            tables=tables,
            origin=page.origin,
            watermark_ms=window.hi_ms if done else None,
            cursor={} if done else {"lo": lo, "position": page.next_position},
            run_id=run_id,
        )
        stats.pages += 1
        stats.received += result.received
        stats.landed += result.landed
        if done:
            stats.watermark_ms = max(stats.watermark_ms or window.hi_ms, window.hi_ms)
            break
        position = page.next_position
    else:
        log.warning(
            "%s/%s: stopped after %d pages (max_pages); the next run starts again",
            source_system,
            key,
            max_pages,
        )
    return stats


# -- canonical records, column-wise ---------------------------------------------------------------
def strings(values: Sequence[Any]) -> pa.Array:
    """Python values → nullable strings ('' becomes null; numbers and booleans become their text)."""
    out = [
        None
        if v is None or v == ""
        else ("true" if v is True else "false" if v is False else v if isinstance(v, str) else str(v))
        for v in values
    ]
    return pa.array(out, pa.string())


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
    norm = pc.utf8_lower(pc.utf8_trim_whitespace(text.cast(pa.string())))
    is_true = pc.is_in(norm, value_set=pa.array(list(true), pa.string()))
    if invert:
        is_true = pc.invert(is_true)
    return pc.if_else(pc.is_valid(norm), pc.if_else(is_true, "true", "false"), pa.scalar(None, pa.string()))


def canonical_table(
    *,
    source_id: pa.Array,
    updated_ms: pa.Array | None,
    fields: Mapping[str, tuple[FieldKind, pa.Array]],
    attributes: Mapping[str, pa.Array],
) -> pa.Table:
    """Landing rows: source_id, source_updated_at, updated_ms (for de-duplication) and the payload.

    `fields` holds source text per canonical field; timestamps may be ISO text or epoch-ms values.
    """
    n = len(source_id)
    tokens: list[tuple[str, pa.Array]] = []
    for name, (kind, values) in fields.items():
        if kind == "timestamp":
            ms = values if pa.types.is_integer(values.type) else timestamps_ms(values)
            tokens.append((name, json_string_tokens(iso_text(ms))))
        elif kind == "text":
            tokens.append((name, json_string_tokens(values.cast(pa.string()))))
        elif kind in {"integer", "number"}:
            tokens.append((name, json_literal_tokens(number_text(values, integer=kind == "integer"))))
        else:
            tokens.append((name, json_literal_tokens(values.cast(pa.string()))))
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


# -- entry point: one source object, as the DAG and the CLI run it -----------------------------------
API_SOURCES_VARIABLE = "smarketing_api_sources"
API_SOURCES_ENV = "SMARKETING_API_SOURCES"
SYSTEMS = ("hubspot", "mautic")


def _module(system: str) -> Any:
    if system == "hubspot":
        from smarketing.sources import hubspot

        return hubspot
    if system == "mautic":
        from smarketing.sources import mautic

        return mautic
    raise SmarketingError(f"unknown API source system '{system}' (systems: {', '.join(SYSTEMS)})")


def _settings(system: str, entry: Mapping[str, Any], extra: Mapping[str, Any] | None) -> Any:
    module = _module(system)
    factory = module.HubSpotSettings if system == "hubspot" else module.MauticSettings
    try:
        settings = factory.from_config(entry, extra)
    except (ValueError, TypeError, KeyError) as exc:
        raise SmarketingError(f"{system}: bad source configuration: {exc}") from None
    share = float(entry.get("limit_share", 1.0))
    if share < 1.0:
        # Tasks of one account running side by side split its rate limit between them.
        from dataclasses import replace

        from smarketing.sources.http import RateLimit

        limits = {
            k: RateLimit(max(1, int(v.requests * share)), v.per_seconds) for k, v in settings.limits.items()
        }
        settings = replace(settings, limits=limits)
    return settings


def api_tasks(sources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One task per source and object: `[{"system", "object", "entry"}]`, in a landing-friendly order."""
    tasks: list[dict[str, Any]] = []
    for entry in sources:
        system = str(entry.get("system", ""))
        settings = _settings(system, entry, None)
        tasks += [{"system": system, "object": obj, "entry": dict(entry)} for obj in settings.objects]
    return tasks


def parse_since(value: str | datetime | None) -> int | None:
    """Backfill start: ISO date or date-time (UTC when naive) → epoch ms."""
    if value is None or value == "":
        return None
    moment = (
        value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def extract(
    system: str,
    object: str,
    *,
    dsn: str,
    entry: Mapping[str, Any] | None = None,
    since: str | datetime | None = None,
    run_id: str | None = None,
    credentials: Any = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Pull one object of one API source into raw; returns counts and the HTTP client's statistics.

    Credentials come from the Airflow connection named in the entry (`conn_id`, default
    `smarketing_<system>`) unless given. The connection's extra may hold settings too (rate limits).
    """
    import time

    from smarketing.sources.http import credentials_from_connection
    from smarketing.warehouse.connection import connect

    entry = dict(entry or {"system": system})
    module = _module(system)
    creds = credentials or credentials_from_connection(str(entry.get("conn_id") or module.CONN_ID))
    settings = _settings(system, entry, creds.extra)
    if object not in (
        *settings.objects,
        *getattr(module, "ALL_OBJECTS", ()),
        *getattr(module, "OBJECTS", ()),
    ):
        raise SmarketingError(f"{system}: unknown object '{object}'")
    client = module.client_for(creds, settings)
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    try:
        with connect(dsn, autocommit=True) as conn, extraction_lock(conn, settings.source_system, object):
            try:
                result = module.extract_object(
                    conn, client, settings, object, now_ms=now, since_ms=parse_since(since), run_id=run_id
                )
            except ExtractError:
                raise
            except SmarketingError as exc:
                raise ExtractError(settings.source_system, object, {}, str(exc)) from exc
    finally:
        client.close()
        http = client.stats.as_dict()
        log.info(
            "%s/%s: %d requests, %d retries %s, %d throttled",
            settings.source_system,
            object,
            http["requests"],
            http["retries"],
            http["retries_by_reason"],
            http["throttled"],
        )
    return {"system": system, "object": object, **result, "http": http}


IDLE_TASK: dict[str, Any] = {"system": None, "object": None, "entry": {}}


def extract_task(
    task: Mapping[str, Any],
    *,
    dsn: str,
    since: str | None = None,
    run_id: str | None = None,
    limit_share: float = 1.0,
) -> dict[str, Any]:
    """One mapped DAG task: pull `task["object"]` of `task["system"]`; a small JSON summary for XCom."""
    if not task.get("system"):
        log.info("no API source configured (%s / %s): nothing to pull", API_SOURCES_VARIABLE, API_SOURCES_ENV)
        return {"system": None, "object": None, "landed": 0}
    entry = dict(task.get("entry") or {"system": task["system"]})
    if limit_share < 1.0:
        entry["limit_share"] = limit_share
    result = extract(
        str(task["system"]), str(task["object"]), dsn=dsn, entry=entry, since=since, run_id=run_id
    )
    return {
        "system": result["system"],
        "object": result["object"],
        "pages": result.get("pages", 0),
        "received": result.get("received", 0),
        "landed": result.get("landed", 0),
        "watermark": result.get("watermark"),
        "requests": result["http"]["requests"],
        "retries": result["http"]["retries"],
    }
