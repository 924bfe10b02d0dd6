#!/usr/bin/env bash
# Airflow's production topology as local processes: api-server, scheduler, dag-processor, triggerer and
# N Celery workers, each its own process with a pid file and a log under $CLUSTER_HOME.
#   scripts/cluster.sh up|down|status          every component
#   scripts/cluster.sh start|stop|kill NAME     one component (kill = SIGKILL, as a crashed machine)
# $CLUSTER_HOME/env (written by tests/cluster/topology.py) holds the configuration every process shares.
# `make cluster` is the way in: it prepares the databases, writes the env file and calls this script.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
home="${CLUSTER_HOME:?set CLUSTER_HOME (the cluster folder with its env file)}"
# shellcheck disable=SC1091
source "$home/env"
workers="${CLUSTER_WORKERS:-2}"

components() {
  echo api-server scheduler dag-processor triggerer
  for n in $(seq 1 "$workers"); do echo "worker-$n"; done
}

command_of() {
  case "$1" in
    api-server) echo "airflow api-server --port $CLUSTER_PORT --workers 1" ;;
    scheduler | dag-processor | triggerer) echo "airflow $1" ;;
    # Each worker names itself: task instances record which one ran them (hostname_callable).
    worker-*) echo "airflow celery worker --concurrency ${CLUSTER_WORKER_CONCURRENCY:-2} --celery-hostname $1@%h" ;;
    *) echo "cluster: unknown component '$1'" >&2; return 1 ;;
  esac
}

pid_of() { cat "$home/run/$1.pid" 2>/dev/null || true; }
alive() { local pid; pid="$(pid_of "$1")"; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

start() {
  local name="$1" cmd n
  alive "$name" && return 0
  cmd="$(command_of "$name")"
  mkdir -p "$home/run" "$home/log"
  n="${name#worker-}"
  (
    if [[ "$name" == worker-* ]]; then
      export SMARKETING_WORKER_HOSTNAME="$name"
      # Every worker serves its task logs on its own port (they share one machine here).
      export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((CLUSTER_LOG_PORT_BASE + n))
    fi
    # setsid: a component and its children are one process group, stopped together.
    exec setsid $cmd >>"$home/log/$name.log" 2>&1 </dev/null
  ) &
  echo $! >"$home/run/$name.pid"
}

stop() {
  local name="$1" signal="${2:-TERM}" pid
  pid="$(pid_of "$name")"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$signal" -- "-$pid" 2>/dev/null || kill "-$signal" "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$home/run/$name.pid"
}

case "${1:-}" in
  up) for c in $(components); do start "$c"; done ;;
  down) for c in $(components | tac); do stop "$c"; done ;;
  status) for c in $(components); do if alive "$c"; then echo "$c up $(pid_of "$c")"; else echo "$c down"; fi; done ;;
  start) start "${2:?component}" ;;
  stop) stop "${2:?component}" ;;
  kill) stop "${2:?component}" KILL ;;
  *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
