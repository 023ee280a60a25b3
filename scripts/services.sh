#!/usr/bin/env bash
# Real services for tests and development: a single-node Apache Kafka (KRaft, combined
# broker + controller, static quorum, jars from Maven Central) and InfluxDB 1.x (Debian's
# `influxdb` package, our own config, auth on), both on 127.0.0.1 and non-default ports so that
# nothing else on the machine can answer in their place. Nothing here uses Docker or systemd.
#
#   scripts/services.sh up|down|status|env [--instance NAME] [--prefix P]
#   scripts/services.sh start|stop kafka|influx [--instance NAME]
#
# Instances (ports):        kafka  controller  influx-http  influx-rpc
#   default                 29092  29093       28086        28088
#   fault                   29192  29193       28186        28188
# (CCM_SERVICES_PORT_SHIFT=N, 0..3000, adds N to each.) All below 32768, where Linux's ephemeral
# ports start: an outgoing connection (a client retrying a stopped broker can even connect to
# itself) never holds one of them when a service starts again after an outage. Data, logs, pid files and the generated InfluxDB credentials live under .cache/<instance>/.
# `env` prints `export CCM_...=...` lines for `eval "$(scripts/services.sh env)"`; for the fault
# instance the prefix is CCM_FAULT_ (so both can be exported side by side), `--prefix CCM_`
# overrides it. `status` exits 0 only when both services run and answer.
# Stopping ends only the pids this script started (recorded in pid files and checked against
# their command line), SIGTERM first, SIGKILL after a grace period.
# Details and what was verified: docs/services.md; background: /work/shared/notes/kafka-broker.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=versions.env
source "$ROOT/scripts/versions.env"

readonly INFLUX_USER_NAME=ccm
readonly INFLUX_DB_NAME=ccm
readonly KAFKA_READY_LINE='Kafka Server started'
readonly KAFKA_START_TIMEOUT_S=${CCM_KAFKA_START_TIMEOUT_S:-180}
readonly INFLUX_START_TIMEOUT_S=${CCM_INFLUX_START_TIMEOUT_S:-60}
readonly STOP_GRACE_S=30

usage() {
  cat >&2 <<'EOF'
usage: scripts/services.sh up|down|status|env [--instance NAME] [--prefix PREFIX]
       scripts/services.sh start|stop kafka|influx [--instance NAME]
instances: default, fault
EOF
  exit 2
}

die() { echo "services.sh: $*" >&2; exit 1; }
say() { echo "services.sh [$INSTANCE]: $*" >&2; }

# ---------------------------------------------------------------- arguments
COMMAND="${1:-}"
[[ -n "$COMMAND" ]] || usage
shift
SERVICE=""
INSTANCE=default
PREFIX=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --instance) [[ $# -ge 2 ]] || usage; INSTANCE="$2"; shift 2 ;;
    --instance=*) INSTANCE="${1#*=}"; shift ;;
    --prefix) [[ $# -ge 2 ]] || usage; PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    kafka|influx) [[ -z "$SERVICE" ]] || usage; SERVICE="$1"; shift ;;
    *) echo "services.sh: unknown argument: $1" >&2; usage ;;
  esac
done
case "$COMMAND" in
  up|down|status|env) [[ -z "$SERVICE" ]] || usage ;;
  start|stop) [[ -n "$SERVICE" ]] || usage ;;
  *) usage ;;
esac

case "$INSTANCE" in
  default) PORT_OFFSET=0; DEFAULT_PREFIX=CCM_ ;;
  fault) PORT_OFFSET=100; DEFAULT_PREFIX=CCM_FAULT_ ;;
  *) echo "services.sh: unknown instance: $INSTANCE (known: default, fault)" >&2; exit 2 ;;
esac
# CCM_SERVICES_PORT_SHIFT moves every port of every instance (e.g. 1000), for a second checkout
# on the same machine (a local try of .ci/run beside the developer's services).
PORT_SHIFT="${CCM_SERVICES_PORT_SHIFT:-0}"
[[ "$PORT_SHIFT" =~ ^[0-9]+$ && "$PORT_SHIFT" -le 3000 ]] || { echo "services.sh: CCM_SERVICES_PORT_SHIFT must be 0..3000 (the ports stay below 32768, out of the kernel's ephemeral range)" >&2; exit 2; }
PORT_OFFSET=$((PORT_OFFSET + PORT_SHIFT))
PREFIX="${PREFIX:-$DEFAULT_PREFIX}"
[[ "$PREFIX" =~ ^[A-Z_][A-Z0-9_]*$ ]] || { echo "services.sh: bad prefix: $PREFIX" >&2; exit 2; }

readonly KAFKA_PORT=$((29092 + PORT_OFFSET))
readonly CONTROLLER_PORT=$((29093 + PORT_OFFSET))
readonly INFLUX_PORT=$((28086 + PORT_OFFSET))
readonly INFLUX_RPC_PORT=$((28088 + PORT_OFFSET))
readonly INFLUX_URL="http://127.0.0.1:$INFLUX_PORT"

readonly CACHE="$ROOT/.cache/$INSTANCE"
readonly KAFKA_DIR="$CACHE/kafka"
readonly KAFKA_PROPS="$KAFKA_DIR/server.properties"
readonly KAFKA_LOG="$KAFKA_DIR/kafka.log"
readonly KAFKA_PID="$CACHE/kafka.pid"
readonly INFLUX_DIR="$CACHE/influxdb"
readonly INFLUX_CONF="$CACHE/influxdb.conf"
readonly INFLUX_LOG="$CACHE/influxdb.log"
readonly INFLUX_PID="$CACHE/influxdb.pid"
readonly CREDENTIALS="$CACHE/credentials.env"
readonly KAFKA_LIBS="$ROOT/.cache/kafka/$KAFKA_VERSION/libs"

case "$KAFKA_MAVEN_PROFILE" in
  kafka4) KAFKA_LOG_OPT="-Dlog4j2.configurationFile=$ROOT/scripts/kafka/log4j2.properties" ;;
  kafka3) KAFKA_LOG_OPT="-Dlog4j.configuration=file:$ROOT/scripts/kafka/log4j.properties" ;;
  *) die "scripts/versions.env: KAFKA_MAVEN_PROFILE must be kafka3 or kafka4" ;;
esac
# Upstream's flags (bin/kafka-run-class.sh) with a heap sized for tests (notes 3d).
KAFKA_JVM_OPTS=(-Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15
  -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "-Djava.io.tmpdir=$KAFKA_DIR/tmp")

# ---------------------------------------------------------------- process helpers
# A zombie counts as dead: in a container whose pid 1 does not reap, an ended daemon stays one.
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# The pid from a pid file, printed only if that process is alive AND its command line still
# names our config file (a recycled pid belongs to someone else and is never signalled).
our_pid() {
  local pidfile="$1" marker="$2" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$marker"* ]] || return 1
  echo "$pid"
}

# Pids listening on 127.0.0.1:<port> (ss shows other users' pids only to root).
port_pids() {
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}
port_open() { [[ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]]; }
# The list is captured before it is searched: `| grep -q` under pipefail can fail on SIGPIPE.
owns_port() { local pids; pids="$(port_pids "$2")"; [[ $'\n'"$pids"$'\n' == *$'\n'"$1"$'\n'* ]]; }

stop_pid() {
  local name="$1" pid="$2" waited=0
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || return 0
  while pid_alive "$pid" && ((waited < STOP_GRACE_S * 5)); do sleep 0.2; waited=$((waited + 1)); done
  if pid_alive "$pid"; then
    say "$name (pid $pid) still running after ${STOP_GRACE_S}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while pid_alive "$pid"; do sleep 0.2; done
  fi
}

need_cmd() { command -v "$1" >/dev/null 2>&1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif need_cmd sudo; then sudo -n "$@"
  else return 1
  fi
}

# ---------------------------------------------------------------- kafka
ensure_java() {
  need_cmd java || die "java (JDK 17+) is missing: apt-get install -y openjdk-17-jre-headless (.ci/run does this)"
}

# Resolve the broker's classpath once per version into .cache/kafka/<version>/libs (Maven
# caches the jars in ~/.m2). The `.complete` marker makes an interrupted copy count as missing.
ensure_kafka_libs() {
  [[ -f "$KAFKA_LIBS/.complete" ]] && return 0
  need_cmd mvn || die "mvn is missing (needed once to fetch the Kafka jars): apt-get install -y maven"
  mkdir -p "$ROOT/.cache/kafka"
  (
    flock 9
    [[ -f "$KAFKA_LIBS/.complete" ]] && exit 0
    say "resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
    rm -rf "$KAFKA_LIBS"
    mvn -B -q -Dstyle.color=never -f "$ROOT/scripts/kafka/pom.xml" -P "$KAFKA_MAVEN_PROFILE" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"$ROOT/.cache/kafka/mvn.log" 2>&1 ||
      { cat "$ROOT/.cache/kafka/mvn.log" >&2; die "kafka: Maven could not resolve the jars (log above, .cache/kafka/mvn.log)"; }
    ls "$KAFKA_LIBS"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null
    touch "$KAFKA_LIBS/.complete"
  ) 9>"$ROOT/.cache/kafka/.lock"
}

render_kafka_props() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/tmp"
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$CONTROLLER_PORT|g" \
    -e "s|@LOG_DIR@|$KAFKA_DIR/data|g" "$ROOT/scripts/kafka/server.properties.template" >"$KAFKA_PROPS.tmp"
  mv "$KAFKA_PROPS.tmp" "$KAFKA_PROPS"
}

# Format the log dir once (static quorum: no --standalone, notes 3a). The cluster id is kept so
# that a re-format after a lost meta.properties is visible.
format_kafka() {
  [[ -f "$KAFKA_DIR/data/meta.properties" ]] && return 0
  local cid
  cid="$(java -Xmx256m "$KAFKA_LOG_OPT" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid | tail -n 1)"
  [[ "$cid" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: StorageTool random-uuid printed '$cid'"
  say "formatting kafka log dir (cluster id $cid)"
  java -Xmx256m "$KAFKA_LOG_OPT" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
    -t "$cid" -c "$KAFKA_PROPS" --ignore-formatted >>"$KAFKA_DIR/format.log" 2>&1 ||
    die "kafka: format failed, see $KAFKA_DIR/format.log"
  echo "$cid" >"$KAFKA_DIR/cluster-id"
}

kafka_status() {
  local pid
  if pid="$(our_pid "$KAFKA_PID" "$KAFKA_PROPS")"; then
    if owns_port "$pid" "$KAFKA_PORT"; then echo "running pid=$pid 127.0.0.1:$KAFKA_PORT"; return 0; fi
    echo "starting pid=$pid (not listening on $KAFKA_PORT yet)"; return 1
  fi
  if port_open "$KAFKA_PORT"; then echo "stopped (port $KAFKA_PORT taken by pid $(port_pids "$KAFKA_PORT" | tr '\n' ' '))"; return 1; fi
  echo "stopped"; return 1
}

start_kafka() {
  local pid
  if pid="$(our_pid "$KAFKA_PID" "$KAFKA_PROPS")"; then
    wait_kafka "$pid" 0
    return 0
  fi
  ensure_java
  ensure_kafka_libs
  for p in "$KAFKA_PORT" "$CONTROLLER_PORT"; do
    port_open "$p" && die "kafka: port $p is taken by another process (pid $(port_pids "$p" | tr '\n' ' ')); not ours, not touching it"
  done
  render_kafka_props
  format_kafka
  [[ -f "$KAFKA_LOG" ]] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.1"
  say "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (controller $CONTROLLER_PORT), log $KAFKA_LOG"
  # setsid: the broker outlives the shell (and a Ctrl-C in the terminal) that started it; the lock
  # fds 8/9 are closed in the child, or the broker would hold the lock for its whole life.
  setsid java "${KAFKA_JVM_OPTS[@]}" "$KAFKA_LOG_OPT" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
    </dev/null >>"$KAFKA_LOG" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$KAFKA_PID"
  wait_kafka "$pid" "$KAFKA_START_TIMEOUT_S"
}

# Ready = the broker logged its started line (KafkaRaftServer, notes 3a) and the pid we started
# is the one listening on the client port.
wait_kafka() {
  local pid="$1" timeout_s="$2" ticks=0
  while :; do
    pid_alive "$pid" || { tail -n 40 "$KAFKA_LOG" >&2 2>/dev/null || true; die "kafka: pid $pid exited during start-up, log: $KAFKA_LOG"; }
    if grep -qF "$KAFKA_READY_LINE" "$KAFKA_LOG" 2>/dev/null && owns_port "$pid" "$KAFKA_PORT"; then
      say "kafka ready: pid $pid owns 127.0.0.1:$KAFKA_PORT"
      return 0
    fi
    ((ticks >= timeout_s * 5)) && die "kafka: not ready after ${timeout_s}s (pid $pid), log: $KAFKA_LOG"
    sleep 0.2
    ticks=$((ticks + 1))
  done
}

stop_kafka() {
  local pid
  if pid="$(our_pid "$KAFKA_PID" "$KAFKA_PROPS")"; then stop_pid kafka "$pid"; else say "kafka is not running"; fi
  rm -f "$KAFKA_PID"
}

# ---------------------------------------------------------------- influxdb
ensure_influxd() {
  need_cmd influxd && return 0
  say "influxd is missing: installing Debian's influxdb and influxdb-client"
  as_root apt-get update >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y influxdb influxdb-client >&2 ||
    die "could not install influxdb (run as root: apt-get update && apt-get install -y influxdb influxdb-client)"
  # The package starts its system service on 8086; ours runs beside it, we leave it alone.
}

ensure_curl() {
  need_cmd curl && return 0
  as_root apt-get install -y curl >&2 || die "curl is missing: apt-get install -y curl"
}

render_influx_conf() {
  mkdir -p "$INFLUX_DIR"
  cat >"$INFLUX_CONF.tmp" <<EOF
# Generated by scripts/services.sh for instance '$INSTANCE': do not edit, edit the script.
# InfluxDB 1.x keys: \`influxd config\` (1.6) and the 1.8 configuration docs.
reporting-disabled = true
# backup/restore RPC, loopback only
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[meta]
  dir = "$INFLUX_DIR/meta"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "$INFLUX_DIR/data"
  wal-dir = "$INFLUX_DIR/wal"
  query-log-enabled = false
  # the run tag takes a new value per test run: no cap
  max-values-per-tag = 0
  cache-max-memory-size = 268435456

[monitor]
  # no _internal database: less write load on 2 cores
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUX_PORT"
  auth-enabled = true
  log-enabled = false
  pprof-enabled = false

[continuous_queries]
  enabled = true
  log-enabled = true
  run-interval = "1s"

[logging]
  format = "logfmt"
  level = "warn"
  suppress-logo = true
EOF
  mv "$INFLUX_CONF.tmp" "$INFLUX_CONF"
}

# The admin password is drawn once per instance and kept beside the data it protects.
ensure_credentials() {
  [[ -f "$CREDENTIALS" ]] && return 0
  mkdir -p "$CACHE"
  local password
  password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  (umask 077 && printf 'INFLUX_USER=%s\nINFLUX_PASSWORD=%s\n' "$INFLUX_USER_NAME" "$password" >"$CREDENTIALS.tmp")
  mv "$CREDENTIALS.tmp" "$CREDENTIALS"
}

load_credentials() {
  [[ -f "$CREDENTIALS" ]] || return 1
  INFLUX_USER="$(sed -n 's/^INFLUX_USER=//p' "$CREDENTIALS")"
  INFLUX_PASSWORD="$(sed -n 's/^INFLUX_PASSWORD=//p' "$CREDENTIALS")"
  [[ -n "$INFLUX_USER" && -n "$INFLUX_PASSWORD" ]]
}

# HTTP status of an InfluxQL statement (POST /query), with or without our credentials.
influx_query_status() {
  local auth="$1" q="$2"
  local args=(-s -o "$CACHE/influx-last-response.json" -w '%{http_code}' -X POST "$INFLUX_URL/query" --data-urlencode "q=$q")
  [[ "$auth" == auth ]] && args+=(-u "$INFLUX_USER:$INFLUX_PASSWORD")
  curl "${args[@]}" || echo 000
}

influx_ping() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "$INFLUX_URL/ping" || true)" == 204 ]]; }

influx_status() {
  local pid
  if pid="$(our_pid "$INFLUX_PID" "$INFLUX_CONF")"; then
    if owns_port "$pid" "$INFLUX_PORT" && influx_ping; then echo "running pid=$pid $INFLUX_URL"; return 0; fi
    echo "starting pid=$pid (not answering on $INFLUX_PORT yet)"; return 1
  fi
  if port_open "$INFLUX_PORT"; then echo "stopped (port $INFLUX_PORT taken by pid $(port_pids "$INFLUX_PORT" | tr '\n' ' '))"; return 1; fi
  echo "stopped"; return 1
}

start_influx() {
  local pid
  ensure_credentials
  load_credentials || die "influx: unreadable $CREDENTIALS"
  ensure_curl
  if pid="$(our_pid "$INFLUX_PID" "$INFLUX_CONF")"; then
    wait_influx "$pid" "$INFLUX_START_TIMEOUT_S"
    return 0
  fi
  ensure_influxd
  for p in "$INFLUX_PORT" "$INFLUX_RPC_PORT"; do
    port_open "$p" && die "influx: port $p is taken by another process (pid $(port_pids "$p" | tr '\n' ' ')); not ours, not touching it"
  done
  render_influx_conf
  [[ -f "$INFLUX_LOG" ]] && mv -f "$INFLUX_LOG" "$INFLUX_LOG.1"
  say "starting influxd ($(influxd version 2>/dev/null)) on $INFLUX_URL, log $INFLUX_LOG"
  setsid influxd -config "$INFLUX_CONF" </dev/null >>"$INFLUX_LOG" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$INFLUX_PID"
  wait_influx "$pid" "$INFLUX_START_TIMEOUT_S"
}

# Ready = /ping answers 204 from the pid we started, the admin user exists (created through
# /query while no user exists: InfluxDB 1.x allows exactly that with auth on), an authenticated
# query succeeds and the database exists.
wait_influx() {
  local pid="$1" timeout_s="$2" ticks=0 code
  until influx_ping && owns_port "$pid" "$INFLUX_PORT"; do
    pid_alive "$pid" || { tail -n 40 "$INFLUX_LOG" >&2 2>/dev/null || true; die "influx: pid $pid exited during start-up, log: $INFLUX_LOG"; }
    ((ticks >= timeout_s * 5)) && die "influx: no /ping after ${timeout_s}s (pid $pid), log: $INFLUX_LOG"
    sleep 0.2
    ticks=$((ticks + 1))
  done
  code="$(influx_query_status auth 'SHOW USERS')"
  # 403 "create admin user first" while no user exists; 401 if users exist but not ours
  if [[ "$code" != 200 ]]; then
    code="$(influx_query_status noauth "CREATE USER \"$INFLUX_USER\" WITH PASSWORD '$INFLUX_PASSWORD' WITH ALL PRIVILEGES")"
    [[ "$code" == 200 ]] || die "influx: could not create the admin user (HTTP $code: $(cat "$CACHE/influx-last-response.json")). An admin user with other credentials exists in $INFLUX_DIR: 'scripts/services.sh down --instance $INSTANCE && rm -rf $CACHE' starts afresh"
    say "influx: created admin user '$INFLUX_USER'"
    code="$(influx_query_status auth 'SHOW USERS')"
  fi
  [[ "$code" == 200 ]] || die "influx: authenticated query failed (HTTP $code: $(cat "$CACHE/influx-last-response.json"))"
  code="$(influx_query_status auth "CREATE DATABASE \"$INFLUX_DB_NAME\"")"
  [[ "$code" == 200 ]] || die "influx: CREATE DATABASE failed (HTTP $code)"
  say "influx ready: pid $pid owns 127.0.0.1:$INFLUX_PORT, user '$INFLUX_USER', database '$INFLUX_DB_NAME'"
}

stop_influx() {
  local pid
  if pid="$(our_pid "$INFLUX_PID" "$INFLUX_CONF")"; then stop_pid influx "$pid"; else say "influx is not running"; fi
  rm -f "$INFLUX_PID"
}

# ---------------------------------------------------------------- commands
print_env() {
  load_credentials || { echo "services.sh: instance '$INSTANCE' was never started (no $CREDENTIALS): run scripts/services.sh up${INSTANCE:+ --instance $INSTANCE}" >&2; exit 1; }
  echo "export ${PREFIX}KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  echo "export ${PREFIX}INFLUX_URL=$INFLUX_URL"
  echo "export ${PREFIX}INFLUX_USER=$INFLUX_USER"
  echo "export ${PREFIX}INFLUX_PASSWORD=$INFLUX_PASSWORD"
  echo "export ${PREFIX}INFLUX_DB=$INFLUX_DB_NAME"
}

print_status() {
  local ks is rc=0
  ks="$(kafka_status)" || rc=1
  is="$(influx_status)" || rc=1
  echo "kafka  ($INSTANCE, $KAFKA_VERSION): $ks"
  echo "influx ($INSTANCE): $is"
  return "$rc"
}

mkdir -p "$CACHE"
# One lifecycle command per instance at a time (two test runs starting at once).
with_lock() { ( flock 8; "$@" ) 8>"$CACHE/.lock"; }

case "$COMMAND" in
  up) with_lock start_influx; with_lock start_kafka; print_status ;;
  down) with_lock stop_kafka; with_lock stop_influx ;;
  start) with_lock "start_$SERVICE" ;;
  stop) with_lock "stop_$SERVICE" ;;
  status) print_status ;;
  env) print_env ;;
esac
