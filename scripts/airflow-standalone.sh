#!/usr/bin/env bash
# Airflow standalone (API server, scheduler, dag processor, triggerer) with this project's DAGs on
# http://localhost:8080. The admin password is printed once it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
export AIRFLOW__API__PORT="${AIRFLOW_PORT:-8080}"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1
(
  for _ in $(seq 1 120); do
    for f in "$AIRFLOW_HOME"/simple_auth_manager_passwords.json.generated "$AIRFLOW_HOME"/standalone_admin_password.txt; do
      if [ -s "$f" ]; then echo; echo "airflow: http://localhost:$AIRFLOW__API__PORT  login: admin  password file: $f"; cat "$f"; echo; exit 0; fi
    done
    sleep 2
  done
) &
exec airflow standalone
