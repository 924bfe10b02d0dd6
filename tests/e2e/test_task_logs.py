"""The task logs of a demo-like run read as a person needs them: no third-party INFO chatter, and every
task's own lines end with its one summary line (logger `smarketing.summary`), in human units.

The run is the demo's: the sandbox world served over its HubSpot- and Mautic-shaped APIs, then ingest,
scoring, the SLA clock, nurturing and the KPI build through the real DAGs with `dag.test()`, which runs
each task in this process: every log record emitted while a task runs is collected by task instance.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smarketing.tasklog import SUMMARY_LOGGER
from smarketing_sandbox.api_world import ApiWorld
from smarketing_sandbox.server import SandboxServer
from smarketing_sandbox.world import generate_world
from tests.e2e.conftest import run_dag
from tests.integration.sandbox_support import HUBSPOT_OBJECTS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("airflow")]

API_SOURCES = [
    {"system": "hubspot", "lag_seconds": 0, "objects": list(HUBSPOT_OBJECTS)},
    {"system": "mautic", "lag_seconds": 0},
]
# Tasks that only hand values from one task to the next (DAG plumbing, no work of the package).
PLUMBING = {("smarketing_scoring", "shard_numbers")}
# Loggers that are ours or Airflow's own task machinery; any other logger at INFO is third-party noise.
OWN = ("smarketing", "airflow", "task", "py.warnings")


@dataclass
class TaskLog:
    dag_id: str
    task: str
    records: list[tuple[str, str, str]] = field(default_factory=list)  # level, logger, message

    def own_lines(self) -> list[tuple[str, str, str]]:
        return [r for r in self.records if r[1].startswith("smarketing")]


class TaskRecords(logging.Handler):
    """Every log record emitted while a task instance runs, by task instance (dag.test() runs tasks in
    this process, so the running task is the current Airflow context)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.logs: dict[tuple[str, str], TaskLog] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from airflow.sdk import get_current_context

            ti = get_current_context()["ti"]
        except Exception:  # not inside a task
            return
        task = ti.task_id if ti.map_index is None or ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        log = self.logs.setdefault((ti.dag_id, task), TaskLog(ti.dag_id, task))
        log.records.append((record.levelname.lower(), record.name, record.getMessage()))


@pytest.fixture()
def task_records() -> Iterator[TaskRecords]:
    handler = TaskRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def run_logged(dag_id: str, **kwargs) -> dict[str, str]:
    states = run_dag(dag_id, **kwargs)
    failed = {t: s for t, s in states.items() if s not in ("success", "skipped")}
    assert not failed, failed
    return states


def test_demo_run_task_logs_have_no_library_chatter_and_end_with_a_summary(
    airflow_ready: None, warehouse_env: str, tmp_path: Path, task_records: TaskRecords, monkeypatch
) -> None:
    world = tmp_path / "world"
    generate_world(world, contacts=300, seed=7, days=60, end=datetime(2026, 11, 16, tzinfo=UTC))
    skipped: set[str] = set()
    with SandboxServer(ApiWorld.load(world)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_HUBSPOT", server.hubspot_connection())
        monkeypatch.setenv("AIRFLOW_CONN_SMARKETING_MAUTIC", server.mautic_connection())
        runs = [
            ("smarketing_ingest", {"api_sources": API_SOURCES, "file_sources": []}),
            (
                "smarketing_scoring",
                {
                    "as_of": "2026-11-16T02:00:00+00:00",
                    "shards": 2,
                    "writeback": [{"system": "hubspot", "api": "hubspot", "dry_run": True}],
                },
            ),
            ("smarketing_sla", {"as_of": "2026-11-16T10:00:00+00:00", "send_alerts": False}),
            ("smarketing_nurture", {"as_of": "2026-11-16T02:00:00+00:00"}),
            ("smarketing_kpi", {"as_of": "2026-11-16T04:00:00+00:00"}),
        ]
        for dag_id, conf in runs:
            states = run_logged(dag_id, run_conf=conf)
            skipped |= {f"{dag_id}.{t}" for t, s in states.items() if s == "skipped"}
    logs = list(task_records.logs.values())

    assert {log.dag_id for log in logs} == {dag_id for dag_id, _ in runs}
    noise = [
        (log.dag_id, log.task, text.splitlines()[0][:160])
        for log in logs
        for level, logger, text in log.records
        if level in ("info", "debug") and not logger.startswith(OWN)
    ]
    assert not noise, noise

    missing = []
    for log in logs:
        if (log.dag_id, log.task.split("[")[0]) in PLUMBING or f"{log.dag_id}.{log.task}" in skipped:
            continue
        own = log.own_lines()
        if not own or own[-1][1] != SUMMARY_LOGGER:
            missing.append((log.dag_id, log.task, own[-1][2][:200] if own else "no line of its own"))
    assert not missing, missing
    dicts = [(log.dag_id, log.task) for log in logs for _, _, t in log.records if "Returned value was:" in t]
    assert not dicts, dicts  # the returned dict stays in XCom, not at the end of the log

    summaries = {
        f"{log.dag_id}.{log.task}": [t for _, name, t in log.records if name == SUMMARY_LOGGER]
        for log in logs
    }
    text = "\n".join(line for lines in summaries.values() for line in lines)
    # Human units: no epoch milliseconds, no Python dict at the end of a line, thousands separators.
    assert not re.search(r"\b1[6-9]\d{11}\b", text), text
    assert "{'" not in text, text
    contacts = next(
        t
        for k, lines in summaries.items()
        if "extract_api_object" in k
        for t in lines
        if "hubspot/contacts" in t
    )
    assert re.search(
        r"hubspot/contacts: [\d,]+ received, .*[\d,]+ new .*watermark 20\d\d-\d\d-\d\d \d\d:\d\d", contacts
    )
    assert any("shard 2 of 2 (lead ids from " in t for t in text.splitlines()), text
    assert len(logs) >= 40, [(log.dag_id, log.task) for log in logs]  # every task instance was seen
