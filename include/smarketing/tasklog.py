"""What a person reads in a task log: one summary line per task, in human units, and no library chatter.

Every task's work ends with `summary(...)`: one INFO line on the `smarketing.summary` logger, subject
first ("hubspot/contacts: 3,615 received, 18 already landed, 3,597 new; watermark 2026-12-07 00:15 UTC").
Counts carry thousands separators, moments read as `YYYY-MM-DD HH:MM UTC` (never epoch milliseconds),
durations as seconds, minutes or hours. The CLI prints the same words.

Third-party libraries (Great Expectations, Alembic, HTTP clients) log at INFO on every call; a task log
keeps their warnings and errors only. `SMARKETING_THIRD_PARTY_LOG_LEVEL=INFO` brings them back.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

SUMMARY_LOGGER = "smarketing.summary"
THIRD_PARTY_LEVEL_ENV = "SMARKETING_THIRD_PARTY_LOG_LEVEL"
# The libraries the pipeline calls that log routine progress at INFO.
THIRD_PARTY_LOGGERS = (
    "great_expectations",
    "alembic",
    "httpx",
    "httpcore",
    "urllib3",
    "numexpr",
    "sqlalchemy",
    "py4j",
)

_summary_log = logging.getLogger(SUMMARY_LOGGER)


def quiet_third_party() -> None:
    """Set the third-party loggers to WARNING (or to `SMARKETING_THIRD_PARTY_LOG_LEVEL`)."""
    level = os.environ.get(THIRD_PARTY_LEVEL_ENV, "WARNING").upper()
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(level)


def summary(line: str) -> str:
    """Log `line` as the task's summary (INFO, logger `smarketing.summary`); returns it."""
    _summary_log.info("%s", line)
    return line


def count(n: int | float | None, noun: str | None = None, plural: str | None = None) -> str:
    """`3615` → "3,615"; with a noun, "1 lead" / "3,615 leads" (`plural` when not noun + "s")."""
    number = n or 0
    text = f"{number:,.1f}" if isinstance(number, float) and not number.is_integer() else f"{int(number):,}"
    if noun is None:
        return text
    return f"{text} {noun if number == 1 else (plural or noun + 's')}"


def utc(value: Any) -> datetime | None:
    """A moment as an aware UTC datetime: a datetime (naive is UTC), a pandas Timestamp, ISO 8601 text,
    or epoch milliseconds; None (or "") stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    stamp = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def moment(value: Any) -> str:
    """A moment (anything `utc` takes) as "2026-12-07 00:15 UTC", seconds shown only when not zero;
    "never" for None."""
    stamp = utc(value)
    if stamp is None:
        return "never"
    return stamp.strftime("%Y-%m-%d %H:%M:%S UTC" if stamp.second else "%Y-%m-%d %H:%M UTC")


def duration(seconds: float | None) -> str:
    """Seconds in human units: "0.4 s", "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h"."""
    if seconds is None:
        return "unknown"
    s = abs(float(seconds))
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    whole = round(s)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60), ("min", 60, "s", 1)):
        if whole >= size:
            major, rest = divmod(whole, size)
            minor = rest // sub_size
            return f"{major} {unit} {minor} {sub}" if minor else f"{major} {unit}"
    return f"{whole} s"


def age(value: Any, now: datetime | None = None) -> str:
    """How long before `now` a moment was ("5 min ago", "2 d 3 h ago"); "never" for None."""
    then = utc(value)
    if then is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - then).total_seconds()
    return f"in {duration(-seconds)}" if seconds < 0 else f"{duration(seconds)} ago"


def listing(items: dict[str, int] | list[tuple[str, int]], empty: str = "none") -> str:
    """{"open": 3, "met": 10} → "open 3, met 10" (zero counts kept: they say something)."""
    pairs = list(items.items()) if isinstance(items, dict) else list(items)
    return ", ".join(f"{name.replace('_', ' ')} {count(n)}" for name, n in pairs) or empty
