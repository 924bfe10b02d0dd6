"""Mautic contacts → raw.leads: keyset pulls on `date_modified` (`where[]` gte/lte,
`orderBy=date_modified`), by id inside one second; contacts never modified (`date_modified` empty)
by `date_added`. Points, tags, stage, last activity and every other contact field are kept under
`attributes` (the tool's stage is a coarser copy of the CRM's lifecycle, see
config/sources/sandbox_ma.yaml)."""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa

from smarketing.sources.http import ApiClient
from smarketing.sources.mautic.answers import entities, mautic_time, total
from smarketing.sources.mautic.settings import MauticSettings
from smarketing.sources.paging import Page, Window, pull_keyset
from smarketing.sources.records import (
    boolean_text,
    canonical_table,
    lookup,
    strings,
    text_columns,
    timestamps_ms,
)

# Fields read as canonical fields: never attributes.
_CANONICAL = {"id", "email", "position", "country"}


class ContactsFetcher:
    """Keyset pages of `GET /api/contacts` on one date column."""

    path = "/api/contacts"
    resolution_ms = 1000  # Mautic keeps times to the second

    def __init__(
        self, client: ApiClient, *, column: str = "date_modified", unmodified_only: bool = False
    ) -> None:
        self.client, self.column = client, column
        self.extra = [{"col": "date_modified", "expr": "isNull"}] if unmodified_only else []
        self.field = "dateModified" if column == "date_modified" else "dateAdded"

    def _params(self, where: list[dict[str, str]], order_by: str, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"start": 0, "limit": limit, "orderBy": order_by, "orderByDir": "asc"}
        for i, cond in enumerate([*where, *self.extra]):
            for part, value in cond.items():
                params[f"where[{i}][{part}]"] = value
        return params

    def since(self, lo_ms: int, hi_ms: int, limit: int) -> Page:
        where = [
            {"col": self.column, "expr": "gte", "val": mautic_time(lo_ms)},
            {"col": self.column, "expr": "lte", "val": mautic_time(hi_ms)},
        ]
        return self._page(
            self._params(where, self.column, limit),
            f"{self.column} {mautic_time(lo_ms)}..{mautic_time(hi_ms)}",
        )

    def at(self, at_ms: int, after_id: int, limit: int) -> Page:
        where = [
            {"col": self.column, "expr": "eq", "val": mautic_time(at_ms)},
            {"col": "id", "expr": "gt", "val": str(after_id)},
        ]
        return self._page(
            self._params(where, "id", limit), f"{self.column} = {mautic_time(at_ms)}, id > {after_id}"
        )

    def _page(self, params: dict[str, Any], where: str) -> Page:
        data = self.client.get_json(self.path, params=params)
        listed = entities(data, "contacts")
        stamps = timestamps_ms(strings([e.get(self.field) or e.get("dateAdded") for e in listed]))
        page = Page.of(
            listed, [e["id"] for e in listed], stamps, origin=f"GET {self.path} {where}", what=self.field
        )
        matching = total(data)
        if matching is not None:
            page.more = matching > len(set(page.ids.tolist()))
        return page


def contacts_table(page: Page, settings: MauticSettings) -> dict[str, pa.Table]:
    """raw.leads rows of one page of contacts."""
    listed = page.records
    cols = text_columns([((e.get("fields") or {}).get("all") or {}) for e in listed])
    n = len(listed)

    def col(name: str) -> pa.Array:
        return cols.get(name, pa.nulls(n, pa.string()))

    dnc = strings(
        [any((d or {}).get("channel") == "email" for d in e.get("doNotContact") or []) for e in listed]
    )
    modified = pa.array(page.modified, pa.int64())
    attributes = {k: v for k, v in cols.items() if k not in _CANONICAL}
    attributes["points"] = strings([e.get("points") for e in listed])
    attributes["stage"] = strings([(e.get("stage") or {}).get("name") for e in listed])
    attributes["tags"] = strings([",".join(t.get("tag", "") for t in e.get("tags") or []) for e in listed])
    attributes["last_active"] = strings([e.get("lastActive") for e in listed])
    leads = canonical_table(
        source_id=pa.array([str(i) for i in page.ids.tolist()], pa.string()),
        updated_ms=modified,
        fields={
            "email": ("text", col("email")),
            "job_title": ("text", col("position")),
            "country": ("text", lookup(col("country"), settings.country_codes, keep_unknown=True)),
            "created_at": ("timestamp", strings([e.get("dateAdded") for e in listed])),
            "updated_at": ("timestamp", modified),
            # A do-not-contact entry on the e-mail channel means no consent.
            "consent_email": ("boolean", boolean_text(dnc, invert=True)),
        },
        attributes=attributes,
    )
    return {"leads": leads}


def pull_contacts(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: MauticSettings,
    window: Window,
    *,
    run_id: str | None,
) -> dict[str, Any]:
    """Keyset pulls of the contacts modified in the window, then of those never modified; counts."""

    def convert(page: Page) -> dict[str, pa.Table]:
        return contacts_table(page, settings)

    common = {
        "source_system": settings.source_system,
        "window": window,
        "page_limit": settings.page_limit,
        "run_id": run_id,
    }
    result = pull_keyset(conn, ContactsFetcher(client), convert, key="contacts", **common).as_dict()
    result["never_modified"] = pull_keyset(
        conn,
        ContactsFetcher(client, column="date_added", unmodified_only=True),
        convert,
        key="contacts.unmodified",
        **common,
    ).as_dict()
    return result
