"""Held records of several source systems, rechecked run after run (issue 10.1).

Two sources whose leads batches were rejected leave quarantined records that a recheck does not
stage (records of a rejected batch wait for the batch to be admitted): every later validation must
still finish, and a healthy third source must get its verdict and reach core.
"""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from smarketing.cli import app
from smarketing.quality.gate import QualityGateFailed

pytestmark = pytest.mark.integration


def _leads_source(root: Path, source_system: str, *, future: int) -> Path:
    """A leads CSV of 100 rows (`future` of them created in 2031) and its mapping; returns the mapping."""
    folder = root / source_system
    folder.mkdir(parents=True)
    with (folder / "leads.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email", "created"])
        for i in range(100):
            created = "2031-01-01T00:00:00Z" if i < future else "2026-10-01T09:00:00Z"
            writer.writerow([f"{source_system}-{i}", f"lead{i}@{source_system}.example.com", created])
    mapping = folder / "mapping.yaml"
    mapping.write_text(
        f"source_system: {source_system}\nfiles:\n"
        "  - {object: leads, path: leads.csv, id: id, columns: {email: email, created_at: created}}\n",
        encoding="utf-8",
    )
    return mapping


def _ingest(runner: CliRunner, mapping: Path, dsn: str) -> None:
    landed = runner.invoke(app, ["ingest", "files", str(mapping), "--dsn", dsn])
    assert landed.exit_code == 0, landed.output


def test_rechecks_of_rejected_batches_from_two_sources_do_not_stop_later_validations(
    clean_warehouse: str, tmp_path: Path
) -> None:
    dsn = clean_warehouse
    runner = CliRunner()
    for source in ("first_crm", "second_crm"):
        _ingest(runner, _leads_source(tmp_path, source, future=10), dsn)

    rejected = runner.invoke(app, ["ingest", "core", "--dsn", dsn])
    # 10% quarantined is more than the 5% a batch may hold: both batches are rejected, the gate fails
    # (`smarketing` turns QualityGateFailed into one line and exit code 3).
    assert isinstance(rejected.exception, QualityGateFailed), repr(rejected.exception)
    assert "batch 1 rejected" in str(rejected.exception) and "batch 2 rejected" in str(rejected.exception)

    # Nothing new: the held records of both sources are looked at again and the run passes.
    again = runner.invoke(app, ["ingest", "core", "--dsn", dsn])
    assert again.exit_code == 0, repr(again.exception)

    _ingest(runner, _leads_source(tmp_path, "third_crm", future=0), dsn)
    third = runner.invoke(app, ["ingest", "core", "--dsn", dsn])
    assert third.exit_code == 0, repr(third.exception)

    with psycopg.connect(dsn) as conn:
        verdicts = conn.execute(
            "SELECT source_system, verdict, quarantined_rows FROM dq.batch_verdicts ORDER BY 1"
        ).fetchall()
        in_core = conn.execute(
            "SELECT source_system, count(*) FROM core.lead_sources GROUP BY 1 ORDER BY 1"
        ).fetchall()
        held = conn.execute("SELECT count(*) FROM dq.quarantine WHERE status = 'held'").fetchone()
        stages = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'dq_stage'").fetchone()
    assert verdicts == [
        ("first_crm", "rejected", 10),
        ("second_crm", "rejected", 10),
        ("third_crm", "passed", 0),
    ]
    assert in_core == [("third_crm", 100)]
    assert held == (20,)
    assert stages == (0,)  # every staged table of every run is gone
