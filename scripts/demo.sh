#!/usr/bin/env bash
# The whole pipeline on the embedded sandbox: generate a synthetic company, then run the real DAGs
# with `airflow dags test` (local SQLite metadata DB under .local/airflow), then print a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
export SMARKETING_TASK_RETRIES="${SMARKETING_TASK_RETRIES:-0}"

world=".local/sandbox/world"
end="$(date -u +%Y-%m-%dT00:00:00)"   # the world ends today at midnight UTC: reruns on the same day land nothing new
logical_date="$(date -u +%Y-%m-%dT%H:00:00+00:00)"

echo "demo: Airflow metadata DB in $AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/migrate.log"; exit 1; }

echo "demo: generating the sandbox world ($CONTACTS contacts, $DAYS days up to $end) in $world"
smarketing sandbox generate --contacts "$CONTACTS" --days "$DAYS" --seed 7 --end "$end" --out "$world" > /dev/null

export SMARKETING_FILE_SOURCES="[{\"mapping\": \"config/sources/sandbox_crm.yaml\", \"root\": \"$PWD/$world\"}, {\"mapping\": \"config/sources/sandbox_ma.yaml\", \"root\": \"$PWD/$world\"}]"

run_dag() {
  local dag_id="$1" log="$AIRFLOW_HOME/$1.log"
  echo "demo: airflow dags test $dag_id $logical_date"
  if ! airflow dags test "$dag_id" "$logical_date" > "$log" 2>&1; then
    tail -n 60 "$log"
    echo "demo: $dag_id failed; full log in $log" >&2
    exit 1
  fi
}

run_dag smarketing_ingest
run_dag smarketing_scoring
run_dag smarketing_sla

smarketing status
