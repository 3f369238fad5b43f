#!/usr/bin/env bash
# Syscalls per proxied connection, Ferry against HAProxy (issue #12 item 3): `strace -c -f` attached to each proxy
# over the same N short request/response connections (HTTP/1.1 with Connection: close, a BYTES-byte body from
# nginx), then both tables side by side, per connection.
#
#   bench/syscalls.sh                          # N=1000 through each, after WARM=3000 unmeasured ones; ~2 min
#   N=50 WARM=200 bench/syscalls.sh            # smoke test
#   FERRY_JAR=/path/ferry.jar CONCURRENCY=8 bench/syscalls.sh
#
# Ferry is started by bin/ferry, as the README starts it, with the settings bench/run.sh gives it (one listener
# instance, no access log: the peers run one thread and log nothing); HAProxy as run.sh's haproxy row (mode tcp,
# nbthread 1). Each proxy alone on PROXY_CPU, nginx and the client on LOAD_CPU. CONCURRENCY=1 (the default) makes
# the connections one after the other, so no event-loop wake-up serves two of them: the per-connection cost itself.
# ptrace slows every syscall, so only the counts mean anything here, not strace's times. Each proxy is traced twice
# for the same length of time: with the N connections, then idle, which shows the calls the loaded count includes
# that no connection caused (timers, and for the JVM its JIT, GC and other threads).
#
# Every process started here runs in its own session under `timeout LIFE` and is stopped by PID on exit. Only
# loopback addresses are used.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=${PY:-/usr/bin/python3}
# shellcheck source=lib/backend-nginx.sh
. "$HERE/lib/backend-nginx.sh"
N=${N:-1000}
WARM=${WARM:-3000}
BYTES=${BYTES:-64}
CONCURRENCY=${CONCURRENCY:-1}
PROXIES=${PROXIES:-"ferry haproxy"}
PORT_BASE=${PORT_BASE:-19600}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
# Seconds strace stays attached after the proxy closed the last connection's sockets, and the pause between the
# warm-up and the window: longer than Ferry's close.flush-timeout (5 s), so that a timer a connection arms (and
# whatever it does when it fires) falls in the window of that connection, never in the next one.
SETTLE=${SETTLE:-6}
RELEASE_MAX=${RELEASE_MAX:-60}  # at most this long to wait for that
LIFE=${LIFE:-1800}         # backstop for every process started here
WORK=${WORK:-/tmp/benchwork}
OUT_ROOT=${OUT_ROOT:-/tmp/ferry-syscalls}
FERRY_JAR=${FERRY_JAR:-}

for v in N WARM BYTES CONCURRENCY SETTLE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "$v must be a whole number, got '${!v}'" >&2; exit 2; }
done
((N >= 1 && CONCURRENCY >= 1)) || { echo "N and CONCURRENCY must be at least 1" >&2; exit 2; }
for p in $PROXIES; do
  [[ $p =~ ^(ferry|haproxy)$ ]] || { echo "PROXIES: unknown proxy '$p' (ferry haproxy)" >&2; exit 2; }
done
LAUNCHER=$ROOT/bin/ferry
HTTP_PORT=$((PORT_BASE + 80))
declare -A PPORT=([haproxy]=$((PORT_BASE + 401)) [ferry]=$((PORT_BASE + 403)))
FERRY_ADMIN=$((PORT_BASE + 499))

OUT=$OUT_ROOT/$(date -u +%Y%m%dT%H%M%SZ)
RUN=$OUT/run
mkdir -p "$RUN/www" "$RUN/nginx-http/logs"
PIDS=()
log() { echo "[$(date -u +%T)] $*" | tee -a "$OUT/progress.log" >&2; }

stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  for pid in ${PIDS[@]+"${PIDS[@]}"}; do stop_pid "$pid"; done
  log "stopped ${#PIDS[@]} processes started by this run (rc=$rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CPU CMD...: CMD in its own session, pinned, under timeout; STARTED_PID is the timeout process.
start() {
  local name=$1 cpu=$2
  shift 2
  setsid taskset -c "$cpu" timeout -s KILL "$LIFE" "$@" >"$RUN/$name.out" 2>"$RUN/$name.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}
wait_port() {
  for _ in $(seq 1 300); do
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# ------------------------------------------------------------------------------------------ tools and Ferry
need=()
command -v strace >/dev/null || need+=(strace)
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  log "installing from Debian: ${need[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >"$RUN/apt.log" 2>&1
  for svc in nginx haproxy; do service "$svc" stop >/dev/null 2>&1 || true; done
fi
if [[ " $PROXIES " == *" ferry "* && -z $FERRY_JAR ]]; then
  log "building Ferry from $ROOT in $WORK/src-syscalls (the working tree is not touched)"
  rm -rf "$WORK/src-syscalls" && mkdir -p "$WORK/src-syscalls"
  (cd "$ROOT" && tar --exclude=./target --exclude=./.git --exclude=./bench -cf - .) | tar -xf - -C "$WORK/src-syscalls"
  (cd "$WORK/src-syscalls" && mvn -B -q package -DskipTests) >"$RUN/mvn.log" 2>&1
  FERRY_JAR=$WORK/src-syscalls/target/ferry.jar
fi
[[ " $PROXIES " != *" ferry "* || -f $FERRY_JAR ]] || { log "no Ferry jar at '$FERRY_JAR'"; exit 2; }

# ------------------------------------------------------------------------------------------ backend
head -c "$BYTES" /dev/zero | tr '\0' 'x' > "$RUN/www/$BYTES"
backend_nginx_conf "$RUN" "$HTTP_PORT"
start backend-http "$LOAD_CPU" nginx -p "$RUN/nginx-http" -c "$RUN/nginx-http.conf" -g 'daemon off;'
wait_port "$HTTP_PORT" || { log "nginx did not listen on $HTTP_PORT"; exit 1; }
got=$(curl -sf --max-time 5 "http://127.0.0.1:$HTTP_PORT/$BYTES" | wc -c)
[[ $got == "$BYTES" ]] || { log "nginx serves $got bytes for /$BYTES, not $BYTES"; exit 1; }

# ------------------------------------------------------------------------------------------ proxies
# start_proxy NAME: sets PROXY_TPID (its timeout process) and PROXY_PID (the process to trace).
start_proxy() {
  local name=$1 port=${PPORT[$1]} comm
  case $name in
    haproxy)
      cat > "$RUN/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 9000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend fe
  bind 127.0.0.1:$port
  default_backend be
backend be
  server s1 127.0.0.1:$HTTP_PORT
EOF
      start haproxy "$PROXY_CPU" haproxy -db -f "$RUN/haproxy.cfg"
      comm=haproxy ;;
    ferry)
      start ferry "$PROXY_CPU" env -u JAVA_OPTS -u JAVA_TOOL_OPTIONS -u JDK_JAVA_OPTIONS -u _JAVA_OPTIONS \
        FERRY_INSTANCES=1 FERRY_ACCESS_LOG=false FERRY_ECHO_ENABLED=false FERRY_LISTEN_HOST=127.0.0.1 \
        FERRY_LISTEN_PORT="$port" FERRY_ADMIN_HOST=127.0.0.1 FERRY_ADMIN_PORT="$FERRY_ADMIN" \
        FERRY_UPSTREAMS="127.0.0.1:$HTTP_PORT" FERRY_JAR="$FERRY_JAR" "$LAUNCHER"
      comm=java ;;
  esac
  PROXY_TPID=$STARTED_PID
  wait_port "$port" || { log "$name did not listen on $port"; tail -5 "$RUN/$name.err" >&2; exit 1; }
  PROXY_PID=$(pgrep -P "$PROXY_TPID" -x "$comm" | head -1)
  [[ -n $PROXY_PID ]] || { log "$name: no $comm process under $PROXY_TPID"; exit 1; }
}

client() { # NAME PORT COUNT TAG: COUNT connections through the proxy; fails loudly if any failed
  local out=$OUT/$1-$4.client.json
  taskset -c "$LOAD_CPU" timeout 900 "$PY" "$HERE/lib/syscalls.py" client "$2" "$3" "$BYTES" "$CONCURRENCY" > "$out"
  "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
if r["failed"]:
    sys.exit("%s: %d of %s connections failed, first: %s"
             % (sys.argv[1], r["failed"], sys.argv[2], r["first_error"]))' \
    "$out" "$3" || exit 1
}

# tcp_open: how many connected (not listening) TCP sockets the proxy process holds. Not all its sockets: the JVM
# opens a UDP socket for its resolver at the first connect, and keeps it.
tcp_open() { ss -Htnp 2>/dev/null | grep -c "pid=$PROXY_PID," || true; }

# through NAME PORT COUNT TAG: the connections, then the wait (at most RELEASE_MAX s) until the proxy holds no
# connected TCP socket: both sockets of every connection closed, however late the proxy closes them.
through() {
  local open t0=$SECONDS
  client "$@"
  while :; do
    open=$(tcp_open)
    ((open == 0)) && break
    if ((SECONDS - t0 > RELEASE_MAX)); then
      log "  !!! $1: still $open connected TCP sockets after $RELEASE_MAX s"
      break
    fi
    sleep 0.1
  done
  log "  $1: $3 connections, and their sockets closed, $((SECONDS - t0)) s after the first"
}

# trace NAME TAG CMD...: strace on the proxy (every thread) while CMD runs, then SETTLE s more. -C is -c (the summary
# table, at the end of the file) plus every call as a line with its thread id, for the split by thread; the names of
# the threads are taken before strace detaches.
trace() {
  local name=$1 tag=$2 spid t
  shift 2
  timeout -s INT "$LIFE" strace -C -f -p "$PROXY_PID" -o "$OUT/$name-$tag.strace" 2>"$RUN/$name-$tag.strace.err" &
  spid=$!
  # Attached once every thread of the proxy has a tracer.
  local attached=""
  for _ in $(seq 1 200); do
    if ! grep -h '^TracerPid:' /proc/"$PROXY_PID"/task/*/status 2>/dev/null | grep -q 'TracerPid:[[:space:]]*0$'; then
      attached=1
      break
    fi
    sleep 0.05
  done
  [[ -n $attached ]] || { log "strace did not attach to every thread of $name ($PROXY_PID)"; exit 1; }
  "$@"
  sleep "$SETTLE"
  for t in /proc/"$PROXY_PID"/task/*; do echo "${t##*/} $(cat "$t/comm" 2>/dev/null)"; done > "$OUT/$name-$tag.threads"
  kill -INT "$spid"
  wait "$spid" || true
  if [[ ! -s $OUT/$name-$tag.strace ]]; then
    log "no strace output for $name $tag"
    cat "$RUN/$name-$tag.strace.err" >&2
    exit 1
  fi
}

{
  echo "# Syscalls per proxied connection: $PROXIES"
  echo
  echo "$(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r); $(strace -V | head -1);" \
    "$(haproxy -v 2>&1 | head -1 | cut -d' ' -f1-3)."
  echo "N=$N connections through each proxy (HTTP/1.1, Connection: close, $BYTES-byte body from nginx), $CONCURRENCY at"
  echo "a time, after WARM=$WARM unmeasured ones; proxy on CPU $PROXY_CPU, nginx and the client on CPU $LOAD_CPU."
  echo "\`strace -C -f -p <pid>\` (\`-c\`'s table, and each call by thread) over the N connections, until the proxy has"
  echo "closed all their sockets, plus ${SETTLE} s;"
  echo "then an idle window of the same length."
} > "$OUT/summary.md"

specs=()
tspecs=()
for name in $PROXIES; do
  log "$name: start, $WARM warm-up connections"
  start_proxy "$name"
  through "$name" "${PPORT[$name]}" "$WARM" warm
  sleep "$SETTLE"
  if [[ $name == ferry ]]; then
    { echo; echo "Ferry: \`$(grep -m1 -o 'JVM: .*' "$RUN/ferry.err" || echo 'no JVM line')\`"; } >> "$OUT/summary.md"
  fi
  t0=$(date +%s.%N)
  trace "$name" loaded through "$name" "${PPORT[$name]}" "$N" loaded
  window=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  log "$name: $N connections traced in a ${window} s window; now ${window} s idle"
  trace "$name" idle sleep "$(awk -v w="$window" -v s="$SETTLE" 'BEGIN { printf "%.1f", (w > s ? w - s : 0) }')"
  stop_pid "$PROXY_TPID"
  specs+=("$name=$OUT/$name-loaded.strace,$OUT/$name-idle.strace")
  tspecs+=("$name=$OUT/$name-loaded.strace,$OUT/$name-loaded.threads,$OUT/$name-idle.strace,$OUT/$name-idle.threads")
done

{
  echo
  "$PY" "$HERE/lib/syscalls.py" table "$N" "${specs[@]}"
  "$PY" "$HERE/lib/syscalls.py" threads "$N" "${tspecs[@]}"
  for name in $PROXIES; do
    echo
    echo "\`strace -c -f\` (the summary of \`-C\`), $name, the N connections:"
    echo
    echo '```'
    sed -n '/^% time/,$p' "$OUT/$name-loaded.strace"
    echo '```'
  done
} >> "$OUT/summary.md"
cat "$OUT/summary.md"
log "summary: $OUT/summary.md"
