"""KPIs of the sandbox world, the way the DAGs build them (ingest, scoring, SLA, then KPIs): every table the
world feeds has rows, attribution sums to the funnel, a rerun is identical, and no KPI table holds a
person's e-mail address or name."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from smarketing.config import load_config
from smarketing.kpi.build import build_kpis, table_checksums
from smarketing.kpi.settings import settings_from_agreement
from smarketing.scoring.model import compile_model
from smarketing.scoring.runner import run_scoring
from smarketing.sla.run import evaluate_followups, measure_delivery
from smarketing.sla.settings import settings_from_agreement as sla_settings
from smarketing.warehouse import migrate
from smarketing.warehouse.connection import drop_database, with_database
from tests.conftest import SERVER_DSN
from tests.integration.test_kpi_idempotency import assert_no_personal_data, personal_values
from tests.integration.test_scoring_world import load_world

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture(scope="module")
def sandbox_kpis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    dsn = with_database(SERVER_DSN, f"smk_test_kpi_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(dsn)
    load_world(dsn, tmp_path_factory.mktemp("world"), contacts=1500, days=150, end=END)
    agreement = load_config()
    run_scoring(dsn, compile_model(agreement), run_id="kpi-test", as_of=END, full=True)
    evaluate_followups(dsn, sla_settings(agreement), END)
    measure_delivery(dsn, sla_settings(agreement), END)
    build_kpis(dsn, settings_from_agreement(agreement), as_of=END)
    yield dsn
    drop_database(dsn)


def test_sandbox_world_fills_the_kpi_tables(sandbox_kpis: str) -> None:
    with psycopg.connect(sandbox_kpis) as conn:
        counts = {
            name: conn.execute(f"SELECT count(*) FROM kpi.{name}").fetchone()[0]
            for name in (
                "funnel_daily",
                "conversion_cohorts",
                "velocity_monthly",
                "attribution_monthly",
                "sla_compliance_monthly",
                "marketing_delivery_monthly",
                "engagement_monthly",
                "score_quality_monthly",
                "goals_progress",
            )
        }
        assert all(n > 0 for n in counts.values()), counts
        funnel = conn.execute(
            "SELECT sum(pipeline_created), sum(won_revenue) FROM kpi.funnel_monthly"
        ).fetchone()
        credited = conn.execute(
            "SELECT model, sum(pipeline_amount), sum(won_amount) FROM kpi.attribution_monthly GROUP BY model"
        ).fetchall()
    assert funnel[0] > 0 and len(credited) == 4
    assert all((pipeline, won) == funnel for _, pipeline, won in credited)


def test_sandbox_kpis_rerun_identically(sandbox_kpis: str) -> None:
    with psycopg.connect(sandbox_kpis) as conn:
        before = table_checksums(conn)
    build_kpis(sandbox_kpis, settings_from_agreement(load_config()), as_of=END, full=True)
    with psycopg.connect(sandbox_kpis) as conn:
        assert table_checksums(conn) == before


def test_no_kpi_table_of_the_sandbox_world_holds_personal_data(sandbox_kpis: str) -> None:
    assert len(personal_values(sandbox_kpis)) > 1000  # the world's addresses and names are there to find
    assert_no_personal_data(sandbox_kpis)
