"""The `smarketing` command line.

Commands import their modules lazily so that `smarketing --help` stays instant.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption

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


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, sort_keys=True))


# -- db -----------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(dsn: DsnOption = None) -> None:
    """Create the warehouse database if missing and apply every pending migration."""
    from smarketing.warehouse import migrate
    from smarketing.warehouse.connection import redact_dsn, warehouse_dsn

    target = dsn or warehouse_dsn()
    migrate.upgrade(target)
    typer.echo(f"warehouse {redact_dsn(target)} at revision {migrate.current_revision(target)}")


@db_app.command("ensure-server")
def db_ensure_server(dsn: DsnOption = None) -> None:
    """Make sure a PostgreSQL server answers at the DSN (start a throwaway local cluster if needed)."""
    from smarketing.warehouse.connection import warehouse_dsn
    from smarketing.warehouse.server import ensure_server

    typer.echo(ensure_server(dsn or warehouse_dsn()))


@db_app.command("current")
def db_current(dsn: DsnOption = None) -> None:
    """Print the applied and the latest migration revision."""
    from smarketing.warehouse import migrate

    typer.echo(f"applied: {migrate.current_revision(dsn)}  head: {migrate.head_revision()}")


# -- config -------------------------------------------------------------------------------------
@config_app.command("check")
def config_check(
    path: Annotated[
        Path | None, typer.Argument(help="Agreement file (default: config/smarketing.yaml).")
    ] = None,
) -> None:
    """Validate the agreement; print every problem with its key path. Exit 2 when there are any."""
    from smarketing.config import check_config
    from smarketing.paths import DEFAULT_CONFIG

    target = path or DEFAULT_CONFIG
    problems = check_config(target)
    if problems:
        for problem in problems:
            typer.echo(f"{target}: {problem}", err=True)
        typer.echo(f"{target}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(2)
    typer.echo(f"{target}: ok")


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
) -> None:
    """Land a file-export source into raw.* (a file already landed is skipped)."""
    from smarketing.sources.files import ingest_source
    from smarketing.warehouse.connection import warehouse_dsn

    _print_json(ingest_source(dsn or warehouse_dsn(), mapping, root=root, run_id="cli"))


@ingest_app.command("core")
def ingest_core(dsn: DsnOption = None) -> None:
    """Validate the newly landed raw batches (the quality gate), then fold what passed into core.*.

    A failed gate (exit 3) still records its verdicts: batches that passed are folded by the next run,
    rejected ones wait in dq.batch_verdicts (docs/quality.md).
    """
    from smarketing.config import load_config
    from smarketing.quality.raw import validate_raw
    from smarketing.warehouse.connection import warehouse_dsn
    from smarketing.warehouse.core_build import build_core

    target = dsn or warehouse_dsn()
    agreement = load_config()  # a broken agreement stops here (exit 2), before any batch is decided
    # A run id of its own: reusing one would re-decide the batches an earlier run decided.
    # A failed gate raises QualityGateFailed (exit 3), not the Airflow task's AirflowFailException.
    validation = validate_raw(target, run_id=f"cli-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}")
    core = build_core(target, agreement, validated_only=True)
    _print_json({"validation": validation.summary, "core": core})


# -- status -------------------------------------------------------------------------------------
@app.command("status")
def status(
    dsn: DsnOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """What the warehouse holds: rows per table (empty tables left out)."""
    from smarketing.warehouse.connection import redact_dsn, warehouse_dsn
    from smarketing.warehouse.status import highlights, table_counts

    target = dsn or warehouse_dsn()
    counts = {name: n for name, n in table_counts(target).items() if n}
    figures = highlights(target)
    if as_json:
        _print_json({"tables": counts, "highlights": figures})
        return
    typer.echo(f"warehouse {redact_dsn(target)}")
    width = max((len(name) for name in counts), default=10)
    for name, n in counts.items():
        typer.echo(f"  {name:<{width}}  {n:>12,}")
    typer.echo("highlights")
    for label, value in figures.items():
        typer.echo(f"  {label}: {value}")


def main() -> None:
    """Console entry point: a user-facing error becomes one line on stderr and its documented exit code
    (2: a broken agreement or input file, 3: the quality gate failed, 75: another run holds the lock)."""
    from smarketing.errors import SmarketingError

    try:
        app()
    except SmarketingError as exc:
        typer.echo(f"smarketing: {exc.one_line()}", err=True)
        raise SystemExit(exc.exit_code) from None


_register_capabilities()

if __name__ == "__main__":
    main()
