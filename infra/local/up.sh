#!/usr/bin/env bash
# Brings up the local infrastructure for handoff-sync without Docker:
#   * a single-node Apache Kafka broker in KRaft mode (broker + controller in one
#     JVM), run straight from its Maven Central jars with the machine's Java 17+;
#   * Redis (an existing one when reachable, otherwise a private redis-server).
#
# State, logs, pids and the jar cache all live in <repo>/.local/ (git-ignored).
# The environment to use is printed on stdout as `export ...` lines and written
# to .local/env; every other message goes to stderr, so this works:
#
#   eval "$(infra/local/up.sh)"
#
# Safe to run repeatedly: a broker / redis-server started earlier is reused.
# Stop everything with infra/local/down.sh (add --clean to wipe Kafka data).
set -euo pipefail

# Keep in sync with <kafka.version> in infra/local/kafka/pom.xml.
KAFKA_VERSION="4.4.0"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_DIR="${HANDOFF_LOCAL_DIR:-$REPO_ROOT/.local}"

KAFKA_HOME="$STATE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIB="$KAFKA_HOME/lib"
KAFKA_LIB_MARKER="$KAFKA_HOME/.lib-complete"
KAFKA_DATA="$STATE_DIR/kafka-data"
CONF_DIR="$STATE_DIR/conf"
LOG_DIR="$STATE_DIR/logs"
PID_DIR="$STATE_DIR/pids"
REDIS_DIR="$STATE_DIR/redis"
KAFKA_PID_FILE="$PID_DIR/kafka.pid"
KAFKA_PORTS_FILE="$STATE_DIR/kafka.ports"
KAFKA_CLUSTER_ID_FILE="$STATE_DIR/kafka.cluster-id"
KAFKA_LOG="$LOG_DIR/kafka.log"
REDIS_PID_FILE="$PID_DIR/redis.pid"
REDIS_PORT_FILE="$STATE_DIR/redis.port"
REDIS_LOG="$LOG_DIR/redis.log"
ENV_FILE="$STATE_DIR/env"

KAFKA_HOST="127.0.0.1"
KAFKA_PREFERRED_PORT=19092
REDIS_PREFERRED_PORT=16379
READY_TIMEOUT="${HANDOFF_READY_TIMEOUT:-90}"

log() { printf '[local-infra] %s\n' "$*" >&2; }
die() { printf '[local-infra] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers --

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

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

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (install it yourself or run as root)"
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  log "installing Debian package(s): $* (apt-get update first)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

mkdir -p "$STATE_DIR" "$CONF_DIR" "$LOG_DIR" "$PID_DIR"

# Make sure the state folder is git-ignored (the file is shared; only add the line).
if [[ -d "$REPO_ROOT/.git" || -f "$REPO_ROOT/.git" ]] && [[ "$STATE_DIR" == "$REPO_ROOT/.local" ]]; then
  if ! grep -qxF '.local/' "$REPO_ROOT/.gitignore" 2>/dev/null; then
    [[ -s "$REPO_ROOT/.gitignore" && -n "$(tail -c1 "$REPO_ROOT/.gitignore")" ]] && echo >>"$REPO_ROOT/.gitignore"
    echo '.local/' >>"$REPO_ROOT/.gitignore"
  fi
fi

# ------------------------------------------------------------------ Java --

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
command -v "$JAVA" >/dev/null 2>&1 || die "java not found (Kafka $KAFKA_VERSION needs Java 17+); set JAVA_HOME"
JAVA_MAJOR="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1)"
[[ "${JAVA_MAJOR:-0}" =~ ^[0-9]+$ && "$JAVA_MAJOR" -ge 17 ]] \
  || die "Kafka $KAFKA_VERSION needs Java 17+, found '${JAVA_MAJOR:-unknown}' at $JAVA; set JAVA_HOME"

# ------------------------------------------------------- Kafka jar cache --

ensure_kafka_jars() {
  local pom="$SCRIPT_DIR/kafka/pom.xml" want have
  want="$(sha256sum "$pom" | cut -d' ' -f1)"
  have="$(cat "$KAFKA_LIB_MARKER" 2>/dev/null || true)"
  if [[ "$have" == "$want" && -d "$KAFKA_LIB" ]]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found: Maven is needed once to fetch the Kafka $KAFKA_VERSION jars"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central (first run only)..."
  rm -rf "$KAFKA_LIB" "$KAFKA_LIB.tmp" "$KAFKA_LIB_MARKER"
  mkdir -p "$KAFKA_HOME"
  # (sed drops the colour escapes Maven prints even in batch mode)
  if ! mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIB.tmp" 2>&1 \
      | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2; then
    rm -rf "$KAFKA_LIB.tmp"
    die "mvn could not resolve the Kafka $KAFKA_VERSION jars (see output above)"
  fi
  [[ -f "$KAFKA_LIB.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] \
    || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn; check $pom"
  mv "$KAFKA_LIB.tmp" "$KAFKA_LIB"
  echo "$want" >"$KAFKA_LIB_MARKER"
  log "cached $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $KAFKA_LIB"
}

# ------------------------------------------------------------ Kafka conf --

write_log4j_confs() {
  cat >"$CONF_DIR/kafka-log4j2.properties" <<'EOF'
# Generated by infra/local/up.sh. Broker logs go to stdout (.local/logs/kafka.log).
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.network.name = kafka.network.RequestChannel$
logger.network.level = WARN
EOF
  cat >"$CONF_DIR/tools-log4j2.properties" <<'EOF'
# Generated by infra/local/up.sh. Command-line tools only log warnings, to stderr.
status = warn
appender.console.type = Console
appender.console.name = STDERR
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
EOF
}

# choose_kafka_ports: reuse the ports of the last run when they are free (the
# data dir remembers the controller endpoint), else prefer 19092/19093, else
# the first free pair above it.
choose_kafka_ports() {
  local p
  if [[ -s "$KAFKA_PORTS_FILE" ]]; then
    read -r p _ <"$KAFKA_PORTS_FILE" || true
    if [[ "$p" =~ ^[0-9]+$ ]] && ! port_open "$KAFKA_HOST" "$p" && ! port_open "$KAFKA_HOST" $((p + 1)); then
      KAFKA_PORT="$p"; KAFKA_CONTROLLER_PORT=$((p + 1)); return 0
    fi
  fi
  for ((p = KAFKA_PREFERRED_PORT; p < KAFKA_PREFERRED_PORT + 200; p += 10)); do
    if ! port_open "$KAFKA_HOST" "$p" && ! port_open "$KAFKA_HOST" $((p + 1)); then
      KAFKA_PORT="$p"; KAFKA_CONTROLLER_PORT=$((p + 1)); return 0
    fi
  done
  die "no free port pair found for Kafka in $KAFKA_PREFERRED_PORT..$((KAFKA_PREFERRED_PORT + 200))"
}

write_server_properties() {
  cat >"$CONF_DIR/server.properties" <<EOF
# Generated by infra/local/up.sh on each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=3
default.replication.factor=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=168
log.segment.bytes=104857600
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
}

tools_java() {
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$CONF_DIR/tools-log4j2.properties" \
    -cp "$KAFKA_LIB/*" "$@"
}

format_storage() {
  local cluster_id
  if [[ -s "$KAFKA_CLUSTER_ID_FILE" ]]; then
    cluster_id="$(cat "$KAFKA_CLUSTER_ID_FILE")"
  else
    cluster_id="$(tools_java kafka.tools.StorageTool random-uuid)"
    echo "$cluster_id" >"$KAFKA_CLUSTER_ID_FILE"
  fi
  if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
    return 0
  fi
  log "formatting KRaft storage in $KAFKA_DATA (cluster id $cluster_id)"
  mkdir -p "$KAFKA_DATA"
  tools_java kafka.tools.StorageTool format --ignore-formatted \
    -t "$cluster_id" -c "$CONF_DIR/server.properties" >&2
}

kafka_ready() {
  port_open "$KAFKA_HOST" "$KAFKA_PORT" || return 1
  tools_java org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$KAFKA_HOST:$KAFKA_PORT" --list >/dev/null 2>&1
}

kafka_running_here() {
  pid_matches "$KAFKA_PID_FILE" "$CONF_DIR/server.properties"
}

start_kafka() {
  choose_kafka_ports
  write_server_properties
  format_storage
  echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" >"$KAFKA_PORTS_FILE"
  printf '\n===== %s starting Kafka %s on %s:%s (controller %s) =====\n' \
    "$(date -Is)" "$KAFKA_VERSION" "$KAFKA_HOST" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" >>"$KAFKA_LOG"
  log "starting Kafka $KAFKA_VERSION on $KAFKA_HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), log $KAFKA_LOG"
  # setsid: detach from the terminal, so closing it does not stop the broker.
  nohup setsid "$JAVA" -Xms512m -Xmx512m \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$CONF_DIR/kafka-log4j2.properties" \
    -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$CONF_DIR/server.properties" \
    >>"$KAFKA_LOG" 2>&1 </dev/null &
  echo $! >"$KAFKA_PID_FILE"
}

wait_for_kafka() {
  local deadline=$((SECONDS + READY_TIMEOUT)) pid
  pid="$(cat "$KAFKA_PID_FILE")"
  log "waiting for Kafka to answer metadata requests (up to ${READY_TIMEOUT}s)..."
  until kafka_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "Kafka (pid $pid) exited during start-up; last lines of $KAFKA_LOG:"
      tail -n 40 "$KAFKA_LOG" >&2 || true
      rm -f "$KAFKA_PID_FILE"
      die "Kafka did not start"
    fi
    if ((SECONDS >= deadline)); then
      log "Kafka not ready after ${READY_TIMEOUT}s; last lines of $KAFKA_LOG:"
      tail -n 40 "$KAFKA_LOG" >&2 || true
      die "Kafka did not become ready (pid $pid still running; stop it with infra/local/down.sh)"
    fi
    sleep 1
  done
  log "Kafka ready at $KAFKA_HOST:$KAFKA_PORT (pid $pid)"
}

bring_up_kafka() {
  ensure_kafka_jars
  write_log4j_confs

  # 1. An existing cluster named by KAFKA_BROKERS wins over starting our own.
  if [[ -n "${KAFKA_BROKERS:-}" ]]; then
    local first="${KAFKA_BROKERS%%,*}"
    if port_open "${first%:*}" "${first##*:}" && tools_java org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$KAFKA_BROKERS" --list >/dev/null 2>&1; then
      log "using the Kafka named by KAFKA_BROKERS=$KAFKA_BROKERS"
      KAFKA_BROKERS_OUT="$KAFKA_BROKERS"
      return 0
    fi
    log "KAFKA_BROKERS=$KAFKA_BROKERS does not answer; using a local broker instead"
  fi

  # 2. A broker started by an earlier run of this script.
  if kafka_running_here && [[ -s "$KAFKA_PORTS_FILE" ]]; then
    read -r KAFKA_PORT KAFKA_CONTROLLER_PORT <"$KAFKA_PORTS_FILE"
    if kafka_ready; then
      log "reusing running Kafka at $KAFKA_HOST:$KAFKA_PORT (pid $(cat "$KAFKA_PID_FILE"))"
    else
      log "Kafka (pid $(cat "$KAFKA_PID_FILE")) is running but not answering yet"
      wait_for_kafka
    fi
    KAFKA_BROKERS_OUT="$KAFKA_HOST:$KAFKA_PORT"
    return 0
  fi
  rm -f "$KAFKA_PID_FILE"

  # 3. Start one.
  start_kafka
  wait_for_kafka
  KAFKA_BROKERS_OUT="$KAFKA_HOST:$KAFKA_PORT"
}

# ----------------------------------------------------------------- Redis --

# redis_ping URL: true when a Redis server answers PING at URL.
redis_ping() {
  local url="$1"
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 5 redis-cli -u "$url" ping 2>/dev/null)" == "PONG" ]]
    return
  fi
  # No redis-cli: speak RESP by hand (plain redis://host:port URLs only).
  local hostport="${url#redis://}"; hostport="${hostport%%/*}"
  [[ "$hostport" == *@* ]] && return 1
  local host="${hostport%:*}" port="${hostport##*:}"
  [[ "$host" == "$hostport" ]] && port=6379
  # shellcheck disable=SC2016 # the inner script gets host and port as $0 $1
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "PING\r\n" >&3
    IFS= read -r -t 2 line <&3 && [[ "$line" == +PONG* ]]' "$host" "$port" 2>/dev/null
}

bring_up_redis() {
  local port
  # 1. REDIS_URL from the environment.
  if [[ -n "${REDIS_URL:-}" ]]; then
    if redis_ping "$REDIS_URL"; then
      log "using existing Redis from REDIS_URL"
      REDIS_URL_OUT="$REDIS_URL"
      return 0
    fi
    log "REDIS_URL=$REDIS_URL does not answer PING; looking for another Redis"
  fi
  # 2. A redis-server started by an earlier run of this script.
  if pid_matches "$REDIS_PID_FILE" "redis-server" && [[ -s "$REDIS_PORT_FILE" ]]; then
    port="$(cat "$REDIS_PORT_FILE")"
    if redis_ping "redis://127.0.0.1:$port"; then
      log "reusing redis-server started earlier at 127.0.0.1:$port (pid $(cat "$REDIS_PID_FILE"))"
      REDIS_URL_OUT="redis://127.0.0.1:$port"
      return 0
    fi
  fi
  # 3. The machine's Redis on the standard port.
  if redis_ping "redis://127.0.0.1:6379"; then
    log "using the Redis already running at 127.0.0.1:6379"
    REDIS_URL_OUT="redis://127.0.0.1:6379"
    return 0
  fi
  # 4. Start a private redis-server.
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt_install redis-server
  fi
  for ((port = REDIS_PREFERRED_PORT; port < REDIS_PREFERRED_PORT + 100; port++)); do
    port_open 127.0.0.1 "$port" || break
  done
  port_open 127.0.0.1 "$port" && die "no free port for redis-server near $REDIS_PREFERRED_PORT"
  mkdir -p "$REDIS_DIR"
  log "starting redis-server on 127.0.0.1:$port, log $REDIS_LOG"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes \
    --dir "$REDIS_DIR" --logfile "$REDIS_LOG" --pidfile "$REDIS_PID_FILE" \
    --save '' --appendonly no >&2
  echo "$port" >"$REDIS_PORT_FILE"
  local deadline=$((SECONDS + 20))
  until redis_ping "redis://127.0.0.1:$port"; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$REDIS_LOG" >&2 || true
      die "redis-server did not answer PING on 127.0.0.1:$port"
    fi
    sleep 0.2
  done
  log "redis-server ready at 127.0.0.1:$port (pid $(cat "$REDIS_PID_FILE" 2>/dev/null || echo '?'))"
  REDIS_URL_OUT="redis://127.0.0.1:$port"
}

# ------------------------------------------------------------------ main --

bring_up_redis
bring_up_kafka

{
  printf 'export KAFKA_BROKERS=%q\n' "$KAFKA_BROKERS_OUT"
  printf 'export REDIS_URL=%q\n' "$REDIS_URL_OUT"
} >"$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
cat "$ENV_FILE"
log "environment written to $ENV_FILE (source it, or eval the output of this script)"
