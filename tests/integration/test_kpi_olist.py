"""The KPIs of the real Olist funnel (examples/olist) equal an independent pandas computation from the CSVs:
per month of MQL and origin, the MQLs, the won ones, the MQL->won rate and the median days to close."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from smarketing.config import load_config
from smarketing.kpi.build import build_kpis
from smarketing.kpi.settings import settings_from_agreement
from smarketing.paths import PROJECT_ROOT
from smarketing.sources.files import ingest_source
from smarketing.warehouse.core_build import build_core

pytestmark = pytest.mark.integration

MAPPING = PROJECT_ROOT / "examples" / "olist" / "mapping.yaml"
AS_OF = "2026-12-01T00:00:00Z"


def expected_from_csv(data: Path, timezone: str, horizon_days: int) -> pd.DataFrame:
    """The cohort figures straight from the export (its naive times are São Paulo wall-clock times)."""
    mqls = pd.read_csv(data / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(data / "olist_closed_deals_dataset.csv")
    # a midnight the clocks skipped (2017-10-15, daylight saving) is the first minute that existed
    local = {"ambiguous": "NaT", "nonexistent": "shift_forward"}
    mqls["mql_at"] = pd.to_datetime(mqls["first_contact_date"]).dt.tz_localize("America/Sao_Paulo", **local)
    deals["won_at"] = pd.to_datetime(deals["won_date"]).dt.tz_localize("America/Sao_Paulo", **local)
    won = deals.groupby("mql_id")["won_at"].min()
    frame = mqls.join(won, on="mql_id")
    local = frame["mql_at"].dt.tz_convert(timezone)
    frame["cohort_month"] = local.dt.tz_localize(None).dt.to_period("M").dt.start_time.dt.date
    # conversions count up to the end of the cohort month plus the horizon (midnight, organisation time)
    window_end = (
        pd.to_datetime(frame["cohort_month"]) + pd.offsets.MonthBegin(1) + pd.Timedelta(days=horizon_days)
    )
    in_window = frame["won_at"] < window_end.dt.tz_localize(timezone)
    frame["days_to_won"] = ((frame["won_at"] - frame["mql_at"]).dt.total_seconds() / 86400).where(in_window)
    origin = frame["origin"].fillna("").str.lower().str.replace(r"[^a-z0-9]+", "_", regex=True).str.strip("_")
    frame["channel"] = origin.replace("", "unknown")
    grouped = frame.groupby(["cohort_month", "channel"])
    out = pd.DataFrame(
        {
            "mqls": grouped.size(),
            "won": grouped["days_to_won"].count(),
            "median_days": grouped["days_to_won"].median(),
        }
    )
    return out


def test_olist_conversion_and_days_to_close_match_pandas(clean_warehouse: str, shared_data: Path) -> None:
    ingest_source(clean_warehouse, MAPPING, run_id="test")
    build_core(clean_warehouse, None)
    settings = settings_from_agreement(load_config())
    build_kpis(clean_warehouse, settings, as_of=AS_OF)
    expected = expected_from_csv(shared_data / "olist", settings.timezone, settings.horizon_days)
    with psycopg.connect(clean_warehouse) as conn:
        got = conn.execute(
            "SELECT cohort_month, channel, leads, won, mql_to_won_rate, median_days_to_won "
            "FROM kpi.conversion_cohorts WHERE cohort_kind = 'mql_month'"
        ).fetchall()
    assert len(got) == len(expected) and sum(r[2] for r in got) == 8000
    for month, channel, leads, won, rate, median in got:
        row = expected.loc[(month, channel)]
        assert (leads, won) == (row["mqls"], row["won"]), (month, channel)
        # PostgreSQL rounds half away from zero: so do the expected figures
        assert rate == (Decimal(int(row["won"])) / Decimal(int(row["mqls"]))).quantize(
            Decimal("0.0001"), ROUND_HALF_UP
        )
        if pd.isna(row["median_days"]):
            assert median is None
        else:
            assert median == Decimal(repr(float(row["median_days"]))).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            ), (month, channel)
    # per origin over every cohort: MQL -> won
    by_origin = expected.groupby(level="channel")[["mqls", "won"]].sum()
    assert by_origin.loc["paid_search"].tolist() == [
        sum(r[2] for r in got if r[1] == "paid_search"),
        sum(r[3] for r in got if r[1] == "paid_search"),
    ]
