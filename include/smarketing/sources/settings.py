"""What every API source entry says the same way (`smarketing_api_sources` entry merged over the
connection's extra): which objects, page size, lag and overlap, rate limits and retries.

Each connector's settings class (`HubSpotSettings`, `MauticSettings`) reads these through
`common_settings` and adds its own keys, so a key means the same thing, and fails with the same
message, whatever the source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from smarketing.sources.http import RateLimit, RetryPolicy


def merged_entry(entry: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The source entry over the connection's extra: the entry (the DAG's, the agreement's) wins."""
    return {**(extra or {}), **entry}


@dataclass(frozen=True)
class SourceDefaults:
    """A connector's defaults and bounds for the common keys.

    `system` names the connector in errors and is the default `source_system`; `objects` are pulled
    when an entry names none, out of `known_objects`; `max_page_limit` is the API's largest page.
    """

    system: str
    conn_id: str
    objects: tuple[str, ...]
    known_objects: tuple[str, ...]
    max_page_limit: int
    lag_s: float
    limits: Mapping[str, RateLimit] = field(default_factory=dict)


def _given(merged: Mapping[str, Any], key: str, default: Any) -> Any:
    """`merged[key]`, or the default when absent or null (an empty field of the connection form)."""
    value = merged.get(key)
    return default if value is None else value


def common_settings(merged: Mapping[str, Any], defaults: SourceDefaults) -> dict[str, Any]:
    """Keyword arguments shared by the connectors' settings classes, checked.

    `merged` is `merged_entry(...)`. Raises ValueError naming the key for an unknown object or a page
    limit out of `1..max_page_limit`.
    """
    system = defaults.system
    objects = tuple(merged.get("objects") or defaults.objects)
    unknown = [o for o in objects if o not in defaults.known_objects]
    if unknown:
        raise ValueError(
            f"{system}: unknown object(s) {unknown} (objects: {', '.join(defaults.known_objects)})"
        )
    page_limit = int(_given(merged, "page_limit", defaults.max_page_limit))
    if not 1 <= page_limit <= defaults.max_page_limit:
        raise ValueError(f"{system}: page_limit must be 1..{defaults.max_page_limit}, not {page_limit}")
    limits = dict(defaults.limits)
    limits.update({k: RateLimit.parse(v) for k, v in (merged.get("rate_limits") or {}).items()})
    return {
        "source_system": str(merged.get("source_system", system)),
        "conn_id": str(merged.get("conn_id", defaults.conn_id)),
        "objects": objects,
        "page_limit": page_limit,
        "lag_s": float(_given(merged, "lag_seconds", defaults.lag_s)),
        "overlap_s": float(_given(merged, "overlap_seconds", 600.0)),
        "limits": limits,
        "retry": RetryPolicy(**merged["retry"]) if merged.get("retry") else RetryPolicy(),
    }


S = TypeVar("S")


def share_limits(settings: S, share: float) -> S:
    """The settings with every rate limit scaled by `share` (tasks of one account running side by
    side split its limit between them); unchanged for a share of 1 or more."""
    if share >= 1.0:
        return settings
    limits = {
        k: RateLimit(max(1, int(v.requests * share)), v.per_seconds)
        for k, v in settings.limits.items()  # type: ignore[attr-defined]
    }
    return replace(settings, limits=limits)  # type: ignore[type-var]
