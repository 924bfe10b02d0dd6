"""The command line for people: tables by default and `--json` on every command, `status` whose counts
reconcile, `sla due` listing what is due now, errors that name the connection to fix, and the same
Airflow home as `make airflow`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import psycopg
import pytest
import typer
from typer.testing import CliRunner

from smarketing.cli import app
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, with_database
from smarketing_sandbox.world import generate_world
from tests.conftest import SERVER_DSN

pytestmark = pytest.mark.integration

SMARKETING = Path(sys.executable).with_name("smarketing")
SCORED_AT = "2026-11-15T02:00:00+00:00"
READ_AT = "2026-11-16T10:00:00+00:00"


def _leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            out |= _leaf_commands(command, f"{prefix}{name} ")
        else:
            out[f"{prefix}{name}"] = command
    return out


def test_every_command_has_json() -> None:
    commands = _leaf_commands(typer.main.get_command(app))  # type: ignore[arg-type]
    assert {"status", "sla due", "sla deadline", "score run", "extract hubspot", "kpi show"} <= set(commands)
    missing = [name for name, c in commands.items() if not any("--json" in p.opts for p in c.params)]
    assert not missing, missing


@pytest.fixture(scope="module")
def world_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A warehouse of its own: a sandbox world landed, validated, built, scored two days before its end,
    and its SLA clocks read."""
    dsn = with_database(SERVER_DSN, f"smk_test_cli_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    yield _world(dsn, tmp_path_factory.mktemp("cli-world"))
    drop_database(dsn)


def _world(dsn: str, world: Path) -> str:
    generate_world(world, contacts=400, seed=7, days=60, end=datetime(2026, 11, 16, tzinfo=UTC))
    runner = CliRunner()
    for mapping in ("config/sources/sandbox_crm.yaml", "config/sources/sandbox_ma.yaml"):
        done = runner.invoke(app, ["ingest", "files", mapping, "--root", str(world), "--dsn", dsn])
        assert done.exit_code == 0, done.output
    for args in (
        ["ingest", "core"],
        ["score", "run", "--as-of", SCORED_AT],
        ["sla", "evaluate", "--as-of", READ_AT],
    ):
        done = runner.invoke(app, [*args, "--dsn", dsn], catch_exceptions=False)
        assert done.exit_code == 0, (args, done.output)
    with psycopg.connect(dsn) as conn:  # two leads deleted in the source after the scoring run
        conn.execute(
            "UPDATE core.leads SET deleted_at = %s WHERE lead_id IN "
            "(SELECT lead_id FROM scoring.lead_scores ORDER BY lead_id LIMIT 2)",
            (datetime(2026, 11, 15, 12, tzinfo=UTC),),
        )
    return dsn


def test_status_counts_reconcile_with_their_definitions(world_dsn: str) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["status", "--json", "--dsn", world_dsn], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    status = json.loads(done.output)

    leads = status["leads"]
    assert leads["deleted"] == 2
    assert leads["core_leads"] == leads["deleted"] + leads["active"]
    assert leads["active"] == leads["scorable_then"] + leads["created_since"] - leads["deleted_since"]
    assert leads["deleted_since"] == 2 and leads["created_since"] > 0  # the world goes on after the scoring
    assert leads["scored"] == leads["scorable_then"]  # the last run scored exactly what existed then
    with psycopg.connect(world_dsn) as conn:
        assert leads["scored"] == conn.execute("SELECT count(*) FROM scoring.lead_scores").fetchone()[0]

    sla = status["sla"]
    assert sla["followups"] == sum(sla["first_touch_clock"].values()) == sum(sla["accept_clock"].values())
    assert sla["open_breaches"]["first_touch"] == sla["first_touch_clock"].get("breached_open", 0)
    assert sla["open_breaches"]["accept"] == sla["accept_clock"].get("breached_open", 0)
    assert sum(sla["open_breaches"].values()) > 0

    pipelines = {p["name"]: p for p in status["pipelines"]}
    assert pipelines["scoring"]["as_of"].startswith("2026-11-15 02:00:00")
    assert pipelines["scoring"]["fresh"] is True and pipelines["nurturing"]["finished_at"] is None

    human = runner.invoke(app, ["status", "--dsn", world_dsn], catch_exceptions=False).output
    assert "Pipelines" in human and "never run" in human  # nurturing and KPIs have not run
    assert "as of 2026-11-15 02:00 UTC" in human
    assert f"{leads['scorable_then']:,}" in human and "created since" in human
    assert "first touch" in human and "accept" in human
    assert "{" not in human  # a table, not a dict


def test_sla_due_lists_what_is_due_now(world_dsn: str) -> None:
    runner = CliRunner()
    args = ["sla", "due", "--as-of", READ_AT, "--within", "4h", "--dsn", world_dsn]
    done = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    due = json.loads(done.output)["due"]
    until = datetime.fromisoformat(READ_AT) + timedelta(hours=4)
    with psycopg.connect(world_dsn) as conn:
        expected = conn.execute(
            """
            SELECT count(*) FILTER (WHERE status IN ('pending', 'at_risk', 'breached_open') AND due_at <= %(u)s)
                 + count(*) FILTER (WHERE accept_status IN ('pending', 'breached_open') AND accept_due_at <= %(u)s)
            FROM sla.followups
            """,
            {"u": until},
        ).fetchone()[0]
    assert len(due) == min(expected, 50) > 0
    moments = [datetime.fromisoformat(r["due_at"]) for r in due]
    assert moments == sorted(moments) and max(moments) <= until
    assert {r["clock"] for r in due} <= {"first_touch", "accept"}

    human = runner.invoke(app, args, catch_exceptions=False).output
    assert "overdue" in human or " in " in human
    assert str(due[0]["lead_id"]) in human and "Due by 2026-11-16 14:00 UTC" in human


def _console(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SMARKETING), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_sla_alert_without_smtp_says_once_which_connection_is_missing(world_dsn: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_SMTP")}
    done = _console("sla", "alert", "--as-of", READ_AT, "--dsn", world_dsn, env=env)
    assert done.returncode == 1, (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("smarketing: ")]
    assert len(errors) == 1, done.stderr
    assert "'smtp_default' is not defined" in errors[0] and "AIRFLOW_CONN_SMTP_DEFAULT" in errors[0]
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_extract_without_its_connection_names_it(clean_warehouse: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_SMARKETING_HUBSPOT")}
    done = _console("extract", "hubspot", "--object", "owners", "--dsn", clean_warehouse, env=env)
    assert done.returncode == 1
    assert "Airflow connection 'smarketing_hubspot' is not defined" in done.stdout + done.stderr


def test_the_cli_uses_the_airflow_home_of_make_airflow(tmp_path: Path) -> None:
    """Unset, AIRFLOW_HOME is the project's .local/airflow (scripts/airflow-env.sh); set, it is kept."""
    from smarketing.paths import LOCAL_DIR

    code = "import os; from smarketing.cli import _default_airflow_home as d; d(); print(os.environ['AIRFLOW_HOME'])"
    env = {k: v for k, v in os.environ.items() if k != "AIRFLOW_HOME"}
    unset = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert unset.stdout.strip() == str(LOCAL_DIR / "airflow")
    kept = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "AIRFLOW_HOME": str(tmp_path)},
    )
    assert kept.stdout.strip() == str(tmp_path)


def test_help_is_on_stdout_and_results_alone_on_stdout(world_dsn: str) -> None:
    """Help stays on stdout; a command's stdout is its result alone (Airflow's log lines go to stderr)."""
    group = _console("sla", env=dict(os.environ))
    assert "due" in group.stdout and "deadline" in group.stdout, group.stderr
    done = _console("sla", "evaluate", "--as-of", READ_AT, "--dsn", world_dsn, "--json", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["followups"]["as_of"].startswith("2026-11-16T10:00:00")
    assert "[smarketing.summary]" in done.stderr or "SLA clocks read at" in done.stderr
