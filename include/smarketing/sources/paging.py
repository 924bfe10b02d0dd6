"""How the API sources read their pages: keyset pulls of records that change, windowed and newest-first
pulls of records that never do. Every page lands with its state in one transaction
(`smarketing.sources.state.land_page`), so a pull killed anywhere resumes without gap or double.

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

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import psycopg
import pyarrow as pa

from smarketing.errors import SmarketingError
from smarketing.sources.records import iso_from_ms
from smarketing.sources.state import ExtractError, LandResult, land_page, read_state

log = logging.getLogger(__name__)


@contextmanager
def page_errors(source_system: str, key: str, cursor: Mapping[str, Any]) -> Iterator[None]:
    """Turn a page the API will not give, or one whose shape is not what it should be, into an
    ExtractError naming the source, the object and the cursor."""
    try:
        yield
    except ExtractError:
        raise
    except (SmarketingError, ValueError, KeyError, TypeError) as exc:
        raise ExtractError(source_system, key, cursor, f"{type(exc).__name__}: {exc}") from exc


@dataclass
class PullStats:
    """What a pull did: pages read, records received and landed, the watermark it left (epoch ms)."""

    pages: int = 0
    received: int = 0
    landed: int = 0
    watermark_ms: int | None = None

    def add(self, result: LandResult, watermark_ms: int | None = None) -> None:
        """Count one landed page; the watermark only moves forward."""
        self.pages += 1
        self.received += result.received
        self.landed += result.landed
        if watermark_ms is not None:
            self.watermark_ms = max(self.watermark_ms or watermark_ms, watermark_ms)

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

    @classmethod
    def of(cls, now_ms: int, *, lag_s: float, overlap_s: float, since_ms: int | None) -> Window:
        """A window from a source's settings (seconds) and the run's `now` and backfill start (ms)."""
        return cls(
            now_ms=now_ms, lag_ms=int(lag_s * 1000), overlap_ms=int(overlap_s * 1000), since_ms=since_ms
        )

    @property
    def hi_ms(self) -> int:
        return self.now_ms - self.lag_ms

    def start_ms(self, watermark_ms: int | None) -> int:
        """Where a pull starts: `since`, else `overlap` before the watermark, else the beginning."""
        if self.since_ms is not None:
            return self.since_ms
        return watermark_ms - self.overlap_ms if watermark_ms is not None else 0


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

    @classmethod
    def of(
        cls, records: list[dict[str, Any]], ids: list[Any], modified: pa.Array, *, origin: str, what: str
    ) -> Page:
        """A page from its records, their ids and their modified times (`records.timestamps_ms`);
        a record without a readable time fails the page (`what` names the time field)."""
        if modified.null_count:
            raise ValueError(f"{origin}: {modified.null_count} record(s) without a readable {what}")
        return cls(
            records=records,
            ids=np.array([int(i) for i in ids], dtype=np.int64),
            modified=modified.to_numpy(zero_copy_only=False).astype(np.int64),
            origin=origin,
        )


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


Converter = Callable[[Page], Mapping[str, pa.Table]]
Tie = dict[str, int]  # {"at": instant read by id, "after_id": last id landed}


class _KeysetPull:
    """One keyset pull in progress: lands pages and remembers where it stands (for error messages)."""

    def __init__(
        self, conn: psycopg.Connection, fetcher: KeysetFetcher, convert: Converter, **how: Any
    ) -> None:
        self.conn, self.fetcher, self.convert = conn, fetcher, convert
        self.source_system: str = how["source_system"]
        self.key: str = how["key"]
        self.page_limit: int = how["page_limit"]
        self.run_id: str | None = how["run_id"]
        self.step = max(1, int(getattr(fetcher, "resolution_ms", 1)))
        self.stats = PullStats()
        self.cursor: dict[str, Any] = {}

    def land(self, page: Page, watermark: int | None, next_cursor: dict[str, Any]) -> None:
        result = land_page(
            self.conn,
            source_system=self.source_system,
            key=self.key,
            tables=self.convert(page) if len(page) else {},
            origin=page.origin,
            watermark_ms=watermark,
            cursor=next_cursor,
            run_id=self.run_id,
        )
        self.stats.add(result, watermark)

    def tie_page(self, tie: Tie, lo: int, hi: int) -> tuple[Tie | None, int]:
        """One page of the instant `tie["at"]`, by id; returns the next tie (None: done) and `lo`."""
        at, after = int(tie["at"]), int(tie["after_id"])
        self.cursor = {"tie": {"at": at, "after_id": after}, "hi": hi}
        with page_errors(self.source_system, self.key, self.cursor):
            page = self.fetcher.at(at, after, self.page_limit)
            if not page.has_more(self.page_limit):
                self.land(page, at + self.step - 1, {})
                return None, at + self.step
            last = int(page.ids.max())
            if last <= after:
                raise ExtractError(
                    self.source_system, self.key, self.cursor, "the API returned no id above the cursor"
                )
            self.land(page, at - 1, {"tie": {"at": at, "after_id": last}})
            return {"at": at, "after_id": last}, lo

    def range_page(self, lo: int, hi: int) -> tuple[int, Tie | None, bool]:
        """One page of `lo <= modified <= hi`; returns the next `lo`, a tie to read by id, and done."""
        self.cursor = {"lo": lo, "hi": hi}
        with page_errors(self.source_system, self.key, self.cursor):
            page = self.fetcher.since(lo, hi, self.page_limit)
            if not page.has_more(self.page_limit):
                self.land(page, hi, {})
                return lo, None, True
            top = int(page.modified.max())
            top -= top % self.step
            if top <= lo:
                # A full page of one instant: read that instant by id, then carry on after it.
                return lo, {"at": lo, "after_id": -1}, False
            self.land(page, top - 1, {"lo": top})
            return top, None, False


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
    """Pull every record modified in the window, page by page, each page committed with the state.

    `convert` turns a page into raw tables; `key` names the state row; `max_pages` bounds one run
    (the next run continues from the state).
    """
    pull = _KeysetPull(
        conn, fetcher, convert, source_system=source_system, key=key, page_limit=page_limit, run_id=run_id
    )
    state = read_state(conn, source_system, key)
    pull.stats.watermark_ms = state.watermark_ms
    hi = window.hi_ms
    lo = window.start_ms(state.watermark_ms)
    tie = state.cursor.get("tie") if window.since_ms is None else None
    lo -= lo % pull.step
    done = False
    while pull.stats.pages < max_pages and not done:
        if tie is not None:
            tie, lo = pull.tie_page(tie, lo, hi)
        elif lo > hi:
            done = True
        else:
            lo, tie, done = pull.range_page(lo, hi)
    if not done and pull.stats.pages >= max_pages:
        log.warning(
            "%s/%s: stopped after %d pages (max_pages); the next run continues",
            source_system,
            key,
            pull.stats.pages,
        )
    return pull.stats


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
    else:
        lo = window.start_ms(state.watermark_ms)
    windows.append((lo, window.hi_ms, first_position))
    stats = PullStats(watermark_ms=state.watermark_ms)
    for start, end, position in windows:
        current: Any = position
        while start <= end and current is not None and stats.pages < max_pages:
            with page_errors(source_system, key, {"from": start, "to": end, "position": current}):
                page = fetch(start, end, current)
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
            stats.add(result, end if done else None)
            current = page.next_position
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
    lo = window.start_ms(state.watermark_ms)
    stats = PullStats(watermark_ms=state.watermark_ms)
    position = first_position
    while stats.pages < max_pages:
        with page_errors(source_system, key, {"lo": lo, "position": position}):
            page = fetch(position)
            reached = page.times < lo
            # Records newer than `now - lag` wait for the next run, as in the other pulls.
            wanted = ~reached & (page.times <= window.hi_ms)
            fresh = [r for r, keep in zip(page.records, wanted.tolist(), strict=True) if keep]
            tables = convert(fresh) if fresh else {}
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
        stats.add(result, window.hi_ms if done else None)
        if done:
            return stats
        position = page.next_position
    log.warning(
        "%s/%s: stopped after %d pages (max_pages); the next run starts again", source_system, key, max_pages
    )
    return stats
