"""The sandbox's Mautic replies held against the example responses of Mautic's REST API documentation.

Mautic publishes no machine-readable schema; its developer documentation shows an example response per
endpoint. Those examples are committed under `fixtures/mautic/` with their source, and two things are
checked: every reply the connector consumed while pulling contacts, activity and segments has the
documented keys and JSON types (a key the docs lack must be a declared sandbox extension, with its
reason), and the connector turns the documented examples themselves into the right canonical records.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from smarketing.sources.mautic.answers import entities as listed_entities
from smarketing.sources.mautic.contacts import contacts_table
from smarketing.sources.mautic.settings import MauticSettings
from smarketing.sources.mautic.timeline import events_table
from smarketing.sources.paging import Page
from smarketing.sources.records import strings, timestamps_ms
from smarketing_sandbox.api_segments import change_points
from smarketing_sandbox.api_world import ApiWorld
from smarketing_sandbox.server import SandboxServer, ServerConfig
from tests.contract.documented import assert_matches_documented, load_fixture
from tests.contract.recording import Reply, fresh_warehouse, record_pull
from tests.integration.sandbox_support import MAUTIC_PASSWORD, make_world, mautic_entry

pytestmark = pytest.mark.integration

FIXTURES = {
    ("GET", "/api/contacts"): "mautic/contacts_list.json",
    ("GET", "/api/contacts/activity"): "mautic/contacts_activity.json",
    ("GET", "/api/segments"): "mautic/segments_list.json",
}


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[Reply]]:
    """Every reply of a full pull of contacts, activity and segments (with point changes, so the
    timeline holds every kind of entry the sandbox serves)."""
    world_dir = make_world(tmp_path_factory.mktemp("contract-mautic"), contacts=120, days=20)
    world = ApiWorld.load(world_dir)
    change_points(world, 5)
    objects = ("contacts", "activity", "segments")
    config = ServerConfig(mautic_password=MAUTIC_PASSWORD)
    with fresh_warehouse() as dsn, SandboxServer(world, config) as server:
        found = record_pull(server, dsn, mautic_entry(objects=list(objects)), objects)
    by_endpoint: dict[tuple[str, str], list[Reply]] = defaultdict(list)
    for reply in found:
        by_endpoint[(reply.method, reply.route())].append(reply)
    return dict(by_endpoint)


def test_every_endpoint_the_connector_reads_has_a_documented_example(replies: dict) -> None:
    assert set(replies) == set(FIXTURES), sorted(replies)


@pytest.mark.parametrize("endpoint", sorted(FIXTURES), ids=lambda e: e[1])
def test_replies_have_the_documented_keys_and_types(replies: dict, endpoint: tuple[str, str]) -> None:
    fixture = load_fixture(FIXTURES[endpoint])
    assert any(r.data and r.data != [] for r in replies[endpoint])
    for reply in replies[endpoint]:
        assert_matches_documented(reply.data, fixture)


def test_the_checker_refuses_an_undocumented_key_and_a_wrong_type() -> None:
    fixture = load_fixture("mautic/contacts_list.json")
    contact = dict(fixture["response"]["contacts"]["47"])
    assert_matches_documented({"total": "1", "contacts": {"47": contact}}, fixture)
    for broken, why in (
        ({**contact, "score": 3}, "score: not in the documented"),
        ({**contact, "points": "10"}, "points: documented as number"),
        ({k: v for k, v in contact.items() if k != "dateModified"}, "dateModified: required"),
    ):
        with pytest.raises(AssertionError, match=why):
            assert_matches_documented({"total": "1", "contacts": {"47": broken}}, fixture)


def test_the_connector_reads_the_documented_contacts() -> None:
    documented = load_fixture("mautic/contacts_list.json")["response"]
    entities = listed_entities(documented, "contacts")
    stamps = timestamps_ms(strings([e["dateModified"] for e in entities]))
    page = Page(records=entities, ids=np.array([47]), modified=stamps.to_numpy(), origin="docs")
    leads = contacts_table(page, MauticSettings())["leads"].to_pylist()
    payload = json.loads(leads[0]["payload"])
    assert leads[0]["source_id"] == "47"
    assert payload["created_at"] == "2015-07-21T17:27:12+00:00"  # -05:00 read as an offset
    assert payload["consent_email"] is False  # a do-not-contact entry on the e-mail channel
    assert payload["attributes"]["points"] == "10" and payload["attributes"]["tags"] == "aTag,bTag"
    assert payload["attributes"]["firstname"] == "Jim"


def test_the_connector_reads_the_documented_activity() -> None:
    documented = load_fixture("mautic/contacts_activity.json")["response"]
    rows = events_table(documented["events"], MauticSettings()).to_pylist()
    by_event = {json.loads(r["payload"])["attributes"]["event"]: json.loads(r["payload"]) for r in rows}
    assert len(rows) == len(documented["events"])
    sent = by_event["email.sent"]
    assert (sent["event_type"], sent["lead_source_id"], sent["campaign_id"]) == ("email_sent", "16419", "78")
    assert sent["occurred_at"] == "2017-07-27T16:14:34+00:00"
    assert by_event["email.read"]["event_type"] == "email_open"
    assert by_event["form.submitted"]["event_type"] == "form_submission"
    hit = by_event["page.hit"]
    assert hit["event_type"] == "page_view"
    assert hit["attributes"]["url"] == "http://example.com/uncategorized/translation-test1"
    assert by_event["point.gained"]["event_type"] == "points_changed"
    assert by_event["point.gained"]["attributes"]["delta"] == "20"
    assert by_event["asset.download"]["lead_source_id"] is None  # the docs' entry names no contact
    # entries without an eventId (page hits, point changes) still get a stable id of their own
    ids = [r["source_id"] for r in rows]
    assert len(set(ids)) == len(ids)
    again = [r["source_id"] for r in events_table(documented["events"], MauticSettings()).to_pylist()]
    assert again == ids


def test_fixtures_name_their_source() -> None:
    for name in FIXTURES.values():
        assert load_fixture(name)["source"].startswith("mautic/developer-documentation-new, docs/rest_api/")
