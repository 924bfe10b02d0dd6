"""Observations: short sentences computed from the numbers a section shows, never written by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

from smarketing.kpi.report.model import display


def moved(label: str, now: Any, before: Any, kind: str, *, since: str = "") -> str | None:
    """`"<label> fell from 38.0% to 31.0%"`; None when there is no figure now; `since` names the earlier one."""
    if now is None:
        return None
    if before is None:
        return f"{label}: {display(now, kind)} (no figure for the period before)."
    if now == before:
        return f"{label} held at {display(now, kind)}{since}."
    word = "rose" if now > before else "fell"
    return f"{label} {word} from {display(before, kind)}{since} to {display(now, kind)}."


def month_name(month: date) -> str:
    return f"{month:%B %Y}"


def largest(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The row with the largest non-missing `key` (the first such row on a tie), None when there is none."""
    found = [row for row in rows if row.get(key) is not None]
    return max(found, key=lambda row: row[key]) if found else None


def smallest(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    found = [row for row in rows if row.get(key) is not None]
    return min(found, key=lambda row: row[key]) if found else None


def sentences(*items: str | None) -> list[str]:
    return [item for item in items if item]
