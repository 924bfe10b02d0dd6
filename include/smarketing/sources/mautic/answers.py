"""Reading Mautic's answers: its time format and its entity lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def mautic_time(ms: int) -> str:
    """Mautic's API filters take UTC `Y-m-d H:i:s` (second resolution)."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def entities(data: Any, key: str) -> list[dict[str, Any]]:
    """The entities listed under `key` of an answer, in the server's order; ValueError when absent."""
    listed = data.get(key) if isinstance(data, dict) else None
    if isinstance(listed, dict):  # keyed by id (PHP associative array), in the server's order
        return list(listed.values())
    if isinstance(listed, list):  # an empty result is `[]`
        return listed
    raise ValueError(f"the answer has no '{key}' list")


def total(data: Any) -> int | None:
    """The answer's `total` (records matching, over all pages), when it gives one."""
    value = data.get("total") if isinstance(data, dict) else None
    return int(value) if value not in (None, "") else None
