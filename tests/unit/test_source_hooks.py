"""The HubSpot and Mautic hooks as Airflow sees them: provider metadata, connection forms, and the
hooks built from Airflow connections (`AIRFLOW_CONN_*` JSON)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from smarketing.errors import SmarketingError
from smarketing.provider import get_provider_info
from smarketing.sources.hubspot.hook import HubSpotHook
from smarketing.sources.mautic.auth import BasicAuth, OAuth2ClientCredentials
from smarketing.sources.mautic.hook import MauticHook

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "pat-eu1-unit-SECRET-51de"


def test_the_package_declares_its_provider_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry = project["project"]["entry-points"]["apache_airflow_provider"]
    assert entry == {"provider_info": "smarketing.provider:get_provider_info"}


def test_provider_info_lists_both_connection_types_with_their_forms() -> None:
    info = get_provider_info()
    assert info["package-name"] == project_name()
    types = {t["connection-type"]: t for t in info["connection-types"]}
    assert set(types) == {"hubspot", "mautic"}
    assert types["hubspot"]["hook-class-name"] == "smarketing.sources.hubspot.hook.HubSpotHook"
    assert types["mautic"]["hook-class-name"] == "smarketing.sources.mautic.hook.MauticHook"
    mautic_fields = types["mautic"]["conn-fields"]
    assert {"auth", "client_id", "client_secret", "token_url", "page_limit", "lag_seconds"} <= set(
        mautic_fields
    )
    # The secret is a password field: the UI masks it and Airflow treats it as sensitive.
    assert mautic_fields["client_secret"]["schema"]["format"] == "password"
    assert types["hubspot"]["ui-field-behaviour"]["relabeling"]["password"] == "Private app access token"
    json.dumps(info)  # provider info travels as JSON


def project_name() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]


def test_provider_info_is_valid_for_airflow() -> None:
    from airflow.providers_manager import _create_provider_info_schema_validator

    _create_provider_info_schema_validator().validate(get_provider_info())


@pytest.mark.parametrize("hook", [HubSpotHook, MauticHook])
def test_hooks_carry_what_airflow_reads_of_a_hook(hook: type) -> None:
    assert hook.conn_name_attr == "conn_id"
    assert hook.default_conn_name == f"smarketing_{hook.conn_type}"
    assert hook.hook_name and callable(hook.test_connection)
    behaviour = hook.get_ui_field_behaviour()
    assert (
        set(behaviour) == {"hidden_fields", "relabeling", "placeholders"}
        and "schema" in behaviour["hidden_fields"]
    )
    assert hook(None).conn_id == hook.default_conn_name
    # The provider metadata names this very class for its connection type.
    assert hook.CONNECTION["hook-class-name"] == f"{hook.__module__}.{hook.__qualname__}"
    assert hook.CONNECTION["connection-type"] == hook.conn_type


def test_the_provider_metadata_imports_no_hook(tmp_path: Path) -> None:
    """Every Airflow process loads it while discovering providers: it must stay import-light."""
    import subprocess
    import sys

    code = (
        "import sys, smarketing.provider as p; p.get_provider_info(); "
        "heavy = [m for m in ('airflow', 'requests', 'pandas', 'pyarrow', 'smarketing.sources.hooks') "
        "if m in sys.modules]; print(heavy)"
    )
    env = {"PYTHONPATH": str(ROOT / "include"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_hubspot_hook_from_an_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "hubspot", "host": "api.hubapi.com", "password": TOKEN, "extra": {"page_limit": 50}}
    monkeypatch.setenv("AIRFLOW_CONN_SMK_UNIT_HUBSPOT", json.dumps(conn))
    hook = HubSpotHook("smk_unit_hubspot")
    creds = hook.get_credentials()
    assert creds.base_url == "https://api.hubapi.com" and creds.token == TOKEN
    client = hook.client()
    assert client.base_url == "https://api.hubapi.com" and client.source == "hubspot"
    assert set(client.limiters) == {"general", "search"}  # HubSpot's buckets by default
    assert TOKEN not in repr(hook) + repr(client) + repr(creds)


def test_a_mautic_hook_picks_its_auth_from_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    basic = {
        "conn_type": "mautic",
        "host": "http://127.0.0.1",
        "port": 8765,
        "login": "api",
        "password": "pw",
    }
    oauth = {
        "conn_type": "mautic",
        "host": "https://mautic.example.com",
        "extra": {"auth": "oauth2", "client_id": "id", "client_secret": "cs-SECRET"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SMK_UNIT_BASIC", json.dumps(basic))
    monkeypatch.setenv("AIRFLOW_CONN_SMK_UNIT_OAUTH", json.dumps(oauth))
    client = MauticHook("smk_unit_basic").client()
    assert client.base_url == "http://127.0.0.1:8765" and isinstance(client._auth, BasicAuth)
    client = MauticHook("smk_unit_oauth").client()
    assert isinstance(client._auth, OAuth2ClientCredentials)
    assert client._auth.token_url == "https://mautic.example.com/oauth/v2/token"
    assert "cs-SECRET" not in repr(client._auth)


def test_a_mautic_connection_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SMK_UNIT_BARE", json.dumps({"conn_type": "mautic", "host": "m.example"}))
    with pytest.raises(ValueError, match="login and password"):
        MauticHook("smk_unit_bare").client()
    ok, message = MauticHook("smk_unit_bare").test_connection()
    assert not ok and "login and password" in message


def test_a_missing_connection_fails_the_test_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SMK_UNIT_ABSENT", raising=False)
    with pytest.raises(SmarketingError, match="smk_unit_absent"):
        HubSpotHook("smk_unit_absent").get_credentials()
    ok, message = HubSpotHook("smk_unit_absent").test_connection()
    assert not ok and "smk_unit_absent" in message
