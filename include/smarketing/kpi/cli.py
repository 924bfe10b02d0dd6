"""`smarketing kpi ...`: build the KPI tables by hand, show their headlines; `smarketing report`: the review."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, table

kpi_app = typer.Typer(help="KPI tables for the monthly review (kpi.*).", no_args_is_help=True)


@kpi_app.command("build")
def build_command(
    full: Annotated[bool, typer.Option("--full", help="Rewrite every period of every table.")] = False,
    from_day: Annotated[
        datetime | None,
        typer.Option(
            "--from", formats=["%Y-%m-%d"], help="Also rewrite every month from this day's month on."
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Measure as of this moment (ISO 8601; default now).")
    ] = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild the KPI periods touched since the last build (every period with --full); prints what it wrote."""
    from smarketing.config import load_config
    from smarketing.kpi.build import build_kpis
    from smarketing.kpi.settings import settings_from_agreement
    from smarketing.warehouse.connection import warehouse_dsn

    start: date | None = from_day.date() if from_day else None
    summary = build_kpis(
        dsn or warehouse_dsn(), settings_from_agreement(load_config()), as_of=as_of, full=full, from_day=start
    )
    emit(summary, as_json, lambda: [_build_table(summary)])


def _build_table(summary: dict):
    from smarketing.tasklog import count, duration, moment

    return table(
        f"KPIs as of {moment(summary['as_of'])}, built in {duration(summary['seconds'])}",
        ("table", ">period ranges rewritten", ">rows written"),
        ((f"kpi.{n}", count(t["periods"]), count(t["rows"])) for n, t in summary["tables"].items()),
    )


@kpi_app.command("show")
def show_command(dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Print each KPI table's headline (its latest period)."""
    from smarketing.kpi.headlines import headlines
    from smarketing.warehouse.connection import connect

    with connect(dsn) as conn:
        lines = headlines(conn)
    rows = ((f"kpi.{name}", line) for name, line in lines.items())
    emit(lines, as_json, lambda: [table("KPI headlines (latest period)", ("table", "headline"), rows)])


def report_command(
    month: Annotated[
        datetime,
        typer.Option("--month", formats=["%Y-%m"], help="The month to review (YYYY-MM)."),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file to write (default: the report folder's review-YYYY-MM.html)."),
    ] = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Render the monthly review report (one self-contained HTML file) from the kpi tables; prints its path."""
    from smarketing.kpi.report import render_report
    from smarketing.warehouse.connection import warehouse_dsn

    result = render_report(dsn or warehouse_dsn(), month.date(), out)
    if result.empty_sections:
        typer.echo(f"sections without data: {', '.join(result.empty_sections)}", err=True)
    emit({"path": str(result.path), "empty_sections": list(result.empty_sections)}, as_json, str(result.path))
