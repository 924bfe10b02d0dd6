"""Mautic's REST API as the sandbox serves it: contacts, all-contacts activity, segments.

The activity timeline holds the world's marketing activity plus the segment membership and point
change logs (`api_segments`), as Mautic's own timeline mixes every event type in one list.

Shapes follow Mautic 4/5: lists are `{"total": "<n>", "contacts": {"<id>": {...}}}` (an empty list
comes back as `[]`, as PHP encodes it), paging is `start` / `limit` (30 by default, at most 200 here),
one `orderBy` / `orderByDir`, and `where[i][col|expr|val]` conditions. Activity is paged by `page`
with `limit` and filtered on `filters[dateFrom]` / `filters[dateTo]` (UTC, `Y-m-d H:i:s`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smarketing_sandbox import api_segments
from smarketing_sandbox.api_hubspot import Answer
from smarketing_sandbox.api_world import MAUTIC_STAGES, ApiTable, ApiWorld, iso_ms, with_duplicates
from smarketing_sandbox.marketing import TAG_NAMES

DEFAULT_LIMIT = 30
MAX_LIMIT = 200
ACTIVITY_DEFAULT_LIMIT = 25
EVENT_LABELS = {
    "email.sent": "Email sent",
    "email.read": "Email read",
    "email.clicked": "Email clicked",
    "email.bounced": "Email failed",
    "page.hit": "Page hit",
    "form.submitted": "Form submitted",
    "asset.download": "Asset downloaded",
    "webinar.registered": "Registration to Webinar",
    "webinar.attended": "Attended webinar",
    "dnc.unsubscribed": "Do not contact",
    "demo.requested": "Demo requested",
    "segment_membership": "Segment membership change",
    "point.gained": "Point gained",
}
SEGMENT_EVENT = "segment_membership"
POINT_EVENT = "point.gained"
_WHERE = re.compile(r"^where\[(\d+)\]\[(col|expr|val)\]$")
_TAG_IDS = {name: i + 1 for i, name in enumerate(TAG_NAMES)}
_STAGE_IDS = {name: i + 1 for i, name in enumerate(MAUTIC_STAGES)}


def error(status: int, message: str) -> Answer:
    return Answer(status, {"errors": [{"code": status, "message": message, "details": []}]})


def _instant(text: str) -> int:
    """`Y-m-d H:i:s` (UTC) or ISO 8601 → epoch ms."""
    clean = text.strip().replace(" ", "T").replace("Z", "")
    clean = re.sub(r"[+-]\d{2}:?\d{2}$", "", clean) if "T" in clean else clean
    return int(np.datetime64(clean, "ms").astype(np.int64))


def _limit(params: Mapping[str, str], default: int) -> int:
    return max(1, min(int(params.get("limit") or default), MAX_LIMIT))


def _where(params: Mapping[str, str]) -> list[dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        if m := _WHERE.match(key):
            found.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return [found[i] for i in sorted(found)]


def _column(table: ApiTable, col: str) -> tuple[np.ndarray | pa.Array, bool]:
    """(values, numeric) for a where/orderBy column."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", col.split(".")[-1]).lower()  # dateModified → date_modified
    if name == "id":
        return table.ids, True
    if name == "date_modified":
        return table.modified, True
    if name == "date_added":
        return table.created, True
    if name in table.props:
        return table.props[name], False
    raise ValueError(f"unknown column {col}")


def _condition(table: ApiTable, cond: Mapping[str, str]) -> np.ndarray:
    values, numeric = _column(table, cond.get("col", ""))
    expr = cond.get("expr", "eq")
    raw = cond.get("val", "")
    if expr in {"isNull", "isNotNull"}:
        present = np.ones(len(table), dtype=bool) if numeric else np.asarray(pc.is_valid(values))
        return present if expr == "isNotNull" else ~present
    if numeric:
        value = int(raw) if raw.lstrip("-").isdigit() else _instant(raw)
        ops = {
            "eq": np.equal,
            "neq": np.not_equal,
            "lt": np.less,
            "lte": np.less_equal,
            "gt": np.greater,
            "gte": np.greater_equal,
        }
        if expr not in ops:
            raise ValueError(f"unsupported expression {expr}")
        return ops[expr](values, value)
    if expr in {"eq", "neq"}:
        hit = np.asarray(pc.fill_null(pc.equal(values, raw), False))
        return hit if expr == "eq" else ~hit
    if expr == "like":
        pattern = raw.replace("%", "")
        return np.asarray(pc.fill_null(pc.match_substring(values, pattern, ignore_case=True), False))
    raise ValueError(f"unsupported expression {expr} on {cond.get('col')}")


def _search(table: ApiTable, search: str) -> np.ndarray:
    """The search commands the connector uses: `segment:<alias>`, `ids:1,2,3`, else e-mail text."""
    search = search.strip()
    if not search:
        return np.ones(len(table), dtype=bool)
    if search.startswith("segment:"):
        alias = search.split(":", 1)[1]
        if alias not in _TAG_IDS:
            return np.zeros(len(table), dtype=bool)
        tags = table.props["tags"]
        return np.asarray(
            pc.fill_null(pc.match_substring_regex(tags, rf"(^|,){re.escape(alias)}(,|$)"), False)
        )
    if search.startswith("ids:"):
        return np.isin(table.ids, [int(i) for i in search[4:].split(",") if i.strip()])
    return np.asarray(pc.fill_null(pc.match_substring(table.props["email"], search, ignore_case=True), False))


def contacts(world: ApiWorld, params: Mapping[str, str], *, duplicate: int = 0) -> Answer:
    try:
        start = int(params.get("start") or 0)
        limit = _limit(params, DEFAULT_LIMIT)
    except ValueError:
        return error(400, "start and limit must be integers")
    with world.lock:
        table = world.table("mautic.contacts")
        assert table.archived_at is not None
        try:
            mask = (table.archived_at < 0) & _search(table, params.get("search", ""))
            for cond in _where(params):
                mask &= _condition(table, cond)
            order_by = params.get("orderBy") or "id"
            values, numeric = _column(table, order_by)
        except (ValueError, KeyError) as exc:
            return error(400, str(exc))
        if numeric and values is table.modified:
            order = table.order("modified")
        elif numeric:
            order = table.order("id")
        else:
            order = np.asarray(
                pc.sort_indices(
                    pa.table({"v": values, "id": table.ids}), [("v", "ascending"), ("id", "ascending")]
                )
            )
        rows = order[mask[order]]
        if (params.get("orderByDir") or "asc").lower() == "desc":
            rows = rows[::-1]
        chosen = rows[start : start + limit]
        chosen = with_duplicates(rows, start, chosen, duplicate)
        entities = contact_entities(table, chosen)
    listed: dict[str, Any] | list[Any] = {str(e["id"]): e for e in entities} if entities else []
    if duplicate and entities:
        # JSON objects cannot repeat a key: duplicates come back as a list, which Mautic also sends.
        listed = entities
    return Answer(200, {"total": str(len(rows)), "contacts": listed})


def contact_entities(table: ApiTable, rows: np.ndarray) -> list[dict[str, Any]]:
    names = ("email", "firstname", "lastname", "company", "position", "country")
    columns = {name: table.prop(name, rows) for name in names}
    points = table.prop("points", rows)
    stages = table.prop("stage", rows)
    tags = table.prop("tags", rows)
    dnc = table.prop("dnc_email", rows)
    last_active = table.prop("last_active", rows)
    added = iso_ms(table.created[rows], z=False)
    modified = iso_ms(table.modified[rows], z=False)
    out = []
    for i, contact_id in enumerate(table.ids[rows].tolist()):
        stage = stages[i]
        tag_list = [t for t in (tags[i] or "").split(",") if t]
        fields_all = {"id": contact_id, **{n: columns[n][i] for n in names}, "points": int(points[i] or 0)}
        out.append(
            {
                "id": contact_id,
                "isPublished": True,
                "dateAdded": added[i],
                "dateModified": modified[i],
                "createdBy": None,
                "owner": None,
                "points": int(points[i] or 0),
                "lastActive": last_active[i],
                "dateIdentified": added[i],
                "color": None,
                "stage": {"id": _STAGE_IDS[stage], "name": stage, "weight": 0}
                if stage in _STAGE_IDS
                else None,
                "tags": [{"id": _TAG_IDS.get(t, 0), "tag": t} for t in tag_list],
                "doNotContact": [
                    {"id": contact_id, "reason": 1, "comments": "", "channel": "email", "channelId": None}
                ]
                if dnc[i] == "1"
                else [],
                "utmtags": [],
                "fields": {"core": {}, "all": fields_all},
            }
        )
    return out


def activity(world: ApiWorld, params: Mapping[str, str], *, duplicate: int = 0) -> Answer:
    try:
        page = max(1, int(params.get("page") or 1))
        limit = _limit(params, ACTIVITY_DEFAULT_LIMIT)
        date_from = params.get("filters[dateFrom]")
        date_to = params.get("filters[dateTo]")
        lo = _instant(date_from) if date_from else None
        hi = _instant(date_to) if date_to else None
    except ValueError as exc:
        return error(400, f"bad paging or date filter: {exc}")
    include = [v for k, v in params.items() if k.startswith("filters[includeEvents]")]
    include = [t for v in include for t in v.split(",") if t]
    descending = (params.get("order[1]") or "DESC").upper() == "DESC"
    with world.lock:
        parts = _timeline_parts(world, include, lo, hi)
        # One timeline over every log, by (time, log, id): each part comes sorted by (time, id), and a
        # stable sort of their concatenation merges the runs in linear time.
        stamps = np.concatenate([p.table.modified[p.rows] for p in parts])
        source = np.concatenate([np.full(len(p.rows), i) for i, p in enumerate(parts)])
        row = np.concatenate([p.rows for p in parts])
        filled = sum(1 for p in parts if len(p.rows))
        order = np.argsort(stamps, kind="stable") if filled > 1 else np.arange(len(stamps))
        if descending:
            order = order[::-1]
        offset = (page - 1) * limit
        chosen = with_duplicates(order, offset, order[offset : offset + limit], duplicate)
        events: list[dict[str, Any]] = [{} for _ in chosen]
        for i, part in enumerate(parts):
            at = np.flatnonzero(source[chosen] == i)
            for k, event in zip(at.tolist(), part.render(part.table, row[chosen[at]]), strict=True):
                events[k] = event
    total = len(order)
    return Answer(
        200,
        {
            "events": events,
            "filters": {"search": "", "includeEvents": include, "excludeEvents": []},
            "order": ["timestamp", "DESC" if descending else "ASC"],
            "types": EVENT_LABELS,
            "total": total,
            "page": page,
            "limit": limit,
            "maxPages": max(1, -(-total // limit)),
        },
    )


@dataclass(frozen=True)
class _TimelinePart:
    """The rows of one log the timeline shows, and how they become events."""

    table: ApiTable
    rows: np.ndarray
    render: Callable[[ApiTable, np.ndarray], list[dict[str, Any]]]


def _timeline_parts(
    world: ApiWorld, include: list[str], lo: int | None, hi: int | None
) -> list[_TimelinePart]:
    """Each log's rows in the date filter, sorted by (time, id); the activity's only of included types."""
    activity = world.table("mautic.activity")
    logs = [(activity, activity_events, None)]
    logs += [
        (log(world), render, kind)
        for kind, log, render in (
            (SEGMENT_EVENT, api_segments.segment_log, segment_events),
            (POINT_EVENT, api_segments.point_log, point_events),
        )
        if not include or kind in include
    ]
    parts = []
    for table, render, kind in logs:
        mask = np.ones(len(table), dtype=bool)
        if lo is not None:
            mask &= table.modified >= lo
        if hi is not None:
            mask &= table.modified <= hi
        if kind is None and include:
            mask &= np.asarray(pc.fill_null(pc.is_in(table.props["type"], pa.array(include)), False))
        order = table.order("modified")
        parts.append(_TimelinePart(table, order[mask[order]], render))
    return parts


def activity_events(table: ApiTable, rows: np.ndarray) -> list[dict[str, Any]]:
    kinds = table.prop("type", rows)
    campaigns = table.prop("campaign_id", rows)
    urls = table.prop("url", rows)
    topics = table.prop("topic", rows)
    stamps = iso_ms(table.modified[rows], z=False)
    contacts = table.links["contact"][rows].tolist()
    out = []
    for i, event_id in enumerate(table.ids[rows].tolist()):
        kind = kinds[i] or ""
        details: dict[str, Any] = {"campaignId": campaigns[i], "topic": topics[i]}
        if kind.startswith("email."):
            # As Mautic: the e-mail's id under the stat row, the stat's kind beside it (no campaignId).
            del details["campaignId"]
            details["stat"] = {"id": str(event_id), "emailId": campaigns[i], "dateSent": stamps[i]}
            details["type"] = kind.removeprefix("email.")
        elif kind == "page.hit":
            details["hit"] = {"url": urls[i], "dateHit": stamps[i]}
        elif kind == "form.submitted":
            details["submission"] = {"id": event_id, "dateSubmitted": stamps[i], "referer": urls[i]}
        out.append(
            {
                "event": kind,
                "eventId": f"{kind}{event_id}",
                "eventLabel": EVENT_LABELS.get(kind, kind),
                "eventType": EVENT_LABELS.get(kind, kind),
                "timestamp": stamps[i],
                "contactId": str(contacts[i]),
                "details": details,
            }
        )
    return out


def _log_entries(
    table: ApiTable, rows: np.ndarray, kind: str, icon: str, labels: list[str], details: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Timeline entries of one of Mautic's logs: the entry id is the event type and the log row's id."""
    stamps = iso_ms(table.modified[rows], z=False)
    contacts = table.links["contact"][rows].tolist()
    return [
        {
            "event": kind,
            "eventId": f"{kind}{log_id}",
            "eventLabel": labels[i],
            "eventType": EVENT_LABELS[kind],
            "timestamp": stamps[i],
            "icon": icon,
            "contactId": str(contacts[i]),
            "details": details[i],
        }
        for i, log_id in enumerate(table.ids[rows].tolist())
    ]


def segment_events(table: ApiTable, rows: np.ndarray) -> list[dict[str, Any]]:
    """Mautic's `segment_membership` timeline entries: the action is only in the label, the segment only
    by name (`object_description`), as Mautic's lead_event_log subscriber writes them."""
    names = [segment_name(s or "") for s in table.prop("segment", rows)]
    verbs = ["added to" if a == api_segments.ADDED else "removed from" for a in table.prop("action", rows)]
    labels = [f"Contact {verb} segment {name}" for verb, name in zip(verbs, names, strict=True)]
    details = [{"object_description": name} for name in names]
    return _log_entries(table, rows, SEGMENT_EVENT, "ri-pie-chart-line", labels, details)


def point_events(table: ApiTable, rows: np.ndarray) -> list[dict[str, Any]]:
    """Mautic's `point.gained` timeline entries: the points change log row under `details.log`."""
    deltas = [int(d or 0) for d in table.prop("delta", rows)]
    names = table.prop("event_name", rows)
    # As Mautic's timeline shows the points change log row: ids and the delta as text.
    logs = pd.DataFrame(
        {
            "id": [str(i) for i in table.ids[rows].tolist()],
            "type": "api",
            "eventName": names,
            "actionName": table.prop("action_name", rows),
            "delta": [str(d) for d in deltas],
            "dateAdded": iso_ms(table.modified[rows], z=False),
        }
    ).to_dict("records")
    labels = [f"{name} / {delta}" for name, delta in zip(names, deltas, strict=True)]
    return _log_entries(
        table, rows, POINT_EVENT, "ri-calculator-line", labels, [{"log": log} for log in logs]
    )


def segment_name(alias: str) -> str:
    return alias.replace("-", " ").title()


def segments(params: Mapping[str, str]) -> Answer:
    try:
        start = int(params.get("start") or 0)
        limit = _limit(params, DEFAULT_LIMIT)
    except ValueError:
        return error(400, "start and limit must be integers")
    listed = list(_TAG_IDS.items())[start : start + limit]
    lists = {
        str(i): {"id": i, "isPublished": True, "name": segment_name(name), "alias": name, "isGlobal": True}
        for name, i in listed
    }
    return Answer(200, {"total": len(_TAG_IDS), "lists": lists or []})


def delete_contact(world: ApiWorld, raw_id: str) -> Answer:
    """`DELETE /api/contacts/{id}/delete`: the contact and its activity gone; 200 with the deleted contact
    as Mautic answers (its fields, `id` null), 404 when there is no such contact."""
    if not raw_id.isdigit():
        return error(404, "Item was not found.")
    with world.lock:
        table = world.table("mautic.contacts")
        rows = np.flatnonzero(table.ids == int(raw_id))
        if not len(rows):
            return error(404, "Item was not found.")
        entity = contact_entities(table, rows)[0]
        world.forget_contact("mautic", contact_id=int(raw_id))
    return Answer(200, {"contact": {**entity, "id": None}})
