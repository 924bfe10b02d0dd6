#!/usr/bin/env bash
# airflow-init of docker-compose.yaml, once per deploy or upgrade: Airflow's metadata migrations, the
# warehouse migrations, the pools, the admin user's password file. Safe to run again.
set -euo pipefail

if [ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" ] || [ -z "${AIRFLOW__CORE__FERNET_KEY:-}" ]; then
  echo "airflow-init: AIRFLOW__API_AUTH__JWT_SECRET and AIRFLOW__CORE__FERNET_KEY must be set in .env" >&2
  echo "  (every component must share them; see .env.example)" >&2
  exit 1
fi
if [ -z "${SMARKETING_ADMIN_PASSWORD:-}" ]; then
  echo "airflow-init: set SMARKETING_ADMIN_PASSWORD in .env (the UI and REST API login of user admin)" >&2
  exit 1
fi

mkdir -p /opt/airflow/logs /opt/airflow/passwords
# The simple auth manager reads the admin password from this file (the api-server never generates one).
printf '{"admin": "%s"}\n' "$SMARKETING_ADMIN_PASSWORD" > /opt/airflow/passwords/passwords.json
chown -R "${AIRFLOW_UID}:0" /opt/airflow/logs /opt/airflow/passwords
chmod 600 /opt/airflow/passwords/passwords.json

airflow db migrate
smarketing db upgrade
airflow pools set default_pool "${SMARKETING_DEFAULT_POOL_SLOTS:-32}" "Every smarketing task"
echo "airflow-init: done"
