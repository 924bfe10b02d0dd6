"""`smarketing extract` as an operator runs it: a separate process, the sandbox on a loopback port."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.sandbox_support import hubspot_entry, make_world, sandbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("cli-world"), contacts=60, days=10)


def _run_extract(
    server: object, dsn: str, *objects: str, retry: dict | None = None, as_json: bool = True
) -> subprocess.CompletedProcess:
    entry = hubspot_entry(**({"retry": retry} if retry else {}))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "AIRFLOW_CONN_SMARKETING_HUBSPOT": server.hubspot_connection(),  # type: ignore[attr-defined]
        "SMARKETING_API_SOURCES": json.dumps([entry]),
    }
    args = [sys.executable, "-m", "smarketing.cli", "extract", "hubspot", "--dsn", dsn]
    args += ["--json"] if as_json else []
    for obj in objects:
        args += ["--object", obj]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_stdout_is_the_json_and_logs_go_to_stderr(world_dir: Path, clean_warehouse: str) -> None:
    with sandbox(world_dir) as server:
        done = _run_extract(server, clean_warehouse, "owners", "companies")
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)  # nothing but the JSON
    assert [r["object"] for r in results] == ["owners", "companies"]
    assert all(r["landed"] > 0 for r in results)
    assert "hubspot/companies" in done.stderr  # the summary log lines are on stderr

    with sandbox(world_dir) as server:
        again = _run_extract(server, clean_warehouse, "owners", as_json=False)
    assert again.returncode == 0, again.stderr
    # For a person: a table naming the object, its counts and the watermark in human units.
    assert "hubspot/owners" in again.stdout and "received" in again.stdout
    assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC", again.stdout), again.stdout
    assert "{" not in again.stdout and "hubspot/owners:" in again.stderr  # the summary line is a log line


def test_a_failing_object_does_not_stop_the_others(world_dir: Path, clean_warehouse: str) -> None:
    """Every deals search answers 500: owners and companies still land, the exit is non-zero at the end,
    and both the JSON and stderr name the object that failed."""
    fast_giveup = {"attempts": 2, "initial_wait": 0.001, "max_wait": 0.002, "max_retry_after": 0.01}
    with sandbox(world_dir, faults="5xx:1.0@/crm/v3/objects/deals") as server:
        done = _run_extract(server, clean_warehouse, "owners", "deals", "companies", retry=fast_giveup)
    assert done.returncode != 0
    results = json.loads(done.stdout)
    by_object = {r["object"]: r for r in results}
    assert by_object["owners"]["landed"] > 0 and by_object["companies"]["landed"] > 0
    assert "error" in by_object["deals"] and "landed" not in by_object["deals"]
    assert "failed: hubspot/deals" in done.stderr.splitlines()[-1]
