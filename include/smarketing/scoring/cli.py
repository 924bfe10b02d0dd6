"""Scoring commands of the `smarketing` command line.

`smarketing.cli` wires them: `score_app` as the `score` group (`smarketing score run`), and
`calibrate_command`, `score_file_command`, `backtest_command` as top-level commands. Heavy modules are
imported inside the commands so that `smarketing --help` stays instant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from smarketing.cli_options import DsnOption
from smarketing.cli_output import JsonOption, emit, print_json, show, table

score_app = typer.Typer(help="Lead scoring: run it against the warehouse.", no_args_is_help=True)


def _moment(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _model(config: Path | None):
    from smarketing.scoring.candidates import load_candidate
    from smarketing.scoring.model import load_model

    return load_candidate(config) if config else load_model()


@score_app.command("run")
def run_command(
    full: Annotated[bool, typer.Option("--full", help="Rescore every lead from its whole history.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score as of this moment (ISO 8601, UTC if no offset); default now."),
    ] = None,
    shards: Annotated[
        int, typer.Option("--shards", min=1, max=64, help="Lead-id shards, scored one after another.")
    ] = 1,
    config: Annotated[
        Path | None, typer.Option("--config", help="Scoring model file (default: the agreement).")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Run id (default: cli__<as-of>).")] = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score every lead (incremental unless the model changed or --full), write scores and MQL crossings.

    Exits with 75 (nothing written) when another scoring run is in progress.
    """
    from smarketing.scoring.runner import run_scoring
    from smarketing.warehouse.connection import warehouse_dsn

    moment = _moment(as_of)
    result = run_scoring(
        dsn or warehouse_dsn(),
        _model(config),
        run_id=run_id or f"cli__{moment.isoformat()}",
        as_of=moment,
        full=full,
        shard_count=shards,
    )
    emit(result, as_json, lambda: [_run_table(result)])


def _run_table(result: dict):
    from smarketing.tasklog import count, duration, moment

    return table(
        f"Scoring run {result['run_id']} as of {moment(result['as_of'])} ({result['mode']}): "
        f"{count(result['leads'], 'lead')} with a score, {count(result['mqls'], 'MQL')} "
        f"({count(result['new_mqls'])} new), {count(result['accounts'], 'account')}",
        ("shard", ">leads", ">incremental", ">MQLs", ">new MQLs", ">new events", ">time"),
        (
            (
                n + 1,
                count(s["leads"]),
                count(s["incremental_leads"]),
                count(s.get("mqls", 0)),
                count(s.get("new_mqls", 0)),
                count(s.get("new_events", 0)),
                duration(sum(v for v in s.get("seconds", {}).values() if isinstance(v, int | float))),
            )
            for n, s in enumerate(result["shards"])
        ),
    )


def calibrate_command(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where to write scoring.yaml, report.json, report.md.")
    ],
    input_file: Annotated[
        Path | None, typer.Option("--input", help="CSV export of leads with a known outcome.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Column identifying each lead.")
    ] = None,
    outcome: Annotated[
        str,
        typer.Option(
            "--outcome", help="Outcome column: 1/0, true/false, yes/no, won/lost; others are ignored."
        ),
    ] = "won",
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Column to leave out (repeatable), e.g. dates, amounts."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train / held-out split.")] = 7,
    from_warehouse: Annotated[
        bool,
        typer.Option(
            "--from-warehouse",
            help="Calibrate on warehouse leads (outcome = a won deal): fit points, and engagement points, "
            "caps and half-life from the events before each lead's hand-over to sales.",
        ),
    ] = False,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Propose integer fit points from outcomes; report AUC and lift by decile on a held-out split."""
    import pandas as pd

    from smarketing.scoring.calibrate import CalibrationError, calibrate, write_outputs

    if from_warehouse == (input_file is not None):
        raise CalibrationError("give either --input FILE.csv or --from-warehouse")
    if from_warehouse:
        from smarketing.scoring.calibrate.warehouse import calibrate_from_warehouse
        from smarketing.warehouse.connection import redact_dsn, warehouse_dsn

        target = dsn or warehouse_dsn()
        result = calibrate_from_warehouse(target, seed=seed)
        source = f"the warehouse at {redact_dsn(target)}"
    else:
        assert input_file is not None
        frame = pd.read_csv(input_file, dtype="string", keep_default_na=False, na_values=[""])
        result = calibrate(frame, id_column=id_column, outcome=outcome, exclude=exclude or (), seed=seed)
        source = str(input_file)
    files = write_outputs(result, out_dir, source=source)
    report = result.report
    reference = report.get("reference_model", {}).get("auc")
    headline = (
        f"held-out AUC: integer points {report['integer_points']['auc']}, unrounded model "
        f"{report['unrounded_model']['auc']}, gradient-boosting reference {reference} "
        f"({report['rows_with_outcome']} leads, base rate {report['base_rate']:.1%}, {len(result.rules)} rules)"
    )
    lines = [headline]
    if "engagement" in report:
        e = report["engagement"]
        lines.append(
            f"engagement: half-life {e.get('half_life_days')} days; held-out AUC fit alone "
            f"{e.get('auc_fit_only')}, fit + engagement {e.get('auc_fit_and_engagement')}, "
            f"reference {e.get('auc_reference')}"
        )
    data = {"report": report, "files": {k: str(v) for k, v in files.items()}}
    emit(data, as_json, lambda: [*lines, *(f"wrote {path}" for path in files.values())])


def score_file_command(
    config: Annotated[
        Path, typer.Option("--config", help="Scoring model: an agreement or a scoring: section.")
    ],
    input_file: Annotated[
        Path, typer.Option("--input", help="CSV of leads: an id column and attribute columns.")
    ],
    id_column: Annotated[str, typer.Option("--id-column", help="Column identifying each lead.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write.")],
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", help="CSV of events: the id column, event_type, occurred_at[, content_topic, ...]."
        ),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Fade engagement to this moment (default now).")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=20, help="Reasons listed per lead.")] = 3,
    as_json: JsonOption = False,
) -> None:
    """Score leads from a file: id, fit, engagement, score, grade, MQL and the top reasons."""
    from smarketing.scoring.candidates import load_candidate
    from smarketing.scoring.scorefile import score_file

    stats = score_file(
        load_candidate(config),
        input_file,
        id_column=id_column,
        out_path=out,
        events_path=events,
        as_of=_moment(as_of) if as_of else None,
        top=top,
    )
    emit(
        stats | {"out": str(out)},
        as_json,
        f"scored {stats['leads']:,} leads ({stats['mqls']:,} MQL) into {out}",
    )


def backtest_command(
    config: Annotated[
        Path, typer.Option("--config", help="Candidate scoring model (agreement or scoring: section).")
    ],
    start: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day replayed (UTC).")
    ],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day replayed (UTC).")],
    as_json: JsonOption = False,
    dsn: DsnOption = None,
) -> None:
    """Replay history under a candidate model next to the active one: MQLs per month and their conversion."""
    from smarketing.scoring.backtest import backtest
    from smarketing.scoring.candidates import load_candidate
    from smarketing.scoring.model import load_model
    from smarketing.warehouse.connection import warehouse_dsn

    report = backtest(
        dsn or warehouse_dsn(),
        load_candidate(config),
        load_model(),
        date.fromordinal(start.toordinal()),
        date.fromordinal(end.toordinal()),
    )
    if as_json:
        print_json(report.to_dict(orient="records"))
        return
    show(backtest_table(report))


def _rate(value: float) -> str:
    return "" if value != value else f"{value:.1%}"  # NaN (no MQL that month) prints blank


def backtest_table(report):
    """Per month, the candidate's and the active model's MQLs and what became of them: how many reached
    a sales stage (MQL→SQL) and how many won a deal (MQL→won), counts and rates side by side."""
    from smarketing.tasklog import count

    versions = report.drop_duplicates("model").set_index("model")["model_version"]
    by_model = {name: rows.set_index("month") for name, rows in report.groupby("model")}
    columns = ["month"]
    for name in ("candidate", "active"):
        columns += [f">{name} MQLs", ">→ SQL", ">MQL→SQL", ">→ won", ">MQL→won"]
    rows = []
    for month in by_model["candidate"].index:
        row = [month]
        for name in ("candidate", "active"):
            r = by_model[name].loc[month]
            row += [count(r["mqls"]), count(r["to_sql"]), _rate(r["sql_rate"])]
            row += [count(r["converted"]), _rate(r["conversion_rate"])]
        rows.append(row)
    title = f"Backtest: candidate {versions['candidate']} against active {versions['active']}"
    return table(title, columns, rows)
