"""The `smarketing` command on errors a user can act on: one line on stderr, the documented exit code.

Run as the installed console script (a subprocess), as an operator or a cron job would: a traceback
or a different code here is what they would see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from smarketing.paths import CONFIG_DIR
from smarketing.warehouse.connection import connect
from smarketing.warehouse.loading import land_batch

pytestmark = pytest.mark.integration

SMARKETING = Path(sys.executable).with_name("smarketing")
BROKEN = """\
organization: {timezone: Europe/Paris}
vocabulary: {mql: {min_score: 60}}
personas:
  - {id: runaway, match: {job_title_regex: "(?<=head of )it"}}
scoring:
  version: "1"
  engagement: {half_life_days: .inf, events: {page_view: {points: .nan}}}
"""


def smarketing(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SMARKETING), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


def assert_one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smarketing: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command", [["score", "run"], ["sla", "evaluate"], ["sla", "alert"], ["ingest", "core"]]
)
def test_a_broken_agreement_stops_runtime_commands_with_one_line_and_exit_2(
    warehouse_dsn: str, tmp_path: Path, command: list[str]
) -> None:
    agreement = tmp_path / "smarketing.yaml"
    agreement.write_text(BROKEN, encoding="utf-8")
    result = smarketing(*command, "--dsn", warehouse_dsn, env={"SMARKETING_CONFIG": str(agreement)})
    line = assert_one_line(result, 2)
    assert f"{agreement}: 3 problem(s) in the agreement: " in line
    for key_path in (
        "personas[0].match.job_title_regex: a lookaround",
        "scoring.engagement.half_life_days: expected a finite number",
        "scoring.engagement.events.page_view.points: expected a finite number",
    ):
        assert key_path in line
    assert result.stdout == ""


def test_ingest_core_on_a_failed_gate_exits_3_with_one_line(clean_warehouse: str, tmp_path: Path) -> None:
    settings = yaml.safe_load((CONFIG_DIR / "quality.yaml").read_text(encoding="utf-8"))
    settings["data_docs"].update(dir=str(tmp_path / "docs"), project_dir=str(tmp_path / "gx"))
    (tmp_path / "quality.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    payloads = [
        json.dumps({"name": f"Co {i}", "employees": n, "attributes": {}}) for i, n in enumerate([10, -1])
    ]
    rows = pa.table({"source_id": ["c0", "c1"], "payload": payloads})
    with connect(clean_warehouse, autocommit=True) as conn:
        batch = land_batch(conn, source_system="crm", object="companies", origin="x", rows=[rows])
    assert batch is not None

    result = smarketing(
        "ingest",
        "core",
        "--dsn",
        clean_warehouse,
        env={"SMARKETING_QUALITY_CONFIG": str(tmp_path / "quality.yaml")},
    )

    line = assert_one_line(result, 3)
    assert f"batch {batch.batch_id} rejected" in line
    with connect(clean_warehouse) as conn:
        assert conn.execute("SELECT count(*) FROM core.companies").fetchone()[0] == 0
