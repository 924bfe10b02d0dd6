"""Small HubSpot reads the pulls share: CRM list pages, association batch reads, contacts by e-mail."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.settings import ASSOCIATION_BATCH
from smarketing.sources.state import ExtractError

EMAIL_BATCH = 100  # inputs per contacts batch read


def list_pages(
    client: ApiClient, path: str, params: dict[str, Any], key: str, max_pages: int = 100_000
) -> Iterator[tuple[str | None, list[dict[str, Any]]]]:
    """GET pages of a CRM list endpoint, following `paging.next.after` (bounded); yields
    `(after, results)` per page. `key` names the pull in errors."""
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


def contact_ids_by_email(client: ApiClient, emails: Sequence[str]) -> dict[str, str]:
    """Contact id per e-mail (lower-cased), by batch reads with `idProperty: email`."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(e.strip().lower() for e in emails if e))
    for start in range(0, len(unique), EMAIL_BATCH):
        data = client.post_json(
            "/crm/v3/objects/contacts/batch/read",
            {
                "idProperty": "email",
                "inputs": [{"id": e} for e in unique[start : start + EMAIL_BATCH]],
                "properties": ["email"],
                "propertiesWithHistory": [],  # required by the endpoint's schema, even empty
            },
        )
        for record in (data or {}).get("results", []):
            email = ((record.get("properties") or {}).get("email") or "").strip().lower()
            if email:
                found[email] = str(record["id"])
    return found


def contact_ids_in_raw(conn: psycopg.Connection, source_system: str, emails: Sequence[str]) -> dict[str, str]:
    """Contact id per e-mail (lower-cased) from the contacts already landed, archived ones included:
    the batch read only finds live contacts, and a deleted contact's events still belong to it."""
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


def contacts_for(
    conn: psycopg.Connection, client: ApiClient, source_system: str, emails: Sequence[str]
) -> dict[str, str]:
    """Contact id per lower-cased e-mail: HubSpot's batch read (live contacts), then the contacts
    already landed for the addresses it does not know (deleted contacts keep their history)."""
    contacts = contact_ids_by_email(client, emails)
    missing = sorted({e for e in emails if e and e not in contacts})
    return {**contact_ids_in_raw(conn, source_system, missing), **contacts}


def email_digests(emails: Sequence[str]) -> list[str | None]:
    """SHA-256 hex of each trimmed, lower-cased e-mail (None without one): matchable, not readable."""
    return [hashlib.sha256(e.encode()).hexdigest() if e else None for e in emails]
