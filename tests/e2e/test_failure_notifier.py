"""Failure notices of the smarketing DAGs, mailed to a real local SMTP server."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from smarketing.notify import FailureNotifier, Route, failure_from_context, first_line
from smarketing.paths import PROJECT_ROOT
from tests.e2e.conftest import DAGS_DIR, run_dag
from tests.smtp_sink import Sink, smtp_sink

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

ONCALL = "oncall@northwind.example"
SECRET_LEAD = "jane.doe@acme.example"


@pytest.fixture()
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    monkeypatch.setenv(
        "SMARKETING_FAILURE_ALERTS", json.dumps({"to": ONCALL, "smtp_conn_id": "smtp_failure_test"})
    )
    with smtp_sink(monkeypatch, "smtp_failure_test") as handler:
        yield handler


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the test SMTP server's own (it logs the envelope it receives)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))


def body(message) -> str:
    (html,) = [p for p in message.walk() if p.get_content_type() == "text/html"]
    return html.get_payload(decode=True).decode()


def test_a_failed_task_mails_its_dag_task_log_link_and_first_error_line(
    airflow_ready: None,
    warehouse_env: str,
    sink: Sink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broken agreement fails `check_agreement` of the KPI DAG: the notice still goes out (the
    Variable alone routes it), names the DAG, the task, the run, links the log, quotes one line."""
    agreement = (PROJECT_ROOT / "config" / "smarketing.yaml").read_text()
    broken = tmp_path / "smarketing.yaml"
    broken.write_text(agreement.replace("max_listed: 50", f"max_listed: {SECRET_LEAD}", 1))
    monkeypatch.setattr("smarketing.paths.DEFAULT_CONFIG", broken)
    caplog.set_level(logging.INFO)

    states = run_dag("smarketing_kpi")

    assert states["check_agreement"] == "failed"
    (message,) = sink.to(ONCALL)
    assert message["Subject"].startswith("Smarketing failure: smarketing_kpi.check_agreement (manual__")
    run_id = message["Subject"].removesuffix(")").rpartition("(")[2]
    text = body(message)
    assert f"/dags/smarketing_kpi/runs/{quote(run_id)}/tasks/check_agreement" in text
    (error,) = re.findall(r"<th align='left'>Error</th><td>(.*?)</td>", text)
    # The retry policy fails a broken agreement at once, so the notice quotes the error itself.
    assert error.startswith("ConfigError: ") and "problem(s) in the agreement" in error
    assert "\n" not in error
    assert SECRET_LEAD not in text
    assert ONCALL not in ours(caplog) and SECRET_LEAD not in ours(caplog)


def test_a_refused_send_is_logged_without_the_address_and_does_not_raise(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.refuse = True
    context = {"dag_run": type("Run", (), {"dag_id": "smarketing_sla", "run_id": "manual__1"})()}
    FailureNotifier().notify({**context, "reason": "missed its deadline"})
    assert sink.messages == []
    assert "failure notice for smarketing_sla not sent" in caplog.text
    assert "oncall" not in ours(caplog)


def test_without_the_variable_the_sla_team_address_gets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARKETING_FAILURE_ALERTS", raising=False)
    monkeypatch.delenv("SMARKETING_SLA_ALERTS", raising=False)
    with smtp_sink(monkeypatch, "smtp_default") as default_sink:
        FailureNotifier().notify({"dag": type("Dag", (), {"dag_id": "smarketing_kpi"})()})
    (message,) = default_sink.to("sales-ops@northwind.example")  # sla.alerts.team in config/smarketing.yaml
    assert message["Subject"] == "Smarketing failure: smarketing_kpi"


def test_no_recipient_sends_nothing_and_says_how_to_set_one(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    sent = FailureNotifier(Route(smtp_conn_id="smtp_failure_test")).send(
        failure_from_context({"run_id": "r1"})
    )
    assert sent is False and sink.messages == []
    assert "smarketing_failure_alerts" in caplog.text


def test_first_line_names_the_type_masks_addresses_and_caps_length() -> None:
    assert (
        first_line(ValueError("\n  bad value for x@y.example\nmore"))
        == "ValueError: bad value for ***@y.example"
    )
    assert first_line(None) == ""
    assert len(first_line("x" * 1000)) == 300


def test_every_task_of_every_smarketing_dag_notifies_on_failure() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    assert not bag.import_errors, bag.import_errors
    missing = [
        f"{dag.dag_id}.{task.task_id}"
        for dag in bag.dags.values()
        for task in dag.tasks
        if not any(isinstance(cb, FailureNotifier) for cb in task.on_failure_callback or [])
    ]
    assert bag.dags and not missing
