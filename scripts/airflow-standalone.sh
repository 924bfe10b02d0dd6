#!/usr/bin/env bash
# `make airflow`: Airflow standalone (API server + UI, scheduler, DAG processor, triggerer) with this
# project's DAGs, ready to run: in sandbox mode it also serves the synthetic HubSpot/Mautic world and
# points the connections and source Variables at it, so pressing Trigger on smarketing_ingest lands data.
#
#   AIRFLOW_PORT        the UI / API port (default 8080); the tasks' execution API URL follows it
#   SANDBOX_PORT        the sandbox API port (default 8765)
#   SMARKETING_SANDBOX  auto (default: on unless real connections or sources are configured), on, off
#   SANDBOX_WORLD       the generated world served (default .local/sandbox/world, shared with `make demo`;
#                       generated there on first use with SANDBOX_CONTACTS / SANDBOX_DAYS: 2000 / 120)
#   AIRFLOW_HOME        the Airflow home (default .local/airflow: logs, the admin password file)
#   AIRFLOW__DATABASE__SQL_ALCHEMY_CONN  the metadata DB (default: database smarketing_airflow on the
#                       warehouse's PostgreSQL server, created when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh

airflow_port="${AIRFLOW_PORT:-8080}"
sandbox_port="${SANDBOX_PORT:-8765}"
export AIRFLOW__API__PORT="$airflow_port"
# Tasks reach Airflow through the execution API at this URL: without it they call :8080 whatever the
# port, and hang in up_for_retry with an empty log.
export AIRFLOW__API__BASE_URL="http://localhost:$airflow_port"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$airflow_port/execution/"
# A local deployment listens on the loopback interface only.
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# Not SQLite: with the scheduler, API server, DAG processor and tasks writing at once, SQLite's lock
# stops the scheduler ("database is locked") on a busy machine. PostgreSQL is here anyway.
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$(python -c '
import os
from smarketing.warehouse.connection import ensure_database, normalise_dsn, with_database
dsn = with_database(normalise_dsn(os.environ["SMARKETING_WAREHOUSE_DSN"]), "smarketing_airflow")
ensure_database(dsn)
print(dsn)')"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
fi

port_free() {
  python -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', int(sys.argv[1])))" "$1" 2>/dev/null
}
port_free "$airflow_port" || { echo "airflow: port $airflow_port is in use; start with AIRFLOW_PORT=<free port> make airflow" >&2; exit 1; }

echo "airflow: home $AIRFLOW_HOME, metadata DB $(python -c 'import sys; from smarketing.warehouse.connection import redact_dsn; print(redact_dsn(sys.argv[1]))' "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -n 40 "$AIRFLOW_HOME/migrate.log"; exit 1; }

sandbox_url="http://127.0.0.1:$sandbox_port"
mode="$(smarketing-sandbox airflow-setup --mode "${SMARKETING_SANDBOX:-auto}" --url "$sandbox_url" | tail -n 1)"
children=()
cleanup() { for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$mode" = on ]; then
  port_free "$sandbox_port" || { echo "sandbox: port $sandbox_port is in use; start with SANDBOX_PORT=<free port> make airflow" >&2; exit 1; }
  world="${SANDBOX_WORLD:-.local/sandbox/world}"
  [ -f "$world/world.json" ] || echo "sandbox: generating the world in $world (${SANDBOX_CONTACTS:-2000} contacts, ${SANDBOX_DAYS:-120} days; once)"
  smarketing-sandbox serve --port "$sandbox_port" --world "$world" \
    --contacts "${SANDBOX_CONTACTS:-2000}" --days "${SANDBOX_DAYS:-120}" > "$AIRFLOW_HOME/sandbox-server.log" 2>&1 &
  children+=($!)
  for _ in $(seq 1 600); do
    python -c "import urllib.request as u; u.urlopen('$sandbox_url/_sandbox/stats', timeout=2)" 2>/dev/null && break
    kill -0 "${children[0]}" 2>/dev/null || { tail -n 40 "$AIRFLOW_HOME/sandbox-server.log"; exit 1; }
    sleep 1
  done
  echo "sandbox: HubSpot- and Mautic-shaped APIs on $sandbox_url (log: $AIRFLOW_HOME/sandbox-server.log)"
fi

banner() {
  # Waits for the API server, then says where everything is and what to press.
  local password_file="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
  for _ in $(seq 1 600); do
    python -c "import urllib.request as u; u.urlopen('http://localhost:$airflow_port/api/v2/monitor/health', timeout=2)" 2>/dev/null \
      && [ -s "$password_file" ] && break
    sleep 2
  done
  local password
  password="$(python -c "import json,sys; print(json.load(open(sys.argv[1])).get('admin', '?'))" "$password_file" 2>/dev/null || echo '?')"
  cat <<EOF

================================================================================
 Smarketing on Airflow: http://localhost:$airflow_port
   login:      admin / $password   (kept in $password_file)
   warehouse:  $SMARKETING_WAREHOUSE_DSN (SMARKETING_WAREHOUSE_DSN)
EOF
  if [ "$mode" = on ]; then
    cat <<EOF
   sandbox:    on - $sandbox_url serves a synthetic HubSpot + Mautic world; the connections
               smarketing_hubspot, smarketing_mautic and the Variables smarketing_api_sources,
               smarketing_file_sources point at it (Admin > Connections / Variables)
   try:        Dags > smarketing_ingest > Trigger: lands the world into raw.* and core.*
EOF
  else
    cat <<EOF
   sandbox:    off - the pipeline uses the connections and sources you configured
               (docs/extract.md; SMARKETING_SANDBOX=on to use the sandbox instead)
EOF
  fi
  echo "================================================================================"
}
banner &
children+=($!)

airflow standalone &
children+=($!)
wait "${children[-1]}"
