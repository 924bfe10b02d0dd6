"""HubSpot owners (the sales reps): the full list each run (it is small), live and archived
(deactivated users), de-duplicated on id + `updatedAt`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.reads import list_pages
from smarketing.sources.hubspot.settings import HubSpotSettings
from smarketing.sources.paging import PullStats
from smarketing.sources.records import canonical_table, strings, timestamps_ms
from smarketing.sources.state import land_page, read_state

OWNERS_PATH = "/crm/v3/owners/"
OWNERS_LIMIT = 500
_KNOWN = {"id", "firstName", "lastName", "teams", "updatedAt", "archived"}


def _primary_team(owner: Mapping[str, Any]) -> str | None:
    teams = owner.get("teams") or []
    chosen = next((t for t in teams if t.get("primary")), teams[0] if teams else None)
    return chosen.get("name") if chosen else None


def owners_table(results: Sequence[Mapping[str, Any]]) -> pa.Table:
    """raw.owners rows of one page of owners: name, primary team, active, updated_at."""
    first = strings([o.get("firstName") for o in results])
    last = strings([o.get("lastName") for o in results])
    updated = timestamps_ms(strings([o.get("updatedAt") or o.get("createdAt") for o in results]))
    extra = dict.fromkeys(k for o in results for k in o if k not in _KNOWN)
    return canonical_table(
        source_id=strings([o.get("id") for o in results]),
        updated_ms=updated,
        fields={
            "name": ("text", pc.binary_join_element_wise(first, last, " ", null_handling="skip")),
            "team": ("text", strings([_primary_team(o) for o in results])),
            "active": ("boolean", strings([not o.get("archived", False) for o in results])),
            "updated_at": ("timestamp", updated),
        },
        attributes={k: strings([o.get(k) for o in results]) for k in extra},
    )


def pull_owners(
    conn: psycopg.Connection, client: ApiClient, settings: HubSpotSettings, *, run_id: str | None
) -> dict[str, Any]:
    """Land every owner version raw does not hold yet; returns counts."""
    stats = PullStats(watermark_ms=read_state(conn, settings.source_system, "owners").watermark_ms)
    for archived in ("false", "true"):  # archived owners are deactivated users
        params = {"limit": OWNERS_LIMIT, "archived": archived}
        for after, results in list_pages(client, OWNERS_PATH, params, "owners"):
            if not results:
                continue
            table = owners_table(results)
            top = int(pc.max(table.column("updated_ms")).as_py() or 0)
            result = land_page(
                conn,
                source_system=settings.source_system,
                key="owners",
                tables={"owners": table},
                origin=f"GET {OWNERS_PATH}?archived={archived} after={after}",
                watermark_ms=top or None,
                cursor={},
                run_id=run_id,
            )
            stats.add(result, top or None)
    return stats.as_dict()
