"""Raw validation on the sandbox world: clean data pass untouched, injected defects are caught at the
right severity, fixed records are released, and rerunning a run changes nothing."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from smarketing.paths import CONFIG_DIR
from smarketing.quality.core import validate_core
from smarketing.quality.raw import validate_raw
from smarketing.quality.settings import QualitySettings, load_settings
from smarketing.sources.files import ingest_source
from smarketing.warehouse.connection import connect
from smarketing.warehouse.core_build import build_core
from smarketing.warehouse.loading import land_batch
from smarketing_sandbox.world import generate_world
from tests.integration.sandbox_support import WORLD_END

pytestmark = pytest.mark.integration

CRM = CONFIG_DIR / "sources" / "sandbox_crm.yaml"
MA = CONFIG_DIR / "sources" / "sandbox_ma.yaml"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quality") / "world"
    generate_world(out, contacts=800, seed=11, days=90, end=WORLD_END)
    return out


@pytest.fixture()
def exports(world: Path, tmp_path: Path) -> Path:
    """A private copy of the world's exports, to break."""
    return Path(shutil.copytree(world, tmp_path / "world"))


def settings(tmp_path: Path, **overlay: Any) -> QualitySettings:
    docs = {
        "data_docs": {"enabled": False, "dir": str(tmp_path / "docs"), "project_dir": str(tmp_path / "gx")}
    }
    return load_settings(CONFIG_DIR / "quality.yaml", docs, overlay)


def land(dsn: str, root: Path, run_id: str) -> None:
    ingest_source(dsn, CRM, root=root, run_id=run_id)
    ingest_source(dsn, MA, root=root, run_id=run_id)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def edit(path: Path, changes: dict[int, dict[str, str]], *, append: list[dict[str, str]] = ()) -> list[str]:
    """Change rows (by position) of a CSV export; returns the ids of the changed rows (first column)."""
    header, rows = read_csv(path)
    for index, values in changes.items():
        rows[index].update(values)
    write_csv(path, header, rows + list(append))
    return [rows[i][header[0]] for i in changes]


def results(dsn: str, run_id: str) -> dict[tuple[str, str, str], tuple[str, bool, int | None]]:
    """(suite, source, check) -> (severity, success, unexpected rows) of a run's new-batch validations."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT r.suite, r.source_system, r.check_id, r.severity, r.success, r.unexpected_count
            FROM dq.expectation_results r JOIN dq.validation_runs v USING (validation_run_id)
            WHERE v.run_id = %s AND v.layer = 'raw' AND r.scope LIKE 'batches%%'
            """,
            (run_id,),
        ).fetchall()
    return {(s, src, c): (sev, ok, n) for s, src, c, sev, ok, n in rows}


def quarantined(dsn: str, status: str = "held") -> dict[str, list[str]]:
    """'<table> <source id>' -> failed checks, for quarantined records in `status`."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name, source_id, failed_checks FROM dq.quarantine WHERE status = %s", (status,)
        ).fetchall()
    return {f"{t} {s}": list(c) for t, s, c in rows}


def failed(
    found: dict[tuple[str, str, str], tuple[str, bool, int | None]],
) -> dict[tuple[str, str, str], tuple[str, int | None]]:
    return {key: (sev, n) for key, (sev, ok, n) in found.items() if not ok}


def test_clean_world_passes_with_nothing_quarantined(
    clean_warehouse: str, world: Path, tmp_path: Path
) -> None:
    dsn = clean_warehouse
    land(dsn, world, "clean")
    report = validate_raw(dsn, run_id="clean", settings=settings(tmp_path))
    assert report.success and report.rows_quarantined == 0 and report.warnings == []
    assert report.rows_checked > 10_000
    found = results(dsn, "clean")
    assert failed(found) == {}
    assert {suite for suite, _, _ in found} == {"raw.batches"} | {
        f"raw.{o}"
        for o in (
            "owners",
            "companies",
            "leads",
            "marketing_events",
            "sales_activities",
            "deals",
            "lifecycle_history",
        )
    }
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM dq.quarantine").fetchone()[0] == 0
        verdicts = conn.execute("SELECT verdict, count(*) FROM dq.batch_verdicts GROUP BY 1").fetchall()
        assert verdicts == [("passed", 8)]
        run = conn.execute(
            "SELECT success, rows_checked, rows_quarantined, summary FROM dq.validation_runs WHERE run_id = 'clean'"
        ).fetchone()
        assert run[0] is True and run[1] == report.rows_checked and run[2] == 0
        assert run[3].startswith("raw validation of run clean passed")

    build_core(dsn, None)
    core = validate_core(dsn, run_id="clean", settings=settings(tmp_path))
    assert core.success and core.failures == []


def test_injected_defects_are_caught_at_the_right_severity(
    clean_warehouse: str, exports: Path, tmp_path: Path
) -> None:
    dsn = clean_warehouse
    activity = exports / "ma" / "activity.csv"
    null_leads = edit(activity, {i: {"lead_id": ""} for i in range(10, 15)})
    orphans = edit(activity, {i: {"lead_id": "999999"} for i in range(20, 26)})
    future = edit(activity, {i: {"timestamp": "2031-01-01T00:00:00Z"} for i in range(30, 34)})
    unknown = edit(activity, {i: {"type": "sms.sent"} for i in range(40, 43)})
    bad_emails = edit(
        exports / "crm" / "contacts.csv",
        {
            1: {"email": "not-an-email"},
            2: {"email": "jane.doe@"},
            3: {"email": "@example.com"},
            4: {"email": "a b@c.d"},
        },
    )
    _, engagements = read_csv(exports / "crm" / "engagements.csv")
    duplicate = engagements[5]["engagement_id"]
    unknown_owner = edit(
        exports / "crm" / "engagements.csv", {7: {"owner_id": "123"}}, append=[dict(engagements[5])]
    )
    negative = edit(exports / "crm" / "companies.csv", {3: {"numberofemployees": "-5"}})
    free_deal = edit(exports / "crm" / "deals.csv", {0: {"amount": "-100.00"}})
    # What points at a held record is checked too: how many leads the held company has and how many
    # stages the held leads went through follow the world's calendar, so they are counted in its exports.
    _, contacts = read_csv(exports / "crm" / "contacts.csv")
    company_leads = sum(row["associatedcompanyid"] in negative for row in contacts)
    _, stages = read_csv(exports / "crm" / "lifecycle_stage_history.csv")
    held_stages = sum(row["contact_id"] in bad_emails for row in stages)
    assert company_leads > 0 and held_stages >= len(bad_emails)  # every lead has its first stage
    land(dsn, exports, "r1")

    report = validate_raw(dsn, run_id="r1", settings=settings(tmp_path), raise_on_failure=False)

    assert failed(results(dsn, "r1")) == {
        ("raw.marketing_events", "sandbox_ma", "lead_source_id_present"): ("critical", 5),
        ("raw.marketing_events", "sandbox_ma", "lead_resolves"): ("critical", 6),
        ("raw.marketing_events", "sandbox_ma", "occurred_at_not_in_future"): ("critical", 4),
        ("raw.marketing_events", "sandbox_ma", "event_type_allowed"): ("critical", 3),
        ("raw.leads", "sandbox_crm", "email_well_formed"): ("critical", 4),
        ("raw.sales_activities", "sandbox_crm", "id_unique_in_batch"): ("critical", 2),
        ("raw.sales_activities", "sandbox_crm", "owner_resolves"): ("warning", 1),
        ("raw.companies", "sandbox_crm", "employees_not_negative"): ("critical", 1),
        ("raw.deals", "sandbox_crm", "amount_not_negative"): ("critical", 1),
        # what points at a held record is held too (or flagged), and released with it once it is fixed:
        ("raw.leads", "sandbox_crm", "company_resolves"): ("warning", company_leads),
        ("raw.lifecycle_history", "sandbox_crm", "lead_resolves"): ("critical", held_stages),
    }
    held = quarantined(dsn)
    expected = (
        {f"raw.marketing_events {i}": ["lead_source_id_present"] for i in null_leads}
        | {f"raw.marketing_events {i}": ["lead_resolves"] for i in orphans}
        | {f"raw.marketing_events {i}": ["occurred_at_not_in_future"] for i in future}
        | {f"raw.marketing_events {i}": ["event_type_allowed"] for i in unknown}
        | {f"raw.leads {i}": ["email_well_formed"] for i in bad_emails}
        | {f"raw.companies {i}": ["employees_not_negative"] for i in negative}
        | {f"raw.deals {i}": ["amount_not_negative"] for i in free_deal}
    )
    assert {
        k: v for k, v in held.items() if k.split()[0] not in ("raw.sales_activities", "raw.lifecycle_history")
    } == expected
    with psycopg.connect(dsn) as conn:
        stages_of = conn.execute(
            "SELECT DISTINCT payload->>'lead_source_id' FROM dq.quarantine WHERE table_name = 'raw.lifecycle_history'"
        ).fetchall()
        assert {lead for (lead,) in stages_of} == set(bad_emails)
        copies = conn.execute(
            "SELECT count(*), min(failed_checks[1]) FROM dq.quarantine WHERE table_name = 'raw.sales_activities'"
        ).fetchone()
        assert copies == (2, "id_unique_in_batch")  # both copies of the duplicated id
        assert conn.execute(
            "SELECT source_id FROM dq.quarantine WHERE table_name = 'raw.sales_activities'"
        ).fetchall() == [(duplicate,), (duplicate,)]
        # payloads are kept for the fix; the record's key is enough to find it in the source
        payload = conn.execute(
            "SELECT payload->>'lead_source_id' FROM dq.quarantine WHERE table_name = 'raw.marketing_events' AND source_id = %s",
            (orphans[0],),
        ).fetchone()[0]
        assert payload == "999999"
        verdicts = dict(
            conn.execute(
                "SELECT table_name, verdict FROM dq.batch_verdicts WHERE verdict = 'rejected'"
            ).fetchall()
        )

    # One deal of a handful is more than 5% of its batch: the batch is rejected and the gate fails.
    deals = len(read_csv(exports / "crm" / "deals.csv")[1])
    assert 1 / deals > 0.05
    assert verdicts == {"raw.deals": "rejected"}
    assert not report.success and len(report.failures) == 1
    assert report.failures[0].startswith("raw.deals of sandbox_crm, batch ")
    assert (
        f"1 of {deals} records quarantined ({1 / deals:.1%}), more than the 5% allowed" in report.failures[0]
    )
    assert "amount_not_negative 1" in report.failures[0]
    # the held records, both copies of the duplicated engagement, the held leads' stages
    assert report.rows_quarantined == len(expected) + 2 + held_stages
    touches = len(engagements) + 1
    assert any(
        f"owner_resolves [warning] failed for 1 of {touches} row(s)" in w
        and f"sandbox_crm:{unknown_owner[0]}" in w
        for w in report.warnings
    ), report.warnings
    assert "@" not in report.summary.replace("***@", "")  # no raw e-mail address in the message


def _events(n: int, *, bad: dict[int, str]) -> pa.Table:
    at = "2026-10-01T10:00:00+00:00"
    payloads = [
        json.dumps(
            {
                "lead_source_id": "L1",
                "event_type": "page_view",
                "occurred_at": bad.get(i, at),
                "attributes": {},
            }
        )
        for i in range(n)
    ]
    return pa.table({"source_id": [f"e{i}" for i in range(n)], "payload": payloads})


def test_unparseable_timestamps_from_an_api_source(clean_warehouse: str, tmp_path: Path) -> None:
    dsn = clean_warehouse
    with connect(dsn, autocommit=True) as conn:
        lead = pa.table(
            {"source_id": ["L1"], "payload": [json.dumps({"email": "ann@corp.example", "attributes": {}})]}
        )
        land_batch(conn, source_system="api", object="leads", origin="page 1", rows=[lead], run_id="t")
        bad = {
            3: "2026-02-30T10:00:00+00:00",
            5: "yesterday",
            7: "2026-10-01 10:00:00",
            9: "2026-10-01T25:00:00Z",
        }
        land_batch(
            conn,
            source_system="api",
            object="marketing_events",
            origin="page 1",
            rows=[_events(200, bad=bad)],
            run_id="t",
        )

    report = validate_raw(dsn, run_id="t", settings=settings(tmp_path))

    assert report.success and report.rows_quarantined == 4
    assert failed(results(dsn, "t")) == {
        ("raw.marketing_events", "api", "occurred_at_parseable"): ("critical", 4)
    }
    assert set(quarantined(dsn)) == {f"raw.marketing_events e{i}" for i in bad}


def test_an_empty_batch_is_a_warning_or_with_the_override_rejects_it(
    clean_warehouse: str, tmp_path: Path
) -> None:
    dsn = clean_warehouse
    with connect(dsn, autocommit=True) as conn:
        quiet = land_batch(
            conn, source_system="api", object="deals", origin="deals export 1", rows=[], run_id="e1"
        )
    assert quiet is not None and quiet.rows == 0

    report = validate_raw(dsn, run_id="e1", settings=settings(tmp_path))

    assert report.success and report.rejected_batches == []
    empty_warning, stale_warning = report.warnings
    assert empty_warning == (
        f"raw.batches (batches {quiet.batch_id}): batch_not_empty [warning] failed for 1 of 1 row(s) (100.0%)"
        f" — expected: a batch holds at least one record; e.g. batch {quiet.batch_id}"
    )
    # and a source that never delivered a record is as stale as can be
    assert stale_warning.startswith("raw.freshness (sources): source_fresh [warning]")
    assert stale_warning.endswith("e.g. api.deals")

    # A source that always delivers everything: an empty delivery is broken, and stops the run.
    with connect(dsn, autocommit=True) as conn:
        empty = land_batch(
            conn, source_system="api", object="deals", origin="deals export 2", rows=[], run_id="e2"
        )
    assert empty is not None
    strict = settings(tmp_path, severities={"raw.batches.batch_not_empty": "critical"})
    report = validate_raw(dsn, run_id="e2", settings=strict, raise_on_failure=False)

    assert not report.success and report.rejected_batches == [empty.batch_id]
    assert report.failures == [
        f"raw.deals of api, batch {empty.batch_id} rejected (0 record(s), 0 quarantined): "
        "batch_not_empty: a batch holds at least one record"
    ]
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT v.run_id, r.severity, r.success, r.unexpected_count, r.sample_keys
            FROM dq.expectation_results r JOIN dq.validation_runs v USING (validation_run_id)
            WHERE r.check_id = 'batch_not_empty' ORDER BY 1
            """
        ).fetchall()
        verdicts = conn.execute("SELECT batch_id, verdict FROM dq.batch_verdicts ORDER BY 1").fetchall()
    assert rows == [
        ("e1", "warning", False, 1, [f"batch {quiet.batch_id}"]),
        ("e2", "critical", False, 1, [f"batch {empty.batch_id}"]),
    ]
    assert verdicts == [(quiet.batch_id, "passed"), (empty.batch_id, "rejected")]


def test_volume_drop_and_stale_sources_are_warnings(clean_warehouse: str, tmp_path: Path) -> None:
    dsn = clean_warehouse
    with connect(dsn, autocommit=True) as conn:
        for run, n in (("h1", 100), ("h2", 120), ("h3", 90), ("h4", 10)):
            land_batch(
                conn,
                source_system="api",
                object="marketing_events",
                origin=run,
                rows=[_events(n, bad={})],
                run_id=run,
            )
        lead = pa.table(
            {"source_id": ["L1"], "payload": [json.dumps({"email": "ann@corp.example", "attributes": {}})]}
        )
        land_batch(conn, source_system="api", object="leads", origin="old", rows=[lead], run_id="h0")
        conn.execute(
            "UPDATE ops.load_batches SET loaded_at = now() - interval '3 days' WHERE object = 'leads'"
        )

    report = validate_raw(
        dsn, run_id="h4", settings=settings(tmp_path, freshness={"sources": {"api.leads": "2d"}})
    )

    assert report.success
    found = failed(results(dsn, "h4"))
    assert found[("raw.batches", "", "batch_volume_usual")] == ("warning", 1)  # only the 10-row delivery
    volume = next(w for w in report.warnings if "batch_volume_usual" in w)
    assert "failed for 1 of 5 row(s)" in volume
    stale = next(w for w in report.warnings if "source_fresh" in w)
    assert "e.g. api.leads" in stale and "api.marketing_events" not in stale


def test_fixed_records_are_released_and_reach_core(
    clean_warehouse: str, exports: Path, tmp_path: Path
) -> None:
    dsn = clean_warehouse
    activity = exports / "ma" / "activity.csv"
    orphans = edit(activity, {i: {"lead_id": "999999"} for i in range(20, 26)})
    future = edit(activity, {i: {"timestamp": "2031-01-01T00:00:00Z"} for i in range(30, 34)})
    land(dsn, exports, "r1")
    assert validate_raw(dsn, run_id="r1", settings=settings(tmp_path)).rows_quarantined == 10
    build_core(dsn, None)
    held_ids = {f"sandbox_ma:{i}" for i in orphans + future}
    with psycopg.connect(dsn) as conn:
        in_core = conn.execute(
            "SELECT event_id FROM core.marketing_events WHERE event_id = ANY(%s)", (list(held_ids),)
        )
        assert in_core.fetchall() == []

    # At the source, first the lead the orphans point to appears: rechecked, they pass and are re-landed.
    header, contacts = read_csv(exports / "ma" / "contacts.csv")
    write_csv(
        exports / "ma" / "contacts.csv",
        header,
        [*contacts, dict(contacts[0], id="999999", email="late.lead@corp.example")],
    )
    land(dsn, exports, "r2")
    report = validate_raw(dsn, run_id="r2", settings=settings(tmp_path))
    assert report.success and report.rows_quarantined == 0 and report.rows_released == 6

    # Then the future timestamps are corrected and the file delivered again: the new versions replace them.
    edit(activity, {i: {"timestamp": "2026-10-01T10:00:00Z"} for i in range(30, 34)})
    land(dsn, exports, "r3")
    report = validate_raw(dsn, run_id="r3", settings=settings(tmp_path))
    assert report.success and report.rows_quarantined == 0 and report.rows_released == 4

    with psycopg.connect(dsn) as conn:
        released = conn.execute(
            """
            SELECT released_run_id, release_reason, count(*), count(DISTINCT released_batch_id)
            FROM dq.quarantine WHERE status = 'released' GROUP BY 1, 2 ORDER BY 1
            """
        ).fetchall()
        relanded = conn.execute(
            "SELECT origin, row_count FROM ops.load_batches WHERE origin LIKE 'dq-release:%'"
        ).fetchall()
    assert released == [("r2", "fixed", 6, 1), ("r3", "superseded", 4, 1)]
    assert relanded == [("dq-release:r2", 6)]
    assert quarantined(dsn) == {}
    build_core(dsn, None)
    with psycopg.connect(dsn) as conn:
        in_core = conn.execute(
            "SELECT count(*) FROM core.marketing_events WHERE event_id = ANY(%s)", (list(held_ids),)
        ).fetchone()[0]
    assert in_core == 10


def test_rerunning_a_run_duplicates_nothing(clean_warehouse: str, exports: Path, tmp_path: Path) -> None:
    dsn = clean_warehouse
    edit(exports / "ma" / "activity.csv", {i: {"lead_id": "999999"} for i in range(20, 26)})
    land(dsn, exports, "r1")

    def state() -> dict[str, Any]:
        with psycopg.connect(dsn) as conn:
            return {
                "runs": conn.execute(
                    "SELECT run_id, layer, success, rows_checked, rows_quarantined FROM dq.validation_runs ORDER BY 1, 2"
                ).fetchall(),
                "results": conn.execute(
                    "SELECT suite, source_system, scope, check_id, success, unexpected_count FROM dq.expectation_results ORDER BY 1, 2, 3, 4"
                ).fetchall(),
                "quarantine": conn.execute(
                    "SELECT table_name, batch_id, record_no, failed_checks, status FROM dq.quarantine ORDER BY 1, 2, 3"
                ).fetchall(),
                "verdicts": conn.execute(
                    "SELECT batch_id, verdict, quarantined_rows FROM dq.batch_verdicts ORDER BY 1"
                ).fetchall(),
                "batches": conn.execute("SELECT count(*) FROM ops.load_batches").fetchone(),
            }

    validate_raw(dsn, run_id="r1", settings=settings(tmp_path))
    first = state()
    validate_raw(dsn, run_id="r1", settings=settings(tmp_path))
    assert state() == first
    assert len(first["quarantine"]) == 6 and len(first["runs"]) == 1
