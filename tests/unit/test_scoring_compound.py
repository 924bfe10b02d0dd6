"""Compound fit rules (`all:`), `range` and `not_in`: the agreement's checks and the engine's answers on
hand-computed cases, through the same path as the pipeline (agreement -> compiled model -> fit points)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from smarketing.config import check_config, load_config
from smarketing.paths import DEFAULT_CONFIG
from smarketing.scoring.fit import fit_points
from smarketing.scoring.model import compile_model

RULES = [
    {
        "id": "enterprise_it",
        "all": [
            {"field": "company.employees", "between": [200, 5000]},
            {"field": "persona_id", "in": ["it_leader"]},
        ],
        "points": 12,
    },
    {"id": "small", "field": "company.employees", "range": [None, 50], "points": -4},
    {"id": "far", "field": "country", "not_in": ["FR", "DE"], "points": 3},
]


def agreement_with(tmp_path: Path, fit: list[dict]) -> Path:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["scoring"]["fit"] = fit
    data["scoring"].pop("profiles", None)
    path = tmp_path / "agreement.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_compound_range_and_not_in_rules_score_hand_computed_leads(tmp_path: Path) -> None:
    model = compile_model(load_config(agreement_with(tmp_path, RULES)))
    leads = pd.DataFrame(
        {
            "company.employees": ["300", "300", "10", None, "5000", "50"],
            "persona_id": ["it_leader", "marketer", "it_leader", "it_leader", "IT_Leader ", None],
            "country": ["FR", "US", "de", None, "ES", "US"],
        }
    )
    points = fit_points(leads, model.profiles[0].fit_rules, model.lists)
    # all true -> 12; one test false -> 0; a missing field fails its test; range's high end is excluded;
    # not_in needs a value outside the list (case-insensitive), an empty value is not "outside".
    expected = np.array(
        [[12, 0, 0], [0, 0, 3], [0, -4, 0], [0, 0, 0], [12, 0, 3], [0, 0, 3]],
        dtype=np.int32,
    )
    np.testing.assert_array_equal(points, expected)
    assert points.sum(axis=1).tolist() == [12, 3, -4, 0, 15, 3]
    rule = model.profiles[0].fit_rules[0]
    assert rule.describe() == "company.employees between [200, 5000] and persona_id in [it_leader]"
    assert set(model.fit_fields()) == {"company.employees", "persona_id", "country"}


def test_plain_rules_keep_their_model_hash_next_to_compound_support(tmp_path: Path) -> None:
    plain = [{"id": "fr", "field": "country", "equals": "FR", "points": 5}]
    definition = compile_model(load_config(agreement_with(tmp_path, plain))).definition()
    assert "also" not in definition["profiles"][0]["fit_rules"][0]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"all": [{"field": "country", "equals": "FR"}], "points": 1},
            "scoring.fit[0].all: tuple should have at least 2 items",
        ),
        (
            {
                "field": "country",
                "all": [{"field": "country", "equals": "FR"}, {"field": "country", "equals": "DE"}],
                "points": 1,
            },
            "a compound rule has `all:` and points only",
        ),
        (
            {"all": [{"field": "country", "equals": "FR"}, {"field": "nope", "equals": 1}], "points": 1},
            "scoring.fit[0].all[1].field",
        ),
        (
            {"all": [{"field": "country", "equals": "FR"}, {"field": "country"}], "points": 1},
            "scoring.fit[0].all[1]: give exactly one operator",
        ),
        (
            {"field": "company.employees", "range": [None, None], "points": 1},
            "give a low bound, a high bound or both",
        ),
        ({"field": "company.employees", "range": [10, 5], "points": 1}, "low 10 is not below high 5"),
        (
            {
                "all": [{"field": "country", "in_list": "nope"}, {"field": "country", "equals": "FR"}],
                "points": 1,
            },
            "scoring.fit[0].all[0].in_list",
        ),
    ],
)
def test_config_check_names_the_key_path_of_a_broken_compound_rule(
    tmp_path: Path, rule: dict, message: str
) -> None:
    problems = check_config(agreement_with(tmp_path, [rule]))
    assert any(message in problem for problem in problems), problems


def test_compound_rules_get_a_stable_derived_id(tmp_path: Path) -> None:
    rule = {k: v for k, v in RULES[0].items() if k != "id"}
    model = compile_model(load_config(agreement_with(tmp_path, [rule])))
    assert model.profiles[0].fit_rules[0].rule_id == (
        "company_employees_between_200_5000_and_persona_id_in_it_leader"
    )
