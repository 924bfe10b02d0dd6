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
from smarketing.review.patch import scoring_patch, write_patch
from smarketing.scoring.candidates import load_candidate

PROPOSAL = {
    "version": "review-2026-11",
    "fit": [{"id": "persona_it_leader", "field": "persona_id", "in": ["it_leader"], "points": 12}],
    "engagement": {"half_life_days": 60, "window_days": 180, "events": {"webinar_attended": {"points": 9}}},
    "grades": {"A": 12, "B": 5, "C": 0, "D": -5},
}


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
    assert new["scoring"]["fit"] == PROPOSAL["fit"]
    assert new["scoring"]["engagement"] == PROPOSAL["engagement"]
    assert new["scoring"]["version"] == "review-2026-11"
    # Everything else is untouched, including scoring keys the calibration does not propose.
    assert {k: v for k, v in new.items() if k != "scoring"} == {
        k: v for k, v in old.items() if k != "scoring"
    }
    for key in set(old["scoring"]) - {"version", "fit", "engagement", "grades"}:
        assert new["scoring"][key] == old["scoring"][key]
    # The patched agreement is valid and is the proposal the engine runs.
    assert load_config(agreement).scoring.version == "review-2026-11"
    assert load_candidate(agreement).version == "review-2026-11"


def test_an_unchanged_proposal_is_an_empty_patch(tmp_path: Path) -> None:
    repo = _repo_with_agreement(tmp_path)
    agreement = repo / "config" / "smarketing.yaml"
    current = yaml.safe_load(agreement.read_text())["scoring"]
    once = scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml")
    subprocess.run(["patch", "-p1", "-s", "-i", "-"], cwd=repo, input=once, text=True, check=True)
    assert scoring_patch(agreement, PROPOSAL, relative="config/smarketing.yaml") == ""
    assert current != yaml.safe_load(agreement.read_text())["scoring"]
