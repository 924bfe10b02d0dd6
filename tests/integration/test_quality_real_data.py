"""Validation of real exports: the quirks a data engineer knows about are found, and named precisely.

Maven CRM (examples/maven_crm): product 'GTXPro' does not join the catalogue's 'GTX Pro' (critical:
1,480 deals quarantined, the batch rejected), sector 'technolgy' (warning), 1,425 opportunities with no
account (warning). Olist (examples/olist): 60 MQLs without origin and 16 multi-valued behaviour
profiles (warnings), one deal won two days before its lead's first contact (core warning).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import psycopg
import pytest

from smarketing.paths import CONFIG_DIR, PROJECT_ROOT
from smarketing.quality.core import validate_core
from smarketing.quality.gate import QualityGateFailed
from smarketing.quality.raw import validate_raw
from smarketing.quality.settings import QualitySettings, load_settings
from smarketing.sources.files import ingest_source
from smarketing.warehouse.core_build import build_core

pytestmark = pytest.mark.integration

MAVEN = PROJECT_ROOT / "examples" / "maven_crm"
OLIST = PROJECT_ROOT / "examples" / "olist" / "mapping.yaml"
OLIST_CHECKS = {
    "sources": {
        "olist": {
            "leads": [{"id": "origin_present", "field": "attributes.origin", "not_null": True}],
            "deals": [
                {
                    "id": "behaviour_profile_single",
                    "field": "attributes.lead_behaviour_profile",
                    "in": ["cat", "eagle", "wolf", "shark"],
                }
            ],
        }
    }
}


def settings(tmp_path: Path, *overlays: object, docs: bool = False) -> QualitySettings:
    where = {
        "data_docs": {"enabled": docs, "dir": str(tmp_path / "docs"), "project_dir": str(tmp_path / "gx")}
    }
    return load_settings(CONFIG_DIR / "quality.yaml", where, *overlays)  # type: ignore[arg-type]


def outcomes(
    dsn: str, run_id: str, layer: str = "raw"
) -> dict[str, tuple[str, bool, int | None, int | None]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT r.suite || '.' || r.check_id, r.severity, r.success, r.unexpected_count, r.element_count
            FROM dq.expectation_results r JOIN dq.validation_runs v USING (validation_run_id)
            WHERE v.run_id = %s AND v.layer = %s AND r.scope <> 'recheck'
            """,
            (run_id, layer),
        ).fetchall()
    return {name: (sev, ok, n, total) for name, sev, ok, n, total in rows}


def failures(
    found: dict[str, tuple[str, bool, int | None, int | None]],
) -> dict[str, tuple[str, int | None, int | None]]:
    return {name: (sev, n, total) for name, (sev, ok, n, total) in found.items() if not ok}


def test_maven_crm_quirks(clean_warehouse: str, shared_data: Path, tmp_path: Path) -> None:
    dsn = clean_warehouse
    rules = settings(tmp_path, MAVEN / "quality.yaml", docs=True)
    assert ingest_source(dsn, MAVEN / "mapping.yaml", run_id="m1") == {
        "owners": 35,
        "companies": 85,
        "deals": 8800,
    }

    with pytest.raises(QualityGateFailed) as caught:
        validate_raw(dsn, run_id="m1", settings=rules)

    assert failures(outcomes(dsn, "m1")) == {
        "raw.deals.product_in_catalogue": ("critical", 1480, 8800),  # 'GTXPro' is not 'GTX Pro'
        "raw.deals.company_present": ("warning", 1425, 8800),  # opportunities with no account
        "raw.companies.sector_known": ("warning", 12, 85),  # 'technolgy'
        "raw.owners.manager_resolves": ("warning", 35, 35),  # managers are named, not exported as agents
    }
    message = str(caught.value)
    assert message.startswith("raw validation of run m1 FAILED")
    assert (
        "raw.deals of maven_crm, batch 3 rejected (8,800 record(s), 1,480 quarantined): 1,480 of 8,800 records "
        "quarantined (16.8%), more than the 5% allowed (gate.max_quarantine_share); failed checks: "
        "product_in_catalogue 1,480"
    ) in message
    assert (
        "raw.companies of maven_crm (batches 2): sector_known [warning] failed for 12 of 85 row(s)" in message
    )
    with psycopg.connect(dsn) as conn:
        held = conn.execute(
            """
            SELECT count(*), count(DISTINCT source_id), min(payload->'attributes'->>'product'),
                   max(payload->'attributes'->>'product'), min(failed_checks::text)
            FROM dq.quarantine WHERE table_name = 'raw.deals' AND status = 'held'
            """
        ).fetchone()
        assert held == (1480, 1480, "GTXPro", "GTXPro", "{product_in_catalogue}")
        assert conn.execute("SELECT verdict FROM dq.batch_verdicts WHERE batch_id = 3").fetchone() == (
            "rejected",
        )
        docs = conn.execute("SELECT data_docs_url FROM dq.validation_runs WHERE run_id = 'm1'").fetchone()[0]
    assert docs == (tmp_path / "docs" / "index.html").as_uri()
    assert (tmp_path / "docs" / "index.html").is_file()
    assert list((tmp_path / "docs" / "validations" / "raw" / "deals" / "maven_crm").rglob("*.html"))

    # Fixed at the source: the pipeline is exported again with the catalogue's product name.
    fixed = tmp_path / "maven"
    shutil.copytree(shared_data / "maven_crm", fixed)
    pipeline = fixed / "sales_pipeline.csv"
    pipeline.chmod(0o644)
    with pipeline.open(newline="") as handle:
        rows = list(csv.reader(handle))
    with pipeline.open("w", newline="") as handle:
        csv.writer(handle).writerows([[("GTX Pro" if v == "GTXPro" else v) for v in row] for row in rows])
    assert ingest_source(dsn, MAVEN / "mapping.yaml", root=fixed, run_id="m2") == {
        "owners": 0,
        "companies": 0,
        "deals": 8800,
    }

    report = validate_raw(dsn, run_id="m2", settings=rules)

    assert report.success and report.rows_quarantined == 0 and report.rows_released == 1480
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "SELECT status, release_reason, count(*) FROM dq.quarantine GROUP BY 1, 2"
        ).fetchall() == [("released", "superseded", 1480)]


def test_olist_quirks(clean_warehouse: str, shared_data: Path, tmp_path: Path) -> None:
    dsn = clean_warehouse
    rules = settings(tmp_path, OLIST_CHECKS)
    ingest_source(dsn, OLIST, run_id="o1")

    raw = validate_raw(dsn, run_id="o1", settings=rules)

    assert raw.success and raw.rows_quarantined == 0
    assert failures(outcomes(dsn, "o1")) == {
        "raw.leads.origin_present": ("warning", 60, 8000),
        "raw.deals.behaviour_profile_single": ("warning", 16, 842),  # "cat, wolf" and the like
    }
    build_core(dsn, None)

    core = validate_core(dsn, run_id="o1", settings=rules)

    assert core.success
    assert failures(outcomes(dsn, "o1", "core")) == {
        "core.deals.closed_not_before_lead_created": ("warning", 1, 842)
    }
    with (shared_data / "olist" / "olist_closed_deals_dataset.csv").open(newline="") as handle:
        seller = next(
            r["seller_id"]
            for r in csv.DictReader(handle)
            if r["mql_id"] == "b91cf8812365f50ff4bda4bcd6206b05"
        )
    assert any(f"e.g. olist:{seller}" in w and "closed_not_before_lead_created" in w for w in core.warnings)
