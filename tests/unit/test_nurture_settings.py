"""Nurturing settings: the new scenario keys and what `smarketing config check` reports about scenarios."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from smarketing.config import check_config, load_config
from smarketing.nurture.matching import holdout_point, scenario_rows
from smarketing.paths import CONFIG_DIR

SAMPLE = CONFIG_DIR / "smarketing.yaml"


@pytest.fixture()
def sample() -> dict[str, Any]:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = tmp_path / "agreement.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return check_config(path)


def test_sample_scenarios_load_with_their_settings() -> None:
    nurturing = load_config(SAMPLE).nurturing
    pricing = next(s for s in nurturing.scenarios if s.id == "pricing-interest")
    assert (pricing.priority, pricing.daily_cap, pricing.holdout_share) == (2, 500, 0.1)
    assert pricing.exit_when == ("mql", "sql", "customer", "unsubscribed", "bounced")
    assert pricing.target.key == "mautic:segment:12" and pricing.target.id_source == "mautic"
    assert [s.id for _, s in nurturing.ranked()] == [
        "recycled-by-sales",
        "pricing-interest",
        "developer-integration",
    ]


def test_scenarios_without_priority_keep_the_file_order(sample: dict[str, Any], tmp_path: Path) -> None:
    data = copy.deepcopy(sample)
    for s in data["nurturing"]["scenarios"]:
        s.pop("priority")
    data["nurturing"]["scenarios"][1]["priority"] = 1
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    rows = scenario_rows(load_config(path))
    assert [(r["scenario_id"], r["rank"]) for r in rows] == [
        ("developer-integration", 1),
        ("pricing-interest", 2),
        ("recycled-by-sales", 3),
    ]


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("when.interests_any", ["pricng"], "unknown interest 'pricng' (did you mean 'pricing'?)"),
        ("when.interests_any", ["pricing_page_veiw"], "neither an event type"),
        ("when.personas", ["devloper"], "unknown persona 'devloper'"),
        ("when.lifecycle_stages", ["nurturng"], "unknown lifecycle stage 'nurturng'"),
        ("exit_when", ["mql", "won"], "exit_when[1]"),
        ("holdout_share", 0.9, "holdout_share"),
        ("daily_cap", 0, "daily_cap"),
        ("target", {"system": "mautic", "list": 3}, "mautic takes segment or campaign, not list"),
        ("target", {"system": "mautic", "segment": 12}, "the same target as nurturing.scenarios[0]"),
    ],
)
def test_config_check_names_a_scenarios_mistake(
    sample: dict[str, Any], tmp_path: Path, where: str, value: object, message: str
) -> None:
    data = copy.deepcopy(sample)
    node = data["nurturing"]["scenarios"][1]
    *parents, last = where.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    found = problems(tmp_path, data)
    assert found and all(p.startswith("nurturing.scenarios[1]") for p in found), found
    assert any(message in p for p in found), found


def test_holdout_point_is_uniform_and_stable() -> None:
    points = [holdout_point(lead, "pricing-interest") for lead in range(1, 20_001)]
    assert holdout_point(42, "pricing-interest") == points[41]
    assert all(0 <= p < 1 for p in points)
    assert 0.09 < sum(p < 0.1 for p in points) / len(points) < 0.11
