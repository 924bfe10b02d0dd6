"""Mautic's contact timeline (`GET /api/contacts/activity`) → raw.marketing_events and
raw.segment_memberships.

The timeline is read over a window `[watermark - overlap, now - lag]`, paged by `page`; its entries
never change, so offsets inside a fixed window are stable, and a killed run resumes at the next page.
Point changes (`point.gained`) become `points_changed` with the signed change under `attributes.delta`.
The `segment_membership` entries (one per contact added to or removed from a segment, from Mautic's
lead_event_log) are read by the `segments` object (`mautic.segments`), not by `activity`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.sources.http import ApiClient
from smarketing.sources.mautic.answers import entities, mautic_time, total
from smarketing.sources.mautic.settings import MauticSettings
from smarketing.sources.paging import Window, WindowPage, pull_windowed
from smarketing.sources.records import FieldKind, boolean_text, canonical_table, lookup, strings

ACTIVITY_PATH = "/api/contacts/activity"
# The timeline's segment membership changes: read by the `segments` object, not by `activity`.
SEGMENT_EVENT = "segment_membership"


def _event_id(event: Mapping[str, Any]) -> str:
    if event.get("eventId"):
        return str(event["eventId"])
    # Some event types (page hits, point changes) come without an id: derive a stable one.
    basis = json.dumps(
        [event.get("event"), event.get("contactId"), event.get("timestamp"), event.get("details")],
        sort_keys=True,
    )
    return f"{event.get('event')}:{hashlib.sha1(basis.encode()).hexdigest()[:20]}"


def _details(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # The all-contacts activity API gives an entry's extra data as `details`; the timeline calls it `extra`.
    return [e.get("details") or e.get("extra") or {} for e in events]


def _label(label: Any) -> str | None:
    if isinstance(label, dict):
        return label.get("label")
    return label


def timeline_table(
    events: Sequence[Mapping[str, Any]],
    *,
    fields: Mapping[str, tuple[FieldKind, pa.Array]],
    attributes: Mapping[str, pa.Array],
) -> pa.Table:
    """Landing rows of timeline entries: the entry's id and contact; no modified time (entries never change)."""
    return canonical_table(
        source_id=strings([_event_id(e) for e in events]),
        updated_ms=None,
        fields={"lead_source_id": ("text", strings([e.get("contactId") for e in events])), **fields},
        attributes={
            "event": strings([e.get("event") for e in events]),
            "label": strings([_label(e.get("eventLabel")) for e in events]),
            **attributes,
        },
    )


def events_table(events: Sequence[Mapping[str, Any]], settings: MauticSettings) -> pa.Table:
    """raw.marketing_events rows of timeline entries; page hits of the pricing URL become
    `pricing_page_view`, unknown event types land under their own name."""
    details = _details(events)
    kinds = strings([e.get("event") for e in events])
    urls = strings([(d.get("hit") or {}).get("url") or d.get("url") for d in details])
    campaign = strings([d.get("campaignId") or (d.get("stat") or {}).get("emailId") for d in details])
    mapped = lookup(kinds, settings.event_types, keep_unknown=True)
    pricing = pc.and_(
        pc.equal(kinds, "page.hit"), pc.fill_null(pc.match_substring(urls, settings.pricing_url), False)
    )
    return timeline_table(
        events,
        fields={
            "event_type": ("text", pc.if_else(pricing, "pricing_page_view", mapped)),
            "occurred_at": ("timestamp", strings([e.get("timestamp") for e in events])),
            "campaign_id": ("text", campaign),
            "content_topic": ("text", strings([d.get("topic") for d in details])),
        },
        attributes={
            "url": urls,
            # Point changes carry their points change log row; other events have no delta.
            "delta": strings([(d.get("log") or {}).get("delta") for d in details]),
        },
    )


def memberships_table(
    events: Sequence[Mapping[str, Any]], segments: pa.Table, settings: MauticSettings
) -> pa.Table:
    """`segment_membership` timeline entries → raw.segment_memberships rows, one per change.

    Mautic's entry names the segment (`object_description`) but not its id, and says added or removed
    only in its label: the id and alias come from the segment list (`fetch_segments`) by name, the
    direction from the label (`removed_label`), unless the entry carries `object_id` / `action` itself.
    """
    details = _details(events)
    names = strings([d.get("object_description") for d in details])
    removed = pc.match_substring_regex(
        strings([_label(e.get("eventLabel")) for e in events]), settings.removed_label
    )
    action = pc.coalesce(
        strings([d.get("action") for d in details]),
        pc.if_else(removed, pa.scalar("removed"), pa.scalar("added")),
    )
    position = pc.index_in(names, value_set=segments.column("name").combine_chunks())
    segment_id = pc.coalesce(
        strings([d.get("object_id") for d in details]),
        pc.take(segments.column("id").combine_chunks(), position),
    )
    return timeline_table(
        events,
        fields={
            "segment_id": ("text", segment_id),
            "segment_name": ("text", names),
            "segment_alias": ("text", pc.take(segments.column("alias").combine_chunks(), position)),
            "is_member": ("boolean", boolean_text(action, true=("added",))),
            "changed_at": ("timestamp", strings([e.get("timestamp") for e in events])),
        },
        attributes={"action": action},
    )


def fetch_segments(client: ApiClient, limit: int) -> pa.Table:
    """Every segment (`GET /api/segments`, paged by `start`): id, name and alias as text."""
    listed: list[dict[str, Any]] = []
    while True:
        data = client.get_json("/api/segments", params={"start": len(listed), "limit": limit})
        page = entities(data, "lists")
        listed += page
        if not page or len(listed) >= (total(data) or 0):
            break
    return pa.table(
        {
            "id": strings([s.get("id") for s in listed]),
            "name": strings([s.get("name") for s in listed]),
            "alias": strings([s.get("alias") for s in listed]),
        }
    )


TimelineConverter = Callable[[list[dict[str, Any]]], dict[str, pa.Table]]


def pull_timeline(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    window: Window,
    *,
    key: str,
    include: Sequence[str],
    convert: TimelineConverter,
    run_id: str | None,
) -> dict[str, Any]:
    """Windowed pull of the event types `include` of the timeline (their state is `key`); counts."""

    def fetch(lo: int, hi: int, page_no: int) -> WindowPage:
        params: dict[str, Any] = {
            "filters[dateFrom]": mautic_time(lo),
            "filters[dateTo]": mautic_time(hi),
            "order[0]": "timestamp",
            "order[1]": "ASC",
            "page": page_no,
            "limit": settings.page_limit,
        }
        for i, kind in enumerate(include):
            params[f"filters[includeEvents][{i}]"] = kind
        data = client.get_json(ACTIVITY_PATH, params=params)
        events = entities(data, "events")
        # The server's own page count: it may cap `limit` below what was asked.
        max_pages = data.get("maxPages")
        last = not events or (page_no >= int(max_pages) if max_pages else len(events) < settings.page_limit)
        return WindowPage(
            tables=convert(events) if events else {},
            received=len(events),
            next_position=None if last else page_no + 1,
            origin=f"GET {ACTIVITY_PATH} {mautic_time(lo)}..{mautic_time(hi)} page {page_no}",
        )

    stats = pull_windowed(
        conn,
        fetch,
        source_system=settings.source_system,
        key=key,
        window=window,
        first_position=1,
        run_id=run_id,
    )
    return stats.as_dict()


def pull_activity(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    window: Window,
    *,
    run_id: str | None,
) -> dict[str, Any]:
    """The `activity` object: the configured event types of the timeline → raw.marketing_events."""
    return pull_timeline(
        conn,
        client,
        settings,
        window,
        key="activity",
        include=settings.include_events,
        convert=lambda events: {"marketing_events": events_table(events, settings)},
        run_id=run_id,
    )
