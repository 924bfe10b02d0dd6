"""HubSpot CRM objects (contacts, companies, deals, engagements): keyset search pulls, archived
listings, and the page → raw tables conversion.

Search pulls are keyset pulls (`smarketing.sources.paging`): sorted by modified time, `limit` 200,
filtered `lo <= modified <= now - lag`, by id inside one instant, so the 10,000-result cap of the
search endpoint is never reached whatever the volume. Archived (deleted or merged-away) records are
listed with `archived=true` and landed as a last version whose attributes say `archived: "true"` (and
`archived_at`): core marks the record deleted from then on. A surviving contact names the contacts merged
into it in `hs_merged_object_ids`, landed as the canonical `merged_source_ids`: core moves the merged
contacts (and their activities, deals and stages) to the survivor's lead. `hubspot_owner_assigneddate`
becomes `owner_assigned_at`, the moment the SLA clock's routing time ends. Contacts also give one
lifecycle_history entry per stage they have a `hs_lifecyclestage_<stage>_date` for.
Properties the connector does not map are kept under `attributes` by their HubSpot names; extra
properties to request are configurable per object.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.reads import associations, list_pages
from smarketing.sources.hubspot.settings import OBJECTS, HubSpotSettings, lifecycle_property
from smarketing.sources.paging import Page, PullStats, Window, pull_keyset
from smarketing.sources.records import (
    FieldKind,
    boolean_text,
    canonical_table,
    strings,
    text_columns,
    timestamps_ms,
)
from smarketing.sources.state import ExtractError, land_page, read_state

ARCHIVED_LIST_LIMIT = 100
WITH_ARCHIVED = frozenset({"contacts", "companies", "deals"})


# -- fetching -------------------------------------------------------------------------------------
class SearchFetcher:
    """Keyset pages from `POST /crm/v3/objects/{name}/search`."""

    resolution_ms = 1

    def __init__(self, client: ApiClient, name: str, properties: Sequence[str]) -> None:
        self.client, self.name, self.properties = client, name, list(properties)
        self.modified = OBJECTS[name].modified
        self.path = f"/crm/v3/objects/{name}/search"

    def _body(self, filters: list[dict[str, str]], sort_by: str, limit: int) -> dict[str, Any]:
        return {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort_by, "direction": "ASCENDING"}],
            "properties": self.properties,
            "limit": limit,
        }

    def since(self, lo_ms: int, hi_ms: int, limit: int) -> Page:
        filters = [
            {"propertyName": self.modified, "operator": "GTE", "value": str(lo_ms)},
            {"propertyName": self.modified, "operator": "LTE", "value": str(hi_ms)},
        ]
        return self._page(self._body(filters, self.modified, limit), f"{self.modified} {lo_ms}..{hi_ms}")

    def at(self, at_ms: int, after_id: int, limit: int) -> Page:
        filters = [
            {"propertyName": self.modified, "operator": "EQ", "value": str(at_ms)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(after_id)},
        ]
        return self._page(
            self._body(filters, "hs_object_id", limit), f"{self.modified} = {at_ms}, id > {after_id}"
        )

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
    """A keyset page of CRM records, modified at their `modified` property (else `updatedAt`)."""
    stamps = strings([(r.get("properties") or {}).get(modified) or r.get("updatedAt") for r in results])
    return Page.of(results, [r["id"] for r in results], timestamps_ms(stamps), origin=origin, what=modified)


# -- canonical records ----------------------------------------------------------------------------
def property_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, pa.Array]:
    """Every property of a page as a nullable string column (names as HubSpot spells them)."""
    return text_columns([r.get("properties") or {} for r in records])


class _Properties:
    """A page's property columns; remembers the ones read as canonical fields (the rest become attributes)."""

    def __init__(self, cols: dict[str, pa.Array], n: int) -> None:
        self.cols, self.n, self.used = cols, n, set[str]()

    def __call__(self, name: str) -> pa.Array:
        self.used.add(name)
        return self.cols.get(name, pa.nulls(self.n, pa.string()))

    def attributes(self, skip: set[str]) -> dict[str, pa.Array]:
        return {k: v for k, v in self.cols.items() if k not in self.used and k not in skip}


Fields = dict[str, tuple[FieldKind, pa.Array]]


class Converter:
    """Turns pages of one HubSpot CRM object into raw tables (vectorised per page)."""

    def __init__(self, client: ApiClient, settings: HubSpotSettings, name: str) -> None:
        self.client, self.settings, self.name = client, settings, name
        self.spec = OBJECTS[name]
        # Never attributes: the id, the modified time (the version) and the lifecycle stage dates.
        self.skip = {"hs_object_id", self.spec.modified, "hs_lastmodifieddate"}
        self.skip |= {lifecycle_property(s) for s in settings.lifecycle_stages}

    def __call__(self, page: Page) -> dict[str, pa.Table]:
        cols = property_columns(page.records)
        if any(bool(r.get("archived")) for r in page.records):
            cols["archived"] = strings(["true" if r.get("archived") else None for r in page.records])
            cols["archived_at"] = strings([r.get("archivedAt") for r in page.records])
        props = _Properties(cols, len(page))
        modified = pa.array(page.modified, pa.int64())
        if self.name == "contacts":
            fields = self._contact_fields(props, modified)
        elif self.name == "companies":
            fields = self._company_fields(props, modified)
        elif self.name == "deals":
            fields = self._deal_fields(page, props)
        else:
            fields = self._activity_fields(page, props)
        ids = pa.array([str(i) for i in page.ids.tolist()], pa.string())
        table = canonical_table(
            source_id=ids, updated_ms=modified, fields=fields, attributes=props.attributes(self.skip)
        )
        out = {self.spec.raw: table}
        if self.name == "contacts":
            out["lifecycle_history"] = self._lifecycle(ids, props)
        return out

    def _contact_fields(self, p: _Properties, modified: pa.Array) -> Fields:
        return {
            "email": ("text", p("email")),
            "job_title": ("text", p("jobtitle")),
            "country": ("text", p("country")),
            "company_source_id": ("text", p("associatedcompanyid")),
            "lifecycle_stage": ("text", p("lifecyclestage")),
            "owner_source_id": ("text", p("hubspot_owner_id")),
            "owner_assigned_at": ("timestamp", p("hubspot_owner_assigneddate")),
            "created_at": ("timestamp", p("createdate")),
            "updated_at": ("timestamp", modified),
            # hs_email_optout says whether the contact opted OUT; consent is its opposite.
            "consent_email": ("boolean", boolean_text(p("hs_email_optout"), invert=True)),
            "merged_source_ids": ("text", p("hs_merged_object_ids")),
        }

    def _company_fields(self, p: _Properties, modified: pa.Array) -> Fields:
        return {
            "name": ("text", p("name")),
            "domain": ("text", p("domain")),
            "industry": ("text", p("industry")),
            "employees": ("integer", p("numberofemployees")),
            "annual_revenue": ("number", p("annualrevenue")),
            "country": ("text", p("country")),
            "updated_at": ("timestamp", modified),
        }

    def _deal_fields(self, page: Page, p: _Properties) -> Fields:
        stage = p("dealstage")
        won = pc.is_in(stage, value_set=pa.array(list(self.settings.won_stages), pa.string()))
        lost = pc.is_in(stage, value_set=pa.array(list(self.settings.lost_stages), pa.string()))
        is_won = pc.if_else(won, "true", pc.if_else(lost, "false", pa.scalar(None, pa.string())))
        return {
            "lead_source_id": ("text", self._linked(page, "contacts")),
            "company_source_id": ("text", self._linked(page, "companies")),
            "amount": ("number", p("amount")),
            "stage": ("text", stage),
            "created_at": ("timestamp", p("createdate")),
            "closed_at": ("timestamp", p("closedate")),
            "is_won": ("boolean", is_won),
        }

    def _activity_fields(self, page: Page, p: _Properties) -> Fields:
        kind = self.spec.activity_type or self.name
        return {
            "lead_source_id": ("text", self._linked(page, "contacts")),
            "owner_source_id": ("text", p("hubspot_owner_id")),
            "activity_type": ("text", pa.array([kind] * len(page), pa.string())),
            "occurred_at": ("timestamp", p("hs_timestamp")),
        }

    def _linked(self, page: Page, to: str) -> pa.Array:
        found = associations(self.client, self.name, to, page.ids.tolist())
        return strings([found.get(i) for i in page.ids.tolist()])

    def _lifecycle(self, ids: pa.Array, p: _Properties) -> pa.Table:
        """One entry per contact and stage it has a date for; all stages in one column-wise pass."""
        dates = {s: p.cols.get(lifecycle_property(s)) for s in self.settings.lifecycle_stages}
        stages = [s for s, d in dates.items() if d is not None and d.null_count < len(ids)]
        if not stages:
            return canonical_table(
                source_id=pa.array([], pa.string()), updated_ms=None, fields={}, attributes={}
            )
        entered = timestamps_ms(pa.concat_arrays([dates[s] for s in stages]))
        lead = pa.concat_arrays([ids] * len(stages))
        stage = pa.array(np.repeat(np.array(stages, dtype=object), len(ids)), pa.string())
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


# -- pulls ----------------------------------------------------------------------------------------
def pull_crm_object(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    name: str,
    window: Window,
    *,
    run_id: str | None,
) -> dict[str, Any]:
    """Keyset-pull CRM object `name` over the window, then (contacts, companies, deals) its archived
    records; returns counts."""
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
    if settings.include_archived and name in WITH_ARCHIVED:
        result["archived"] = pull_archived(conn, client, settings, name, convert, run_id=run_id).as_dict()
    return result


def pull_archived(
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
    modified = OBJECTS[name].modified
    stats = PullStats(watermark_ms=read_state(conn, settings.source_system, key).watermark_ms)
    params = {
        "archived": "true",
        "limit": ARCHIVED_LIST_LIMIT,
        "properties": ",".join(settings.properties_for(name)),
    }
    path = f"/crm/v3/objects/{name}"
    for after, results in list_pages(client, path, params, key):
        if not results:
            continue
        for r in results:  # the archival is the record's last change
            r.setdefault("properties", {})[modified] = r.get("archivedAt") or r.get("updatedAt")
        page = page_of(results, modified, origin=f"GET {path}?archived=true after={after}")
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
        stats.add(result, top)
    return stats
