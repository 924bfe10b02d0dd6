"""The demo's summary: row counts per table and the highlights the teams recognise."""

from __future__ import annotations

import psycopg
import pytest

from smarketing.warehouse.status import highlights, lead_counts, table_counts

pytestmark = pytest.mark.integration


def test_counts_and_highlights_follow_the_data(clean_warehouse: str) -> None:
    with psycopg.connect(clean_warehouse) as conn:
        conn.execute(
            "INSERT INTO core.leads (source_system, source_id, email_normalized) VALUES ('t', '1', NULL), ('t', '2', NULL)"
        )
    counts = table_counts(clean_warehouse)
    assert counts["core.leads"] == 2
    assert counts["core.event_types"] > 10
    assert list(counts) == sorted(counts)
    figures = highlights(clean_warehouse)
    assert figures["quarantined rows"] == "0" and figures["MQLs now"] == "0"
    leads = lead_counts(clean_warehouse)
    assert (leads["core_leads"], leads["active"], leads["deleted"]) == (2, 2, 0)
    assert leads["scored_as_of"] is None and leads["scored"] == 0  # no scoring run yet
