"""HubSpot connector settings: the objects it knows, the properties it requests, how it pulls."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smarketing.sources.http import RateLimit, RetryPolicy, Timeouts
from smarketing.sources.settings import SourceDefaults, common_settings, merged_entry
from smarketing.vocabulary import LIFECYCLE_STAGES

CONN_ID = "smarketing_hubspot"
SOURCE_SYSTEM = "hubspot"
SEARCH_LIMIT = 200  # HubSpot's maximum page size for search
ASSOCIATION_BATCH = 1000  # inputs per v4 batch read
DEFAULT_LIMITS = {"general": RateLimit(190, 10), "search": RateLimit(5, 1)}


@dataclass(frozen=True)
class ObjectSpec:
    """A CRM object: its raw object, its modified-time property, the properties and associations read."""

    raw: str
    modified: str
    properties: tuple[str, ...]
    associations: tuple[str, ...] = ()
    activity_type: str | None = None


_ENGAGEMENT_PROPS = ("hs_timestamp", "hubspot_owner_id", "hs_lastmodifieddate", "hs_createdate")
OBJECTS: dict[str, ObjectSpec] = {
    "contacts": ObjectSpec(
        "leads",
        "lastmodifieddate",
        (
            "email",
            "firstname",
            "lastname",
            "jobtitle",
            "country",
            "associatedcompanyid",
            "lifecyclestage",
            "hubspot_owner_id",
            "hubspot_owner_assigneddate",
            "createdate",
            "lastmodifieddate",
            "hs_email_optout",
            "hs_merged_object_ids",
        ),
    ),
    "companies": ObjectSpec(
        "companies",
        "hs_lastmodifieddate",
        (
            "name",
            "domain",
            "industry",
            "numberofemployees",
            "annualrevenue",
            "country",
            "hs_lastmodifieddate",
        ),
    ),
    "deals": ObjectSpec(
        "deals",
        "hs_lastmodifieddate",
        ("dealname", "amount", "dealstage", "pipeline", "createdate", "closedate", "hs_lastmodifieddate"),
        associations=("contacts", "companies"),
    ),
    **{
        name: ObjectSpec(
            "sales_activities", "hs_lastmodifieddate", _ENGAGEMENT_PROPS, ("contacts",), activity_type=kind
        )
        for name, kind in (
            ("calls", "call"),
            ("emails", "email"),
            ("meetings", "meeting"),
            ("notes", "note"),
            ("tasks", "task"),
        )
    },
}
DEFAULT_OBJECTS = ("owners", "companies", "contacts", "deals", "calls", "emails", "meetings")
# Marketing e-mail events and form submissions are for accounts that use HubSpot as their marketing
# tool; with another one pulled as well (Mautic), the same opens and forms would count twice.
ALL_OBJECTS = ("owners", *OBJECTS, "email_events", "form_submissions")
DEFAULTS = SourceDefaults(
    SOURCE_SYSTEM, CONN_ID, DEFAULT_OBJECTS, ALL_OBJECTS, SEARCH_LIMIT, lag_s=120.0, limits=DEFAULT_LIMITS
)


@dataclass(frozen=True)
class HubSpotSettings:
    """How to pull: from the source entry of `smarketing_api_sources` and the connection's extra.

    `lifecycle_stages` are the stages whose `hs_lifecyclestage_<stage>_date` properties are read
    (default: the agreement vocabulary's list, `smarketing.vocabulary.LIFECYCLE_STAGES`).
    """

    source_system: str = SOURCE_SYSTEM
    conn_id: str = CONN_ID
    objects: tuple[str, ...] = DEFAULT_OBJECTS
    properties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # extra, per object
    lifecycle_stages: tuple[str, ...] = LIFECYCLE_STAGES
    won_stages: tuple[str, ...] = ("closedwon",)
    lost_stages: tuple[str, ...] = ("closedlost",)
    include_archived: bool = True
    page_limit: int = SEARCH_LIMIT
    lag_s: float = 120.0
    overlap_s: float = 600.0
    limits: Mapping[str, RateLimit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeouts: Timeouts = field(default_factory=Timeouts)

    @classmethod
    def from_config(cls, entry: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> HubSpotSettings:
        """Settings from a source entry over the connection's extra; ValueError names a bad key."""
        merged = merged_entry(entry, extra)
        return cls(
            **common_settings(merged, DEFAULTS),
            properties={k: tuple(v) for k, v in (merged.get("properties") or {}).items()},
            lifecycle_stages=tuple(merged.get("lifecycle_stages") or LIFECYCLE_STAGES),
            won_stages=tuple(merged.get("won_stages") or ("closedwon",)),
            lost_stages=tuple(merged.get("lost_stages") or ("closedlost",)),
            include_archived=bool(merged.get("include_archived", True)),
        )

    def properties_for(self, name: str) -> list[str]:
        """The properties to request for CRM object `name`: its own, the configured extra ones, and
        (contacts) one `hs_lifecyclestage_<stage>_date` per lifecycle stage."""
        spec = OBJECTS[name]
        wanted = list(spec.properties) + list(self.properties.get(name, ()))
        if name == "contacts":
            wanted += [lifecycle_property(s) for s in self.lifecycle_stages]
        return list(dict.fromkeys(wanted))


def lifecycle_property(stage: str) -> str:
    """HubSpot's "became a <stage> date" contact property."""
    return f"hs_lifecyclestage_{stage}_date"
