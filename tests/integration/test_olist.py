"""The real Olist funnel export through the file source and the core build (examples/olist)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from smarketing.paths import PROJECT_ROOT
from smarketing.sources.files import ingest_source
from smarketing.warehouse.core_build import build_core

pytestmark = pytest.mark.integration

MAPPING = PROJECT_ROOT / "examples" / "olist" / "mapping.yaml"


def test_olist_funnel_lands_8000_leads_and_842_won_deals(clean_warehouse: str, shared_data: Path) -> None:
    landed = ingest_source(clean_warehouse, MAPPING, run_id="test")
    assert landed == {"leads": 8000, "lifecycle_history": 8842, "deals": 842}
    stats = build_core(clean_warehouse, None)
    assert stats["leads"] == 8000 and stats["deals"] == 842
    assert stats["deals.orphans"] == 0 and stats["lifecycle_history.orphans"] == 0
    with psycopg.connect(clean_warehouse) as conn:
        leads = conn.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE lifecycle_stage = 'marketingqualifiedlead'),
                   count(*) FILTER (WHERE attributes->>'origin' IS NULL), count(email_normalized)
            FROM core.leads
            """
        ).fetchone()
        assert leads == (8000, 8000, 60, 0)
        deals = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_won), count(lead_id), count(closed_at) FROM core.deals"
        ).fetchone()
        assert deals == (842, 842, 842, 842)
        stages = dict(
            conn.execute("SELECT stage, count(*) FROM core.lifecycle_history GROUP BY stage").fetchall()
        )
        assert stages == {"marketingqualifiedlead": 8000, "customer": 842}
        # naive times are São Paulo wall-clock times: 19:58:54 on 26 February 2018 was 22:58:54 UTC
        deal = conn.execute(
            """
            SELECT d.closed_at::text, l.source_id FROM core.deals d JOIN core.leads l USING (lead_id)
            WHERE d.deal_id = 'olist:2c43fb513632d29b3b58df74816f1b06'
            """
        ).fetchone()
        assert deal == ("2018-02-26 22:58:54+00", "5420aad7fec3549a85876ba1c529bd84")
    # the same files again: nothing lands, nothing changes
    assert set(ingest_source(clean_warehouse, MAPPING).values()) == {0}
    assert {k: v for k, v in build_core(clean_warehouse, None).items() if v} == {}
