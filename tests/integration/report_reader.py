"""Reading a review report back: its tables cell by cell (raw value, kind, text shown) and its sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

# How many decimals each kind of cell shows, and the scale its raw value is shown at.
DECIMALS = {"int": 0, "num": 2, "money": 0, "days": 1, "minutes": 0, "auc": 3, "delta": 0}
PERCENT_KINDS = {"share": 1, "points": 1, "change": 1}


@dataclass
class Cell:
    value: str
    kind: str
    text: str = ""


@dataclass
class ReportSection:
    empty: bool
    text: str = ""
    observations: list[str] = field(default_factory=list)


class ReportPage(HTMLParser):
    """`tables`: table id -> rows, each {column key: Cell}; `sections`: section id -> ReportSection;
    `shown`: what a reader sees or copies."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, Cell]]] = {}
        self.sources: dict[str, str] = {}
        self.sections: dict[str, ReportSection] = {}
        self._table: str | None = None
        self._row: dict[str, Cell] | None = None
        self._cell: tuple[str, Cell] | None = None
        self._section: str | None = None
        self._in_li = False
        self._in_style = False
        self.shown = ""  # every text node but the stylesheet, and the values of data-value, title, content
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self._in_style = tag == "style"
        self.shown += " ".join(("", a.get("data-value", ""), a.get("title", ""), a.get("content", ""), ""))
        if tag == "section":
            self._section = a["id"]
            self.sections[a["id"]] = ReportSection(empty=a["data-empty"] == "true")
        elif tag == "table":
            self._table = a["id"]
            self.tables[a["id"]] = []
            self.sources[a["id"]] = a["data-source"]
        elif tag == "tr" and self._table:
            self._row = {}
        elif tag == "td" and self._row is not None and "data-col" in a:
            self._cell = (a["data-col"], Cell(a["data-value"], a["data-kind"]))
        elif tag == "li" and self._section:
            self._in_li = True
            self.sections[self._section].observations.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if tag == "td" and self._cell and self._row is not None:
            self._row[self._cell[0]] = self._cell[1]
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row and self._table:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "li":
            self._in_li = False
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if not self._in_style:
            self.shown += data
        if self._cell:
            self._cell[1].text += data
        if self._section:
            self.sections[self._section].text += data
            if self._in_li:
                self.sections[self._section].observations[-1] += data


def shown_number(cell: Cell) -> Decimal | None:
    """The number a cell's text shows, at the scale of its raw value (42.0% -> 0.42); None for "–"."""
    text = cell.text.strip()
    if text == "–":
        return None
    digits = text.replace(",", "").replace("%", "").replace(" pts", "").replace("+", "")
    number = Decimal(digits)
    return number / 100 if cell.kind in PERCENT_KINDS else number


def shows_its_value(cell: Cell) -> bool:
    """The text shown is the raw value written at the kind's precision."""
    if cell.kind in ("text", "month", "flag"):
        return True
    shown = shown_number(cell)
    if shown is None or cell.value == "":
        return shown is None and cell.value == ""
    decimals = PERCENT_KINDS.get(cell.kind, DECIMALS.get(cell.kind, 0)) + (
        2 if cell.kind in PERCENT_KINDS else 0
    )
    return abs(shown - Decimal(cell.value)) <= Decimal(5) / Decimal(10) ** (decimals + 1) + Decimal("1e-9")
