"""smarketing_review end to end with `dag.test()`: the closed month's KPIs and report, the recalibrated
proposal and its backtest, and the approval answered the way a user answers it — through Airflow's REST
API (PATCH of the task's HITL detail, a JWT bearer token) served over HTTP by the API server's own app on
the same metadata DB — or not answered at all, when the scheduler's timeout sweep applies the default.

Approve: the decision is recorded with who and the comment, and the patch applies to the agreement.
Reject and timeout: recorded as rejected, no patch, the agreement untouched.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pendulum
import psycopg
import pytest

from smarketing.config import load_config
from smarketing.paths import DEFAULT_CONFIG
from tests.e2e.conftest import load_dag
from tests.integration.calibration_world import plant_outcomes
from tests.smtp_sink import smtp_sink

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

DAG_ID = "smarketing_review"
TASK = "approve_scoring"
# The API server shares two loaded cores with the DAG run: httpx's 5 s default is too short.
HTTP_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    """Airflow's API server app (REST API with its auth) served over HTTP on a free loopback port."""
    import uvicorn
    from airflow.api_fastapi.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/api/v2"
    server.should_exit = True
    thread.join(10)


def _token(user: str) -> str:
    """The JWT the API server hands a user who logs in (the same signing key and claims)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=user, role="admin"))


@pytest.fixture()
def review_env(warehouse_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_ready) -> dict:
    plant_outcomes(warehouse_env)
    repo = tmp_path / "repo"
    (repo / "config").mkdir(parents=True)
    shutil.copy(DEFAULT_CONFIG, repo / "config" / "smarketing.yaml")
    monkeypatch.setenv("SMARKETING_REVIEW_PROPOSALS_DIR", str(repo / "config" / "proposals"))
    monkeypatch.setenv("SMARKETING_REVIEW_DIR", str(tmp_path / "review"))
    monkeypatch.setenv("SMARKETING_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("SMARKETING_REVIEW_SMTP_CONN_ID", "review_smtp")
    return {"dsn": warehouse_env, "repo": repo, "tmp": tmp_path}


class Answerer:
    """A user (or the scheduler) answering from another thread while dag.test() runs the review in the
    main thread (task timeouts use signals, which only the main thread may set) and parks at the approval."""

    def __init__(self, api: str, token: str, respond) -> None:
        self.api, self.token, self.respond = api, token, respond
        # dag.test() names its run after this moment: the answerer waits for that run's request only.
        self.run_after = pendulum.now("UTC")
        self.run_id = f"manual__{self.run_after.isoformat()}"
        self.request: dict | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.request = self._wait_for_request()
            self.respond(self.request)
        except BaseException as exc:  # reported in the main thread by done()
            self.error = exc
            # Let the run end: dag.test() waits for an answer as long as the task allows (days), and
            # pytest's timeout cannot interrupt it.
            self._reject_whatever_is_pending()

    def _reject_whatever_is_pending(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pending = self._pending()
                for request in pending:
                    _answer(self.api, self.token, request, "Reject", "test failed")
                if pending or self._finished():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2)

    def _finished(self) -> bool:
        response = httpx.get(
            f"{self.api}/dags/{DAG_ID}/dagRuns/{self.run_id}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=HTTP_TIMEOUT,
        )
        return response.status_code == 200 and response.json()["state"] in ("success", "failed")

    def _pending(self) -> list[dict]:
        response = httpx.get(
            f"{self.api}/dags/{DAG_ID}/dagRuns/{self.run_id}/hitlDetails",
            params={"task_id": TASK, "response_received": False},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=HTTP_TIMEOUT,
        )
        response.raise_for_status()
        return response.json()["hitl_details"]

    def _wait_for_request(self, timeout: float = 1200) -> dict:
        """The run's approval request, once the run reaches it (the run and its tasks are created as
        dag.test() goes: until then the API may answer 404; a loaded machine may answer slowly)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = self._pending()
            except httpx.HTTPError:
                found = []
            if found:
                return found[0]
            time.sleep(1)
        raise AssertionError("the approval was never requested")

    def done(self) -> dict:
        self.thread.join(30)
        if self.error is not None:
            raise self.error
        assert self.request is not None, "nobody answered"
        return self.request


def run_review(conf: dict, answerer: Answerer, response_timeout: timedelta | None = None) -> dict[str, str]:
    """Run the review with dag.test() in this thread; {task_id: state} of every task instance."""
    dag = load_dag(DAG_ID)
    for task in dag.tasks:
        task.retries = 0
    if response_timeout is not None:
        dag.task_dict[TASK].response_timeout = response_timeout
    run = dag.test(run_conf=conf, logical_date=answerer.run_after, run_after=answerer.run_after)
    assert run.run_id == answerer.run_id
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _answer(api: str, token: str, request: dict, option: str, comment: str) -> httpx.Response:
    ti = request["task_instance"]
    return httpx.patch(
        f"{api}/dags/{DAG_ID}/dagRuns/{ti['dag_run_id']}/taskInstances/{TASK}/{ti['map_index']}/hitlDetails",
        json={"chosen_options": [option], "params_input": {"comment": comment}},
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=HTTP_TIMEOUT,
    )


def _review_row(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM scoring.model_reviews WHERE month = '2026-10-01'").fetchone()


def _all_succeeded(states: dict[str, str]) -> None:
    assert states and all(state == "success" for state in states.values()), states


def test_approval_through_the_rest_api_writes_the_patch(
    review_env: dict, api: str, monkeypatch: pytest.MonkeyPatch, summary_lines: list[str]
) -> None:
    token = _token("marie")
    statuses: list[int] = []

    def approve(request: dict) -> None:
        assert "| 2026-10 | candidate |" in request["body"] and request["defaults"] == ["Reject"]
        # The request names the threshold the new points hand over at, next to the one in effect.
        assert "**MQL threshold** `vocabulary.mql.min_score`: 60 in effect → **" in request["body"]
        assert "**SLA tier `hot`** `when.min_score`: 90 in effect → **" in request["body"]
        assert _review_row(review_env["dsn"])["decision"] == "pending"
        # Without a token the API refuses; with one, the answer is taken once.
        statuses.append(_answer(api, "", request, "Approve", "x").status_code)
        statuses.append(_answer(api, token, request, "Approve", "webinars count more; merge it").status_code)
        statuses.append(_answer(api, token, request, "Reject", "changed my mind").status_code)

    with smtp_sink(monkeypatch, "review_smtp") as sink:
        answerer = Answerer(api, token, approve)
        states = run_review({"month": "2026-10", "mail_to": "sales-ops@northwind.example"}, answerer)
        answerer.done()
    assert statuses == [401, 200, 409]
    _all_succeeded(states)
    row = _review_row(review_env["dsn"])
    assert (row["decision"], row["decided_by"], row["comment"], row["timed_out"]) == (
        "approved",
        "marie",
        "webinars count more; merge it",
        False,
    )
    assert row["proposed_hash"] != row["active_hash"] and row["decided_at"] is not None
    patch = review_env["repo"] / "config" / "proposals" / "scoring-2026-10.patch"
    assert row["patch_path"] == str(patch)
    agreement = review_env["repo"] / "config" / "smarketing.yaml"
    assert agreement.read_bytes() == DEFAULT_CONFIG.read_bytes(), "the agreement is never rewritten"
    subprocess.run(["git", "init", "-q"], cwd=review_env["repo"], check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=review_env["repo"], check=True)
    # The patched agreement carries the proposal's points and the MQL threshold matched on their scale.
    proposal = row["proposal"]
    threshold = proposal["vocabulary"]["mql"]["min_score"]
    patched = load_config(agreement)
    assert patched.scoring.version == row["proposed_version"] == "review-2026-10"
    assert patched.vocabulary.mql.min_score == threshold == row["calibration"]["mql"]["min_score"]
    assert threshold != 60, "the planted world's points are on another scale than the agreement's"
    assert row["backtest"]["mql_min_score"] == {"candidate": threshold, "active": 60}
    # ... and the hot SLA tier's score condition on the same scale.
    (hot,) = proposal["sla"]["sales"]["tiers"]
    assert patched.sla.sales.tiers[0].when.min_score == hot["when"]["min_score"] != 90
    # The report was built for the closed month and mailed once.
    assert (review_env["tmp"] / "reports" / "review-2026-10.html").is_file()
    assert [m["Subject"] for m in sink.to("sales-ops@northwind.example")] == [
        "Smarketing review October 2026"
    ]
    # Each task's log ends with what it did, in words (no address).
    said = "\n".join(summary_lines)
    for line in (
        "review of 2026-10: starts at ",
        "review report of 2026-10: review-2026-10.html",
        "review report of 2026-10: mailed",
        f"scoring proposal for 2026-10: approved; patch scoring-2026-10.patch; "
        f"vocabulary.mql.min_score 60 → {threshold}, sla tier hot min_score 90 → {hot['when']['min_score']}",
        f"scoring proposal for 2026-10: review-2026-10 (MQL at score ≥ {threshold:g}) against 2026.11 in "
        "effect (≥ 60), backtested over 3 months",
    ):
        assert line in said, said
    assert re.search(r"KPIs of 2026-10: \d+ tables rebuilt", said), said
    assert "@" not in said


def test_rejection_through_the_rest_api_changes_nothing(review_env: dict, api: str) -> None:
    token = _token("paul")
    statuses: list[int] = []

    def reject(request: dict) -> None:
        statuses.append(_answer(api, token, request, "Reject", "too few won deals yet").status_code)

    answerer = Answerer(api, token, reject)
    states = run_review({"month": "2026-10"}, answerer)
    answerer.done()
    assert statuses == [200]
    _all_succeeded(states)
    row = _review_row(review_env["dsn"])
    assert (row["decision"], row["decided_by"], row["comment"], row["patch_path"]) == (
        "rejected",
        "paul",
        "too few won deals yet",
        None,
    )
    assert not (review_env["repo"] / "config" / "proposals").exists()


def test_no_answer_in_time_is_a_rejection(review_env: dict, api: str) -> None:
    """The scheduler's own timeout sweep (the code `airflow scheduler` runs each loop) answers with the
    defaults once the response timeout has passed."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    def sweep(request: dict) -> None:
        time.sleep(3)
        SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()

    answerer = Answerer(api, _token("nobody"), sweep)
    states = run_review({"month": "2026-10"}, answerer, response_timeout=timedelta(seconds=2))
    answerer.done()
    _all_succeeded(states)
    row = _review_row(review_env["dsn"])
    assert (row["decision"], row["decided_by"], row["timed_out"], row["patch_path"]) == (
        "rejected",
        None,
        True,
        None,
    )
    assert not (review_env["repo"] / "config" / "proposals").exists()
