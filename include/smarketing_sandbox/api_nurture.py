"""Nurturing targets as the sandbox serves them: Mautic segments and campaigns, HubSpot lists.

Request and response shapes follow the real APIs:

* Mautic segment — `POST /api/segments/{id}/contacts/add` and `.../remove` with `{"ids": [...]}` (at most
  200 here), answering `{"details": {"<id>": {"success": true}}}`; `GET /api/segments/{id}` gives the
  segment's alias, and `GET /api/contacts?search=segment:<alias>` pages through its members.
* Mautic campaign — `POST /api/campaigns/{id}/contact/{contactId}/add` and `.../remove` (one contact per
  call: Mautic has no batch form), answering `{"success": 1}`; `GET /api/campaigns/{id}/contacts` pages
  through `{"lead_id": ..., "date_added": ...}` rows.
* HubSpot list — `PUT /crm/v3/lists/{listId}/memberships/add-and-remove` with `{"recordIdsToAdd": [...],
  "recordIdsToRemove": [...]}`, answering `{"recordIdsAdded", "recordIdsRemoved", "recordIdsMissing"}`;
  `GET /crm/v3/lists/{listId}/memberships?limit=&after=` pages through `{"recordId", "membershipTimestamp"}`.

Every nurturing request is recorded (`NurtureBook`), so tests count calls and catch a change applied
twice. A dropped connection on these endpoints drops *after* the change is applied, the worst case for
a client. Enrolled contacts respond a little (`uplift_share` of them show new engagement: an e-mail
click, a pricing page view and a form), so a control group has something to measure.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from smarketing_sandbox import api_mautic
from smarketing_sandbox.api_hubspot import Answer
from smarketing_sandbox.api_hubspot import error as hubspot_error
from smarketing_sandbox.api_world import ApiWorld, iso_ms

SEGMENT_BATCH_LIMIT = 200
LIST_PAGE_LIMIT = 250
SEGMENT_ALIAS_PREFIX = "segment-"
UPLIFT_KINDS = ("email.clicked", "page.hit", "form.submitted")


@dataclass
class NurtureBook:
    """Memberships of the nurturing targets and every call that reached them."""

    uplift_share: float = 0.35
    members: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # (kind, id) → contact → ms
    arrivals: Counter[str] = field(
        default_factory=Counter
    )  # "<method> <kind> <action>": every request, faulted too
    applied: Counter[tuple[str, str, str, str]] = field(
        default_factory=Counter
    )  # (kind, id, action, contact)
    uplifted: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            repeated = sorted({f"{k}:{t}:{a}:{c}" for (k, t, a, c), n in self.applied.items() if n > 1})
            return {
                "members": {
                    f"{k}:{t}": sorted(m, key=_id_order) for (k, t), m in sorted(self.members.items())
                },
                "arrivals": dict(sorted(self.arrivals.items())),
                "applied_calls": sum(1 for _ in self.applied),
                "repeated": repeated,
                "uplifted": len(self.uplifted),
                "uplift_share": self.uplift_share,
            }

    def arrive(self, method: str, path: str) -> None:
        """Count a nurturing request as it arrives, before any fault answers it."""
        name = endpoint(method, path.strip("/").split("/"))
        if name is not None:
            with self.lock:
                self.arrivals[name] += 1

    def admin(self, method: str, body: Mapping[str, Any]) -> Answer:
        """`/_sandbox/nurture`: GET the snapshot; POST `{"reset": true}` and/or `{"uplift_share": 0.2}`."""
        if method == "POST" and body.get("reset"):
            self.reset()
        if method == "POST" and "uplift_share" in body:
            self.uplift_share = float(body["uplift_share"])
        return Answer(200, self.snapshot())

    def reset(self) -> None:
        with self.lock:
            self.members.clear()
            self.arrivals.clear()
            self.applied.clear()
            self.uplifted.clear()


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)


def endpoint(method: str, segs: list[str]) -> str | None:
    """`"<method> <kind> <action>"` when the request is a nurturing one, else None."""
    if segs[:2] == ["api", "segments"] and len(segs) == 5 and segs[3] == "contacts" and method == "POST":
        return f"POST segment {segs[4]}"
    if segs[:2] == ["api", "campaigns"] and len(segs) == 6 and segs[3] == "contact" and method == "POST":
        return f"POST campaign {segs[5]}"
    if segs[:2] == ["api", "campaigns"] and segs[3:] == ["contacts"] and method == "GET":
        return "GET campaign read"
    if (
        segs[:3] == ["crm", "v3", "lists"]
        and segs[4:] == ["memberships", "add-and-remove"]
        and method == "PUT"
    ):
        return "PUT list add-and-remove"
    if segs[:3] == ["crm", "v3", "lists"] and segs[4:] == ["memberships"] and method == "GET":
        return "GET list read"
    return None


def is_write(name: str | None) -> bool:
    return name is not None and not name.startswith("GET")


def route(
    book: NurtureBook, world: ApiWorld, method: str, segs: list[str], params: Mapping[str, str], body: Any
) -> Answer | None:
    """The answer to a nurturing request, or None when the request is not one."""
    search = params.get("search", "")
    if (
        segs == ["api", "contacts"]
        and method == "GET"
        and search.startswith(f"segment:{SEGMENT_ALIAS_PREFIX}")
    ):
        return _segment_contacts(book, world, search.split(":", 1)[1], params)
    if segs[:2] == ["api", "segments"] and len(segs) == 3 and segs[2].isdigit() and method == "GET":
        alias = f"{SEGMENT_ALIAS_PREFIX}{segs[2]}"
        name = api_mautic.segment_name(alias)
        return Answer(200, {"list": {"id": int(segs[2]), "name": name, "alias": alias, "isPublished": True}})
    name = endpoint(method, segs)
    if name is None:
        return None
    if name.startswith("POST segment"):
        return _segment_change(book, world, segs[2], segs[4], body)
    if name.startswith("POST campaign"):
        return _campaign_change(book, world, segs[2], segs[4], segs[5])
    if name == "GET campaign read":
        return _campaign_contacts(book, segs[2], params)
    if name == "PUT list add-and-remove":
        return _list_change(book, world, segs[3], body)
    return _list_memberships(book, segs[3], params)


# -- applying changes ---------------------------------------------------------------------------------
def _live_ids(world: ApiWorld, key: str) -> set[str]:
    table = world.table(key)
    live = table.ids if table.archived_at is None else table.ids[table.archived_at < 0]
    return {str(i) for i in live.tolist()}


def _apply(
    book: NurtureBook, world: ApiWorld, kind: str, target: str, action: str, ids: list[str], known: set[str]
) -> tuple[list[str], list[str]]:
    """Apply one change; returns (changed or already so, missing). Records each contact the call carried."""
    done, missing = [], []
    now = world.now_ms()
    with book.lock:
        members = book.members.setdefault((kind, target), {})
        for contact in ids:
            if contact not in known:
                missing.append(contact)
                continue
            book.applied[(kind, target, action, contact)] += 1
            if action == "add":
                members.setdefault(contact, now)
            else:
                members.pop(contact, None)
            done.append(contact)
    if action == "add":
        _uplift(book, world, kind, done)
    return done, missing


def _segment_change(book: NurtureBook, world: ApiWorld, segment: str, action: str, body: Any) -> Answer:
    ids = body.get("ids") if isinstance(body, dict) else None
    if action not in ("add", "remove") or not isinstance(ids, list):
        return api_mautic.error(400, "ids must be a list of contact ids")
    if len(ids) > SEGMENT_BATCH_LIMIT:
        return api_mautic.error(400, f"at most {SEGMENT_BATCH_LIMIT} contacts per request")
    wanted = [str(i) for i in ids]
    done, _missing = _apply(
        book, world, "segment", segment, action, wanted, _live_ids(world, "mautic.contacts")
    )
    ok = set(done)
    return Answer(200, {"details": {c: {"success": c in ok} for c in wanted}})


def _campaign_change(book: NurtureBook, world: ApiWorld, campaign: str, contact: str, action: str) -> Answer:
    if action not in ("add", "remove"):
        return api_mautic.error(404, f"No route for campaign contact {action}")
    _done, missing = _apply(
        book, world, "campaign", campaign, action, [contact], _live_ids(world, "mautic.contacts")
    )
    if missing:
        return api_mautic.error(404, "Item was not found.")
    return Answer(200, {"success": 1})


def _list_change(book: NurtureBook, world: ApiWorld, list_id: str, body: Any) -> Answer:
    if not isinstance(body, dict):
        return hubspot_error(400, "Invalid input JSON", "VALIDATION_ERROR")
    known = _live_ids(world, "hubspot.contacts")
    out: dict[str, list[str]] = {"recordIdsAdded": [], "recordIdsRemoved": [], "recordIdsMissing": []}
    for key, action, done_key in (
        ("recordIdsToAdd", "add", "recordIdsAdded"),
        ("recordIdsToRemove", "remove", "recordIdsRemoved"),
    ):
        ids = [str(i) for i in body.get(key) or []]
        done, missing = _apply(book, world, "list", list_id, action, ids, known)
        out[done_key] += done
        out["recordIdsMissing"] += missing
    return Answer(200, out)


# -- reading memberships --------------------------------------------------------------------------------
def _members(book: NurtureBook, kind: str, target: str) -> list[tuple[str, int]]:
    with book.lock:
        members = dict(book.members.get((kind, target), {}))
    return sorted(members.items(), key=lambda item: _id_order(item[0]))


def _paging(params: Mapping[str, str], default: int, limit: int) -> tuple[int, int]:
    start = int(params.get("start") or params.get("after") or 0)
    size = max(1, min(int(params.get("limit") or default), limit))
    return start, size


def _segment_contacts(book: NurtureBook, world: ApiWorld, alias: str, params: Mapping[str, str]) -> Answer:
    try:
        start, size = _paging(params, api_mautic.DEFAULT_LIMIT, api_mautic.MAX_LIMIT)
    except ValueError:
        return api_mautic.error(400, "start and limit must be integers")
    members = [c for c, _ in _members(book, "segment", alias.removeprefix(SEGMENT_ALIAS_PREFIX))]
    chosen = members[start : start + size]
    table = world.table("mautic.contacts")
    position = pd.Series(np.arange(len(table)), index=table.ids.astype(str))
    rows = position.reindex(chosen).dropna().astype(np.int64).to_numpy()
    entities = api_mautic.contact_entities(table, rows)
    return Answer(200, {"total": str(len(members)), "contacts": {str(e["id"]): e for e in entities} or []})


def _campaign_contacts(book: NurtureBook, campaign: str, params: Mapping[str, str]) -> Answer:
    try:
        start, size = _paging(params, api_mautic.DEFAULT_LIMIT, api_mautic.MAX_LIMIT)
    except ValueError:
        return api_mautic.error(400, "start and limit must be integers")
    members = _members(book, "campaign", campaign)
    page = members[start : start + size]
    added = iso_ms(np.array([at for _, at in page], dtype=np.int64), z=False)
    rows = [
        {
            "campaign_id": campaign,
            "lead_id": c,
            "date_added": added[i],
            "manually_removed": "0",
            "manually_added": "1",
        }
        for i, (c, _) in enumerate(page)
    ]
    return Answer(200, {"total": str(len(members)), "contacts": rows})


def _list_memberships(book: NurtureBook, list_id: str, params: Mapping[str, str]) -> Answer:
    try:
        start, size = _paging(params, 100, LIST_PAGE_LIMIT)
    except ValueError:
        return hubspot_error(400, "after and limit must be integers", "VALIDATION_ERROR")
    members = _members(book, "list", list_id)
    page = members[start : start + size]
    stamps = iso_ms(np.array([at for _, at in page], dtype=np.int64))
    body: dict[str, Any] = {
        "results": [{"recordId": c, "membershipTimestamp": stamps[i]} for i, (c, _) in enumerate(page)],
        "total": len(members),
    }
    if start + size < len(members):
        body["paging"] = {"next": {"after": str(start + size)}}
    return Answer(200, body)


# -- the simulated response to nurturing --------------------------------------------------------------
def _uplift(book: NurtureBook, world: ApiWorld, kind: str, added: list[str]) -> None:
    """A share of newly enrolled people engage now (once per person): the control group's counterpart."""
    people = mautic_ids(world, added) if kind == "list" else [int(c) for c in added]
    with book.lock:
        fresh = [p for p in people if f"m{p}" not in book.uplifted]
        chosen = [p for p in fresh if world.rng.random() < book.uplift_share]
        book.uplifted.update(f"m{p}" for p in fresh)
    if chosen:
        contacts = np.repeat(np.array(chosen, dtype=np.int64), len(UPLIFT_KINDS))
        world.add_activity(len(contacts), kinds=UPLIFT_KINDS, contacts=contacts)


def mautic_ids(world: ApiWorld, hubspot_ids: list[str]) -> list[int]:
    """The Mautic contacts of HubSpot contacts (same e-mail)."""
    hs, ma = world.table("hubspot.contacts"), world.table("mautic.contacts")
    hs_email = pd.Series(hs.props["email"].to_pylist(), index=hs.ids.astype(str)).str.lower()
    ma_by_email = pd.Series(ma.ids, index=pd.Series(ma.props["email"].to_pylist()).str.lower())
    ma_by_email = ma_by_email[~ma_by_email.index.duplicated()]
    emails = hs_email.reindex(hubspot_ids).dropna()
    return [int(i) for i in ma_by_email.reindex(emails.to_numpy()).dropna().tolist()]
