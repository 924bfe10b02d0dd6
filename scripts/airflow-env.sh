# Sourced by the Makefile's recipes: a self-contained Airflow home under .local/ (SQLite metadata DB),
# this project's DAGs and plugins, no example DAGs. Override AIRFLOW_HOME to use another one.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$root/.local/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$root/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$root/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE="${AIRFLOW__CORE__UNIT_TEST_MODE:-False}"
export PATH="$root/.venv/bin:$PATH"
# This checkout's package first (the .venv's editable install may belong to another checkout).
export PYTHONPATH="$root/include${PYTHONPATH:+:$PYTHONPATH}"
# Tasks never assume a warehouse: local runs (demo, `make airflow`) name the local one explicitly.
export SMARKETING_WAREHOUSE_DSN="${SMARKETING_WAREHOUSE_DSN:-postgresql://postgres@127.0.0.1:5432/smarketing}"
mkdir -p "$AIRFLOW_HOME"
