"""The monthly review's pure parts: which month a run covers, when it may start (the agreement's
calendar), and the proposal as a patch that applies cleanly to the agreement."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from smarketing.config import load_config
from smarketing.paths import DEFAULT_CONFIG
from smarketing.review.month import closed_month, first_business_day
from smarketing.review.patch import mql_changes, scoring_patch, tier_changes, write_patch
from smarketing.scoring.candidates import load_candidate

SECTION = {
    "version": "review-2026-11",
    "fit": [{"id": "persona_it_leader", "field": "persona_id", "in": ["it_leader"], "points": 12}],
    "engagement": {"half_life_days": 60, "window_days": 180, "events": {"webinar_attended": {"points": 9}}},
    "grades": {"A": 12, "B": 5, "C": 0, "D": -5},
}
# What the review stores (`Calibration.candidate_document`): the points and the MQL threshold on their scale.
PROPOSAL = {"scoring": SECTION, "vocabulary": {"mql": {"min_score": 21.5, "min_grade": "C"}}}


def test_the_closed_month_comes_from_the_interval_or_the_param() -> None:
    assert closed_month(pd.Timestamp("2026-11-01T06:00", tz="Europe/Paris")) == date(2026, 11, 1)
    assert closed_month(pd.Timestamp("2026-10-31T23:00", tz="UTC")) == date(2026, 11, 1)  # Paris 1 Nov
    assert closed_month(None, "2026-02") == date(2026, 2, 1)
    with pytest.raises(ValueError, match="YYYY-MM"):
        closed_month(None, "2026-2-1")


def test_the_review_waits_for_the_first_business_day_in_the_agreements_calendar() -> None:
    agreement = load_config()
    tz = agreement.organization.timezone
    # 1 Nov 2026 is a Sunday and 2 Nov a working Monday in France; 1 Jan is a holiday, 2 Jan 2027 a Saturday.
    assert first_business_day(date(2026, 10, 1), agreement).tz_convert(tz) == pd.Timestamp(
        "2026-11-02 09:00", tz=tz
    )
    assert first_business_day(date(2026, 12, 1), agreement).tz_convert(tz).date() == date(2027, 1, 4)
    assert first_business_day(date(2027, 4, 1), agreement).tz_convert(tz).date() == date(2027, 5, 3)  # 1 May


_BLOCK_MQL = (
    "  mql:\n"
    "    min_score: 60                   # score needed (0 to 1000)\n"
    "    min_grade: C                    # grade needed: C or better (A, B, C)\n"
)


def _repo_with_agreement(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True)
    shutil.copy(DEFAULT_CONFIG, repo / "config" / "smarketing.yaml")
    return repo


def test_the_patch_applies_cleanly_and_changes_only_the_scoring_block(tmp_path: Path) -> None:
    repo = _repo_with_agreement(tmp_path)
    agreement = repo / "config" / "smarketing.yaml"
    before = agreement.read_text()
    patch = write_patch(
        agreement,
        PROPOSAL,
        repo / "config" / "proposals" / "scoring-2026-11.patch",
        relative="config/smarketing.yaml",
    )
    assert agreement.read_text() == before, "the agreement is never rewritten"
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=repo, check=True)
    subprocess.run(["patch", "-p1", "--dry-run", "-i", str(patch)], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "apply", str(patch)], cwd=repo, check=True)
    old, new = yaml.safe_load(before), yaml.safe_load(agreement.read_text())
    assert new["scoring"]["fit"] == SECTION["fit"]
    assert new["scoring"]["engagement"] == SECTION["engagement"]
    assert new["scoring"]["version"] == "review-2026-11"
    # The threshold the points were matched on comes with them; the grade condition stays.
    assert new["vocabulary"]["mql"] == {"min_score": 21.5, "min_grade": "C"}
    assert old["vocabulary"]["mql"]["min_score"] != 21.5
    # Everything else is untouched, including scoring keys the calibration does not propose.
    old["vocabulary"]["mql"]["min_score"] = 21.5
    assert {k: v for k, v in new.items() if k != "scoring"} == {
        k: v for k, v in old.items() if k != "scoring"
    }
    for key in set(old["scoring"]) - {"version", "fit", "engagement", "grades"}:
        assert new["scoring"][key] == old["scoring"][key]
    # The patched agreement is valid and is the proposal the engine runs.
    assert load_config(agreement).scoring.version == "review-2026-11"
    assert load_candidate(agreement).version == "review-2026-11"
    assert load_candidate(agreement).mql_min_score == 21.5


def test_the_threshold_is_set_in_place_keeping_the_comments(tmp_path: Path) -> None:
    repo = _repo_with_agreement(tmp_path)
    agreement = repo / "config" / "smarketing.yaml"
    before = agreement.read_text()
    diff = scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml")
    removed = [line for line in diff.splitlines() if line.startswith("-") and "min_score" in line]
    added = [line for line in diff.splitlines() if line.startswith("+") and "min_score" in line]
    assert removed == ["-    min_score: 60                   # score needed (0 to 1000)"], removed
    assert added == ["+    min_score: 21.5                 # score needed (0 to 1000)"], added
    assert mql_changes(agreement, PROPOSAL) == {"min_score": (60, 21.5)}
    # A one-line mapping is edited the same way.
    agreement.write_text(before.replace(_BLOCK_MQL, "  mql: {min_score: 60, min_grade: C}  # both teams\n"))
    flow = scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml")
    assert "+  mql: {min_score: 21.5, min_grade: C}  # both teams" in flow.splitlines()


def test_a_proposal_without_a_threshold_leaves_vocabulary_alone(tmp_path: Path) -> None:
    """A bare scoring: section (stored before proposals carried a threshold) patches only scoring."""
    agreement = _repo_with_agreement(tmp_path) / "config" / "smarketing.yaml"
    diff = scoring_patch(agreement, SECTION, relative="config/smarketing.yaml")
    assert diff and "min_score: 60 " not in diff and mql_changes(agreement, SECTION) == {}


def test_an_agreement_without_the_threshold_key_is_a_clear_error(tmp_path: Path) -> None:
    agreement = _repo_with_agreement(tmp_path) / "config" / "smarketing.yaml"
    agreement.write_text(agreement.read_text().replace(_BLOCK_MQL, "  mql:\n    min_grade: C\n"))
    with pytest.raises(ValueError, match=r"vocabulary\.mql\.min_score: not found"):
        scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml")


def test_an_unchanged_proposal_is_an_empty_patch(tmp_path: Path) -> None:
    repo = _repo_with_agreement(tmp_path)
    agreement = repo / "config" / "smarketing.yaml"
    current = yaml.safe_load(agreement.read_text())["scoring"]
    once = scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml")
    subprocess.run(["patch", "-p1", "-s", "-i", "-"], cwd=repo, input=once, text=True, check=True)
    assert scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml") == ""
    assert current != yaml.safe_load(agreement.read_text())["scoring"]


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def test_the_patch_keeps_the_agreements_comments(tmp_path: Path) -> None:
    """The comments that explain the scoring rules to both teams survive a proposal that replaces every rule."""
    repo = _repo_with_agreement(tmp_path)
    agreement = repo / "config" / "smarketing.yaml"
    before = agreement.read_text()
    diff = scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml")
    subprocess.run(["patch", "-p1", "-s", "-i", "-"], cwd=repo, input=diff, text=True, check=True)
    assert _comments(agreement.read_text()) == _comments(before)
    # Lists of plain values are written on one line, as the agreement writes them.
    assert "+      in: [it_leader]" in diff.splitlines()


def test_a_small_proposal_is_a_small_diff(tmp_path: Path) -> None:
    """Points changed on two rules, one rule and one event added: only those lines change, and a rule or
    event kept keeps its layout and its comment."""
    repo = _repo_with_agreement(tmp_path)
    agreement = repo / "config" / "smarketing.yaml"
    section = yaml.safe_load(agreement.read_text())["scoring"]
    proposal = {key: section[key] for key in ("version", "fit", "engagement", "grades")}
    proposal["fit"][0]["points"] = 17
    proposal["fit"].append(
        {"id": "tech_stack", "field": "attributes.stack", "in": ["k8s", "aws"], "points": 4}
    )
    proposal["engagement"]["events"]["demo_request"]["points"] = 55
    proposal["engagement"]["events"]["trial_started"] = {"points": 25, "cap": 50}
    diff = scoring_patch(agreement, proposal, relative="config/smarketing.yaml")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        "-      points: 15",
        "+      points: 17",
        "+    - id: tech_stack",
        "+      field: attributes.stack",
        "+      in: [k8s, aws]",
        "+      points: 4",
        "-      demo_request:       {points: 60, cap: 60}             # a hand-raiser: MQL at once if the grade allows",
        "+      demo_request: {points: 55, cap: 60}                   # a hand-raiser: MQL at once if the grade allows",
        "+      trial_started: {points: 25, cap: 50}",
    ], changed
    subprocess.run(["patch", "-p1", "-s", "-i", "-"], cwd=repo, input=diff, text=True, check=True)
    assert yaml.safe_load(agreement.read_text())["scoring"]["engagement"] == proposal["engagement"]


def test_the_hot_tiers_score_moves_to_the_proposals_scale_in_place(tmp_path: Path) -> None:
    """The SLA tiers' `when.min_score` is on the old scale too: the proposal sets it, value only."""
    repo = _repo_with_agreement(tmp_path)
    agreement = repo / "config" / "smarketing.yaml"
    proposal = {**PROPOSAL, "sla": {"sales": {"tiers": [{"id": "hot", "when": {"min_score": 27.5}}]}}}
    diff = scoring_patch(agreement, proposal, relative="config/smarketing.yaml")
    assert [line for line in diff.splitlines() if "when:" in line] == [
        "-        when: {min_score: 90}",
        "+        when: {min_score: 27.5}",
    ]
    assert tier_changes(agreement, proposal) == {"hot": (90, 27.5)}
    subprocess.run(["patch", "-p1", "-s", "-i", "-"], cwd=repo, input=diff, text=True, check=True)
    assert load_config(agreement).sla.sales.tiers[0].when.min_score == 27.5
    assert tier_changes(agreement, proposal) == {}
    # A tier the agreement no longer has (renamed since the proposal) is an error naming it.
    renamed = {**PROPOSAL, "sla": {"sales": {"tiers": [{"id": "vip", "when": {"min_score": 27.5}}]}}}
    with pytest.raises(ValueError, match=r"sla\.sales\.tiers\[vip\]\.when\.min_score: not found"):
        scoring_patch(agreement, renamed, relative="config/smarketing.yaml")
