#!/usr/bin/env bash
# First start of the compose stack's PostgreSQL (docker-entrypoint-initdb.d): the warehouse database and
# the pipeline's own role, with the password from .env (WAREHOUSE_PASSWORD).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$WAREHOUSE_PASSWORD" <<'SQL'
CREATE ROLE smarketing LOGIN PASSWORD :'password';
CREATE DATABASE smarketing OWNER smarketing;
SQL
