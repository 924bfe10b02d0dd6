#!/usr/bin/env bash
# The whole pipeline on the embedded sandbox: generate a synthetic company, then run the real DAGs
# with `airflow dags test` (local SQLite metadata DB under .local/airflow), then print a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
export SMARKETING_TASK_RETRIES="${SMARKETING_TASK_RETRIES:-0}"
# `airflow dags test` crashes at the end of a run of a DAG with a Deadline Alert in Airflow 3.3
# (apache/airflow#73428), and nothing here would watch a deadline: the demo runs without them.
export SMARKETING_INGEST_DEADLINE_MINUTES=off SMARKETING_SCORING_DEADLINE_MINUTES=off

world=".local/sandbox/world"
end="$(date -u +%Y-%m-%dT00:00:00)"   # the world ends today at midnight UTC: reruns on the same day land nothing new
logical_date="$(date -u +%Y-%m-%dT%H:00:00+00:00)"

echo "demo: Airflow metadata DB in $AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/migrate.log"; exit 1; }

echo "demo: generating the sandbox world ($CONTACTS contacts, $DAYS days up to $end) in $world"
smarketing-sandbox generate --contacts "$CONTACTS" --days "$DAYS" --seed 7 --end "$end" --out "$world" > /dev/null

# The sandbox serves the same world over HubSpot- and Mautic-shaped APIs on a loopback port; the DAGs
# reach it through ordinary Airflow connections, exactly as they would reach real accounts.
port="${SANDBOX_PORT:-8765}"
echo "demo: serving the world on http://127.0.0.1:$port (HubSpot and Mautic APIs)"
smarketing-sandbox serve --port "$port" --world "$PWD/$world" > "$AIRFLOW_HOME/sandbox-server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/_sandbox/stats', timeout=2)" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$AIRFLOW_HOME/sandbox-server.log"; exit 1; }
  sleep 1
done
export AIRFLOW_CONN_SMARKETING_HUBSPOT="{\"conn_type\": \"hubspot\", \"host\": \"http://127.0.0.1:$port\", \"password\": \"sandbox-hubspot-token\"}"
export AIRFLOW_CONN_SMARKETING_MAUTIC="{\"conn_type\": \"mautic\", \"host\": \"http://127.0.0.1:$port\", \"login\": \"sandbox\", \"password\": \"sandbox-mautic-password\"}"
export SMARKETING_API_SOURCES='[{"system": "hubspot", "objects": ["owners", "companies", "contacts", "deals", "calls", "emails", "meetings", "notes", "tasks"]}, {"system": "mautic"}]'
export SMARKETING_FILE_SOURCES='[]'

run_dag() {
  # run_dag DAG_ID [LOGICAL_DATE [CONF_JSON]]
  local dag_id="$1" at="${2:-$logical_date}" conf="${3:-}" log="$AIRFLOW_HOME/$1.log"
  echo "demo: airflow dags test $dag_id $at ${conf}"
  if ! airflow dags test "$dag_id" "$at" ${conf:+-c "$conf"} > "$log" 2>&1; then
    tail -n 60 "$log"
    echo "demo: $dag_id failed; full log in $log" >&2
    exit 1
  fi
}

run_dag smarketing_ingest
run_dag smarketing_scoring
run_dag smarketing_sla
# Nurturing runs on the scores asset, as of the moment scoring scored: unready leads enter one scenario
# each (a control group held out), pushed once to the sandbox's Mautic segments/campaigns and HubSpot list.
run_dag smarketing_nurture

# A later night: the enrolled contacts have reacted a little (the sandbox's uplift), so landing and scoring
# again lets nurture.scenario_outcomes compare enrolled with held-out leads; nurturing then sends only
# what changed (exits, new entries).
later="$(date -u +%Y-%m-%dT%H:%M:%S+00:00)"
SMARKETING_API_SOURCES='[{"system": "hubspot", "lag_seconds": 0, "objects": ["owners", "companies", "contacts", "deals", "calls", "emails", "meetings", "notes", "tasks"]}, {"system": "mautic", "lag_seconds": 0}]' \
  run_dag smarketing_ingest "$later"
run_dag smarketing_scoring "$later" "{\"as_of\": \"$later\"}"
run_dag smarketing_nurture "$later"
run_dag smarketing_kpi

smarketing status
echo "demo: nurturing per scenario (nurture.enrollments, nurture.scenario_outcomes; docs/nurture.md)"
smarketing nurture status
echo "demo: KPI headlines (kpi.*, docs/kpi.md)"
smarketing kpi show

# The monthly review of the last full month (docs/review.md): one self-contained HTML file under
# .local/reports (SMARKETING_REPORT_DIR), charts inline, readable offline and in print.
review_month="$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)"
report_path="$(smarketing report --month "$review_month")"
echo "demo: monthly review of $review_month: $report_path"
