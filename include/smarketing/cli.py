"""The `smarketing` command line.

Commands import their modules lazily so that `smarketing --help` stays instant.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, print_json, show, table

app = typer.Typer(
    help="The sales-marketing agreement as scheduled, tested pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The warehouse: create, migrate, inspect.", no_args_is_help=True)
config_app = typer.Typer(help="The agreement file (config/smarketing.yaml).", no_args_is_help=True)
ingest_app = typer.Typer(help="Land source data and build the core model.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(ingest_app, name="ingest")


def _register_capabilities() -> None:
    """Each capability keeps its commands next to its code; this is where they join the tree."""
    from smarketing.erasure.cli import privacy_app
    from smarketing.kpi.cli import kpi_app, report_command
    from smarketing.nurture.cli import nurture_app
    from smarketing.quality.cli import quality_app
    from smarketing.scoring.cli import backtest_command, calibrate_command, score_app, score_file_command
    from smarketing.sla.cli import sla_app
    from smarketing.sources.cli import extract_app

    app.add_typer(extract_app, name="extract")
    app.add_typer(quality_app, name="quality")
    app.add_typer(score_app, name="score")
    app.add_typer(sla_app, name="sla")
    app.add_typer(kpi_app, name="kpi")
    app.add_typer(nurture_app, name="nurture")
    app.add_typer(privacy_app, name="privacy")
    app.command("calibrate")(calibrate_command)
    app.command("score-file")(score_file_command)
    app.command("backtest")(backtest_command)
    app.command("report")(report_command)


# -- db -----------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Create the warehouse database if missing and apply every pending migration."""
    from smarketing.warehouse import migrate
    from smarketing.warehouse.connection import redact_dsn, warehouse_dsn

    target = dsn or warehouse_dsn()
    migrate.upgrade(target)
    data = {"warehouse": redact_dsn(target), "revision": migrate.current_revision(target)}
    emit(data, as_json, f"warehouse {data['warehouse']} at revision {data['revision']}")


@db_app.command("ensure-server")
def db_ensure_server(dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Make sure a PostgreSQL server answers at the DSN (start a throwaway local cluster if needed)."""
    from smarketing.warehouse.connection import warehouse_dsn
    from smarketing.warehouse.server import ensure_server

    answer = ensure_server(dsn or warehouse_dsn())
    emit({"server": answer}, as_json, str(answer))


@db_app.command("current")
def db_current(dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Print the applied and the latest migration revision."""
    from smarketing.warehouse import migrate

    data = {"applied": migrate.current_revision(dsn), "head": migrate.head_revision()}
    emit(data, as_json, f"applied: {data['applied']}  head: {data['head']}")


# -- config -------------------------------------------------------------------------------------
@config_app.command("check")
def config_check(
    path: Annotated[
        Path | None, typer.Argument(help="Agreement file (default: config/smarketing.yaml).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate the agreement; print every problem with its key path. Exit 2 when there are any."""
    from smarketing.config import check_config
    from smarketing.paths import DEFAULT_CONFIG

    target = path or DEFAULT_CONFIG
    problems = check_config(target)
    if as_json:
        print_json({"file": str(target), "problems": [str(p) for p in problems], "ok": not problems})
        if problems:
            raise typer.Exit(2)
        return
    if problems:
        for problem in problems:
            typer.echo(f"{target}: {problem}", err=True)
        typer.echo(f"{target}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(2)
    show(f"{target}: ok")


# -- ingest -------------------------------------------------------------------------------------
@ingest_app.command("files")
def ingest_files(
    mapping: Annotated[
        Path, typer.Argument(help="Source mapping YAML (e.g. config/sources/sandbox_crm.yaml).")
    ],
    root: Annotated[
        Path | None, typer.Option("--root", help="Directory the mapping's paths are relative to.")
    ] = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Land a file-export source into raw.* (a file already landed is skipped)."""
    from smarketing.sources.files import ingest_source
    from smarketing.tasklog import count
    from smarketing.warehouse.connection import warehouse_dsn

    landed = ingest_source(dsn or warehouse_dsn(), mapping, root=root, run_id="cli")
    rows = ((name, count(n)) for name, n in landed.items())
    emit(landed, as_json, lambda: [table(f"Landed from {mapping} (new rows)", ("object", ">rows"), rows)])


@ingest_app.command("core")
def ingest_core(dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Validate the newly landed raw batches (the quality gate), then fold what passed into core.*.

    A failed gate (exit 3) still records its verdicts: batches that passed are folded by the next run,
    rejected ones wait in dq.batch_verdicts (docs/quality.md).
    """
    from smarketing.config import load_config
    from smarketing.quality.raw import validate_raw
    from smarketing.tasklog import count
    from smarketing.warehouse.connection import warehouse_dsn
    from smarketing.warehouse.core_build import build_core

    target = dsn or warehouse_dsn()
    agreement = load_config()  # a broken agreement stops here (exit 2), before any batch is decided
    # A run id of its own: reusing one would re-decide the batches an earlier run decided.
    # A failed gate raises QualityGateFailed (exit 3), not the Airflow task's AirflowFailException.
    validation = validate_raw(target, run_id=f"cli-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}")
    core = build_core(target, agreement, validated_only=True)
    rows = ((name, count(n)) for name, n in core.items())
    lines = [validation.summary, table("Core build (rows touched)", ("table", ">rows"), rows)]
    emit({"validation": validation.summary, "core": core}, as_json, lambda: lines)


# -- status -------------------------------------------------------------------------------------
@app.command("status")
def status(dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Each pipeline's last run, the moment it covered and its freshness; lead and SLA counts with what
    reconciles them; rows per table (empty tables left out)."""
    from smarketing.warehouse.connection import redact_dsn, warehouse_dsn
    from smarketing.warehouse.freshness import pipeline_status
    from smarketing.warehouse.status import highlights, lead_counts, sla_counts, table_counts

    target = dsn or warehouse_dsn()
    now = datetime.now(UTC)
    data = {
        "warehouse": redact_dsn(target),
        "checked_at": now,
        "pipelines": pipeline_status(target, now),
        "leads": lead_counts(target),
        "sla": sla_counts(target),
        "tables": {name: n for name, n in table_counts(target).items() if n},
        "highlights": highlights(target),
    }
    emit(data, as_json, lambda: _status_lines(data, now))


def _status_lines(data: dict, now: datetime) -> list:
    from smarketing.cli_output import key_values, table
    from smarketing.tasklog import age, count, moment

    pipelines = table(
        "Pipelines (from the warehouse's run records)",
        ("pipeline", "DAG", "last run", "as of", "finished", "fresh", "detail"),
        (
            (
                p["name"],
                p["dag_id"],
                p["run_id"] or "",
                moment(p["as_of"]),
                age(p["finished_at"], now),
                ("yes" if p["fresh"] else "NO") + f" ({p['schedule']})" if p["finished_at"] else "never run",
                p["detail"] or "",
            )
            for p in data["pipelines"]
        ),
    )
    out = [f"warehouse {data['warehouse']}, checked {moment(now)}", pipelines, _lead_table(data["leads"])]
    if data["sla"]:
        out.append(_sla_table(data["sla"]))
    out.append(
        table("Rows per table", ("table", ">rows"), ((k, count(n)) for k, n in data["tables"].items()))
    )
    out.append(key_values("Highlights", data["highlights"].items()))
    return out


def _lead_table(leads: dict):
    from smarketing.cli_output import key_values
    from smarketing.tasklog import count, moment

    rows = [
        ("core.leads rows", count(leads["core_leads"])),
        ("  deleted in the source (kept, left out downstream)", count(leads["deleted"])),
        ("  active", count(leads["active"])),
    ]
    if leads["scored_as_of"] is not None:
        rows += [
            (
                f"scorable at the last scoring run (as of {moment(leads['scored_as_of'])}): "
                "created by then, not deleted by then",
                count(leads["scorable_then"]),
            ),
            ("  + active leads created since (scored by the next run)", count(leads["created_since"])),
            ("  - scorable then, deleted since", count(leads["deleted_since"])),
        ]
    rows.append(
        ("scored (scoring.lead_scores)", count(leads["scored"]) if leads["scored"] is not None else "-")
    )
    return key_values("Leads", rows)


def _sla_table(sla: dict):
    from smarketing.cli_output import table
    from smarketing.tasklog import count, moment

    states = sorted(set(sla["first_touch_clock"]) | set(sla["accept_clock"]))
    clocks = (
        ("first touch", sla["first_touch_clock"], sla["open_breaches"]["first_touch"]),
        ("accept", sla["accept_clock"], sla["open_breaches"]["accept"]),
    )
    return table(
        f"SLA follow-ups: {count(sla['followups'])}, clocks read at {moment(sla['evaluated_at'])} "
        "(open breaches = breached_open on the same clock)",
        ("clock", *(f">{s}" for s in states), ">open breaches"),
        ((name, *(count(c.get(s, 0)) for s in states), count(open_)) for name, c, open_ in clocks),
    )


def main() -> None:
    """Console entry point: a user-facing error becomes one line on stderr and its documented exit code
    (2: a broken agreement or input file, 3: the quality gate failed, 75: another run holds the lock)."""
    from smarketing.cli_output import results_on_stdout
    from smarketing.errors import SmarketingError

    _default_airflow_home()
    try:
        if _runs_a_command(sys.argv[1:]):
            with results_on_stdout():
                app()
        else:
            app()  # help: click prints it on stdout itself
    except SmarketingError as exc:
        typer.echo(f"smarketing: {exc.one_line()}", err=True)
        raise SystemExit(exc.exit_code) from None


def _runs_a_command(args: list[str]) -> bool:
    """Whether `args` name a command to run (not --help, not a bare group, which print help)."""
    if any(a in ("--help", "-h") for a in args):
        return False
    command = typer.main.get_command(app)
    for word in (a for a in args if not a.startswith("-")):
        commands = getattr(command, "commands", None)
        if not commands or word not in commands:
            break
        command = commands[word]
    return not hasattr(command, "commands")


def _default_airflow_home() -> None:
    """The Airflow home `make airflow` uses (`.local/airflow`, scripts/airflow-env.sh) when AIRFLOW_HOME
    is not set, so a connection or Variable added in that Airflow's UI is the one the CLI sees."""
    import os

    from smarketing.paths import LOCAL_DIR

    os.environ.setdefault("AIRFLOW_HOME", str(LOCAL_DIR / "airflow"))


_register_capabilities()

if __name__ == "__main__":
    main()
