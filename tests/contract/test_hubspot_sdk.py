"""The sandbox's HubSpot replies held against HubSpot's official Python SDK (`hubspot-api-client`).

The SDK's models are generated from HubSpot's published OpenAPI specs: what the sandbox serves must
deserialize into them with no unknown key, no missing required field and no wrong type, or a
misreading shared by the sandbox and the connector would pass every extraction test. The replies are
the ones the connector itself consumed while pulling every object (its own client, only observed),
and so are its requests: search, batch read and association bodies must be what the SDK would send.

Two endpoints the connector uses are legacy APIs the SDK does not cover (marketing e-mail events v1,
form submissions v1): they are held against the example responses in HubSpot's API reference,
committed under `fixtures/hubspot/` with their source.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import hubspot.crm.associations.v4 as associations_v4
import hubspot.crm.objects as hubspot_objects
import hubspot.crm.owners as owners_api
import hubspot.marketing.forms as forms_api
import pytest

from smarketing_sandbox.api_world import ApiWorld
from smarketing_sandbox.server import SandboxServer, ServerConfig
from tests.contract.documented import assert_matches_documented, load_fixture
from tests.contract.openapi_models import deserialize
from tests.contract.recording import Reply, fresh_warehouse, record_pull
from tests.integration.sandbox_support import HUBSPOT_TOKEN, hubspot_entry, make_world

pytestmark = pytest.mark.integration

OBJECTS = ("owners", "companies", "contacts", "deals", "calls", "email_events", "form_submissions")
# route → (SDK package, response model, request model or None)
SDK_CONTRACTS: dict[tuple[str, str], tuple[Any, str, str | None]] = {
    ("POST", "/crm/v3/objects/{object}/search"): (
        hubspot_objects,
        "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
        "PublicObjectSearchRequest",
    ),
    ("GET", "/crm/v3/objects/{object}"): (
        hubspot_objects,
        "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging",
        None,
    ),
    ("POST", "/crm/v3/objects/{object}/batch/read"): (
        hubspot_objects,
        "BatchResponseSimplePublicObject",
        "BatchReadInputSimplePublicObjectId",
    ),
    ("POST", "/crm/v4/associations/{object}/{object}/batch/read"): (
        associations_v4,
        "BatchResponsePublicAssociationMultiWithLabel",
        "BatchInputPublicFetchAssociationsBatchRequest",
    ),
    ("GET", "/crm/v3/owners"): (owners_api, "CollectionResponsePublicOwnerForwardPaging", None),
    ("GET", "/marketing/v3/forms"): (forms_api, "CollectionResponseFormDefinitionBaseForwardPaging", None),
}
DOCUMENTED = {
    ("GET", "/email/public/v1/events"): "hubspot/email_events_v1.json",
    ("GET", "/form-integrations/v1/submissions/forms/{id}"): "hubspot/form_submissions_v1.json",
}
# The generated SDK merges the forms schema's `oneOf`s into single classes whose enums hold only the last
# variant (a form field's `fieldType` may only be `payment_link_radio`): each value is held against the
# variant its discriminator names instead.
_FIELD_TYPES = {
    "email": "EmailField",
    "single_line_text": "SingleLineTextField",
    "multi_line_text": "MultiLineTextField",
    "phone": "PhoneField",
    "mobile_phone": "MobilePhoneField",
    "number": "NumberField",
    "single_checkbox": "SingleCheckboxField",
    "multiple_checkboxes": "MultipleCheckboxesField",
    "dropdown": "DropdownField",
    "radio": "RadioField",
    "datepicker": "DatepickerField",
    "file": "FileField",
    "payment_link_radio": "PaymentLinkRadioField",
}
_CONSENT_TYPES = {
    "none": "LegalConsentOptionsNone",
    "legitimate_interest": "LegalConsentOptionsLegitimateInterest",
    "explicit_consent_to_process": "LegalConsentOptionsExplicitConsentToProcess",
    "implicit_consent_to_process": "LegalConsentOptionsImplicitConsentToProcess",
}
FORMS_ONE_OF = {
    "CollectionResponseFormDefinitionBaseForwardPagingResultsInner": lambda form: "HubSpotFormDefinition",
    "DependentFieldDependentField": lambda f: _FIELD_TYPES.get(
        f.get("fieldType"), "DependentFieldDependentField"
    ),
    "HubSpotFormDefinitionAllOfLegalConsentOptions": lambda o: _CONSENT_TYPES.get(
        o.get("type"), "HubSpotFormDefinitionAllOfLegalConsentOptions"
    ),
}
ONE_OF = {("GET", "/marketing/v3/forms"): FORMS_ONE_OF}
_OBJECT_NAMES = ("contacts", "companies", "deals", "calls", "emails", "meetings", "notes", "tasks")


def _endpoint(reply: Reply) -> tuple[str, str]:
    route = reply.route()
    for name in _OBJECT_NAMES:
        route = route.replace(f"/{name}/", "/{object}/").replace(f"/{name}", "/{object}")
    return reply.method, route


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[Reply]]:
    """Every reply of a full pull of every object, by endpoint (a world with deleted and merged contacts,
    so archived listings are read too)."""
    world_dir = make_world(tmp_path_factory.mktemp("contract-hubspot"), contacts=120, days=20)
    world = ApiWorld.load(world_dir, housekeeping=True)
    with fresh_warehouse() as dsn, SandboxServer(world, ServerConfig(hubspot_token=HUBSPOT_TOKEN)) as server:
        found = record_pull(server, dsn, hubspot_entry(objects=list(OBJECTS)), OBJECTS)
    by_endpoint: dict[tuple[str, str], list[Reply]] = defaultdict(list)
    for reply in found:
        by_endpoint[_endpoint(reply)].append(reply)
    return dict(by_endpoint)


def test_every_endpoint_the_connector_reads_has_a_contract(replies: dict) -> None:
    unknown = sorted(set(replies) - set(SDK_CONTRACTS) - set(DOCUMENTED))
    assert not unknown, f"endpoints without a contract test: {unknown}"
    # the pull reached every endpoint (an endpoint never called would be checked by nothing)
    assert set(replies) == set(SDK_CONTRACTS) | set(DOCUMENTED), sorted(replies)


@pytest.mark.parametrize("endpoint", sorted(SDK_CONTRACTS), ids=lambda e: f"{e[0]} {e[1]}")
def test_replies_deserialize_into_the_sdk_models(replies: dict, endpoint: tuple[str, str]) -> None:
    api, response_model, request_model = SDK_CONTRACTS[endpoint]
    for reply in replies[endpoint]:
        one_of = ONE_OF.get(endpoint)
        model = deserialize(reply.data, response_model, api, one_of=one_of)
        assert one_of is not None or model.results is not None
        if request_model is not None:
            deserialize(_with_documented_sorts(reply.body), request_model, api)


def _with_documented_sorts(body: dict[str, Any]) -> dict[str, Any]:
    """The search body with its `sorts` checked apart: HubSpot's search guide sends them as objects
    (`{"propertyName", "direction"}`), which the API takes, while the published spec (and so the SDK)
    types them as strings (HubSpot/hubspot-api-python#236, open). The guide is what the API does."""
    if "sorts" not in body:
        return body
    for sort in body["sorts"]:
        assert isinstance(sort, dict) and set(sort) == {"propertyName", "direction"}, sort
        assert sort["direction"] in {"ASCENDING", "DESCENDING"}, sort
    return {k: v for k, v in body.items() if k != "sorts"}


@pytest.mark.parametrize("endpoint", sorted(DOCUMENTED), ids=lambda e: f"{e[0]} {e[1]}")
def test_legacy_replies_match_the_documented_examples(replies: dict, endpoint: tuple[str, str]) -> None:
    documented = load_fixture(DOCUMENTED[endpoint])
    for reply in replies[endpoint]:
        assert_matches_documented(reply.data, documented)


def test_the_checker_refuses_what_hubspot_would_not_send() -> None:
    """The contract bites: an unknown key, a number where HubSpot sends a string, a missing required
    field each fail (so a passing test above means something)."""
    record = {
        "id": "1",
        "properties": {"email": "a@b.example"},
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "archived": False,
    }
    page = {"total": 1, "results": [record]}
    deserialize(page, SDK_CONTRACTS[("POST", "/crm/v3/objects/{object}/search")][1], hubspot_objects)
    for broken, why in (
        ({**page, "results": [{**record, "lastmodified": "x"}]}, "not a field"),
        ({**page, "results": [{**record, "id": 1}]}, "expected str"),
        ({**page, "results": [{k: v for k, v in record.items() if k != "updatedAt"}]}, "updated_at"),
        ({"total": 1}, "results"),
    ):
        with pytest.raises(AssertionError, match=why):
            deserialize(broken, "CollectionResponseWithTotalSimplePublicObjectForwardPaging", hubspot_objects)


def test_documented_fixtures_name_their_source() -> None:
    for name in DOCUMENTED.values():
        fixture = json.loads((Path(__file__).parent / "fixtures" / name).read_text())
        assert fixture["source"].startswith("https://developers.hubspot.com/"), name
