"""The agreement compiled into the engine's model, and broken models stopped at `config check` time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from smarketing.config import ConfigError, check_config, load_config
from smarketing.paths import DEFAULT_CONFIG
from smarketing.scoring.candidates import load_candidate
from smarketing.scoring.events import predicate_mask_frame
from smarketing.scoring.model import DEFAULT_PROFILE, compile_model
from smarketing.scoring.scorefile import score_file


@pytest.fixture(scope="module")
def agreement():
    return load_config()


def test_the_sample_agreement_compiles(agreement) -> None:
    model = compile_model(agreement)
    assert model.version == agreement.scoring.version
    assert model.profile_ids[0] == DEFAULT_PROFILE
    default = model.profile(DEFAULT_PROFILE)
    assert [r.rule_id for r in default.fit_rules] == [r.rule_id for r in agreement.scoring.fit]
    assert {r.rule_id for r in default.engagement.rules} == set(agreement.scoring.engagement.events)
    assert default.engagement.half_life_days == agreement.scoring.engagement.half_life_days
    assert model.grades[0] == ("A", agreement.scoring.grades["A"])
    assert model.mql_min_score == agreement.vocabulary.mql.min_score
    assert "gmail.com" in model.lists["free_email"]
    assert "software" in model.lists["target_industries"]  # lists compare case-insensitively
    assert model.engagement_bands == tuple(
        (label, float(points)) for label, points in agreement.scoring.engagement_bands.items()
    )


def test_bands_place_leads_in_the_fit_by_engagement_matrix(agreement) -> None:
    from smarketing.scoring.kernel import EventArrays, score_frame
    from smarketing.scoring.outputs import lead_score_rows

    model = compile_model(agreement)
    frame = pd.DataFrame({"lead_id": [1, 2], "persona_id": ["it_leader", None], "employees": ["300", None]})
    moment = 1_700_000_000_000_000
    events = EventArrays(
        np.array([0]),
        np.array([moment]),
        np.array(
            [1 << model.predicates.index(next(p for p in model.predicates if p.event_type == "demo_request"))]
        ),
    )
    scores = score_frame(model, frame, events, moment)
    headline = scores.headline(model)
    assert headline["band"].tolist() == ["1", "4"]

    class Plan:
        as_of_us, run_id = moment, "r"

    rows = lead_score_rows(model, Plan(), headline, np.array([0, 0]))
    priority = [
        rows.vocabularies["priority"][code] if code >= 0 else None for code in rows.arrays["priority"]
    ]
    assert priority == ["B1", None]  # fit 30 is grade B, engagement 60 is band 1; lead 2 has no grade


def test_engagement_bands_are_checked(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["scoring"]["engagement_bands"] = {1: 60, 2: 70, 4: 0}
    target = tmp_path / "bands.yaml"
    target.write_text(yaml.safe_dump(data))
    problems = check_config(target)
    assert any(p.startswith("scoring.engagement_bands.4:") for p in problems), problems
    data["scoring"]["engagement_bands"] = {1: 60, 2: 70}
    target.write_text(yaml.safe_dump(data))
    assert any(p.startswith("scoring.engagement_bands.2:") for p in check_config(target))


def test_the_hash_changes_exactly_when_a_score_could(agreement, tmp_path: Path) -> None:
    base = compile_model(agreement)
    assert compile_model(load_config()).config_hash == base.config_hash
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["scoring"]["engagement"]["events"]["email_open"]["points"] = 2
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data))
    assert compile_model(load_config(edited)).config_hash != base.config_hash


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (
            lambda d: d["scoring"]["fit"].append(
                {"field": "company.headcount", "between": [1, 2], "points": 1}
            ),
            "scoring.fit[12].field",
        ),
        (
            lambda d: d["scoring"]["engagement"]["events"].update(email_opened={"points": 1}),
            "scoring.engagement.events.email_opened",
        ),
        (
            lambda d: d["scoring"]["fit"].append(
                {"field": "email_domain", "in_list": "freemail", "points": -1}
            ),
            "scoring.fit[12].in_list",
        ),
    ],
    ids=["unknown-field", "unknown-event-type", "unknown-list"],
)
def test_a_broken_model_fails_config_check_with_its_key_path(tmp_path: Path, edit, path: str) -> None:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    edit(data)
    target = tmp_path / "broken.yaml"
    target.write_text(yaml.safe_dump(data))
    problems = check_config(target)
    assert any(p.startswith(path + ":") for p in problems), problems
    # A candidate holding only a scoring section is checked the same way.
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(yaml.safe_dump({"scoring": data["scoring"]}))
    if path.endswith("in_list"):
        return
    with pytest.raises(ConfigError) as caught:
        load_candidate(candidate)
    assert any(p.startswith(path + ":") for p in caught.value.problems)


def test_predicates_match_topics_and_campaigns_case_insensitively(agreement) -> None:
    from smarketing.scoring.model import EventPredicate

    predicates = [
        EventPredicate("page_view"),
        EventPredicate("page_view", content_topics=("Pricing",)),
        EventPredicate("email_click", campaign_ids=("42",)),
        EventPredicate("page_view", page_regex=r"/careers"),
    ]
    events = pd.DataFrame(
        {
            "event_type": ["page_view", "page_view", "email_click", "email_click", "page_view"],
            "content_topic": ["pricing ", None, None, None, None],
            "campaign_id": [None, None, "42", "7", None],
            "url": ["/pricing", "/about", None, None, "https://x.io/careers/dev"],
        }
    )
    assert predicate_mask_frame(events, predicates).tolist() == [0b0011, 0b0001, 0b0100, 0, 0b1001]


def test_score_file_with_events_explains_each_lead(agreement, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    pd.DataFrame(
        {
            "ref": ["a", "b"],
            "email": ["ceo@corp.io", "x@gmail.com"],
            "persona_id": ["it_leader", None],
            "email_domain": ["corp.io", "gmail.com"],
            "employees": ["300", "5"],
        }
    ).to_csv(leads, index=False)
    events = tmp_path / "events.csv"
    pd.DataFrame(
        {
            "ref": ["a", "a", "b", "zzz"],
            "event_type": ["demo_request", "email_open", "unsubscribe", "demo_request"],
            "occurred_at": [
                "2026-11-15T02:00:00Z",
                "2026-11-15T03:00:00Z",
                "2026-11-16T02:00:00Z",
                "2026-11-16T00:00:00Z",
            ],
        }
    ).to_csv(events, index=False)
    out = tmp_path / "scored.csv"
    stats = score_file(
        compile_model(agreement),
        leads,
        id_column="ref",
        out_path=out,
        events_path=events,
        as_of=pd.Timestamp("2026-11-16T02:00:00Z").to_pydatetime(),
    )
    scored = pd.read_csv(out).set_index("ref")
    decay = 2 ** (-1 / 30)
    assert scored.loc["a", "fit"] == 15 + 20 - 5  # company size, decision maker, no job title
    assert scored.loc["a", "engagement"] == pytest.approx(round(60 * decay + 1 * 2 ** (-23 / 24 / 30), 2))
    assert scored.loc["b", "engagement"] == -30
    assert scored.loc["a", "reasons"].startswith("demo_request +")
    assert "free_email -10" in scored.loc["b", "reasons"]
    assert bool(scored.loc["a", "mql"]) and stats["mqls"] == 1
    assert "@" not in out.read_text()
    assert np.isfinite(scored["score"]).all()
