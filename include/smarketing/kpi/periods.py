"""Which periods of each KPI table a build rewrites: everything (first build, `full`), or the months
touched by what changed since the table's watermark.

The watermark of a table (ops.kpi_state.watermark) names the inputs its last build covered: per raw object,
the highest batch folded into core (ops.core_builds), and the wall-clock start of that build for the tables
written in place (scoring runs, SLA clocks, quality results). `sql/kpi/changes.sql` turns the difference
into months per kind of change; a model's `changes` say which kinds touch it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from smarketing.kpi.models import KpiModel, read_sql
from smarketing.warehouse.copy import copy_in_frame

# Inputs written in place are re-read with this overlap: a transaction that started before the last build
# began may commit after it, with an updated_at older than the watermark.
WALL_OVERLAP = timedelta(hours=1)
WATERMARK_OBJECTS = ("leads", "companies", "owners", "marketing_events", "deals", "lifecycle_history")
BEGINNING = date(1900, 1, 1)
END_OF_TIME = date(9000, 1, 1)  # a range from BEGINNING to it: every period


@dataclass(frozen=True)
class Watermark:
    batches: dict[str, int]
    wall: datetime

    def to_json(self) -> dict[str, Any]:
        return {"batches": dict(sorted(self.batches.items())), "wall": self.wall.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Watermark:
        return cls({k: int(v) for k, v in data["batches"].items()}, datetime.fromisoformat(data["wall"]))

    def key(self) -> tuple:
        return (tuple(sorted(self.batches.items())), self.wall)


@dataclass(frozen=True)
class TableState:
    watermark: Watermark
    as_of: datetime


def current_watermark(conn: psycopg.Connection) -> Watermark:
    """What core holds now (batches folded per object) and the database's clock."""
    rows = conn.execute(
        "SELECT object, last_batch_id FROM ops.core_builds WHERE object = ANY(%s)", (list(WATERMARK_OBJECTS),)
    ).fetchall()
    batches = dict.fromkeys(WATERMARK_OBJECTS, 0) | {str(o): int(b) for o, b in rows}
    (wall,) = conn.execute("SELECT clock_timestamp()").fetchone()
    return Watermark(batches, wall)


def latest_moment(conn: psycopg.Connection) -> pd.Timestamp | None:
    """The latest moment any KPI table was built as of (None before the first build)."""
    (latest,) = conn.execute("SELECT max(as_of) FROM ops.kpi_state").fetchone()
    return None if latest is None else pd.Timestamp(latest)


def table_states(conn: psycopg.Connection) -> dict[str, TableState]:
    rows = conn.execute("SELECT table_name, watermark, as_of FROM ops.kpi_state").fetchall()
    return {name: TableState(Watermark.from_json(mark), as_of) for name, mark, as_of in rows}


@dataclass(frozen=True)
class Changes:
    """What changed between two watermarks, per kind of change (sql/kpi/changes.sql): the months touched,
    and the days (what a daily table rewrites: every day of a month the finder named without its day)."""

    months: dict[str, set[date]]
    days: dict[str, set[date]]


def changed_months(
    conn: psycopg.Connection,
    since: Watermark,
    until: Watermark,
    timezone: str,
    mql_stage: str,
    passed: tuple[datetime, datetime] | None = None,
) -> Changes:
    """Months and days touched per kind of change (sql/kpi/changes.sql) between two watermarks, and by the
    facts dated between two moments (`passed`: the table's last build's and this one's, the earlier first),
    which the table's last build did not count and this one does."""
    conn.execute("DROP TABLE IF EXISTS _kpi_window")
    conn.execute(
        "CREATE TEMP TABLE _kpi_window (object text PRIMARY KEY, low bigint NOT NULL, high bigint NOT NULL)"
    )
    window = pd.DataFrame(
        [(obj, since.batches.get(obj, 0), until.batches.get(obj, 0)) for obj in WATERMARK_OBJECTS],
        columns=["object", "low", "high"],
    )
    copy_in_frame(conn, "_kpi_window", window)
    passed_from, passed_to = passed or (until.wall, until.wall)
    params = {
        "since": since.wall - WALL_OVERLAP,
        "tz": timezone,
        "mql_stage": mql_stage,
        "passed_from": passed_from,
        "passed_to": passed_to,
    }
    with psycopg.ClientCursor(conn) as cur:
        cur.execute(read_sql("changes"), params)
    months: dict[str, set[date]] = {}
    days: dict[str, set[date]] = {}
    rows = conn.execute("SELECT DISTINCT kind, month, day, widened FROM _kpi_changed_months").fetchall()
    for kind, month, day, widened in rows:
        months.setdefault(kind, set()).add(month)
        if day is not None:
            days.setdefault(kind, set()).add(day)
        elif not widened:  # a widened month's days are named on their own rows
            days.setdefault(kind, set()).update(days_between(month, next_month(month)))
    return Changes(months, days)


class ChangeFinder:
    """The months each watermark's changes touch, found once per watermark (and moment) in a session. The
    session's change tables (_kpi_changed_leads and the others of changes.sql) hold those found last.

    `moment` is the build's: the facts dated after the moment a table was last built as of, up to this one,
    are changes too (the last build did not count them, this one does), though nothing landed."""

    def __init__(
        self,
        conn: psycopg.Connection,
        until: Watermark,
        timezone: str,
        mql_stage: str,
        moment: datetime | None = None,
    ) -> None:
        self.conn, self.until, self.timezone, self.mql_stage = conn, until, timezone, mql_stage
        self.moment = moment
        self.found: dict[tuple, Changes] = {}
        self.latest: tuple | None = None

    def changes(
        self, since: Watermark, since_moment: datetime | None = None, *, in_session: bool = False
    ) -> Changes:
        """What changed since `since` (and the moment `since_moment`); `in_session`: with the session's tables
        holding it."""
        passed = None
        # forward only: a build as of an earlier moment rewrites what changed and its days from then on (the
        # later ones are built again as of the latest moment: build.build_kpis), no period for having passed
        if since_moment is not None and self.moment is not None and since_moment < self.moment:
            passed = (since_moment, self.moment)
        key = (since.key(), passed)
        if key not in self.found or (in_session and key != self.latest):
            self.found[key] = changed_months(
                self.conn, since, self.until, self.timezone, self.mql_stage, passed
            )
            self.latest = key
        return self.found[key]

    def months(
        self, since: Watermark, since_moment: datetime | None = None, *, in_session: bool = False
    ) -> dict[str, set[date]]:
        """Months touched per kind since `since` (and `since_moment`); `in_session`: with the session's tables
        holding them."""
        return self.changes(since, since_moment, in_session=in_session).months


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def months_between(first: date, end: date) -> list[date]:
    """First days of the months from `first`'s month up to (not including) `end`."""
    out, month = [], month_start(first)
    while month < end:
        out.append(month)
        month = next_month(month)
    return out


def days_between(first: date, end: date) -> list[date]:
    """The days from `first` up to (not including) `end`."""
    return [first + timedelta(days=i) for i in range((end - first).days)]


# Days touched less than a month apart are rewritten as one range: each range is a transaction and a run of
# the model over the staged leads, so a lead moved across two years (its record changed) costs at most
# about one run a month, as month ranges did, and a day's facts one run over a few days.
DAY_RANGE_GAP = timedelta(days=31)


def day_ranges(days: Iterable[date], end: date) -> list[tuple[date, date]]:
    """Runs of days before `end`, as [lo, hi) ranges of days, those less than DAY_RANGE_GAP apart joined."""
    out: list[tuple[date, date]] = []
    for day in sorted(d for d in set(days) if d < end):
        if out and day - out[-1][1] < DAY_RANGE_GAP:
            out[-1] = (out[-1][0], day + timedelta(days=1))
        else:
            out.append((day, day + timedelta(days=1)))
    return out


def closed_since(previous: date, current: date, horizon_days: int) -> set[date]:
    """Cohort months whose window (month end + horizon) ended between two builds' days."""
    first = month_start(previous - timedelta(days=horizon_days + 62))
    return {
        m
        for m in months_between(first, next_month(current))
        if previous <= next_month(m) - timedelta(days=1) + timedelta(days=horizon_days) < current
    }


def ranges(months: Iterable[date], end: date) -> list[tuple[date, date]]:
    """Contiguous runs of months before `end`, as [lo, hi) ranges of first days."""
    out: list[tuple[date, date]] = []
    for month in sorted(m for m in set(months) if m < end):
        if out and out[-1][1] == month:
            out[-1] = (out[-1][0], next_month(month))
        else:
            out.append((month, next_month(month)))
    return out


def touched_days(model: KpiModel, days: dict[str, set[date]]) -> set[date]:
    """The days a daily table rewrites: those of the kinds of change it reads."""
    return {day for kind in model.changes for day in days.get(kind, set())}


def touched_months(model: KpiModel, changes: dict[str, set[date]]) -> set[date]:
    months: set[date] = set()
    for kind in model.changes:
        months |= changes.get(kind, set())
    if model.next_month_too:
        months |= {next_month(m) for m in months}
    return months
