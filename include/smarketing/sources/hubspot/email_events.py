"""HubSpot marketing e-mail events (`/email/public/v1/events`): windows of creation time paged by
the API's opaque `offset`, the recipient resolved to a contact id (batch read by e-mail, then the
contacts already landed). Off by default: for accounts that use HubSpot as their marketing tool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import pyarrow as pa

from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.reads import contacts_for
from smarketing.sources.hubspot.settings import HubSpotSettings
from smarketing.sources.paging import Window, WindowPage, pull_windowed
from smarketing.sources.records import canonical_table, lookup, strings

EVENTS_PATH = "/email/public/v1/events"
EMAIL_EVENTS_LIMIT = 1000
# The other types (DELIVERED, PROCESSED, DROPPED, STATUSCHANGE, ...) land under their own name; core
# has no event type for them (DELIVERED would count every send twice).
EMAIL_EVENT_TYPES = {"SENT": "email_sent", "OPEN": "email_open", "CLICK": "email_click", "BOUNCE": "bounce"}


def email_events_table(events: Sequence[Mapping[str, Any]], contacts: Mapping[str, str]) -> pa.Table:
    """Marketing e-mail events; `contacts` maps lower-cased recipients to contact ids."""
    recipients = [str(e.get("recipient") or "") for e in events]
    kinds = strings([e.get("type") for e in events])
    return canonical_table(
        source_id=strings([e.get("id") for e in events]),
        updated_ms=None,
        fields={
            # An address no contact ever had lands without a lead: the quality gate quarantines it.
            "lead_source_id": ("text", strings([contacts.get(r.strip().lower()) for r in recipients])),
            "event_type": ("text", lookup(kinds, EMAIL_EVENT_TYPES, keep_unknown=True)),
            "occurred_at": ("timestamp", pa.array([e.get("created") for e in events], pa.int64())),
            "campaign_id": ("text", strings([e.get("emailCampaignId") for e in events])),
        },
        attributes={"type": kinds},
    )


def pull_email_events(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    window: Window,
    *,
    run_id: str | None,
) -> dict[str, Any]:
    """Windowed pull of the e-mail events created in the window; returns counts."""

    def fetch(lo: int, hi: int, offset: str) -> WindowPage:
        params: dict[str, Any] = {"startTimestamp": lo, "endTimestamp": hi, "limit": EMAIL_EVENTS_LIMIT}
        if offset:  # opaque, from the previous page
            params["offset"] = offset
        data = client.get_json(EVENTS_PATH, params=params)
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list):
            raise ValueError("the answer has no events list")
        more = bool(data.get("hasMore")) and data.get("offset") is not None
        recipients = [str(e.get("recipient") or "").strip().lower() for e in events]
        contacts = contacts_for(conn, client, settings.source_system, recipients)
        return WindowPage(
            tables={"marketing_events": email_events_table(events, contacts)} if events else {},
            received=len(events),
            next_position=str(data["offset"]) if more else None,
            origin=f"GET {EVENTS_PATH} {lo}..{hi} offset {offset}",
        )

    stats = pull_windowed(
        conn,
        fetch,
        source_system=settings.source_system,
        key="email_events",
        window=window,
        first_position="",
        run_id=run_id,
    )
    return stats.as_dict()
