"""Property: whatever records are broken, validation quarantines exactly those, and rerunning the same
run changes nothing (results, quarantine, verdicts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.paths import CONFIG_DIR
from smarketing.quality.raw import validate_raw
from smarketing.quality.settings import load_settings
from smarketing.warehouse.connection import connect
from smarketing.warehouse.loading import land_batch

pytestmark = pytest.mark.integration

EVENTS = 60
DEFECTS = {
    "orphan": ("lead_source_id", "nobody", "lead_resolves"),
    "future": ("occurred_at", "2031-01-01T00:00:00+00:00", "occurred_at_not_in_future"),
    "garbled": ("occurred_at", "last tuesday", "occurred_at_parseable"),
    "unknown_type": ("event_type", "fax_sent", "event_type_allowed"),
}


def _events(defects: dict[int, str]) -> pa.Table:
    payloads = []
    for i in range(EVENTS):
        record = {
            "lead_source_id": "L1",
            "event_type": "page_view",
            "occurred_at": "2026-10-01T10:00:00+00:00",
        }
        if i in defects:
            field, value, _ = DEFECTS[defects[i]]
            record[field] = value
        payloads.append(json.dumps({**record, "attributes": {}}))
    return pa.table({"source_id": [f"e{i}" for i in range(EVENTS)], "payload": payloads})


def _state(dsn: str) -> dict[str, Any]:
    with psycopg.connect(dsn) as conn:
        return {
            "runs": conn.execute(
                "SELECT run_id, layer, success, rows_checked, rows_quarantined, summary FROM dq.validation_runs"
            ).fetchall(),
            "results": conn.execute(
                "SELECT suite, source_system, scope, check_id, success, unexpected_count, sample_keys"
                " FROM dq.expectation_results ORDER BY 1, 2, 3, 4"
            ).fetchall(),
            "quarantine": conn.execute(
                "SELECT source_id, failed_checks, status FROM dq.quarantine ORDER BY 1"
            ).fetchall(),
            "verdicts": conn.execute(
                "SELECT batch_id, verdict, quarantined_rows FROM dq.batch_verdicts"
            ).fetchall(),
        }


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(defects=st.dictionaries(st.integers(0, EVENTS - 1), st.sampled_from(sorted(DEFECTS)), max_size=2))
def test_exactly_the_broken_records_are_held_and_a_rerun_changes_nothing(
    clean_warehouse: str, tmp_path: Path, defects: dict[int, str]
) -> None:
    dsn = clean_warehouse
    with psycopg.connect(dsn, autocommit=True) as conn:  # hypothesis reuses the fixture: start empty
        conn.execute("TRUNCATE raw.leads, raw.marketing_events, ops.load_batches, dq.validation_runs CASCADE")
        conn.execute("TRUNCATE dq.quarantine, dq.batch_verdicts")
    with connect(dsn, autocommit=True) as conn:
        lead = pa.table(
            {"source_id": ["L1"], "payload": [json.dumps({"email": "ann@corp.example", "attributes": {}})]}
        )
        land_batch(conn, source_system="api", object="leads", origin="p1", rows=[lead], run_id="p")
        land_batch(
            conn,
            source_system="api",
            object="marketing_events",
            origin="p1",
            rows=[_events(defects)],
            run_id="p",
        )
    rules = load_settings(
        CONFIG_DIR / "quality.yaml",
        {"data_docs": {"enabled": False, "dir": str(tmp_path / "docs"), "project_dir": str(tmp_path / "gx")}},
    )

    validate_raw(dsn, run_id="p", settings=rules)
    first = _state(dsn)
    validate_raw(dsn, run_id="p", settings=rules)

    assert _state(dsn) == first
    expected = sorted((f"e{i}", [DEFECTS[kind][2]], "held") for i, kind in defects.items())
    assert first["quarantine"] == expected
    assert len(first["runs"]) == 1
