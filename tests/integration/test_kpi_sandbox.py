"""KPIs of the sandbox world, the way the DAGs build them (ingest, scoring, SLA, then KPIs): every table the
world feeds has rows, attribution sums to the funnel, a rerun is identical, and no KPI table holds a
person's e-mail address or name."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from smarketing.config import load_config
from smarketing.kpi.build import build_kpis, table_checksums
from smarketing.kpi.settings import settings_from_agreement
from tests.integration.kpi_world import SANDBOX_END as END
from tests.integration.kpi_world import sandbox_kpi_warehouse
from tests.integration.test_kpi_idempotency import assert_no_personal_data, personal_values

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox_kpis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sandbox_kpi_warehouse(tmp_path_factory.mktemp("world")) as dsn:
        yield dsn


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
