"""Mautic connector settings: objects, event type mapping, segment reconciliation, country codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smarketing.sources.http import RateLimit, RetryPolicy, Timeouts
from smarketing.sources.settings import SourceDefaults, common_settings, merged_entry

CONN_ID = "smarketing_mautic"
SOURCE_SYSTEM = "mautic"
MAX_LIMIT = 200
OBJECTS = {"contacts": "leads", "activity": "marketing_events", "segments": "segment_memberships"}
# Segments cost one request for the segment list plus the pages of membership changes since the last run.
DEFAULT_OBJECTS = ("contacts", "activity", "segments")
EVENT_TYPES = {
    "email.sent": "email_sent",
    "email.read": "email_open",
    "email.clicked": "email_click",
    "email.bounced": "bounce",
    "email.failed": "bounce",
    "page.hit": "page_view",
    "form.submitted": "form_submission",
    "asset.download": "content_download",
    "webinar.registered": "webinar_registered",
    "webinar.attended": "webinar_attended",
    "dnc.unsubscribed": "unsubscribe",
    "lead.donotcontact": "unsubscribe",
    "demo.requested": "demo_request",
    # A score movement, with its signed change under attributes.delta; no engagement rule counts it.
    "point.gained": "points_changed",
}
DEFAULT_INCLUDE_EVENTS = tuple(EVENT_TYPES)
DEFAULTS = SourceDefaults(SOURCE_SYSTEM, CONN_ID, DEFAULT_OBJECTS, tuple(OBJECTS), MAX_LIMIT, lag_s=60.0)
# Mautic's timeline gives a membership change's direction only in its (translated) label; a label
# matching this pattern is a removal, any other an addition. Override it for a non-English instance.
REMOVED_LABEL = r"(?i)\bremov"
# How often the segments object also lists every segment's members to catch what the log never showed
# (memberships older than the log, a deleted contact or segment); 0 turns it off.
RECONCILE_HOURS = 168.0
# The marketing tool spells countries out; core keeps ISO 3166-1 alpha-2 codes like the CRM.
COUNTRY_CODES = {
    "Belgium": "BE",
    "France": "FR",
    "Germany": "DE",
    "Italy": "IT",
    "Netherlands": "NL",
    "Spain": "ES",
    "Sweden": "SE",
    "Switzerland": "CH",
    "United Kingdom": "GB",
    "United States": "US",
}


@dataclass(frozen=True)
class MauticSettings:
    """How to pull: from the source entry of `smarketing_api_sources` and the connection's extra."""

    source_system: str = SOURCE_SYSTEM
    conn_id: str = CONN_ID
    objects: tuple[str, ...] = DEFAULT_OBJECTS
    page_limit: int = MAX_LIMIT
    lag_s: float = 60.0
    overlap_s: float = 600.0
    event_types: Mapping[str, str] = field(default_factory=lambda: dict(EVENT_TYPES))
    include_events: tuple[str, ...] = DEFAULT_INCLUDE_EVENTS
    pricing_url: str = "/pricing"
    removed_label: str = REMOVED_LABEL
    reconcile_hours: float = RECONCILE_HOURS
    country_codes: Mapping[str, str] = field(default_factory=lambda: dict(COUNTRY_CODES))
    limits: Mapping[str, RateLimit] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> MauticSettings:
        """Settings from a source entry over the connection's extra; ValueError names a bad key."""
        merged = merged_entry(entry, extra)
        return cls(
            **common_settings(merged, DEFAULTS),
            event_types={**EVENT_TYPES, **(merged.get("event_types") or {})},
            include_events=tuple(merged.get("include_events") or DEFAULT_INCLUDE_EVENTS),
            removed_label=str(merged.get("segment_removed_label") or REMOVED_LABEL),
            reconcile_hours=float(merged.get("segment_reconcile_hours", RECONCILE_HOURS)),
            country_codes={**COUNTRY_CODES, **(merged.get("country_codes") or {})},
        )
