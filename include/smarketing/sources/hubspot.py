"""HubSpot CRM v3 connector: incremental pulls landed as canonical records (docs/sources.md).

Objects (API name → raw object):

| API object | raw | incremental on | extra |
|---|---|---|---|
| contacts | leads (+ lifecycle_history) | `lastmodifieddate` (search) | `hs_lifecyclestage_<stage>_date` → lifecycle_history |
| companies | companies | `hs_lastmodifieddate` (search) | |
| deals | deals | `hs_lastmodifieddate` (search) | contact and company associations (v4 batch read) |
| calls, emails, meetings, notes, tasks | sales_activities | `hs_lastmodifieddate` (search) | contact association, owner |
| owners | owners | full list each run (small), de-duplicated on id + updatedAt | |
| email_events | marketing_events | creation time (`/email/public/v1/events` windows, `offset` paging) | recipient → contact id (batch read by e-mail); off by default |
| form_submissions | marketing_events | `submittedAt`, per form (`/form-integrations/v1/submissions/forms/{id}`, newest first) | submitted e-mail → contact id (batch read); off by default |

Search pulls are keyset pulls (see `smarketing.sources.sync`): sorted by modified time, `limit` 200,
filtered `lo <= modified <= now - lag`, by id inside one instant, so the 10,000-result cap of the
search endpoint is never reached whatever the volume. Archived (deleted or merged-away) records are
listed with `archived=true` and landed as a last version whose attributes say `archived: "true"` (and
`archived_at`): core marks the record deleted from then on. A surviving contact names the contacts merged
into it in `hs_merged_object_ids`, landed as the canonical `merged_source_ids`: core moves the merged
contacts (and their activities, deals and stages) to the survivor's lead. `hubspot_owner_assigneddate`
becomes `owner_assigned_at`, the moment the SLA clock's routing time ends.
Properties the connector does not map are kept under `attributes` by their HubSpot names; extra
properties to request are configurable per object.

Form submissions (`/form-integrations/v1/submissions/forms/{id}` for every form of
`/marketing/v3/forms`, live and archived, all types) land as `form_submission` events. They have no
modified time; their id is derived from what identifies a submission, `<form id>:<submittedAt
ms>:<first 16 hex of sha256(trimmed lower-case e-mail)>` (the answer's `conversionId` is kept under
attributes), stable across pulls (two submissions of one form by one address in the same millisecond
are one); they are de-duplicated on it alone. Under attributes:
`form_id`, `form_name`, `form_type`, `page_url`, `conversion_id`, `email_sha256` and `contact`; never
the e-mail itself nor the other submitted values (HubSpot copies those onto the contact, pulled with
contacts). The contact is the one the batch read by e-mail finds, else the latest contact landed in
raw with that address (a deleted contact, which the batch read no longer finds). A submission whose
address matches no contact at all still lands, with a null `lead_source_id` and `contact =
"unmatched"`: the quality gate quarantines it (kept, with the reason) and core counts it as an
orphan. A submission without an e-mail names nobody the pipeline could match: it is counted
(`without_email`), not landed. The API lists submissions newest first with no time filter, so each
form is read from its newest submission back to `watermark - overlap` (`sync.pull_newest_first`),
landing those up to `now - lag` (a submitter's contact appears moments after the submission); its
watermark (`ops.sync_state` object `form_submissions.<form id>`) moves only once the pull got there.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.sources.http import ApiClient, ApiCredentials, RateLimit, RetryPolicy, Timeouts
from smarketing.sources.sync import (
    ExtractError,
    Page,
    PullStats,
    RecentPage,
    Window,
    WindowPage,
    boolean_text,
    canonical_table,
    land_page,
    pull_keyset,
    pull_newest_first,
    pull_windowed,
    read_state,
    strings,
    timestamps_ms,
)

log = logging.getLogger(__name__)

CONN_ID = "smarketing_hubspot"
SOURCE_SYSTEM = "hubspot"
SEARCH_LIMIT = 200  # HubSpot's maximum page size for search
ASSOCIATION_BATCH = 1000  # inputs per v4 batch read
DEFAULT_LIMITS = {"general": RateLimit(190, 10), "search": RateLimit(5, 1)}
# HubSpot's default stages plus custom ones used by the sandbox company; configurable.
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
    "nurturing",
    "disqualified",
)


@dataclass(frozen=True)
class ObjectSpec:
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
# The other types (DELIVERED, PROCESSED, DROPPED, STATUSCHANGE, ...) land under their own name; core
# has no event type for them (DELIVERED would count every send twice).
EMAIL_EVENT_TYPES = {"SENT": "email_sent", "OPEN": "email_open", "CLICK": "email_click", "BOUNCE": "bounce"}
EMAIL_EVENTS_LIMIT = 1000
FORMS_LIMIT = 50
SUBMISSIONS_LIMIT = 50  # the submissions endpoint's maximum


@dataclass(frozen=True)
class HubSpotSettings:
    """How to pull: from the source entry of `smarketing_api_sources` and the connection's extra."""

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
        merged = {**(extra or {}), **entry}
        objects = tuple(merged.get("objects") or DEFAULT_OBJECTS)
        unknown = [o for o in objects if o not in ALL_OBJECTS]
        if unknown:
            raise ValueError(f"hubspot: unknown object(s) {unknown} (objects: {', '.join(ALL_OBJECTS)})")
        limits = dict(DEFAULT_LIMITS)
        limits.update({k: RateLimit.parse(v) for k, v in (merged.get("rate_limits") or {}).items()})
        retry = RetryPolicy(**merged["retry"]) if merged.get("retry") else RetryPolicy()
        page_limit = int(merged.get("page_limit", SEARCH_LIMIT))
        if not 1 <= page_limit <= SEARCH_LIMIT:
            raise ValueError(f"hubspot: page_limit must be 1..{SEARCH_LIMIT}, not {page_limit}")
        return cls(
            source_system=str(merged.get("source_system", SOURCE_SYSTEM)),
            conn_id=str(merged.get("conn_id", CONN_ID)),
            objects=objects,
            properties={k: tuple(v) for k, v in (merged.get("properties") or {}).items()},
            lifecycle_stages=tuple(merged.get("lifecycle_stages") or LIFECYCLE_STAGES),
            won_stages=tuple(merged.get("won_stages") or ("closedwon",)),
            lost_stages=tuple(merged.get("lost_stages") or ("closedlost",)),
            include_archived=bool(merged.get("include_archived", True)),
            page_limit=page_limit,
            lag_s=float(merged.get("lag_seconds", 120.0)),
            overlap_s=float(merged.get("overlap_seconds", 600.0)),
            limits=limits,
            retry=retry,
        )

    def properties_for(self, name: str) -> list[str]:
        spec = OBJECTS[name]
        wanted = list(spec.properties) + list(self.properties.get(name, ()))
        if name == "contacts":
            wanted += [lifecycle_property(s) for s in self.lifecycle_stages]
        return list(dict.fromkeys(wanted))


def lifecycle_property(stage: str) -> str:
    return f"hs_lifecyclestage_{stage}_date"


def client_for(credentials: ApiCredentials, settings: HubSpotSettings) -> ApiClient:
    return ApiClient(
        settings.source_system,
        credentials,
        limits=settings.limits,
        retry=settings.retry,
        timeouts=settings.timeouts,
    )


# -- fetching -------------------------------------------------------------------------------------
class SearchFetcher:
    """Keyset pages from `POST /crm/v3/objects/{name}/search`."""

    resolution_ms = 1

    def __init__(self, client: ApiClient, name: str, properties: Sequence[str]) -> None:
        self.client, self.name, self.properties = client, name, list(properties)
        self.modified = OBJECTS[name].modified
        self.path = f"/crm/v3/objects/{name}/search"

    def since(self, lo_ms: int, hi_ms: int, limit: int) -> Page:
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": self.modified, "operator": "GTE", "value": str(lo_ms)},
                        {"propertyName": self.modified, "operator": "LTE", "value": str(hi_ms)},
                    ]
                }
            ],
            "sorts": [{"propertyName": self.modified, "direction": "ASCENDING"}],
            "properties": self.properties,
            "limit": limit,
        }
        return self._page(body, f"{self.modified} {lo_ms}..{hi_ms}")

    def at(self, at_ms: int, after_id: int, limit: int) -> Page:
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": self.modified, "operator": "EQ", "value": str(at_ms)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": self.properties,
            "limit": limit,
        }
        return self._page(body, f"{self.modified} = {at_ms}, id > {after_id}")

    def _page(self, body: dict[str, Any], where: str) -> Page:
        data = self.client.post_json(self.path, body, buckets=("search",))
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ExtractError(
                self.client.source, self.name, {"where": where}, "search answer has no results list"
            )
        page = page_of(results, self.modified, origin=f"POST {self.path} {where}")
        page.more = bool(((data.get("paging") or {}).get("next") or {}).get("after"))
        return page


def page_of(results: list[dict[str, Any]], modified: str, *, origin: str) -> Page:
    ids = np.array([int(r["id"]) for r in results], dtype=np.int64)
    stamps = strings([(r.get("properties") or {}).get(modified) or r.get("updatedAt") for r in results])
    ms = timestamps_ms(stamps)
    if ms.null_count:
        raise ValueError(f"{origin}: {ms.null_count} record(s) without a readable {modified}")
    return Page(records=results, ids=ids, modified=ms.to_numpy(), origin=origin)


def associations(client: ApiClient, name: str, to: str, ids: Sequence[int]) -> dict[int, int]:
    """First associated `to` record per id (v4 batch read), lowest id first for a stable choice."""
    found: dict[int, int] = {}
    for start in range(0, len(ids), ASSOCIATION_BATCH):
        chunk = ids[start : start + ASSOCIATION_BATCH]
        data = client.post_json(
            f"/crm/v4/associations/{name}/{to}/batch/read", {"inputs": [{"id": str(i)} for i in chunk]}
        )
        for result in (data or {}).get("results", []):
            targets = [int(t["toObjectId"]) for t in result.get("to", []) if "toObjectId" in t]
            if targets:
                found[int(result["from"]["id"])] = min(targets)
    return found


# -- canonical records ----------------------------------------------------------------------------
def property_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, pa.Array]:
    """Every property of a page as a nullable string column (names as HubSpot spells them)."""
    props = [r.get("properties") or {} for r in records]
    try:
        table = pa.Table.from_pylist(props)
        return {name: table.column(name).combine_chunks().cast(pa.string()) for name in table.column_names}
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed value types in one property (schema drift): fall back to text, one value at a time.
        names = dict.fromkeys(k for p in props for k in p)
        return {name: strings([p.get(name) for p in props]) for name in names}


def _empty_to_null(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


class Converter:
    """Turns pages of one HubSpot object into raw tables (vectorised per page)."""

    def __init__(self, client: ApiClient, settings: HubSpotSettings, name: str) -> None:
        self.client, self.settings, self.name = client, settings, name
        self.spec = OBJECTS[name]

    def __call__(self, page: Page) -> dict[str, pa.Table]:
        n = len(page)
        cols = {k: _empty_to_null(v) for k, v in property_columns(page.records).items()}

        def col(name: str) -> pa.Array:
            return cols.get(name, pa.nulls(n, pa.string()))

        ids = pa.array([str(i) for i in page.ids.tolist()], pa.string())
        modified = pa.array(page.modified, pa.int64())
        archived = [bool(r.get("archived")) for r in page.records]
        if any(archived):
            cols["archived"] = strings(["true" if a else None for a in archived])
            cols["archived_at"] = strings([r.get("archivedAt") for r in page.records])
        if self.name == "contacts":
            return self._contacts(ids, modified, cols, col)
        if self.name == "companies":
            fields = {
                "name": ("text", col("name")),
                "domain": ("text", col("domain")),
                "industry": ("text", col("industry")),
                "employees": ("integer", col("numberofemployees")),
                "annual_revenue": ("number", col("annualrevenue")),
                "country": ("text", col("country")),
                "updated_at": ("timestamp", modified),
            }
            used = {"name", "domain", "industry", "numberofemployees", "annualrevenue", "country"}
            return {"companies": self._table(ids, modified, fields, cols, used | {"hs_lastmodifieddate"})}
        if self.name == "deals":
            return {"deals": self._deals(page, ids, modified, cols, col)}
        return {"sales_activities": self._activities(page, ids, modified, cols, col)}

    def _table(
        self,
        ids: pa.Array,
        modified: pa.Array,
        fields: Mapping[str, tuple[Any, pa.Array]],
        cols: Mapping[str, pa.Array],
        used: set[str],
    ) -> pa.Table:
        skip = used | {"hs_object_id"} | {lifecycle_property(s) for s in self.settings.lifecycle_stages}
        attributes = {k: v for k, v in cols.items() if k not in skip}
        return canonical_table(source_id=ids, updated_ms=modified, fields=fields, attributes=attributes)

    def _contacts(
        self, ids: pa.Array, modified: pa.Array, cols: dict[str, pa.Array], col: Any
    ) -> dict[str, pa.Table]:
        fields = {
            "email": ("text", col("email")),
            "job_title": ("text", col("jobtitle")),
            "country": ("text", col("country")),
            "company_source_id": ("text", col("associatedcompanyid")),
            "lifecycle_stage": ("text", col("lifecyclestage")),
            "owner_source_id": ("text", col("hubspot_owner_id")),
            "owner_assigned_at": ("timestamp", col("hubspot_owner_assigneddate")),
            "created_at": ("timestamp", col("createdate")),
            "updated_at": ("timestamp", modified),
            # hs_email_optout says whether the contact opted OUT; consent is its opposite.
            "consent_email": ("boolean", boolean_text(col("hs_email_optout"), invert=True)),
            "merged_source_ids": ("text", col("hs_merged_object_ids")),
        }
        used = {
            "email",
            "jobtitle",
            "country",
            "associatedcompanyid",
            "lifecyclestage",
            "hubspot_owner_id",
            "hubspot_owner_assigneddate",
            "createdate",
            "lastmodifieddate",
            "hs_lastmodifieddate",
            "hs_email_optout",
            "hs_merged_object_ids",
        }
        out = {"leads": self._table(ids, modified, fields, cols, used)}
        out["lifecycle_history"] = self._lifecycle(ids, col)
        return out

    def _lifecycle(self, ids: pa.Array, col: Any) -> pa.Table:
        """One entry per contact and stage it has a date for; all stages in one column-wise pass."""
        stages = [
            s for s in self.settings.lifecycle_stages if col(lifecycle_property(s)).null_count < len(ids)
        ]
        if not stages:
            return canonical_table(
                source_id=pa.array([], pa.string()), updated_ms=None, fields={}, attributes={}
            )
        n = len(ids)
        entered = timestamps_ms(pa.concat_arrays([col(lifecycle_property(s)) for s in stages]))
        lead = pa.concat_arrays([ids] * len(stages))
        stage = pa.array(np.repeat(np.array(stages, dtype=object), n), pa.string())
        present = pc.is_valid(entered)
        lead, stage, entered = lead.filter(present), stage.filter(present), entered.filter(present)
        return canonical_table(
            source_id=pc.binary_join_element_wise(lead, stage, "|"),
            # An entry date that changes is a new version of the entry.
            updated_ms=entered,
            fields={
                "lead_source_id": ("text", lead),
                "stage": ("text", stage),
                "entered_at": ("timestamp", entered),
            },
            attributes={},
        )

    def _linked(self, page: Page, to: str) -> pa.Array:
        found = associations(self.client, self.name, to, page.ids.tolist())
        return strings([found.get(i) for i in page.ids.tolist()])

    def _deals(
        self, page: Page, ids: pa.Array, modified: pa.Array, cols: dict[str, pa.Array], col: Any
    ) -> pa.Table:
        stage = col("dealstage")
        won = pc.is_in(stage, value_set=pa.array(list(self.settings.won_stages), pa.string()))
        lost = pc.is_in(stage, value_set=pa.array(list(self.settings.lost_stages), pa.string()))
        is_won = pc.if_else(won, "true", pc.if_else(lost, "false", pa.scalar(None, pa.string())))
        fields = {
            "lead_source_id": ("text", self._linked(page, "contacts")),
            "company_source_id": ("text", self._linked(page, "companies")),
            "amount": ("number", col("amount")),
            "stage": ("text", stage),
            "created_at": ("timestamp", col("createdate")),
            "closed_at": ("timestamp", col("closedate")),
            "is_won": ("boolean", is_won),
        }
        used = {"amount", "dealstage", "createdate", "closedate", "hs_lastmodifieddate"}
        return self._table(ids, modified, fields, cols, used)

    def _activities(
        self, page: Page, ids: pa.Array, modified: pa.Array, cols: dict[str, pa.Array], col: Any
    ) -> pa.Table:
        kind = self.spec.activity_type or self.name
        fields = {
            "lead_source_id": ("text", self._linked(page, "contacts")),
            "owner_source_id": ("text", col("hubspot_owner_id")),
            "activity_type": ("text", pa.array([kind] * len(page), pa.string())),
            "occurred_at": ("timestamp", col("hs_timestamp")),
        }
        used = {"hubspot_owner_id", "hs_timestamp", "hs_lastmodifieddate"}
        return self._table(ids, modified, fields, cols, used)


# -- object pulls ---------------------------------------------------------------------------------
def extract_object(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    name: str,
    *,
    now_ms: int,
    since_ms: int | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Pull one object into raw; returns counts. The caller holds the extraction lock."""
    if name == "owners":
        return _owners(conn, client, settings, run_id=run_id)
    window = Window(
        now_ms=now_ms,
        lag_ms=int(settings.lag_s * 1000),
        overlap_ms=int(settings.overlap_s * 1000),
        since_ms=since_ms,
    )
    if name == "email_events":
        return _email_events(conn, client, settings, window, run_id=run_id)
    if name == "form_submissions":
        return _form_submissions(conn, client, settings, window, run_id=run_id)
    convert = Converter(client, settings, name)
    stats = pull_keyset(
        conn,
        SearchFetcher(client, name, settings.properties_for(name)),
        convert,
        source_system=settings.source_system,
        key=name,
        window=window,
        page_limit=settings.page_limit,
        run_id=run_id,
    )
    result = stats.as_dict()
    if settings.include_archived and name in {"contacts", "companies", "deals"}:
        result["archived"] = _archived(conn, client, settings, name, convert, run_id=run_id).as_dict()
    return result


def _list_pages(client: ApiClient, path: str, params: dict[str, Any], key: str, max_pages: int = 100_000):
    """GET pages of a CRM list endpoint, following `paging.next.after` (bounded)."""
    after: str | None = None
    for _ in range(max_pages):
        query = dict(params, **({"after": after} if after else {}))
        data = client.get_json(path, params=query)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ExtractError(client.source, key, {"after": after}, f"GET {path} answer has no results list")
        yield after, results
        after = ((data.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return
    raise ExtractError(client.source, key, {"after": after}, f"more than {max_pages} pages")


def _archived(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    name: str,
    convert: Converter,
    *,
    run_id: str | None,
) -> PullStats:
    """Archived records: listed in full (the API has no filter), landed once per archival."""
    key = f"{name}.archived"
    stats = PullStats(watermark_ms=read_state(conn, settings.source_system, key).watermark_ms)
    params = {"archived": "true", "limit": 100, "properties": ",".join(settings.properties_for(name))}
    path = f"/crm/v3/objects/{name}"
    for after, results in _list_pages(client, path, params, key):
        if not results:
            continue
        for r in results:  # the archival is the record's last change
            r.setdefault("properties", {})[OBJECTS[name].modified] = r.get("archivedAt") or r.get("updatedAt")
        page = page_of(results, OBJECTS[name].modified, origin=f"GET {path}?archived=true after={after}")
        top = int(page.modified.max())
        result = land_page(
            conn,
            source_system=settings.source_system,
            key=key,
            tables=convert(page),
            origin=page.origin,
            watermark_ms=top,
            cursor={},
            run_id=run_id,
        )
        stats.pages += 1
        stats.received += result.received
        stats.landed += result.landed
        stats.watermark_ms = max(stats.watermark_ms or top, top)
    return stats


def _owners(
    conn: psycopg.Connection, client: ApiClient, settings: HubSpotSettings, *, run_id: str | None
) -> dict[str, Any]:
    stats = PullStats(watermark_ms=read_state(conn, settings.source_system, "owners").watermark_ms)
    for archived in ("false", "true"):  # archived owners are deactivated users
        path = "/crm/v3/owners/"
        for after, results in _list_pages(client, path, {"limit": 500, "archived": archived}, "owners"):
            if not results:
                continue
            table = owners_table(results)
            top = int(pc.max(table.column("updated_ms")).as_py() or 0)
            result = land_page(
                conn,
                source_system=settings.source_system,
                key="owners",
                tables={"owners": table},
                origin=f"GET {path}?archived={archived} after={after}",
                watermark_ms=top or None,
                cursor={},
                run_id=run_id,
            )
            stats.pages += 1
            stats.received += result.received
            stats.landed += result.landed
            if top:
                stats.watermark_ms = max(stats.watermark_ms or top, top)
    return stats.as_dict()


def owners_table(results: Sequence[Mapping[str, Any]]) -> pa.Table:
    def primary_team(owner: Mapping[str, Any]) -> str | None:
        teams = owner.get("teams") or []
        chosen = next((t for t in teams if t.get("primary")), teams[0] if teams else None)
        return chosen.get("name") if chosen else None

    ids = strings([o.get("id") for o in results])
    first = strings([o.get("firstName") for o in results])
    last = strings([o.get("lastName") for o in results])
    updated = timestamps_ms(strings([o.get("updatedAt") or o.get("createdAt") for o in results]))
    known = {"id", "firstName", "lastName", "teams", "updatedAt", "archived"}
    extra = dict.fromkeys(k for o in results for k in o if k not in known)
    return canonical_table(
        source_id=ids,
        updated_ms=updated,
        fields={
            "name": ("text", pc.binary_join_element_wise(first, last, " ", null_handling="skip")),
            "team": ("text", strings([primary_team(o) for o in results])),
            "active": ("boolean", strings([not o.get("archived", False) for o in results])),
            "updated_at": ("timestamp", updated),
        },
        attributes={k: strings([o.get(k) for o in results]) for k in extra},
    )


# -- marketing e-mail events ----------------------------------------------------------------------
def contact_ids_by_email(client: ApiClient, emails: Sequence[str]) -> dict[str, str]:
    """Contact id per e-mail (lower-cased), by batch reads with `idProperty: email`."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(e.strip().lower() for e in emails if e))
    for start in range(0, len(unique), 100):
        data = client.post_json(
            "/crm/v3/objects/contacts/batch/read",
            {
                "idProperty": "email",
                "inputs": [{"id": e} for e in unique[start : start + 100]],
                "properties": ["email"],
                "propertiesWithHistory": [],  # required by the endpoint's schema, even empty
            },
        )
        for record in (data or {}).get("results", []):
            email = ((record.get("properties") or {}).get("email") or "").strip().lower()
            if email:
                found[email] = str(record["id"])
    return found


def email_events_table(events: Sequence[Mapping[str, Any]], contacts: Mapping[str, str]) -> pa.Table:
    """Marketing e-mail events; `contacts` maps lower-cased recipients to contact ids."""
    recipients = [str(e.get("recipient") or "") for e in events]
    kinds = strings([e.get("type") for e in events])
    mapped = pc.take(
        pa.array(list(EMAIL_EVENT_TYPES.values()), pa.string()),
        pc.index_in(kinds, value_set=pa.array(list(EMAIL_EVENT_TYPES), pa.string())),
    )
    return canonical_table(
        source_id=strings([e.get("id") for e in events]),
        updated_ms=None,
        fields={
            # An address no contact ever had lands without a lead: the quality gate quarantines it.
            "lead_source_id": ("text", strings([contacts.get(r.strip().lower()) for r in recipients])),
            "event_type": ("text", pc.coalesce(mapped, kinds)),
            "occurred_at": ("timestamp", pa.array([e.get("created") for e in events], pa.int64())),
            "campaign_id": ("text", strings([e.get("emailCampaignId") for e in events])),
        },
        attributes={"type": kinds},
    )


def _email_events(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    window: Window,
    *,
    run_id: str | None,
) -> dict[str, Any]:
    path = "/email/public/v1/events"

    def fetch(lo: int, hi: int, offset: str) -> WindowPage:
        params: dict[str, Any] = {"startTimestamp": lo, "endTimestamp": hi, "limit": EMAIL_EVENTS_LIMIT}
        if offset:  # opaque, from the previous page
            params["offset"] = offset
        data = client.get_json(path, params=params)
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
            origin=f"GET {path} {lo}..{hi} offset {offset}",
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


# -- form submissions -----------------------------------------------------------------------------
def email_digests(emails: Sequence[str]) -> list[str | None]:
    """SHA-256 hex of each trimmed, lower-cased e-mail (None without one): matchable, not readable."""
    return [hashlib.sha256(e.encode()).hexdigest() if e else None for e in emails]


def contacts_for(
    conn: psycopg.Connection, client: ApiClient, source_system: str, emails: Sequence[str]
) -> dict[str, str]:
    """Contact id per lower-cased e-mail: HubSpot's batch read (live contacts), then the contacts
    already landed for the addresses it does not know (deleted contacts keep their history)."""
    contacts = contact_ids_by_email(client, emails)
    missing = sorted({e for e in emails if e and e not in contacts})
    return {**contact_ids_in_raw(conn, source_system, missing), **contacts}


def contact_ids_in_raw(conn: psycopg.Connection, source_system: str, emails: Sequence[str]) -> dict[str, str]:
    """Contact id per e-mail (lower-cased) from the contacts already landed, archived ones included:
    the batch read only finds live contacts, and a deleted contact's submissions still belong to it."""
    if not emails:
        return {}
    rows = conn.execute(
        """
        SELECT DISTINCT ON (e) e, r.source_id
        FROM raw.leads r CROSS JOIN LATERAL lower(trim(r.payload->>'email')) AS e
        WHERE r.source_system = %s AND e = ANY(%s)
        ORDER BY e, r.source_updated_at DESC NULLS LAST, r.batch_id DESC
        """,
        (source_system, list(emails)),
    ).fetchall()
    return {str(e): str(i) for e, i in rows}


def form_submissions_table(
    form: Mapping[str, Any], submissions: Sequence[Mapping[str, Any]], contacts: Mapping[str, str]
) -> pa.Table:
    """`form_submission` events of one form; `contacts` maps lower-cased e-mails to contact ids."""
    n = len(submissions)
    emails = [submitted_email(s) for s in submissions]
    digests = strings(email_digests(emails))
    lead = strings([contacts.get(e) for e in emails])
    submitted = timestamps_ms(strings([s.get("submittedAt") for s in submissions]))

    def constant(value: Any) -> pa.Array:
        return strings([value] * n)

    return canonical_table(
        source_id=pc.binary_join_element_wise(
            constant(form.get("id")),
            submitted.cast(pa.string()),
            pc.coalesce(pc.utf8_slice_codeunits(digests, 0, 16), pa.scalar("-")),
            ":",
        ),
        updated_ms=None,  # a submission never changes: de-duplicated on its id alone
        fields={
            "lead_source_id": ("text", lead),
            "event_type": ("text", constant("form_submission")),
            "occurred_at": ("timestamp", submitted),
        },
        attributes={
            "form_id": constant(form.get("id")),
            "form_name": constant(form.get("name")),
            "form_type": constant(form.get("formType")),
            "page_url": strings([s.get("pageUrl") for s in submissions]),
            "conversion_id": strings([s.get("conversionId") for s in submissions]),
            "email_sha256": digests,
            "contact": pc.if_else(pc.is_valid(lead), "matched", "unmatched"),
        },
    )


def submitted_email(submission: Mapping[str, Any]) -> str:
    """The `email` value of a submission, trimmed and lower-cased ('' without one)."""
    values = submission.get("values") or []
    return next((str(v.get("value") or "") for v in values if v.get("name") == "email"), "").strip().lower()


def _forms(client: ApiClient) -> list[dict[str, Any]]:
    """Every form, live and archived (an archived form's submissions remain), of every type."""
    found: list[dict[str, Any]] = []
    for archived in ("false", "true"):
        params = {"limit": FORMS_LIMIT, "archived": archived, "formTypes": "all"}
        for _, results in _list_pages(client, "/marketing/v3/forms", params, "form_submissions"):
            found += [f for f in results if f.get("id")]
    return found


def _form_submissions(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    window: Window,
    *,
    run_id: str | None,
) -> dict[str, Any]:
    forms = _forms(client)
    totals = PullStats()
    limit = min(settings.page_limit, SUBMISSIONS_LIMIT)
    anonymous = 0

    def convert(form: Mapping[str, Any], records: list[dict[str, Any]]) -> dict[str, pa.Table]:
        nonlocal anonymous
        # Without an e-mail a submission names nobody the pipeline could ever match: it is counted, not
        # landed (in raw it would only stop the quality gate, which requires a lead).
        kept = [r for r in records if submitted_email(r)]
        anonymous += len(records) - len(kept)
        contacts = contacts_for(conn, client, settings.source_system, [submitted_email(r) for r in kept])
        return {"marketing_events": form_submissions_table(form, kept, contacts)} if kept else {}

    for form in forms:
        path = f"/form-integrations/v1/submissions/forms/{form['id']}"

        def fetch(after: str | None, path: str = path) -> RecentPage:
            data = client.get_json(path, params={"limit": limit, **({"after": after} if after else {})})
            results = data.get("results") if isinstance(data, dict) else None
            if not isinstance(results, list):
                raise ValueError("the answer has no results list")
            times = timestamps_ms(strings([r.get("submittedAt") for r in results]))
            if times.null_count:
                raise ValueError(f"{times.null_count} submission(s) without a readable submittedAt")
            return RecentPage(
                records=results,
                times=times.to_numpy(zero_copy_only=False).astype(np.int64),
                next_position=((data.get("paging") or {}).get("next") or {}).get("after"),
                origin=f"GET {path} after {after}",
            )

        stats = pull_newest_first(
            conn,
            fetch,
            lambda records, form=form: convert(form, records),
            source_system=settings.source_system,
            key=f"form_submissions.{form['id']}",
            window=window,
            run_id=run_id,
        )
        totals.pages += stats.pages
        totals.received += stats.received
        totals.landed += stats.landed
        # Every form is complete up to the lowest of their watermarks.
        if stats.watermark_ms is not None:
            totals.watermark_ms = min(totals.watermark_ms or stats.watermark_ms, stats.watermark_ms)
    if anonymous:
        log.info(
            "%s/form_submissions: %d submission(s) without an e-mail left out",
            settings.source_system,
            anonymous,
        )
    return {**totals.as_dict(), "forms": len(forms), "without_email": anonymous}
