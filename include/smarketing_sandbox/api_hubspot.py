"""HubSpot as the sandbox serves it: CRM v3 search, lists, associations and owners, marketing e-mail
events, forms and their submissions, with HubSpot's limits.

Shapes follow the public API: records are `{"id", "properties", "createdAt", "updatedAt", "archived"}`
with every property value a string; search takes `filterGroups` (at most 5 groups, 10 filters each, 25
in all), one sort, `limit` up to 200 and an `after` offset, and refuses to page past 10,000 results
with a 400. Records modified in the last `indexing_delay` seconds are not yet visible to search.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing_sandbox.api_world import (
    HUBSPOT_OBJECTS,
    ApiTable,
    ApiWorld,
    form_id,
    iso_ms,
    with_duplicates,
)
from smarketing_sandbox.vocab import FORM_PAGES

SEARCH_MAX_LIMIT = 200
SEARCH_MAX_RESULTS = 10_000
LIST_MAX_LIMIT = 100
OWNERS_MAX_LIMIT = 500
ASSOCIATION_MAX_INPUTS = 1000
# HUBSPOT_DEFINED association type ids (v4), from the object to the target.
ASSOCIATION_TYPES = {
    ("deals", "contacts"): 3,
    ("deals", "companies"): 5,
    ("calls", "contacts"): 194,
    ("emails", "contacts"): 198,
    ("meetings", "contacts"): 200,
    ("notes", "contacts"): 202,
    ("tasks", "contacts"): 204,
}
_SINGULAR = {name[:-1]: name for name in HUBSPOT_OBJECTS} | {"company": "companies"}
_DEFAULT_PROPERTIES = {
    "contacts": ("email", "firstname", "lastname", "createdate", "lastmodifieddate"),
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate"),
    "deals": (
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "createdate",
        "closedate",
        "hs_lastmodifieddate",
    ),
}


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def error(status: int, message: str, category: str = "VALIDATION_ERROR") -> Answer:
    return Answer(status, {"status": "error", "message": message, "category": category})


def object_name(raw: str) -> str | None:
    name = raw.lower()
    if name in HUBSPOT_OBJECTS:
        return name
    return _SINGULAR.get(name)


def modified_property(name: str) -> str:
    return "lastmodifieddate" if name == "contacts" else "hs_lastmodifieddate"


# -- search ---------------------------------------------------------------------------------------
def _numeric(table: ApiTable, prop: str) -> np.ndarray | None:
    if prop in {"hs_lastmodifieddate", "lastmodifieddate"}:
        return table.modified
    if prop == "hs_object_id":
        return table.ids
    if prop in {"createdate", "hs_createdate"}:
        return table.created
    return None


def _instant(value: Any) -> int:
    """A filter value for a date or number property: epoch ms (digits) or ISO 8601 text."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return int(np.datetime64(text.replace("Z", "").split("+")[0], "ms").astype(np.int64))


def _filter_mask(table: ApiTable, flt: Mapping[str, Any]) -> np.ndarray:
    prop = str(flt.get("propertyName", ""))
    op = str(flt.get("operator", "EQ")).upper()
    numbers = _numeric(table, prop)
    if numbers is not None:
        if op in {"HAS_PROPERTY", "NOT_HAS_PROPERTY"}:
            return np.full(len(table), op == "HAS_PROPERTY")
        if op == "IN":
            return np.isin(numbers, [_instant(v) for v in flt.get("values", [])])
        if op == "BETWEEN":
            return (numbers >= _instant(flt["value"])) & (numbers <= _instant(flt["highValue"]))
        value = _instant(flt["value"])
        compare = {
            "EQ": np.equal,
            "NEQ": np.not_equal,
            "LT": np.less,
            "LTE": np.less_equal,
            "GT": np.greater,
            "GTE": np.greater_equal,
        }
        if op not in compare:
            raise ValueError(f"operator {op} is not supported on {prop}")
        return compare[op](numbers, value)
    values = table.props.get(prop, pa.nulls(len(table), pa.string()))
    if op == "HAS_PROPERTY":
        return np.asarray(pc.is_valid(values))
    if op == "NOT_HAS_PROPERTY":
        return np.asarray(pc.is_null(values))
    if op == "IN":
        return np.asarray(
            pc.fill_null(pc.is_in(values, pa.array([str(v) for v in flt.get("values", [])])), False)
        )
    if op in {"EQ", "NEQ"}:
        hit = np.asarray(pc.fill_null(pc.equal(values, str(flt.get("value"))), False))
        return hit if op == "EQ" else ~hit
    raise ValueError(f"operator {op} is not supported on {prop}")


def _check_search(body: Mapping[str, Any]) -> Answer | None:
    groups = body.get("filterGroups") or []
    if len(groups) > 5:
        return error(400, "Too many filter groups (max 5).")
    counts = [len(g.get("filters") or []) for g in groups]
    if any(c > 10 for c in counts) or sum(counts) > 25:
        return error(400, "Too many filters (max 10 per group, 25 in all).")
    if len(body.get("sorts") or []) > 1:
        return error(400, "Only one sort is supported.")
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or limit < 1 or limit > SEARCH_MAX_LIMIT:
        return error(400, f"limit must be between 1 and {SEARCH_MAX_LIMIT}.")
    return None


def _sort(body: Mapping[str, Any], default: str) -> tuple[str, bool]:
    sorts = body.get("sorts") or []
    if not sorts:
        return "hs_object_id", False
    first = sorts[0]
    if isinstance(first, str):
        return first.lstrip("-"), first.startswith("-")
    return str(first.get("propertyName", default)), str(
        first.get("direction", "ASCENDING")
    ).upper() == "DESCENDING"


def search_rows(world: ApiWorld, name: str, body: Mapping[str, Any], *, visible_before_ms: int) -> np.ndarray:
    """Row indexes of every match, in the requested order (ties by id)."""
    table = world.table(f"hubspot.{name}")
    assert table.archived_at is not None
    mask = (table.archived_at < 0) & (table.modified <= visible_before_ms)
    groups = body.get("filterGroups") or []
    if groups:
        any_group = np.zeros(len(table), dtype=bool)
        for group in groups:
            group_mask = np.ones(len(table), dtype=bool)
            for flt in group.get("filters") or []:
                group_mask &= _filter_mask(table, flt)
            any_group |= group_mask
        mask &= any_group
    prop, descending = _sort(body, modified_property(name))
    if _numeric(table, prop) is table.modified:
        order = table.order("modified")
    elif prop == "hs_object_id":
        order = table.order("id")
    else:
        values = table.props.get(prop, pa.nulls(len(table), pa.string()))
        order = np.asarray(
            pc.sort_indices(
                pa.table({"v": values, "id": table.ids}), [("v", "ascending"), ("id", "ascending")]
            )
        )
    rows = order[mask[order]]
    return rows[::-1] if descending else rows


def records(
    world: ApiWorld, name: str, rows: np.ndarray, properties: list[str] | None, *, archived: bool = False
) -> list[dict[str, Any]]:
    table = world.table(f"hubspot.{name}")
    wanted = list(properties) if properties else list(_DEFAULT_PROPERTIES.get(name, ()))
    wanted = list(dict.fromkeys([*wanted, "hs_object_id", "createdate", modified_property(name)]))
    columns: dict[str, list[Any]] = {}
    for prop in wanted:
        if prop == "hs_object_id":
            columns[prop] = [str(i) for i in table.ids[rows].tolist()]
        elif prop == "createdate" and prop not in table.props:
            columns[prop] = iso_ms(table.created[rows])
        elif prop in {"lastmodifieddate", "hs_lastmodifieddate"}:
            columns[prop] = iso_ms(table.modified[rows])
        elif prop in table.props:
            columns[prop] = table.prop(prop, rows)
        # unknown properties are left out, as HubSpot does
    created = iso_ms(table.created[rows])
    updated = iso_ms(table.modified[rows])
    assert table.archived_at is not None
    archived_at = iso_ms(table.archived_at[rows]) if archived else None
    out = []
    for i, row_id in enumerate(table.ids[rows].tolist()):
        record: dict[str, Any] = {
            "id": str(row_id),
            "properties": {prop: values[i] for prop, values in columns.items()},
            "createdAt": created[i],
            "updatedAt": updated[i],
            "archived": archived,
        }
        if archived_at is not None:
            record["archivedAt"] = archived_at[i]
        out.append(record)
    return out


def search(
    world: ApiWorld, raw_name: str, body: Any, *, visible_before_ms: int, base_url: str, duplicate: int = 0
) -> Answer:
    name = object_name(raw_name)
    if name is None:
        return error(400, f"Unable to infer object type from: {raw_name}")
    if not isinstance(body, dict):
        return error(400, "Invalid input JSON on line 1.")
    if (problem := _check_search(body)) is not None:
        return problem
    try:
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError):
        return error(400, "after must be an integer offset.")
    limit = int(body.get("limit", 10))
    if offset >= SEARCH_MAX_RESULTS or offset < 0:
        return error(400, f"Paging past {SEARCH_MAX_RESULTS} results is not supported (after={offset}).")
    with world.lock:
        try:
            rows = search_rows(world, name, body, visible_before_ms=visible_before_ms)
        except (ValueError, KeyError) as exc:
            return error(400, f"Invalid filter: {exc}")
        chosen = rows[offset : offset + limit]
        # The unstable ordering HubSpot sometimes shows: records served again on the next page.
        chosen = with_duplicates(rows, offset, chosen, duplicate)
        results = records(world, name, chosen, body.get("properties"))
    answer: dict[str, Any] = {"total": len(rows), "results": results}
    if offset + limit < len(rows):
        after = str(offset + limit)
        answer["paging"] = {
            "next": {"after": after, "link": f"{base_url}/crm/v3/objects/{name}/search?after={after}"}
        }
    return Answer(200, answer)


# -- lists ----------------------------------------------------------------------------------------
def _paging(params: Mapping[str, str], max_limit: int, default: int = 10) -> tuple[int, int] | Answer:
    try:
        limit = int(params.get("limit") or default)
        after = int(params.get("after") or 0)
    except ValueError:
        return error(400, "limit and after must be integers.")
    if not 1 <= limit <= max_limit:
        return error(400, f"limit must be between 1 and {max_limit}.")
    return limit, after


def list_objects(world: ApiWorld, raw_name: str, params: Mapping[str, str], *, base_url: str) -> Answer:
    """`GET /crm/v3/objects/{name}`: pages by id (`after` = the last id seen), live or archived."""
    name = object_name(raw_name)
    if name is None:
        return error(400, f"Unable to infer object type from: {raw_name}")
    paging = _paging(params, LIST_MAX_LIMIT)
    if isinstance(paging, Answer):
        return paging
    limit, after = paging
    archived = params.get("archived", "false").lower() == "true"
    properties = [p for p in params.get("properties", "").split(",") if p] or None
    with world.lock:
        table = world.table(f"hubspot.{name}")
        assert table.archived_at is not None
        order = table.order("id")
        keep = (table.archived_at[order] >= 0) == archived
        rows = order[keep & (table.ids[order] > after)]
        chosen = rows[:limit]
        results = records(world, name, chosen, properties, archived=archived)
    answer: dict[str, Any] = {"results": results}
    if len(rows) > limit:
        nxt = str(int(table.ids[chosen[-1]]))
        answer["paging"] = {"next": {"after": nxt, "link": f"{base_url}/crm/v3/objects/{name}?after={nxt}"}}
    return Answer(200, answer)


def owners(world: ApiWorld, params: Mapping[str, str], *, base_url: str) -> Answer:
    paging = _paging(params, OWNERS_MAX_LIMIT)
    if isinstance(paging, Answer):
        return paging
    limit, after = paging
    archived = params.get("archived", "false").lower() == "true"
    with world.lock:
        table = world.table("hubspot.owners")
        assert table.archived_at is not None
        order = table.order("id")
        rows = order[((table.archived_at[order] >= 0) == archived)][after : after + limit]
        total = int(((table.archived_at >= 0) == archived).sum())
        teams = table.prop("team", rows)
        team_ids = {t: i + 1 for i, t in enumerate(sorted({t for t in table.props["team"].to_pylist() if t}))}
        created = iso_ms(table.created[rows])
        updated = iso_ms(table.modified[rows])
        results = [
            {
                "id": str(owner_id),
                "email": email,
                "type": "PERSON",
                "firstName": first,
                "lastName": last,
                "userId": int(owner_id) % 10_000_000,
                "createdAt": created[i],
                "updatedAt": updated[i],
                "archived": archived,
                "teams": [{"id": str(team_ids[teams[i]]), "name": teams[i], "primary": True}]
                if teams[i]
                else [],
            }
            for i, (owner_id, email, first, last) in enumerate(
                zip(
                    table.ids[rows].tolist(),
                    table.prop("email", rows),
                    table.prop("firstName", rows),
                    table.prop("lastName", rows),
                    strict=True,
                )
            )
        ]
    answer: dict[str, Any] = {"results": results}
    if after + limit < total:
        answer["paging"] = {
            "next": {"after": str(after + limit), "link": f"{base_url}/crm/v3/owners/?after={after + limit}"}
        }
    return Answer(200, answer)


# -- associations ---------------------------------------------------------------------------------
def associations(world: ApiWorld, raw_from: str, raw_to: str, body: Any) -> Answer:
    """`POST /crm/v4/associations/{from}/{to}/batch/read`."""
    source, target = object_name(raw_from), object_name(raw_to)
    if source is None or target is None or (source, target) not in ASSOCIATION_TYPES:
        return error(400, f"Unknown association from {raw_from} to {raw_to}.")
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        return error(400, "inputs must be a list.")
    if len(inputs) > ASSOCIATION_MAX_INPUTS:
        return error(400, f"At most {ASSOCIATION_MAX_INPUTS} inputs per batch.")
    try:
        wanted = np.array([int(i["id"]) for i in inputs], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        return error(400, "Every input needs a numeric id.")
    type_id = ASSOCIATION_TYPES[(source, target)]
    with world.lock:
        table = world.table(f"hubspot.{source}")
        links = table.links.get(target)
        order = table.order("id")
        sorted_ids = table.ids[order]
        pos = np.minimum(np.searchsorted(sorted_ids, wanted), max(len(order) - 1, 0))
        found = (sorted_ids[pos] == wanted) if len(order) else np.zeros(len(wanted), dtype=bool)
        targets = (
            np.where(found, links[order[pos]], -1)
            if links is not None and len(order)
            else np.full(len(wanted), -1)
        )
        results = [
            {
                "from": {"id": str(record_id)},
                "to": [
                    {
                        "toObjectId": str(to_id),  # a string in the v4 schema
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                        ],
                    }
                ],
            }
            for record_id, to_id in zip(wanted.tolist(), targets.tolist(), strict=True)
            if to_id >= 0
        ]
    return Answer(200, _batch_answer(world, results))


def batch_update(world: ApiWorld, inputs: Any) -> Answer:
    """`POST /crm/v3/objects/contacts/batch/update`: accepted as sent (the world is not changed)."""
    if not isinstance(inputs, list) or not inputs or len(inputs) > BATCH_READ_MAX_INPUTS:
        return error(400, f"inputs: between 1 and {BATCH_READ_MAX_INPUTS} records expected")
    results = [{"id": str(item.get("id")), "properties": item.get("properties", {})} for item in inputs]
    return Answer(200, _batch_answer(world, results))


def _batch_answer(world: ApiWorld, results: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch endpoint's answer: its results and when the batch ran (required by the schema)."""
    now = iso_ms(np.array([world.now_ms()], dtype=np.int64))[0]
    return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}


# -- marketing e-mail events and contacts by e-mail ------------------------------------------------
EMAIL_EVENTS_MAX_LIMIT = 1000
BATCH_READ_MAX_INPUTS = 100


def email_events(world: ApiWorld, params: Mapping[str, str]) -> Answer:
    """`GET /email/public/v1/events`: by creation time, an opaque `offset` to the next page."""
    try:
        limit = int(params.get("limit") or 100)
        offset = int(params.get("offset") or 0)
        start = int(params.get("startTimestamp") or 0)
        end = int(params.get("endTimestamp") or 2**62)
    except ValueError:
        return error(400, "limit, offset, startTimestamp and endTimestamp must be integers.")
    if not 1 <= limit <= EMAIL_EVENTS_MAX_LIMIT:
        return error(400, f"limit must be between 1 and {EMAIL_EVENTS_MAX_LIMIT}.")
    with world.lock:
        table = world.table("hubspot.email_events")
        order = table.order("modified")
        times = table.modified[order]
        rows = order[(times >= start) & (times <= end)]
        if params.get("eventType"):
            kinds = np.asarray(table.prop("type", rows), dtype=object)
            rows = rows[kinds == params["eventType"]]
        chosen = rows[offset : offset + limit]
        kinds, recipients = table.prop("type", chosen), table.prop("recipient", chosen)
        campaigns = table.prop("emailCampaignId", chosen)
        events = [
            {
                "id": f"hs-email-{event_id}",
                "created": int(created),
                "type": kinds[i],
                "recipient": recipients[i],
                "emailCampaignId": int(campaigns[i]) if campaigns[i] else None,
                "portalId": 1,
                "appId": 0,
            }
            for i, (event_id, created) in enumerate(
                zip(table.ids[chosen].tolist(), table.modified[chosen].tolist(), strict=True)
            )
        ]
    more = offset + limit < len(rows)
    return Answer(200, {"events": events, "hasMore": more, "offset": str(offset + limit) if more else None})


def batch_read(world: ApiWorld, raw_name: str, body: Any) -> Answer:
    """`POST /crm/v3/objects/{name}/batch/read`, by id or by a unique property (`idProperty: email`)."""
    name = object_name(raw_name)
    if name is None:
        return error(400, f"Unable to infer object type from: {raw_name}")
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or len(inputs) > BATCH_READ_MAX_INPUTS:
        return error(400, f"inputs must be a list of at most {BATCH_READ_MAX_INPUTS}.")
    wanted = [str(i.get("id", "")) for i in inputs if isinstance(i, dict)]
    id_property = body.get("idProperty") or "hs_object_id"
    with world.lock:
        table = world.table(f"hubspot.{name}")
        assert table.archived_at is not None
        live = np.flatnonzero(table.archived_at < 0)
        if id_property == "hs_object_id":
            keys = [str(i) for i in table.ids[live].tolist()]
            wanted_keys = wanted
        else:
            keys = [(v or "").strip().lower() for v in table.prop(id_property, live)]
            wanted_keys = [w.strip().lower() for w in wanted]
        position = dict(zip(keys, live.tolist(), strict=True))
        rows = np.array([position[k] for k in dict.fromkeys(wanted_keys) if k in position], dtype=np.int64)
        results = records(world, name, rows, body.get("properties"))
    return Answer(200, _batch_answer(world, results))


# -- forms and their submissions -------------------------------------------------------------------
FORMS_MAX_LIMIT = 100
SUBMISSIONS_MAX_LIMIT = 50  # the submissions endpoint's documented maximum (default 20)


_FORM_STYLE = {
    "fontFamily": "arial, helvetica, sans-serif",
    "backgroundWidth": "100%",
    "labelTextColor": "#33475b",
    "labelTextSize": "14px",
    "helpTextColor": "#7C98B6",
    "helpTextSize": "11px",
    "legalConsentTextColor": "#33475b",
    "legalConsentTextSize": "14px",
    "submitColor": "#ff7a59",
    "submitAlignment": "left",
    "submitFontColor": "#ffffff",
    "submitSize": "12px",
}


def _form(path: str, title: str) -> dict[str, Any]:
    """A `hubspot` form definition as `/marketing/v3/forms` lists it: every field the API's schema
    requires (the contract tests hold it against HubSpot's SDK models)."""
    common = {"objectTypeId": "0-1", "hidden": False, "dependentFields": []}
    return {
        "id": form_id(path),
        "name": title,
        "formType": "hubspot",
        "createdAt": "2026-01-05T09:00:00Z",
        "updatedAt": "2026-01-05T09:00:00Z",
        "archived": False,
        "fieldGroups": [
            {
                "groupType": "default_group",
                "richTextType": "text",
                "fields": [
                    {
                        **common,
                        "name": "email",
                        "label": "Email",
                        "fieldType": "email",
                        "required": True,
                        "validation": {"useDefaultBlockList": False, "blockedEmailDomains": []},
                    },
                    {
                        **common,
                        "name": "firstname",
                        "label": "First name",
                        "fieldType": "single_line_text",
                        "required": False,
                    },
                ],
            }
        ],
        "configuration": {
            "language": "en",
            "createNewContactForNewEmail": True,
            "editable": True,
            "allowLinkToResetKnownValues": False,
            "postSubmitAction": {"type": "thank_you", "value": "Thanks for submitting the form."},
            "prePopulateKnownValues": True,
            "cloneable": True,
            "notifyContactOwner": False,
            "recaptchaEnabled": False,
            "archivable": True,
            "notifyRecipients": [],
            "lifecycleStages": [],
        },
        "displayOptions": {
            "renderRawHtml": False,
            "theme": "default_style",
            "submitButtonText": "Submit",
            "style": _FORM_STYLE,
        },
        "legalConsentOptions": {"type": "none"},
    }


def forms(params: Mapping[str, str], *, base_url: str) -> Answer:
    """`GET /marketing/v3/forms`: one `hubspot` form per form page of the website, `after` paging.

    As HubSpot does, only `hubspot` forms unless `formTypes` asks for others (or `all`); archived
    forms only with `archived=true` (the sandbox has none).
    """
    paging = _paging(params, FORMS_MAX_LIMIT)
    if isinstance(paging, Answer):
        return paging
    limit, after = paging
    types = {t for t in params.get("formTypes", "hubspot").split(",") if t}
    listed = [] if params.get("archived", "false").lower() == "true" else list(FORM_PAGES)
    if not types & {"hubspot", "all"}:
        listed = []
    chosen = listed[after : after + limit]
    answer: dict[str, Any] = {"results": [_form(page.url, _form_title(page.url)) for page in chosen]}
    if after + limit < len(listed):
        nxt = str(after + limit)
        answer["paging"] = {"next": {"after": nxt, "link": f"{base_url}/marketing/v3/forms?after={nxt}"}}
    return Answer(200, answer)


def _form_title(path: str) -> str:
    return path.strip("/").split("/")[-1].replace("-", " ").capitalize()


def form_submissions(
    world: ApiWorld, guid: str, params: Mapping[str, str], *, base_url: str, duplicate: int = 0
) -> Answer:
    """`GET /form-integrations/v1/submissions/forms/{guid}`: newest first, `after` paging (an offset
    from the newest, so submissions arriving while a client pages shift it: pages then overlap)."""
    if guid not in {form_id(page.url) for page in FORM_PAGES}:
        return error(404, f"Form {guid} does not exist.", "OBJECT_NOT_FOUND")
    paging = _paging(params, SUBMISSIONS_MAX_LIMIT, default=20)
    if isinstance(paging, Answer):
        return paging
    limit, after = paging
    with world.lock:
        table = world.table("hubspot.form_submissions")
        order = table.order("modified")[::-1]
        rows = order[np.asarray(pc.equal(table.props["form_id"], guid).to_numpy(zero_copy_only=False))[order]]
        chosen = with_duplicates(rows, after, rows[after : after + limit], duplicate)
        emails, names = table.prop("email", chosen), table.prop("firstname", chosen)
        pages = table.prop("page_url", chosen)
        results = [
            {
                "conversionId": str(uuid.uuid5(uuid.NAMESPACE_OID, f"conversion-{activity_id}")),
                "submittedAt": submitted,
                "values": [
                    {"name": name, "value": value}
                    for name, value in (("email", emails[i]), ("firstname", names[i]))
                    if value is not None
                ],
                "pageUrl": pages[i],
            }
            for i, (activity_id, submitted) in enumerate(
                zip(table.ids[chosen].tolist(), table.modified[chosen].tolist(), strict=True)
            )
        ]
    answer: dict[str, Any] = {"results": results}
    if after + limit < len(rows):
        nxt = str(after + limit)
        link = f"{base_url}/form-integrations/v1/submissions/forms/{guid}?after={nxt}"
        answer["paging"] = {"next": {"after": nxt, "link": link}}
    return Answer(200, answer)


def gdpr_delete(world: ApiWorld, body: Any) -> Answer:
    """`POST /crm/v3/objects/contacts/gdpr-delete` `{"objectId": ..., "idProperty": "email"?}`: the contact
    and what is associated with it deleted for good, 204 without a body. An unknown id is a 404; an
    unknown e-mail is a 204 (HubSpot blocklists the address instead)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("objectId"), str | int):
        return error(400, "objectId is required")
    object_id, id_property = str(body["objectId"]), body.get("idProperty")
    if id_property == "email":
        world.forget_contact("hubspot", email=object_id)
        return Answer(204, None)
    if id_property not in (None, "hs_object_id") or not object_id.isdigit():
        return error(400, f"unsupported idProperty {id_property!r} or objectId")
    if not world.forget_contact("hubspot", contact_id=int(object_id)):
        return error(404, f"Object not found. objectId: {object_id}", "OBJECT_NOT_FOUND")
    return Answer(204, None)
