"""Every DAG file parses, follows the project's policies, and touches nothing at parse time."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_there_are_dags() -> None:
    assert DAG_FILES, "no DAG files found"


def test_every_dag_file_imports_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_file_named_after_it(dagbag) -> None:
    by_file: dict[str, list[str]] = {}
    for dag_id, dag in dagbag.dags.items():
        by_file.setdefault(Path(dag.fileloc).stem, []).append(dag_id)
    assert by_file == {p.stem: [p.stem] for p in DAG_FILES}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_policies(dagbag, path: Path) -> None:
    from airflow.sdk import CronTriggerTimetable

    from smarketing.airflow_support import FailFastPolicy

    dag = dagbag.dags[path.stem]
    assert dag.dag_id.startswith("smarketing_")
    assert dag.doc_md and len(dag.doc_md.strip()) > 100, "module docstring must be the DAG's doc_md"
    assert "smarketing" in dag.tags
    assert dag.params is not None
    assert not isinstance(dag.timetable, CronTriggerTimetable), (
        "use CronDataIntervalTimetable: runs cover a data interval"
    )
    for task in dag.tasks:
        assert task.owner == "smarketing", task.task_id
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff, task.task_id
        # What a retry cannot fix (configuration, missing connection, bad param) fails at once.
        assert isinstance(task.retry_policy, FailFastPolicy), task.task_id
    source = ast.parse(path.read_text())
    keywords = {kw.arg for node in ast.walk(source) if isinstance(node, ast.Call) for kw in node.keywords}
    assert "catchup" in keywords, "catchup must be set explicitly"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_dag_file_parses_without_warehouse_config_or_heavy_imports(path: Path, tmp_path: Path) -> None:
    """Parsing must not connect anywhere nor read the agreement; a broken setup still shows the DAG."""
    env = {
        **os.environ,
        "SMARKETING_WAREHOUSE_DSN": "postgresql://nobody@127.0.0.1:1/none",
        "SMARKETING_CONFIG": str(tmp_path / "missing.yaml"),
    }
    env.pop("AIRFLOW_CONN_SMARKETING_WAREHOUSE", None)
    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('dagfile', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "heavy = sorted(m for m in ('pandas', 'great_expectations', 'numpy', 'requests') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"parse-time imports of heavy modules: {done.stdout.strip()}"


def test_a_param_without_a_value_is_optional_in_the_forms(dagbag) -> None:
    """Airflow's trigger and Required Actions forms mark a field whose type has no "null" as required (and
    disable their buttons until it is filled): a param with no value by default must accept null."""
    forms = [(dag_id, "(trigger)", dag.params) for dag_id, dag in dagbag.dags.items()]
    forms += [
        (dag_id, task.task_id, task.params)
        for dag_id, dag in dagbag.dags.items()
        for task in dag.tasks
        if task.task_type == "HITLOperator"
    ]
    assert any(task == "approve_scoring" for _, task, _ in forms)
    for dag_id, form, params in forms:
        for name in params:
            param = params.get_param(name)
            if param.value in (None, ""):
                kinds = param.schema.get("type")
                kinds = kinds if isinstance(kinds, list) else [kinds]
                assert "null" in kinds, f"{dag_id} {form}: param {name!r} has no value but is required"
