"""The agreement's number limits are safe: an agreement at every bound scores without a database error.

`config check` refuses NaN, infinity and numbers past the limits of docs/agreement.md; this holds the
other side of that promise: the largest values it accepts fit the warehouse columns and the date
arithmetic of a real scoring run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from smarketing.config import check_config, load_config
from smarketing.config.values import MAX_DAYS, MAX_POINTS, MAX_TOTAL
from smarketing.paths import CONFIG_DIR
from smarketing.scoring.model import compile_model
from smarketing.scoring.runner import run_scoring

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 10, 2, tzinfo=UTC)
EVENTS_PER_LEAD = 500


def agreement_at_the_bounds(tmp_path: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load((CONFIG_DIR / "smarketing.yaml").read_text(encoding="utf-8"))
    scoring = data["scoring"]
    scoring["fit"] = [
        {"id": "fr", "field": "country", "equals": "FR", "points": MAX_POINTS},
        {"id": "not_fr", "field": "country", "in": ["DE"], "points": -MAX_POINTS},
    ]
    scoring["engagement"] = {
        "half_life_days": MAX_DAYS,
        "window_days": MAX_DAYS,
        "floor": -MAX_TOTAL,
        "events": {
            "form_submission": {"points": MAX_POINTS, "max_per_day": 2_147_483_647},
            "unsubscribe": {"points": -MAX_POINTS, "cap": MAX_TOTAL},
        },
    }
    scoring["grades"] = {"A": MAX_TOTAL, "B": 0, "C": -MAX_TOTAL}
    scoring["engagement_bands"] = {1: MAX_TOTAL, 2: -MAX_TOTAL}
    scoring.pop("profiles", None)
    data["vocabulary"]["mql"] = {"min_score": 1000, "min_grade": "C"}
    for tier in data["sla"]["sales"]["tiers"]:
        tier.get("when", {}).pop("min_grade", None)
    path = tmp_path / "bounds.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_an_agreement_at_every_bound_scores_without_a_database_error(
    clean_warehouse: str, tmp_path: Path
) -> None:
    path = agreement_at_the_bounds(tmp_path)
    assert check_config(path) == []
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO core.leads (lead_id, source_system, source_id, country, created_at) "
            "VALUES (1, 't', 'l1', 'FR', %(t)s), (2, 't', 'l2', 'DE', %(t)s)",
            {"t": AS_OF - timedelta(days=60)},
        )
        # Lead 1 fills in a form every minute for a while; lead 2 unsubscribes as often.
        conn.execute(
            "INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, source_system) "
            "SELECT 'e' || l || '-' || g, l, CASE l WHEN 1 THEN 'form_submission' ELSE 'unsubscribe' END, "
            "       %(t)s - g * interval '1 minute', 't' "
            "FROM generate_series(1, %(n)s) g CROSS JOIN (VALUES (1), (2)) AS leads(l)",
            {"t": AS_OF - timedelta(hours=1), "n": EVENTS_PER_LEAD},
        )

    run_scoring(clean_warehouse, compile_model(load_config(path)), run_id="bounds", as_of=AS_OF)

    with psycopg.connect(clean_warehouse) as conn:
        scores = conn.execute(
            "SELECT lead_id, fit, engagement, grade FROM scoring.lead_scores ORDER BY lead_id"
        ).fetchall()
    (one, fit_1, engagement_1, grade_1), (two, fit_2, engagement_2, grade_2) = scores
    assert (one, fit_1, grade_1) == (1, MAX_POINTS, "B")
    assert (two, fit_2, grade_2) == (2, -MAX_POINTS, "C")
    # A half-life of a hundred years barely fades an hour-old event.
    assert float(engagement_1) == pytest.approx(EVENTS_PER_LEAD * MAX_POINTS, rel=1e-5)
    assert float(engagement_2) == pytest.approx(-EVENTS_PER_LEAD * MAX_POINTS, rel=1e-5)
