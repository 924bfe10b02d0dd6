"""What a review report is made of: sections holding computed observations, charts, and the tables of
numbers behind them.

Every figure the report shows sits in a `Table` cell that keeps its raw value (rendered as the cell's
`data-value`) next to its formatted text, so a reader, or a test, can check each one against `kpi.*`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg

MISSING = "–"


@dataclass(frozen=True)
class Column:
    """One column of a table: `key` in the rows, `label` shown, `kind` how its values are written.

    Kinds: int, num (fractional counts), money, delta (a signed difference of counts), share (a rate 0-1,
    shown as %), points (a difference of shares), change (a relative change), days, minutes, auc, text,
    month, flag (open/closed); `row`: each row names its own kind under the key "kind".
    """

    key: str
    label: str
    kind: str = "int"


@dataclass
class Table:
    """Rows of numbers behind a chart. `source`: the kpi table(s) they are read from."""

    id: str
    source: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    caption: str = ""


@dataclass
class Section:
    """One part of the report. `about` says what the numbers are; an empty section shows `empty_note`."""

    id: str
    title: str
    about: str
    tables: list[Table] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)
    empty_note: str = "The kpi tables hold nothing for this month."

    @property
    def empty(self) -> bool:
        return not any(table.rows for table in self.tables)


@dataclass(frozen=True)
class Months:
    """The reviewed month, the one before it, and the first month of its trend window (all first days)."""

    month: date
    previous: date
    trend_start: date
    next: date

    @classmethod
    def of(cls, day: date, trend_months: int = 6) -> Months:
        month = day.replace(day=1)
        return cls(month, add_months(month, -1), add_months(month, 1 - trend_months), add_months(month, 1))

    def params(self) -> dict[str, date]:
        return {
            "month": self.month,
            "previous": self.previous,
            "trend_start": self.trend_start,
            "next": self.next,
        }


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def query(conn: psycopg.Connection, text: str, params: dict[str, Any]) -> pd.DataFrame:
    """The result of one (set-based) query as a frame; None stays None, numerics stay Decimal."""
    with conn.cursor() as cur:
        cur.execute(text, params)  # type: ignore[arg-type]  # constant project SQL
        columns = [d.name for d in cur.description or ()]
        return pd.DataFrame(cur.fetchall(), columns=columns, dtype=object)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(index=False)]


def raw(value: Any) -> str:
    """The exact value behind a cell (`data-value`): empty for a missing one."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def display(value: Any, kind: str) -> str:
    """How a value reads in the report."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if kind in ("text",):
        return str(value)
    if kind == "month":
        return f"{value:%b %Y}"
    if kind == "flag":
        return "open" if value else "closed"
    number = float(value) if isinstance(value, Decimal | int | float) else value
    formats = {
        "int": "{:,.0f}",
        "num": "{:,.2f}",
        "money": "{:,.0f}",
        "days": "{:,.1f}",
        "minutes": "{:,.0f}",
        "auc": "{:.3f}",
    }
    if kind in formats:
        return formats[kind].format(number)
    if kind == "share":
        return f"{number * 100:.1f}%"
    if kind == "points":
        return f"{number * 100:+.1f} pts"
    if kind == "change":
        return f"{number * 100:+.1f}%"
    if kind == "delta":
        return f"{number:+,.0f}"
    raise ValueError(f"unknown column kind {kind!r}")
