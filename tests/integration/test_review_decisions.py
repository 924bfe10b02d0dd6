"""scoring.model_reviews: a proposal is stored pending; an approval records who, when, the comment and
both hashes and writes a patch that applies to the agreement; a rejection or a timeout writes none; a
decided month keeps its first decision when the run is repeated."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from smarketing.config import load_config
from smarketing.paths import DEFAULT_CONFIG
from smarketing.review.decision import record_decision
from smarketing.review.proposal import _store, review_body

pytestmark = pytest.mark.integration

MONTH = date(2026, 10, 1)
PROPOSAL = {
    "scoring": {
        "version": "review-2026-10",
        "fit": [{"id": "persona_it_leader", "field": "persona_id", "in": ["it_leader"], "points": 12}],
        "grades": {"A": 12, "B": 5, "C": 0, "D": -5},
    },
    "vocabulary": {"mql": {"min_score": 18.5, "min_grade": "C"}},
    "sla": {"sales": {"tiers": [{"id": "hot", "when": {"min_score": 27.5}}]}},
}
SUMMARY = {
    "month": "2026-10",
    "active": {"version": "2026.11", "hash": "a" * 16},
    "proposed": {"version": "review-2026-10", "hash": "b" * 16},
    "calibration": {
        "leads": 900,
        "auc_integer_points": 0.71,
        "auc_unrounded": 0.712,
        "auc_reference": 0.715,
        "engagement": {
            "half_life_days": 30,
            "auc_fit_only": 0.7,
            "auc_fit_and_engagement": 0.8,
            "auc_reference": 0.79,
        },
        "mql": {
            "active_min_score": 60,
            "min_score": 18.5,
            "min_grade": "C",
            "as_of": "2026-10-31T18:00:00+00:00",
            "active_mqls": 42,
            "proposal_mqls": 41,
        },
    },
    "backtest": [
        {
            "month": "2026-10",
            "model": m,
            "mqls": 10,
            "to_sql": 4,
            "sql_rate": 0.4,
            "converted": 2,
            "conversion_rate": 0.2,
        }
        for m in ("candidate", "active")
    ],
    "mql_min_score": {"candidate": 18.5, "active": 60},
    "auc": {
        "candidate": {"auc": 0.8, "leads": 50, "won": 10},
        "active": {"auc": 0.7, "leads": 50, "won": 10},
    },
}


def _decide(dsn: str, tmp_path: Path, response: dict) -> dict:
    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(DEFAULT_CONFIG, repo / "config" / "smarketing.yaml")
    return record_decision(
        dsn,
        MONTH,
        response,
        agreement=repo / "config" / "smarketing.yaml",
        proposals_dir=repo / "config" / "proposals",
        relative="config/smarketing.yaml",
    )


def _row(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM scoring.model_reviews WHERE month = %s", (MONTH,)).fetchone()


def test_approval_records_the_decision_and_writes_a_patch(clean_warehouse: str, tmp_path: Path) -> None:
    _store(clean_warehouse, MONTH, "run-1", PROPOSAL, SUMMARY)
    assert _row(clean_warehouse)["decision"] == "pending"
    answered = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)
    response = {
        "chosen_options": ["Approve"],
        "params_input": {"comment": "webinars matter more, agreed"},
        "responded_by_user": {"id": "7", "name": "marie"},
        "responded_at": answered,
    }
    result = _decide(clean_warehouse, tmp_path, response)
    row = _row(clean_warehouse)
    assert (row["decision"], row["decided_by"], row["comment"], row["timed_out"]) == (
        "approved",
        "marie",
        "webinars matter more, agreed",
        False,
    )
    assert row["decided_at"] == answered
    assert (row["active_hash"], row["proposed_hash"]) == ("a" * 16, "b" * 16)
    assert row["proposal"] == PROPOSAL and row["backtest"]["months"] == SUMMARY["backtest"]
    patch = Path(result["patch"])
    assert row["patch_path"] == str(patch) and patch.name == "scoring-2026-10.patch"
    subprocess.run(["git", "init", "-q"], cwd=tmp_path / "repo", check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=tmp_path / "repo", check=True)
    # The approved points come with the threshold they were matched on.
    patched = load_config(tmp_path / "repo" / "config" / "smarketing.yaml")
    assert patched.vocabulary.mql.min_score == 18.5 and patched.scoring.version == "review-2026-10"
    assert result["mql"] == {"min_score": [60, 18.5]}
    # The hot SLA tier's score condition moves to the same scale.
    assert patched.sla.sales.tiers[0].when.min_score == 27.5 and result["sla_tiers"] == {"hot": [90, 27.5]}
    # Asked again (a rerun), the first decision stands and nothing is rewritten.
    again = _decide(
        clean_warehouse,
        tmp_path,
        {"chosen_options": ["Reject"], "responded_by_user": {"id": "8", "name": "paul"}},
    )
    assert again["decision"] == "approved" and again["rerun"]
    assert _row(clean_warehouse)["decided_by"] == "marie"


@pytest.mark.parametrize(
    ("response", "who", "timed_out"),
    [
        (
            {
                "chosen_options": ["Reject"],
                "params_input": {"comment": "too few leads"},
                "responded_by_user": {"id": "8", "name": "paul"},
            },
            "paul",
            False,
        ),
        # The scheduler's timeout sweep answers with the defaults (Reject) and no user.
        (
            {"chosen_options": ["Reject"], "params_input": {"comment": ""}, "responded_by_user": None},
            None,
            True,
        ),
    ],
    ids=["rejected", "timed-out"],
)
def test_rejection_and_timeout_write_no_patch(
    clean_warehouse: str, tmp_path: Path, response, who, timed_out
) -> None:
    _store(clean_warehouse, MONTH, "run-1", PROPOSAL, SUMMARY)
    result = _decide(clean_warehouse, tmp_path, response)
    row = _row(clean_warehouse)
    assert (row["decision"], row["decided_by"], row["timed_out"], row["patch_path"]) == (
        "rejected",
        who,
        timed_out,
        None,
    )
    assert result["patch"] is None and not (tmp_path / "repo" / "config" / "proposals").exists()


def test_the_body_shows_the_backtest_per_month_and_model_with_each_threshold() -> None:
    body = review_body(SUMMARY)
    assert "proposal 0.8, in effect 0.7" in body
    assert "| 2026-10 | candidate | 18.5 | 10 | 4 (40.0%) | 2 (20.0%) |" in body
    assert "| 2026-10 | active | 60 | 10 |" in body
    assert "`vocabulary.mql.min_score`: 60 in effect → **18.5** proposed" in body
    assert "the agreement in effect makes 42 MQLs, the proposal 41" in body


def test_a_warehouse_without_outcomes_skips_the_scoring_side_and_says_why(
    clean_warehouse: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, summary_lines: list[str]
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from smarketing.review.tasks import propose

    monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_WAREHOUSE", clean_warehouse)
    monkeypatch.setenv("SMARKETING_REVIEW_DIR", str(tmp_path))
    with pytest.raises(AirflowSkipException, match="no scoring proposal this month"):
        propose("2026-10", "run-1", 3)
    assert _row(clean_warehouse) is None
    # The reason is the task's summary line, not only the skip's (which the UI folds away).
    assert len(summary_lines) == 1, summary_lines
    assert summary_lines[0].startswith("scoring proposal for 2026-10: none this month, "), summary_lines
