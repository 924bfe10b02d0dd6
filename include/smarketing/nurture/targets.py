"""Where enrolled leads go, through the sources' HTTP client (rate limits, credentials, retries on reads):

| target | add / remove (one call per chunk) | membership read-back |
|---|---|---|
| Mautic segment | `POST /api/segments/{id}/contacts/add` / `remove`, `{"ids": [...]}`, ≤ 200 ids | `GET /api/segments/{id}` (alias), then `GET /api/contacts?search=segment:<alias>` pages |
| Mautic campaign | `POST /api/campaigns/{id}/contact/{contactId}/add` / `remove` (no batch form exists) | `GET /api/campaigns/{id}/contacts` pages |
| HubSpot list | `PUT /crm/v3/lists/{listId}/memberships/add-and-remove` | `GET /crm/v3/lists/{listId}/memberships` pages |

A change is sent exactly once by the caller (`nurture.push`): `change` makes a single attempt (the client's
own retries are off for it), and the caller decides, from the failure, whether the tool may have applied
it. Reads are retried by the client like any other read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from smarketing.sources.http import ApiClient, RetryPolicy

DEFAULT_CONNECTIONS = {"hubspot": "smarketing_hubspot", "mautic": "smarketing_mautic"}
READ_PAGE = {"segment": 200, "campaign": 200, "list": 250}


@dataclass(frozen=True)
class Request:
    """One change request: what the call log records about it."""

    method: str
    path: str
    body: Any


@dataclass(frozen=True)
class Applied:
    """What the tool says a change did: ids changed (or already so), ids it does not know."""

    done: frozenset[str]
    missing: frozenset[str]


@contextlib.contextmanager
def single_attempt(client: ApiClient) -> Iterator[None]:
    """The client's retries off: a change whose outcome is unknown must be read back, never resent blind."""
    saved = client.retry
    client.retry = RetryPolicy(attempts=1, max_elapsed=saved.max_elapsed)
    try:
        yield
    finally:
        client.retry = saved


class Target:
    """One segment, campaign or list. `batch_size` ids go in one change request."""

    kind = ""
    batch_size = 1

    def __init__(self, client: ApiClient, target_id: str) -> None:
        self.client, self.target_id = client, target_id

    def request(self, action: str, ids: Sequence[str]) -> Request:
        raise NotImplementedError

    def applied(self, ids: Sequence[str], answer: Any) -> Applied:
        raise NotImplementedError

    def members(self) -> set[str]:
        """Every contact id in the target now (all pages)."""
        raise NotImplementedError

    def change(self, action: str, ids: Sequence[str]) -> Applied:
        """Send one add or remove for `ids` (at most `batch_size`), a single attempt; raises ApiError."""
        request = self.request(action, ids)
        with single_attempt(self.client):
            answer = self.client.request_json(request.method, request.path, json_body=request.body)
        return self.applied(ids, answer)


class MauticSegment(Target):
    kind = "segment"
    batch_size = 200

    def request(self, action: str, ids: Sequence[str]) -> Request:
        return Request(
            "POST", f"/api/segments/{self.target_id}/contacts/{action}", {"ids": [_int(i) for i in ids]}
        )

    def applied(self, ids: Sequence[str], answer: Any) -> Applied:
        details = (answer or {}).get("details") or {}
        done = {str(k) for k, v in details.items() if isinstance(v, dict) and v.get("success")}
        return Applied(frozenset(done), frozenset(set(ids) - done))

    def members(self) -> set[str]:
        segment = self.client.get_json(f"/api/segments/{self.target_id}")
        alias = (segment or {}).get("list", {}).get("alias")
        found: set[str] = set()
        start, size = 0, READ_PAGE["segment"]
        while True:
            page = self.client.get_json(
                "/api/contacts",
                params={
                    "search": f"segment:{alias}",
                    "start": start,
                    "limit": size,
                    "minimal": "true",
                    "orderBy": "id",
                },
            )
            contacts = (page or {}).get("contacts") or {}
            listed = contacts.values() if isinstance(contacts, dict) else contacts
            found.update(str(c["id"]) for c in listed)
            start += size
            if not listed or start >= int((page or {}).get("total") or 0):
                return found


class MauticCampaign(Target):
    kind = "campaign"
    batch_size = 1

    def request(self, action: str, ids: Sequence[str]) -> Request:
        (contact,) = ids
        return Request("POST", f"/api/campaigns/{self.target_id}/contact/{contact}/{action}", None)

    def applied(self, ids: Sequence[str], answer: Any) -> Applied:
        ok = bool((answer or {}).get("success"))
        return Applied(frozenset(ids if ok else ()), frozenset(() if ok else ids))

    def members(self) -> set[str]:
        found: set[str] = set()
        start, size = 0, READ_PAGE["campaign"]
        while True:
            page = self.client.get_json(
                f"/api/campaigns/{self.target_id}/contacts", params={"start": start, "limit": size}
            )
            rows = (page or {}).get("contacts") or []
            found.update(str(r["lead_id"]) for r in rows if str(r.get("manually_removed", "0")) != "1")
            start += size
            if not rows or start >= int((page or {}).get("total") or 0):
                return found


class HubSpotList(Target):
    kind = "list"
    batch_size = 1000

    def request(self, action: str, ids: Sequence[str]) -> Request:
        key = "recordIdsToAdd" if action == "add" else "recordIdsToRemove"
        body = {"recordIdsToAdd": [], "recordIdsToRemove": [], key: list(ids)}
        return Request("PUT", f"/crm/v3/lists/{self.target_id}/memberships/add-and-remove", body)

    def applied(self, ids: Sequence[str], answer: Any) -> Applied:
        answer = answer or {}
        missing = {str(i) for i in answer.get("recordIdsMissing") or []}
        # HubSpot leaves ids that were already members (or already out) out of Added/Removed
        return Applied(frozenset(set(ids) - missing), frozenset(missing))

    def members(self) -> set[str]:
        found: set[str] = set()
        after: str | None = None
        while True:
            params = {"limit": READ_PAGE["list"], **({"after": after} if after else {})}
            page = self.client.get_json(f"/crm/v3/lists/{self.target_id}/memberships", params=params)
            found.update(str(r["recordId"]) for r in (page or {}).get("results") or [])
            after = ((page or {}).get("paging") or {}).get("next", {}).get("after")
            if not after:
                return found


TARGETS: dict[tuple[str, str], type[Target]] = {
    ("mautic", "segment"): MauticSegment,
    ("mautic", "campaign"): MauticCampaign,
    ("hubspot", "list"): HubSpotList,
}


def open_target(key: str, client: ApiClient | None = None, conn_id: str | None = None) -> Target:
    """The target named `mautic:segment:12` (`nurture_targets` keys), with a client from its Airflow
    connection (default smarketing_mautic / smarketing_hubspot) unless one is given."""
    system, kind, target_id = key.split(":", 2)
    return TARGETS[(system, kind)](
        client or _client(system, conn_id or DEFAULT_CONNECTIONS[system]), target_id
    )


def _client(system: str, conn_id: str) -> ApiClient:
    from smarketing.sources.hubspot.hook import HubSpotHook
    from smarketing.sources.mautic.hook import MauticHook

    hook = HubSpotHook(conn_id) if system == "hubspot" else MauticHook(conn_id)
    return hook.client()


def _int(value: str) -> int | str:
    return int(value) if value.isdigit() else value
