"""`smarketing quality ...` (the quality_app Typer group): validate, admit a rejected batch, Data Docs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from smarketing.quality.cli import quality_app
from smarketing.warehouse.connection import connect
from smarketing.warehouse.loading import land_batch

pytestmark = pytest.mark.integration


def _companies(employees: list[int]) -> pa.Table:
    payloads = [
        json.dumps({"name": f"Co {i}", "employees": n, "attributes": {}}) for i, n in enumerate(employees)
    ]
    return pa.table({"source_id": [f"c{i}" for i in range(len(employees))], "payload": payloads})


def test_validate_admit_and_docs(
    clean_warehouse: str, docs_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    dsn = clean_warehouse
    runner = CliRunner()
    with connect(dsn, autocommit=True) as conn:
        batch = land_batch(
            conn, source_system="crm", object="companies", origin="x", rows=[_companies([10, -1, 30])]
        )
    assert batch is not None

    failed = runner.invoke(quality_app, ["validate", "--run-id", "cli-1", "--dsn", dsn])

    assert failed.exit_code == 3, failed.output
    assert (
        f"raw.companies of crm, batch {batch.batch_id} rejected (3 record(s), 1 quarantined)" in failed.output
    )

    admitted = runner.invoke(
        quality_app, ["admit", str(batch.batch_id), "--reason", "checked with sales", "--dsn", dsn, "--json"]
    )

    assert admitted.exit_code == 0, admitted.output
    out = json.loads(admitted.output)
    assert out["admitted_batch"] == batch.batch_id and out["records"] == 2
    with psycopg.connect(dsn) as conn:
        verdicts = conn.execute("SELECT batch_id, verdict FROM dq.batch_verdicts ORDER BY 1").fetchall()
        relanded = conn.execute(
            "SELECT count(*) FROM raw.companies WHERE batch_id = %s", (out["landed_as_batch"],)
        ).fetchone()[0]
    assert verdicts == [(batch.batch_id, "admitted"), (out["landed_as_batch"], "passed")]
    assert relanded == 2
    again = runner.invoke(quality_app, ["admit", str(batch.batch_id), "--reason", "twice", "--dsn", dsn])
    assert again.exit_code == 2 and "is not a rejected batch" in again.output

    passed = runner.invoke(quality_app, ["validate", "--run-id", "cli-2", "--layer", "all", "--dsn", dsn])

    assert passed.exit_code == 0, passed.output
    assert "raw validation of run cli-2 passed" in passed.output
    assert "core validation of run cli-2 passed" in passed.output

    # Great Expectations' own INFO chatter stays out of the logs; its warnings would not.
    assert not [
        r for r in caplog.records if r.name.startswith("great_expectations") and r.levelno < logging.WARNING
    ]
    assert logging.getLogger("great_expectations.core").isEnabledFor(logging.WARNING)
    built = runner.invoke(quality_app, ["docs"])
    assert built.exit_code == 0 and built.output.strip() == (docs_dir / "index.html").as_uri()
    assert (docs_dir / "index.html").is_file()
