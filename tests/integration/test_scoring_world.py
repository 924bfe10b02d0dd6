"""The default agreement scoring the sandbox world: it ranks leads that later win deals above the others,
incremental nights equal full rescores on realistic data, every score is explained, no e-mail leaks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sklearn.metrics import roc_auc_score

from smarketing.config import load_config
from smarketing.paths import CONFIG_DIR
from smarketing.scoring.model import compile_model
from smarketing.scoring.runner import run_scoring, scores_as_of
from smarketing.scoring.writeback import WritebackTarget, mark_sent, write_back
from smarketing.sources.files import ingest_source
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, with_database
from smarketing.warehouse.core_build import build_core
from smarketing_sandbox.world import generate_world
from tests.conftest import SERVER_DSN

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 16, tzinfo=UTC)
# Leads whose contributions do not add up to their total exactly.
UNEXPLAINED = """
    SELECT count(*) FROM scoring.lead_scores s
    LEFT JOIN (SELECT lead_id, sum(points) AS points FROM scoring.contributions
               WHERE profile_id = 'default' GROUP BY lead_id) c USING (lead_id)
    WHERE COALESCE(c.points, 0) <> s.total
"""


def load_world(dsn: str, out: Path, *, contacts: int, days: int, seed: int = 5, end: datetime = END) -> dict:
    """Generate a sandbox world and bring it into the warehouse the way the ingest DAG does."""
    generate_world(out, contacts=contacts, seed=seed, days=days, end=end)
    for mapping in ("sandbox_crm.yaml", "sandbox_ma.yaml"):
        ingest_source(dsn, CONFIG_DIR / "sources" / mapping, root=out, run_id="test")
    return build_core(dsn, load_config())


@pytest.fixture(scope="module")
def world_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dsn = with_database(SERVER_DSN, f"smk_test_scoring_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    load_world(dsn, tmp_path_factory.mktemp("world"), contacts=6000, days=240)
    yield dsn
    drop_database(dsn)


@pytest.fixture(scope="module")
def model():
    return compile_model(load_config())


def test_default_model_ranks_later_winners_first(
    world_dsn: str, model, capsys: pytest.CaptureFixture
) -> None:
    with psycopg.connect(world_dsn) as conn:
        deals = pd.DataFrame(
            conn.execute("SELECT lead_id, created_at, is_won FROM core.deals").fetchall(),
            columns=["lead_id", "created_at", "is_won"],
        )
    aucs = {}
    for days_before in (60, 90):
        cutoff = END - timedelta(days=days_before)
        scores = scores_as_of(world_dsn, model, cutoff)
        # Leads already in a deal at the cutoff are not predictions any more.
        scores = scores[~scores["lead_id"].isin(deals.loc[deals["created_at"] < cutoff, "lead_id"])]
        winners = deals.loc[(deals["is_won"] == True) & (deals["created_at"] >= cutoff), "lead_id"]  # noqa: E712
        outcome = scores["lead_id"].isin(winners)
        assert outcome.sum() >= 5, "the world should hold some later winners"
        aucs[days_before] = roc_auc_score(outcome, scores["total"])
    with capsys.disabled():
        print(f"\nsandbox AUC of the default model (score {sorted(aucs)} days before the deal): {aucs}")
    assert min(aucs.values()) > 0.7


def test_nights_on_the_world_equal_a_full_rescore_and_explain_every_score(world_dsn: str, model) -> None:
    first = END - timedelta(days=20)
    run_scoring(world_dsn, model, run_id="w0", as_of=first, shard_count=3)
    for night in range(1, 4):
        result = run_scoring(
            world_dsn, model, run_id=f"w{night}", as_of=first + timedelta(days=night), shard_count=3
        )
        assert result["mode"] == "incremental"
    columns = "lead_id, fit, engagement, total, grade, is_mql, profile_id"
    with psycopg.connect(world_dsn) as conn:
        incremental = conn.execute(f"SELECT {columns} FROM scoring.lead_scores ORDER BY 1").fetchall()
        assert conn.execute(UNEXPLAINED).fetchone()[0] == 0
        # ... with engagement rows from cells the nights did not rewrite (faded when read).
        carried, cells = conn.execute(
            "SELECT count(*) FILTER (WHERE r.as_of < s.as_of), count(*) FROM scoring.rule_state r "
            "JOIN scoring.lead_scores s USING (lead_id)"
        ).fetchone()
        assert 0 < carried <= cells
    run_scoring(world_dsn, model, run_id="w3-full", as_of=first + timedelta(days=3), full=True, shard_count=2)
    with psycopg.connect(world_dsn) as conn:
        assert conn.execute(f"SELECT {columns} FROM scoring.lead_scores ORDER BY 1").fetchall() == incremental
        leads = conn.execute(
            "SELECT count(*) FROM core.leads WHERE created_at IS NULL OR created_at <= %s",
            (first + timedelta(days=3),),
        ).fetchone()[0]
        assert len(incremental) == leads
        assert conn.execute(UNEXPLAINED).fetchone()[0] == 0
        crossings, staged = conn.execute(
            """
            SELECT (SELECT count(*) FROM scoring.mql_crossings),
                   (SELECT count(*) FROM core.lifecycle_history
                    WHERE source_system = 'scoring' AND stage = 'marketingqualifiedlead')
            """
        ).fetchone()
        assert crossings > 0 and staged == crossings
        accounts = conn.execute("SELECT count(*), sum(leads) FROM scoring.account_scores").fetchone()
        assert accounts[0] > 0


def test_no_email_address_in_any_scoring_output(world_dsn: str, model) -> None:
    run_scoring(world_dsn, model, run_id="privacy", as_of=END, shard_count=1)
    write_back(world_dsn, WritebackTarget("sandbox_crm", "hubspot"), run_id="privacy")
    with psycopg.connect(world_dsn) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'scoring' AND tablename <> 'event_changes'"
            )
        ]
        for table in tables:
            found = conn.execute(
                f"SELECT count(*) FROM scoring.{table} t WHERE t::text ~ '[A-Za-z0-9._%%+-]+@[A-Za-z0-9.-]+\\.[a-z]{{2,}}'"
            ).fetchone()[0]
            assert found == 0, f"scoring.{table} holds e-mail addresses"


def test_write_back_plans_only_changed_records_in_the_api_batch_shapes(world_dsn: str, model) -> None:
    run_scoring(world_dsn, model, run_id="wb", as_of=END, shard_count=1)
    hubspot = WritebackTarget("sandbox_crm", "hubspot")
    first = write_back(world_dsn, hubspot, run_id="wb")
    with psycopg.connect(world_dsn) as conn:
        crm_records = conn.execute(
            "SELECT count(*) FROM core.lead_sources WHERE source_system = 'sandbox_crm'"
        ).fetchone()[0]
        assert first["records"] == crm_records  # nothing was ever sent
        batches = conn.execute(
            "SELECT batch_no, method, path, record_count, payload, status FROM scoring.writeback_batches "
            "WHERE run_id = 'wb' AND system = 'sandbox_crm' ORDER BY batch_no"
        ).fetchall()
        assert {b[5] for b in batches} == {"dry_run"}
        assert all(b[3] <= 100 for b in batches) and batches[0][1:3] == (
            "POST",
            "/crm/v3/objects/contacts/batch/update",
        )
        item = batches[0][4]["inputs"][0]
        assert set(item) == {"id", "properties"}
        assert {"smarketing_score", "smarketing_grade"} <= set(item["properties"])
        assert all(isinstance(v, str) for v in item["properties"].values())
        # Accept the first batch: a new plan leaves its records out.
        with conn.transaction():
            mark_sent(conn, hubspot, "wb", batches[0][0], batches[0][4])
    again = write_back(world_dsn, hubspot, run_id="wb-2")
    assert again["records"] == first["records"] - batches[0][3]

    mautic = write_back(world_dsn, WritebackTarget("sandbox_ma", "mautic", batch_size=500), run_id="wb")
    with psycopg.connect(world_dsn) as conn:
        method, path, count, payload = conn.execute(
            "SELECT method, path, record_count, payload FROM scoring.writeback_batches "
            "WHERE run_id = 'wb' AND system = 'sandbox_ma' ORDER BY batch_no LIMIT 1"
        ).fetchone()
    assert (method, path) == ("PATCH", "/api/contacts/batch/edit") and count <= 200 and mautic["batches"] >= 1
    assert (
        isinstance(payload, list) and isinstance(payload[0]["id"], int) and "smarketing_score" in payload[0]
    )


def test_calibrate_from_the_warehouse_and_backtest_the_result(world_dsn: str, model, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from smarketing.scoring.calibrate import calibrate, warehouse_frame, write_outputs
    from smarketing.scoring.candidates import load_candidate
    from smarketing.scoring.cli import backtest_command

    frame, fields = warehouse_frame(world_dsn)
    assert "company.industry" in frame.columns and "won" in frame.columns
    result = calibrate(frame, id_column="lead_id", outcome="won", field_of=fields, seed=2)
    report = result.report
    assert report["unrounded_model"]["auc"] - report["integer_points"]["auc"] <= 0.01
    files = write_outputs(result, tmp_path, source="warehouse", version="world-calibrated")
    candidate = load_candidate(Path(files["scoring.yaml"]))
    assert {r.field for r in candidate.profiles[0].fit_rules} <= set(fields)

    app = typer.Typer()
    app.command()(backtest_command)
    done = CliRunner().invoke(
        app,
        [
            "--config",
            files["scoring.yaml"],
            "--from",
            "2026-09-01",
            "--to",
            "2026-10-31",
            "--json",
            "--dsn",
            world_dsn,
        ],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    import json

    rows = json.loads(done.output)
    assert {(r["model"], r["month"]) for r in rows} == {
        (m, month) for m in ("candidate", "active") for month in ("2026-09", "2026-10")
    }
    active = [r for r in rows if r["model"] == "active"]
    assert sum(r["mqls"] for r in active) > 0
    assert all(r["converted"] <= r["mqls"] for r in rows)
