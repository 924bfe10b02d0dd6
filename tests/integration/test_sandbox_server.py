"""The sandbox API server answers like HubSpot and Mautic do: shapes, paging, caps, auth, limits, faults."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from smarketing.sources.http import RateLimit
from smarketing_sandbox import api_segments
from smarketing_sandbox.api_world import ApiWorld
from smarketing_sandbox.server import Fault, SandboxServer, ServerConfig, parse_faults
from tests.integration.sandbox_support import HUBSPOT_TOKEN, MAUTIC_PASSWORD, make_world, sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("server-world"), contacts=200, days=30)


@pytest.fixture()
def server(world_dir: Path) -> Iterator[SandboxServer]:
    with sandbox(world_dir) as running:
        yield running


def hub(server: SandboxServer, path: str, body: object | None = None, **params: object) -> requests.Response:
    headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
    if body is None:
        return requests.get(server.url + path, params=params, headers=headers, timeout=10)
    return requests.post(server.url + path, json=body, headers=headers, timeout=10)


def ma(server: SandboxServer, path: str, **params: object) -> requests.Response:
    token = base64.b64encode(f"sandbox:{MAUTIC_PASSWORD}".encode()).decode()
    return requests.get(
        server.url + path, params=params, headers={"Authorization": f"Basic {token}"}, timeout=10
    )


def since(prop: str, value: int) -> dict:
    return {"filterGroups": [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(value)}]}]}


# -- HubSpot ----------------------------------------------------------------------------------------
def test_search_pages_with_after_and_returns_string_properties(server: SandboxServer) -> None:
    body = {
        **since("lastmodifieddate", 0),
        "limit": 50,
        "properties": ["email", "lifecyclestage", "nope"],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
    }
    first = hub(server, "/crm/v3/objects/contacts/search", body).json()
    total = len(server.world.table("hubspot.contacts"))
    assert first["total"] == total and len(first["results"]) == 50
    record = first["results"][0]
    assert set(record) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert {"email", "lifecyclestage", "hs_object_id", "createdate", "lastmodifieddate"} == set(
        record["properties"]
    )
    assert all(isinstance(v, str) or v is None for v in record["properties"].values())
    stamps = [r["properties"]["lastmodifieddate"] for r in first["results"]]
    assert stamps == sorted(stamps)
    after = first["paging"]["next"]["after"]
    second = hub(server, "/crm/v3/objects/contacts/search", {**body, "after": after}).json()
    assert {r["id"] for r in second["results"]}.isdisjoint({r["id"] for r in first["results"]})


def test_search_limits_like_hubspot(server: SandboxServer) -> None:
    assert hub(server, "/crm/v3/objects/contacts/search", {"limit": 201}).status_code == 400
    groups = {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}] * 6}
    assert hub(server, "/crm/v3/objects/contacts/search", groups).status_code == 400
    server.world.create_contacts(10_100)
    ok = hub(server, "/crm/v3/objects/contacts/search", {"limit": 200, "after": "9800"})
    assert ok.status_code == 200 and ok.json()["paging"]["next"]["after"] == "10000"
    capped = hub(server, "/crm/v3/objects/contacts/search", {"limit": 200, "after": "10000"})
    assert capped.status_code == 400 and "10000" in capped.json()["message"]


def test_recent_changes_are_not_searchable_until_indexed(server: SandboxServer) -> None:
    server.config.indexing_delay_s = 3600
    server.world.touch("hubspot.companies", 3)
    recent = since("hs_lastmodifieddate", server.world.now_ms() - 60_000)
    assert hub(server, "/crm/v3/objects/companies/search", recent).json()["total"] == 0
    server.config.indexing_delay_s = 0
    assert hub(server, "/crm/v3/objects/companies/search", recent).json()["total"] == 3


def test_associations_owners_and_archived_lists(server: SandboxServer) -> None:
    calls = hub(server, "/crm/v3/objects/calls/search", {"limit": 5}).json()["results"]
    assert calls
    read = hub(
        server, "/crm/v4/associations/calls/contacts/batch/read", {"inputs": [{"id": c["id"]} for c in calls]}
    ).json()
    assert read["status"] == "COMPLETE" and len(read["results"]) == len(calls)
    assert read["results"][0]["to"][0]["associationTypes"][0]["typeId"] == 194
    unknown = hub(server, "/crm/v4/associations/calls/companies/batch/read", {"inputs": []})
    assert unknown.status_code == 400
    owners = hub(server, "/crm/v3/owners/", limit=500).json()["results"]
    inactive = hub(server, "/crm/v3/owners/", limit=500, archived="true").json()["results"]
    assert len(owners) + len(inactive) == len(server.world.table("hubspot.owners"))
    assert all(o["teams"] and o["teams"][0]["primary"] for o in owners)
    server.world.archive("hubspot.contacts", 4)
    archived = hub(server, "/crm/v3/objects/contacts", limit=100, archived="true").json()["results"]
    assert len(archived) == 4 and all(r["archived"] and r["archivedAt"] for r in archived)
    searchable = hub(server, "/crm/v3/objects/contacts/search", {"limit": 1}).json()["total"]
    assert searchable == len(server.world.table("hubspot.contacts")) - 4


def test_auth_is_required(server: SandboxServer) -> None:
    bare = requests.post(server.url + "/crm/v3/objects/contacts/search", json={}, timeout=10)
    assert bare.status_code == 401 and bare.json()["category"] == "INVALID_AUTHENTICATION"
    assert requests.get(server.url + "/api/contacts", timeout=10).status_code == 401
    token = requests.post(
        server.url + "/oauth/v2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-client-secret",
        },
        timeout=10,
    ).json()["access_token"]
    assert requests.get(
        server.url + "/api/contacts", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).ok


# -- Mautic -----------------------------------------------------------------------------------------
def test_mautic_contacts_page_with_start_limit_and_where(server: SandboxServer) -> None:
    first = ma(server, "/api/contacts").json()
    assert int(first["total"]) == len(server.world.table("mautic.contacts"))
    assert isinstance(first["contacts"], dict) and len(first["contacts"]) == 30  # Mautic's default page
    contact = next(iter(first["contacts"].values()))
    assert {"id", "dateModified", "points", "tags", "stage", "fields", "doNotContact"} <= set(contact)
    assert "email" in contact["fields"]["all"]
    where = {
        "where[0][col]": "date_modified",
        "where[0][expr]": "gte",
        "where[0][val]": "2999-01-01 00:00:00",
    }
    empty = ma(server, "/api/contacts", **where).json()
    assert empty["total"] == "0" and empty["contacts"] == []
    big = ma(server, "/api/contacts", limit=1000, orderBy="date_modified", orderByDir="asc").json()
    assert len(big["contacts"]) == min(200, int(first["total"]))  # at most 200 per page, whatever is asked
    stamps = [c["dateModified"] for c in big["contacts"].values()]
    assert stamps == sorted(stamps)


def test_mautic_activity_pages_by_date_window(server: SandboxServer) -> None:
    params = {
        "filters[dateFrom]": "2000-01-01 00:00:00",
        "order[0]": "timestamp",
        "order[1]": "ASC",
        "limit": 100,
    }
    first = ma(server, "/api/contacts/activity", **params, page=1).json()
    # Unfiltered, the timeline mixes the activity with the segment membership and point change logs.
    logs = (api_segments.segment_log(server.world), api_segments.point_log(server.world))
    assert first["total"] == len(server.world.table("mautic.activity")) + sum(len(log) for log in logs)
    assert first["maxPages"] == -(-first["total"] // 100) and len(first["events"]) == 100
    event = first["events"][0]
    assert {"event", "eventId", "timestamp", "contactId", "details"} <= set(event)
    second = ma(server, "/api/contacts/activity", **params, page=2).json()
    assert first["events"][-1]["timestamp"] <= second["events"][0]["timestamp"]
    only = ma(server, "/api/contacts/activity", **params, **{"filters[includeEvents][0]": "page.hit"}).json()
    assert {e["event"] for e in only["events"]} == {"page.hit"}


# -- limits and faults --------------------------------------------------------------------------------
def test_the_rate_limit_is_enforced_with_429(world_dir: Path) -> None:
    config = {"rate_limits": {"hubspot.search": RateLimit(5, 1.0)}}
    with sandbox(world_dir, **config) as server:
        answers = [
            hub(server, "/crm/v3/objects/companies/search", {"limit": 1}).status_code for _ in range(12)
        ]
        assert answers.count(200) >= 5 and 429 in answers
        assert answers[:5] == [200] * 5
        counters = server.stats()["counters"]
        assert counters["throttled.hubspot.search"] == answers.count(429)


def test_429_bursts_alternate_retry_after(world_dir: Path) -> None:
    with sandbox(world_dir, faults="429:1*2") as server:
        answers = [hub(server, "/crm/v3/objects/companies/search", {"limit": 1}) for _ in range(4)]
        assert [a.status_code for a in answers] == [429] * 4
        assert [a.headers.get("Retry-After") for a in answers] == ["1", "1", None, None]


def test_broken_answers(world_dir: Path) -> None:
    with sandbox(world_dir, faults="malformed:1@/deals/search") as server:
        body = hub(server, "/crm/v3/objects/deals/search", {"limit": 10}).content
        with pytest.raises(json.JSONDecodeError):
            json.loads(body)
    for fault in ("truncate:1", "drop:1"):
        with (
            sandbox(world_dir, faults=fault) as server,
            pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)),
        ):
            hub(server, "/crm/v3/objects/deals/search", {"limit": 10}).json()
    with sandbox(world_dir, faults="5xx:1") as server:
        assert hub(server, "/crm/v3/objects/deals/search", {"limit": 10}).status_code in {500, 502, 503}


def test_fault_specs_and_admin_endpoints(world_dir: Path) -> None:
    fault = Fault.parse("malformed:0.5@/search+3*2")
    assert (fault.kind, fault.rate, fault.path, fault.skip, fault.count) == (
        "malformed",
        0.5,
        "/search",
        3,
        2,
    )
    with pytest.raises(ValueError, match="kinds"):
        parse_faults("teapot:1")
    world = ApiWorld.load(world_dir)
    with SandboxServer(world, ServerConfig()) as server:
        before = len(world.table("hubspot.contacts"))
        done = requests.post(
            server.url + "/_sandbox/mutate", json={"updates": 5, "creates": 2}, timeout=10
        ).json()
        assert done["created"] == 2 and len(world.table("hubspot.contacts")) == before + 2
        switched = requests.post(
            server.url + "/_sandbox/faults", json={"faults": ["5xx:0.5"]}, timeout=10
        ).json()
        assert switched["faults"] == ["5xx:0.5*1"]
        stats = requests.get(server.url + "/_sandbox/stats", timeout=10).json()
        assert stats["faults"][0]["fault"] == "5xx:0.5*1"
    assert time.monotonic() > 0


def test_email_events_and_contacts_by_email(server: SandboxServer) -> None:
    page = hub(server, "/email/public/v1/events", limit=50, startTimestamp=0).json()
    assert len(page["events"]) == 50 and page["hasMore"] and page["offset"] == "50"
    event = page["events"][0]
    assert {"id", "created", "type", "recipient", "emailCampaignId"} <= set(event)
    nxt = hub(server, "/email/public/v1/events", limit=50, startTimestamp=0, offset=page["offset"]).json()
    assert nxt["events"][0]["created"] >= page["events"][-1]["created"]
    emails = [event["recipient"].upper(), "nobody@nowhere.example"]
    read = hub(
        server,
        "/crm/v3/objects/contacts/batch/read",
        {"idProperty": "email", "inputs": [{"id": e} for e in emails], "properties": ["email"]},
    ).json()
    assert [r["properties"]["email"].lower() for r in read["results"]] == [event["recipient"].lower()]
