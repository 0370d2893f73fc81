#!/usr/bin/env bash
# Stops what infra/local/up.sh started: the local Kafka broker, and the private
# redis-server only when up.sh started one (a Redis it merely found running, or
# one named by REDIS_URL, is left alone). Safe to run when nothing is running.
#
#   infra/local/down.sh           stop; keep Kafka data and the jar cache
#   infra/local/down.sh --clean   stop and delete Kafka data (topics, offsets);
#                                 the downloaded jars in .local/kafka-<version> stay
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_DIR="${HANDOFF_LOCAL_DIR:-$REPO_ROOT/.local}"

PID_DIR="$STATE_DIR/pids"
CONF_DIR="$STATE_DIR/conf"
KAFKA_PID_FILE="$PID_DIR/kafka.pid"
REDIS_PID_FILE="$PID_DIR/redis.pid"
STOP_TIMEOUT="${HANDOFF_STOP_TIMEOUT:-60}"

log() { printf '[local-infra] %s\n' "$*" >&2; }

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
}

CLEAN=0
for arg in "$@"; do
  case "$arg" in
    --clean) CLEAN=1 ;;
    -h|--help) usage; exit 0 ;;
    *) log "unknown option: $arg"; usage; exit 2 ;;
  esac
done

# pid_matches PIDFILE PATTERN: the pid in PIDFILE is alive and its command line
# contains PATTERN (guards against a recycled pid).
pid_matches() {
  local pidfile="$1" pattern="$2" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# stop_pid NAME PIDFILE PATTERN: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL.
stop_pid() {
  local name="$1" pidfile="$2" pattern="$3" pid
  if ! pid_matches "$pidfile" "$pattern"; then
    if [[ -e "$pidfile" ]]; then
      log "$name is not running (removing stale $pidfile)"
      rm -f "$pidfile"
    else
      log "$name: nothing to stop"
    fi
    return 0
  fi
  pid="$(cat "$pidfile")"
  log "stopping $name (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name (pid $pid) still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$pidfile"
  log "$name stopped"
}

stop_pid "Kafka" "$KAFKA_PID_FILE" "$CONF_DIR/server.properties"
# redis.pid exists only when up.sh started its own redis-server.
stop_pid "redis-server" "$REDIS_PID_FILE" "redis-server"

if ((CLEAN)); then
  log "removing Kafka data ($STATE_DIR/kafka-data) and cluster id; jar cache kept"
  rm -rf "$STATE_DIR/kafka-data" "$STATE_DIR/kafka.cluster-id" "$STATE_DIR/redis"
fi
rm -f "$STATE_DIR/env"
