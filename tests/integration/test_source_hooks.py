"""The HubSpot and Mautic hooks against the sandbox API: the UI's Test button (`test_connection()`)
passes with the right credentials and fails, by status and without the secret, with wrong ones; and
Airflow's ProvidersManager finds both connection types through the package's entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from smarketing.sources.hubspot.hook import HubSpotHook
from smarketing.sources.mautic.hook import MauticHook
from smarketing_sandbox.server import SandboxServer
from tests.integration.sandbox_support import make_world, sandbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with sandbox(make_world(tmp_path_factory.mktemp("hooks-world"), contacts=20, days=5)) as running:
        yield running


def _connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: str | dict) -> str:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}", value if isinstance(value, str) else json.dumps(value)
    )
    return conn_id


def test_hubspot_test_connection(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _connection(monkeypatch, "smk_hook_hubspot", server.hubspot_connection())
    ok, message = HubSpotHook(good).test_connection()
    assert ok, message
    assert server.url in message
    wrong = {"conn_type": "hubspot", "host": server.url, "password": "pat-eu1-WRONG-TOKEN"}
    before = server.stats()["counters"].get("status.401", 0)
    ok, message = HubSpotHook(_connection(monkeypatch, "smk_hook_bad", wrong)).test_connection()
    assert not ok and "HTTP 401" in message and "WRONG-TOKEN" not in message
    assert server.stats()["counters"]["status.401"] == before + 1  # a refusal is not retried


def test_mautic_test_connection_basic_and_oauth2(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, message = MauticHook(
        _connection(monkeypatch, "smk_hook_mautic", server.mautic_connection())
    ).test_connection()
    assert ok, message
    oauth = server.mautic_connection(oauth=True)
    ok, message = MauticHook(_connection(monkeypatch, "smk_hook_oauth", oauth)).test_connection()
    assert ok, message
    wrong = {"conn_type": "mautic", "host": server.url, "login": "sandbox", "password": "WRONG-PASSWORD"}
    ok, message = MauticHook(_connection(monkeypatch, "smk_hook_wrong", wrong)).test_connection()
    assert not ok and "HTTP 401" in message and "WRONG-PASSWORD" not in message
    bad_secret = json.loads(oauth)
    bad_secret["extra"]["client_secret"] = "WRONG-SECRET"
    ok, message = MauticHook(_connection(monkeypatch, "smk_hook_badsecret", bad_secret)).test_connection()
    assert not ok and "token request was refused" in message and "WRONG-SECRET" not in message


def test_an_unreachable_api_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    down = {"conn_type": "hubspot", "host": "http://127.0.0.1:9", "password": "pat-eu1-x"}
    ok, message = HubSpotHook(_connection(monkeypatch, "smk_hook_down", down)).test_connection()
    assert not ok and "connection error" in message


def _installed_metadata(site: Path) -> None:
    """A dist-info for this package as `pip install` would write it (name, version, the entry points
    of pyproject.toml): Airflow discovers providers through installed metadata only."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dist = site / f"{project['name']}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")


PROBE = textwrap.dedent(
    """
    import json, os
    from airflow.models.connection import Connection
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    out = {"providers": sorted(pm.providers)}
    for kind in ("hubspot", "mautic"):
        info = pm.hooks[kind]
        out[kind] = {
            "class": info.hook_class_name,
            "testable": info.connection_testable,
            "conn_id_attr": info.connection_id_attribute_name,
            "fields": sorted(k for k in pm.connection_form_widgets if k.startswith(f"extra__{kind}__")),
            "hidden": pm.field_behaviours[kind]["hidden_fields"],
        }
    # What the UI's Test button runs: a Connection of the type, its hook found by the manager.
    good = Connection(conn_id="smk_probe", conn_type="hubspot", host=os.environ["PROBE_URL"],
                      password=os.environ["PROBE_TOKEN"])
    os.environ["AIRFLOW_CONN_SMK_PROBE"] = good.as_json()
    out["test_button"] = list(good.test_connection())
    print(json.dumps(out))
    """
)


def test_airflow_finds_the_connection_types_through_the_entry_point(
    server: SandboxServer, tmp_path: Path
) -> None:
    _installed_metadata(tmp_path / "site")
    env = {
        **os.environ,
        # Ahead of the installed package, as `pip install .` of this tree would be.
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT / "include"), str(ROOT)]),
        "PROBE_URL": server.url,
        "PROBE_TOKEN": server.config.hubspot_token,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert "smarketing" in found["providers"]
    assert found["hubspot"]["class"] == "smarketing.sources.hubspot.hook.HubSpotHook"
    assert found["mautic"]["class"] == "smarketing.sources.mautic.hook.MauticHook"
    assert found["hubspot"]["testable"] and found["mautic"]["testable"]
    assert found["mautic"]["conn_id_attr"] == "conn_id"
    assert "extra__mautic__client_secret" in found["mautic"]["fields"]
    assert "schema" in found["hubspot"]["hidden"]
    assert found["test_button"][0] is True, found["test_button"]
