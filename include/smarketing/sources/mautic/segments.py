"""Mautic segment memberships → raw.segment_memberships.

Segments are read from the timeline, not listed per segment or per contact each run:
`search=segment:<alias>` re-reads every member of every segment, and `GET /api/contacts/{id}/segments`
costs one request per contact (200k at 200k contacts); the timeline costs one page per `page_limit`
changes since the last run, plus one `GET /api/segments` per run to resolve the segment named by each
entry to its id and alias. On the first run and then every `reconcile_hours` (a week), every segment's
members are listed and the differences with raw land as changes of their own, for what the log never
shows (memberships older than the log, contacts or segments deleted without a log entry). A timeline
entry says added or removed only in its label (`removed_label`, English by default).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa

from smarketing.sources.http import ApiClient
from smarketing.sources.mautic.answers import entities, total
from smarketing.sources.mautic.settings import MauticSettings
from smarketing.sources.mautic.timeline import SEGMENT_EVENT, fetch_segments, memberships_table, pull_timeline
from smarketing.sources.paging import Window
from smarketing.sources.state import land_page, read_state

RECONCILE_KEY = "segments.reconcile"
_MEMBER_COLUMNS = ["contact", "segment_id", "segment_name"]


def pull_segments(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    window: Window,
    *,
    now_ms: int,
    run_id: str | None,
) -> dict[str, Any]:
    """The `segments` object: the timeline's membership changes, then the reconciliation when due."""
    # Read once per run: a segment renamed since a change was logged no longer resolves by name.
    segments = fetch_segments(client, settings.page_limit)
    result = pull_timeline(
        conn,
        client,
        settings,
        window,
        key="segments",
        include=(SEGMENT_EVENT,),
        convert=lambda events: {"segment_memberships": memberships_table(events, segments, settings)},
        run_id=run_id,
    )
    # After the timeline, so that raw already holds every logged change up to now.
    result["reconciled"] = reconcile_segments(
        conn, client, settings, segments, now_ms=now_ms, force=window.since_ms is not None, run_id=run_id
    )
    return result


def segment_members(client: ApiClient, alias: str, limit: int) -> list[int]:
    """Contact ids of one segment: `search=segment:<alias>`, keyset by id (offsets skip under changes)."""
    members: list[int] = []
    while True:
        params = {
            "search": f"segment:{alias}",
            "minimal": "true",
            "start": 0,
            "limit": limit,
            "orderBy": "id",
            "orderByDir": "asc",
            "where[0][col]": "id",
            "where[0][expr]": "gt",
            "where[0][val]": str(members[-1] if members else 0),
        }
        data = client.get_json("/api/contacts", params=params)
        page = sorted({int(e["id"]) for e in entities(data, "contacts")})
        members += page
        # Distinct ids against the total: a page that repeats records (of its own, on the first page) is
        # longer than what it covers, and counting the repeats would stop before the segment's last members.
        if not page or (total(data) or 0) <= len(page):
            return members


def landed_members(conn: psycopg.Connection, source_system: str) -> pd.DataFrame:
    """Who raw says is in which segment now: the latest landed change of each membership."""
    rows = conn.execute(
        """
        SELECT contact, segment_id, segment_name FROM (
            SELECT DISTINCT ON (payload->>'lead_source_id', payload->>'segment_id')
                   payload->>'lead_source_id' AS contact, payload->>'segment_id' AS segment_id,
                   payload->>'segment_name' AS segment_name, (payload->>'is_member')::boolean AS is_member
            FROM raw.segment_memberships
            WHERE source_system = %s AND payload->>'segment_id' IS NOT NULL AND payload->>'is_member' IS NOT NULL
            ORDER BY payload->>'lead_source_id', payload->>'segment_id',
                     (payload->>'changed_at')::timestamptz DESC, length(source_id) DESC, source_id DESC
        ) latest
        WHERE is_member
        """,
        (source_system,),
    ).fetchall()
    return pd.DataFrame(rows, columns=_MEMBER_COLUMNS, dtype=object)


def listed_members(client: ApiClient, segments: pa.Table, limit: int) -> pd.DataFrame:
    """Every listed member of every segment with an id and alias: contact, segment_id, segment_name."""
    listed = segments.to_pandas().dropna(subset=["id", "alias"])
    frames = [
        pd.DataFrame(
            {
                "contact": np.asarray(segment_members(client, alias, limit)).astype(str),
                "segment_id": seg_id,
                "segment_name": name,
            },
            columns=_MEMBER_COLUMNS,
            dtype=object,
        )
        for seg_id, alias, name in listed[["id", "alias", "name"]].itertuples(index=False)
    ]
    found = pd.concat(frames or [pd.DataFrame(columns=_MEMBER_COLUMNS, dtype=object)])
    return found.drop_duplicates(["contact", "segment_id"])  # a page may repeat records of the page before


def membership_changes(found: pd.DataFrame, landed: pd.DataFrame) -> pd.DataFrame:
    """Listed but not landed → added; landed but not listed → removed: contact, segment_id, name, action."""
    both = found.merge(landed, how="outer", on=["contact", "segment_id"], indicator=True)
    both["action"] = both["_merge"].map({"left_only": "added", "right_only": "removed"})
    both["name"] = both["segment_name_x"].fillna(both["segment_name_y"])
    return both.dropna(subset=["action"])[["contact", "segment_id", "name", "action"]]


def _change_events(changes: pd.DataFrame, at: int) -> list[dict[str, Any]]:
    """The changes as timeline entries of their own (ids unique per listing), timed at the listing."""
    stamp = datetime.fromtimestamp(at / 1000, tz=UTC).isoformat()
    return [
        {
            "event": SEGMENT_EVENT,
            "eventId": f"reconcile:{segment_id}:{contact}:{at}",
            "eventLabel": f"reconciled: {action}",
            "timestamp": stamp,
            "contactId": contact,
            "details": {"object_description": name, "object_id": segment_id, "action": action},
        }
        for contact, segment_id, name, action in changes.itertuples(index=False)
    ]


def reconcile_segments(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    segments: pa.Table,
    *,
    now_ms: int,
    force: bool = False,
    run_id: str | None = None,
) -> dict[str, Any] | None:
    """When due, list every segment's members and land the differences with raw as changes of their own.

    A member raw does not know becomes an addition at the listing's time (its real start is unknown);
    a contact raw counts as a member but the segment does not list (or of a segment that no longer
    exists) becomes a removal. Costs one request per `page_limit` members of each segment. Returns
    None when not due (`reconcile_hours` since the last one, unless `force`), else counts.
    """
    state = read_state(conn, settings.source_system, RECONCILE_KEY)
    period_ms = settings.reconcile_hours * 3_600_000
    due = force or state.watermark_ms is None or now_ms - state.watermark_ms >= period_ms
    if settings.reconcile_hours <= 0 or not due:
        return None
    at = now_ms - now_ms % 1000
    found = listed_members(client, segments, settings.page_limit)
    changes = membership_changes(found, landed_members(conn, settings.source_system))
    events = _change_events(changes, at)
    listed = segments.to_pandas().dropna(subset=["id", "alias"])
    result = land_page(
        conn,
        source_system=settings.source_system,
        key=RECONCILE_KEY,
        tables={"segment_memberships": memberships_table(events, segments, settings)} if events else {},
        origin=f"GET /api/contacts search=segment:<alias> for {len(listed)} segment(s)",
        watermark_ms=at,
        cursor={},
        run_id=run_id,
    )
    return {
        "members": len(found),
        "added": int((changes["action"] == "added").sum()),
        "removed": int((changes["action"] == "removed").sum()),
        "landed": result.landed,
    }
