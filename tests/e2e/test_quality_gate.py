"""The quality gate inside smarketing_ingest (dag.test()): a critical failure stops the core build and
everything after it, and the task log says what failed; clean data go through both validations."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import psycopg
import pytest
import yaml

from smarketing.paths import CONFIG_DIR
from smarketing_sandbox.world import generate_world
from tests.integration.sandbox_support import WORLD_END

from .conftest import run_dag

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]


@pytest.fixture()
def quality_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped settings with Data Docs under tmp_path (tasks run in-process under dag.test())."""
    settings = yaml.safe_load((CONFIG_DIR / "quality.yaml").read_text())
    settings["data_docs"].update(dir=str(tmp_path / "docs"), project_dir=str(tmp_path / "gx"))
    path = tmp_path / "quality.yaml"
    path.write_text(yaml.safe_dump(settings))
    monkeypatch.setenv("SMARKETING_QUALITY_CONFIG", str(path))
    return tmp_path / "docs"


def _conf(world: Path) -> dict:
    return {
        "file_sources": [
            {"mapping": "config/sources/sandbox_crm.yaml", "root": str(world)},
            {"mapping": "config/sources/sandbox_ma.yaml", "root": str(world)},
        ]
    }


def test_a_critical_failure_stops_the_core_build_and_the_log_says_why(
    airflow_ready: None,
    warehouse_env: str,
    quality_config: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    world = tmp_path / "world"
    generate_world(world, contacts=300, seed=11, days=60, end=WORLD_END)
    companies = world / "crm" / "companies.csv"
    with companies.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    broken = max(1, len(rows) // 10)  # a tenth of the companies: well over the 5% a batch may lose
    for row in rows[:broken]:
        row["numberofemployees"] = "-5"
    with companies.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)

    states = run_dag("smarketing_ingest", run_conf=_conf(world))

    assert states["validate_raw"] == "failed", states
    assert states["build_core"] == "upstream_failed", states
    assert states["validate_core"] == "upstream_failed", states
    assert all(states[t] == "success" for t in states if t.startswith("land_file_source")), states
    log = capfd.readouterr()
    log = log.out + log.err
    assert "raw validation of run" in log and "FAILED" in log
    # batch ids depend on which file source landed first: the two land in parallel
    assert re.search(r"raw\.companies of sandbox_crm, batch \d+ rejected", log), log[-3000:]
    assert f"{broken} of {len(rows)} records quarantined" in log and f"employees_not_negative {broken}" in log
    assert (quality_config / "index.html").as_uri() in log
    with psycopg.connect(warehouse_env) as conn:
        assert conn.execute("SELECT count(*) FROM core.leads").fetchone()[0] == 0  # nothing built
        run = conn.execute("SELECT success, summary FROM dq.validation_runs WHERE layer = 'raw'").fetchone()
        assert run[0] is False and "employees_not_negative" in run[1]
        held = conn.execute(
            "SELECT count(*), min(failed_checks::text) FROM dq.quarantine WHERE table_name = 'raw.companies'"
        ).fetchone()
        assert held == (broken, "{employees_not_negative}")


def test_clean_data_pass_both_gates_and_reach_core(
    airflow_ready: None,
    warehouse_env: str,
    quality_config: Path,
    tmp_path: Path,
    summary_lines: list[str],
) -> None:
    world = tmp_path / "world"
    generate_world(world, contacts=300, seed=11, days=60, end=WORLD_END)

    states = run_dag("smarketing_ingest", run_conf=_conf(world))

    assert states.pop("extract_api_object") == "skipped", states  # no API source: file sources only
    assert set(states.values()) == {"success"}, states
    assert {"validate_raw", "build_core", "validate_core"} <= set(states)
    with psycopg.connect(warehouse_env) as conn:
        runs = conn.execute("SELECT layer, success FROM dq.validation_runs ORDER BY layer").fetchall()
        assert runs == [("core", True), ("raw", True)]
        assert conn.execute("SELECT count(*) FROM dq.quarantine").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM core.leads").fetchone()[0] == 300
    assert (quality_config / "index.html").is_file()
    assert any(line.startswith("core validation passed: ") for line in summary_lines), summary_lines
