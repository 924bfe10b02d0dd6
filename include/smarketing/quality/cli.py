"""`smarketing quality ...`: validate by hand, rebuild Data Docs, admit a rejected batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, print_json

quality_app = typer.Typer(
    help="Data-quality checks (Great Expectations): validate, Data Docs.", no_args_is_help=True
)


def _default_run_id() -> str:
    return f"manual__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"


@quality_app.command("validate")
def validate(
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id", help="Run id to record the validation under (rerunning one replaces its results)."
        ),
    ] = None,
    layer: Annotated[
        str, typer.Option("--layer", help="raw (new batches), core (core tables) or all.")
    ] = "raw",
    batch: Annotated[
        list[int] | None, typer.Option("--batch", help="Validate only these batches (repeatable).")
    ] = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate new raw batches (and held records) and/or the core tables; exit 3 when the gate fails."""
    from smarketing.quality.gate import QualityGateFailed
    from smarketing.quality.raw import validate_raw
    from smarketing.warehouse.connection import warehouse_dsn

    if layer not in ("raw", "core", "all"):
        raise typer.BadParameter("use raw, core or all", param_hint="--layer")
    target = dsn or warehouse_dsn()
    run = run_id or _default_run_id()
    reports = []
    try:
        if layer in ("raw", "all"):
            reports.append(validate_raw(target, run_id=run, batch_ids=batch or None))
        if layer in ("core", "all"):
            from smarketing.quality.core import validate_core

            reports.append(validate_core(target, run_id=run))
    except QualityGateFailed as exc:
        if as_json:
            print_json([exc.report.as_dict()])
        typer.echo(str(exc), err=True)
        raise typer.Exit(exc.exit_code) from None
    emit([r.as_dict() for r in reports], as_json, lambda: [r.summary for r in reports])


@quality_app.command("docs")
def docs_command(as_json: JsonOption = False) -> None:
    """Rebuild the Data Docs site from the stored validation results (pages work offline) and print
    where its index is."""
    from smarketing.quality.docs import rebuild
    from smarketing.quality.settings import load_settings

    url = rebuild(load_settings().data_docs)
    emit({"index": url}, as_json, url)


@quality_app.command("admit")
def admit(
    batch_id: Annotated[int, typer.Argument(help="Rejected batch to let through (dq.batch_verdicts).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded with the verdict).")],
    run_id: Annotated[str | None, typer.Option("--run-id")] = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Let a rejected batch through: its records that are not quarantined are landed again for core."""
    from smarketing.quality.quarantine import admit_batch
    from smarketing.warehouse.connection import connect, warehouse_dsn

    with connect(dsn or warehouse_dsn(), autocommit=True) as conn:
        try:
            count, new_batch = admit_batch(
                conn, batch_id=batch_id, run_id=run_id or _default_run_id(), reason=reason
            )
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
    data = {"admitted_batch": batch_id, "records": count, "landed_as_batch": new_batch}
    emit(data, as_json, f"batch {batch_id} admitted: {count:,} record(s) landed again as batch {new_batch}")
