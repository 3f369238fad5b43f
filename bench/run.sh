#!/usr/bin/env bash
# Ferry against its peers (HAProxy, nginx stream) and the direct path, on 127.0.0.1 only (issue #4).
#
#   bench/run.sh                               # defaults: REPEAT=3 DURATION=8 WARMUP=3, ~30 min
#   REPEAT=1 DURATION=3 WARMUP=1 IDLE_CONNS=300 bench/run.sh      # smoke test, ~5 min
#
# Workloads (see docs/benchmarks.md): rr (wrk keep-alive, CONNS=64 conns, 1 thread, 64 B file from nginx), churn
# (same, Connection: close), each also at other concurrencies and body sizes by name: rr-c512 (512 connections),
# rr-32k (a 32 KiB body), churn-c512, and any rr|churn[-c<N>][-<K>k]; each of those over TLS with the prefix tls-:
# tls-rr (keep-alive requests over TLS sessions), tls-churn (a full handshake per request: wrk resumes no session),
# the proxy terminating TLS (HAProxy "ssl crt", nginx stream "ssl", Ferry "tls.mode: terminate", all on one EC P-256
# certificate made at the start; the direct and haproxy-splice rows skip them); bulk (iperf3 1 and 4 streams), idle
# (IDLE_CONNS idle connections to a sink: RSS growth per connection, and Ferry's heap). The proxy under test runs
# alone on CPU 1; wrk, iperf3, backends and the idle client on CPU 0. Rows are interleaved per round (round 1: every
# row, round 2: every row, ...) and medians reported.
# scale (off unless listed in WORKLOADS): Ferry unpinned with FERRY_INSTANCES=1 and =2 in turn, rr and churn with
# SCALE_THREADS wrk threads; reports the factor instances=2 / instances=1 per round (on the direct row: the same
# load without a proxy, the ceiling of the load side on this box).
#
# Ferry is started by bin/ferry, exactly as the README starts it: the launcher's JVM defaults, and no JVM option of
# the bench's own in the measured runs (FERRY_JVM_FLAGS, empty by default, and variants add JAVA_OPTS).
#
# Every process started here is recorded by PID and stopped (TERM, then KILL) on exit; each also runs under
# `timeout LIFE`. Only loopback addresses are used.
set -euo pipefail

# Own session, so "other processes' CPU" can exclude everything this script starts.
if [[ -z "${FERRY_BENCH_INNER:-}" ]]; then
  export FERRY_BENCH_INNER=1
  exec setsid --wait "$0" "$@"
fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=${PY:-/usr/bin/python3}
LIB="$PY $HERE/lib/benchlib.py"
# shellcheck source=lib/backend-nginx.sh
. "$HERE/lib/backend-nginx.sh"

REPEAT=${REPEAT:-3}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
IDLE_CONNS=${IDLE_CONNS:-2000}
ROWS=${ROWS:-"direct haproxy nginx-stream ferry"}
# The tail must hold beyond 64 connections and 64-byte bodies (issue #12): several hundred connections, tens of KiB.
WORKLOADS=${WORKLOADS:-"rr rr-c512 rr-32k churn churn-c512 tls-rr tls-churn bulk idle"}
PORT_BASE=${PORT_BASE:-19000}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_MAX=${QUIET_MAX:-60}
# A backstop, not a budget: the backends live for the whole run (a full run with scale, haproxy-splice and two
# variants took 41 min and outlived the former 40 min, which killed the backends under the last rows).
LIFE=${LIFE:-10800}
PROFILE=${PROFILE:-1}
# Ferry is a JVM: before its first measured run in each process, this many seconds of un-measured load per
# workload (churn, then keep-alive; or bulk) let the JIT compile the hot paths. The peers get the same WARMUP only.
FERRY_PREWARM=${FERRY_PREWARM:-20}
WORK=${WORK:-/tmp/benchwork}
OUT_ROOT=${OUT_ROOT:-/tmp/ferry-bench}
DOCS=${DOCS:-$ROOT/docs/benchmarks}
FERRY_JAR=${FERRY_JAR:-}
# Optional Ferry variants to measure next to Ferry: another build (e.g. a candidate fix built elsewhere), other JVM
# options, or both. Every variant is started by bin/ferry too, so its options are JAVA_OPTS: a setting they give
# (collector, heap size, direct-memory cap, OOM action) replaces the launcher's default for it, the others stay.
# Whitespace-separated words; a word not starting with "-" starts a variant:
#   NAME=JAR            that jar, FERRY_JVM_FLAGS
#   NAME=@FLAG          the main Ferry jar, with its own JAVA_OPTS instead of FERRY_JVM_FLAGS: FLAG and every
#                       following word that starts with "-" (so flags may be separated by spaces)
#   NAME=JAR@FLAG       both;  NAME=@ alone: the main jar with the launcher's defaults only (no JAVA_OPTS)
#   NAME=[JAR]%VAR=VALUE[%VAR=VALUE...][@FLAG...]
#                       environment variables for that row's Ferry processes (all of them: rr, churn, bulk, idle,
#                       scale, prewarm), set after the bench's own FERRY_* settings; "%" comes after the jar and
#                       before "@". A separate word "%VAR=VALUE[%...]" adds more to the variant before it.
#                       %FERRY_JVM_DEFAULTS= (empty) turns the launcher's defaults off: the JVM's own ergonomics.
#   e.g. FERRY_VARIANTS="g1=@-XX:+UseG1GC par=@-XX:+UseParallelGC ergo=%FERRY_JVM_DEFAULTS= fix=/x.jar"
#        FERRY_VARIANTS="splice=%FERRY_SPLICE=true two=%FERRY_INSTANCES=2%FERRY_REGISTRY_SHARDS=2 x=/x.jar%A=1@-Xmx512m"
# Each becomes a row "ferry-<NAME>" right after "ferry", run with VARIANT_WORKLOADS only, excluded from the ratios.
FERRY_VARIANTS=${FERRY_VARIANTS:-}
VARIANT_WORKLOADS=${VARIANT_WORKLOADS:-"rr churn"}
# JAVA_OPTS for every Ferry row (variants with "@" give their own instead). Empty by default: Ferry as bin/ferry
# starts it, which is what the figures are about.
FERRY_JVM_FLAGS=${FERRY_JVM_FLAGS:-}
# The launcher every Ferry process is started with (the README's), and the defaults it adds.
LAUNCHER=$ROOT/bin/ferry
[[ -x $LAUNCHER ]] || { echo "no executable launcher at $LAUNCHER" >&2; exit 2; }
LAUNCHER_DEFAULTS=$(sed -n "s/^builtin_defaults='\(.*\)'$/\1/p" "$LAUNCHER")
# scale workload: CPUs for the proxy and for wrk ("" = unpinned, the default for both; the backends stay on
# LOAD_CPU), wrk threads.
SCALE_PROXY_CPU=${SCALE_PROXY_CPU:-}
SCALE_LOAD_CPU=${SCALE_LOAD_CPU:-}
SCALE_THREADS=${SCALE_THREADS:-2}
# The optional row haproxy-splice (only when listed in ROWS): the haproxy row's config plus these options (any of
# splice-auto, splice-request, splice-response). splice-auto alone never splices the iperf3 flow on HAProxy 2.6 (its
# streamer heuristic does not trigger: only recvfrom/sendto), hence both explicit directions by default.
HAPROXY_SPLICE=${HAPROXY_SPLICE:-"splice-request splice-response"}

HTTP_PORT=$((PORT_BASE + 80)); IPERF_PORT=$((PORT_BASE + 201)); SINK_PORT=$((PORT_BASE + 300))
declare -A PPORT=([haproxy]=$((PORT_BASE + 401)) [nginx-stream]=$((PORT_BASE + 402)) [ferry]=$((PORT_BASE + 403)))
# The certificate and key every proxy terminates TLS with (tls-* workloads), made in $RUN/tls at the start.
TLS_DIR=""
PPORT[haproxy-splice]=$((PORT_BASE + 404))
# Variant rows in the order given; VJAR: jar ("" = the main one); VFLAGS: own JVM flags, set only if it has "@";
# VENV: own environment, "VAR=VALUE VAR=VALUE" (values hold no whitespace and no "%").
declare -A VJAR=() VFLAGS=() VENV=()
VROWS=()
# Set by start_proxy for the wiring to the backends and the admin port, and the launcher's jar and options: a
# variant may not change them (it gives its jar as NAME=JAR and its options after "@").
BENCH_ENV="FERRY_LISTEN_HOST FERRY_LISTEN_PORT FERRY_ADMIN_HOST FERRY_ADMIN_PORT FERRY_UPSTREAMS FERRY_JAR JAVA_OPTS"
# add_env ROW "VAR=VALUE%VAR=VALUE...": validates and appends to VENV[ROW].
add_env() {
  local row=$1 item k
  local -a items=()
  if [[ -z $2 || $2 == %* || $2 == *% || $2 == *%%* ]]; then
    echo "FERRY_VARIANTS: empty variable in '%$2' (${row#ferry-})" >&2; exit 2
  fi
  IFS=% read -r -a items <<< "$2"
  for item in "${items[@]}"; do
    k=${item%%=*}
    [[ $item == *=* && $k =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] \
      || { echo "FERRY_VARIANTS: '%$item' (${row#ferry-}) is not VAR=VALUE" >&2; exit 2; }
    [[ " $BENCH_ENV " == *" $k "* ]] && { echo "FERRY_VARIANTS: $k (${row#ferry-}) is set by the bench (listen," \
      "admin, upstream wiring; the jar and JAVA_OPTS come from NAME=JAR@FLAG)" >&2; exit 2; }
    [[ " ${VENV[$row]:-} " == *" $k="* ]] && { echo "FERRY_VARIANTS: $k given twice for ${row#ferry-}" >&2; exit 2; }
    VENV[$row]+="${VENV[$row]:+ }$item"
  done
}
read -r -d '' -a words <<< "$FERRY_VARIANTS" || true  # split without glob expansion (-Xlog:gc* stays as it is)
cur=""
for w in ${words[@]+"${words[@]}"}; do
  if [[ $w == -* ]]; then
    [[ -n $cur && -v VFLAGS[$cur] ]] || { echo "FERRY_VARIANTS: '$w' must follow NAME=@... or NAME=JAR@..." >&2; exit 2; }
    VFLAGS[$cur]+=" $w"
    continue
  fi
  if [[ $w == %* ]]; then
    [[ -n $cur ]] || { echo "FERRY_VARIANTS: '$w' must follow a variant NAME=..." >&2; exit 2; }
    add_env "$cur" "${w#%}"
    continue
  fi
  name=${w%%=*}; spec=""
  [[ $w == *=* ]] && spec=${w#*=}
  [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || { echo "FERRY_VARIANTS: bad variant name in '$w'" >&2; exit 2; }
  cur=ferry-$name
  [[ -v VJAR[$cur] ]] && { echo "FERRY_VARIANTS: variant '$name' given twice" >&2; exit 2; }
  pre=${spec%%@*}  # jar and environment: before the first "@" (flags may contain "%", e.g. -Xlog:...%p)
  VJAR[$cur]=${pre%%\%*}
  [[ $pre == *%* ]] && add_env "$cur" "${pre#*%}"
  [[ $spec == *@* ]] && VFLAGS[$cur]=${spec#*@}
  PPORT[$cur]=$((PORT_BASE + 403))
  VROWS+=("$cur")
done
if [[ " $VARIANT_WORKLOADS $WORKLOADS " == *" scale "* ]]; then
  for v in ${VROWS[@]+"${VROWS[@]}"}; do
    if [[ " ${VENV[$v]:-} " == *" FERRY_INSTANCES="* ]]; then
      echo "FERRY_VARIANTS: ${v#ferry-} sets FERRY_INSTANCES; the scale workload sets its own (1, then 2)" >&2
    fi
  done
fi
# http_spec WL: for [tls-]rr|churn[-c<N>][-<K>k], sets WL_CLOSE ("" keep-alive, "close" churn), WL_CONNS (N, else
# CONNS), WL_BYTES (K KiB, else 64 B) and WL_TLS ("tls" over TLS, else ""); returns 1 for any other name.
http_spec() {
  [[ $1 =~ ^(tls-)?(rr|churn)(-c([0-9]+))?(-([0-9]+)k)?$ ]] || return 1
  WL_TLS=""
  [[ -n ${BASH_REMATCH[1]} ]] && WL_TLS=tls
  WL_CLOSE=""
  [[ ${BASH_REMATCH[2]} == churn ]] && WL_CLOSE=close
  WL_CONNS=${BASH_REMATCH[4]:-$CONNS}
  WL_BYTES=64
  [[ -n ${BASH_REMATCH[6]} ]] && WL_BYTES=$((10#${BASH_REMATCH[6]} * 1024))
  return 0
}
# has_http WORKLOADS [tls|plain]: whether any HTTP workload (over TLS only, or plain only) is in the list.
has_http() {
  local w
  for w in $1; do
    http_spec "$w" || continue
    case ${2:-} in tls) [[ -n $WL_TLS ]] && return 0 ;; plain) [[ -z $WL_TLS ]] && return 0 ;; *) return 0 ;; esac
  done
  return 1
}
# What runs: WORKLOADS, and VARIANT_WORKLOADS when there are variant rows.
RUN_WORKLOADS=$WORKLOADS
((${#VROWS[@]} == 0)) || RUN_WORKLOADS+=" $VARIANT_WORKLOADS"
for w in $RUN_WORKLOADS; do
  if http_spec "$w"; then
    ((WL_CONNS >= 1 && WL_CONNS <= 5000 && WL_BYTES <= 16 * 1024 * 1024)) \
      || { echo "WORKLOADS: $w: 1 to 5000 connections and at most 16384k, please" >&2; exit 2; }
  elif [[ ! $w =~ ^(bulk|idle|scale)$ ]]; then
    echo "WORKLOADS: unknown workload '$w' ([tls-]rr|churn[-c<N>][-<K>k], bulk, idle, scale)" >&2; exit 2
  fi
done
# Body sizes the nginx backend serves: 64 B (prewarm, scale, profile) and every size a workload asks for.
BODY_SIZES=" 64 "
for w in $RUN_WORKLOADS; do
  if http_spec "$w" && [[ $BODY_SIZES != *" $WL_BYTES "* ]]; then BODY_SIZES+="$WL_BYTES "; fi
done
for o in $HAPROXY_SPLICE; do
  [[ $o =~ ^splice-(auto|request|response)$ ]] \
    || { echo "HAPROXY_SPLICE: '$o' is none of splice-auto splice-request splice-response" >&2; exit 2; }
done
for r in $ROWS; do
  [[ $r =~ ^(direct|haproxy|haproxy-splice|nginx-stream|ferry)$ ]] || { echo "ROWS: unknown row '$r' (direct" \
    "haproxy haproxy-splice nginx-stream ferry; variant rows come from FERRY_VARIANTS, right after ferry)" >&2; exit 2; }
done
if ((${#VROWS[@]})); then
  [[ " $ROWS " == *" ferry "* ]] || echo "FERRY_VARIANTS ignored: variant rows run right after the row ferry" >&2
  new=""
  for r in $ROWS; do
    new+=" $r"
    if [[ $r == ferry ]]; then for v in "${VROWS[@]}"; do new+=" $v"; done; fi
  done
  ROWS=${new# }
fi
# row_jar ROW / row_flags ROW: what a Ferry row runs with (row_flags: the JAVA_OPTS it gives bin/ferry).
row_jar() { if [[ $1 != ferry && -n ${VJAR[$1]} ]]; then echo "${VJAR[$1]}"; else echo "$FERRY_JAR"; fi; }
row_flags() {
  local f=$FERRY_JVM_FLAGS
  [[ $1 != ferry && -v VFLAGS[$1] ]] && f=${VFLAGS[$1]}
  f=${f#"${f%%[![:space:]]*}"}  # leading blanks
  echo "${f%"${f##*[![:space:]]}"}"
}
# row_env ROW: the environment a Ferry row adds, "VAR=VALUE ..." ("" for the row ferry).
row_env() { [[ $1 != ferry ]] && echo "${VENV[$1]:-}"; return 0; }
PROXY_INSTANCES=1
FERRY_ADMIN=$((PORT_BASE + 499))

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$OUT_ROOT/$STAMP
RUN=$OUT/run
mkdir -p "$RUN"
RES=$OUT/results.jsonl
: > "$RES"
MYSID=$(ps -o sid= -p $$ | tr -d ' ')
OUR_SIDS=$MYSID
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
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  log "stopped ${#PIDS[@]} processes started by this run (rc=$rc)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CPU CMD...: runs CMD in its own session, pinned (CPU "": not pinned), under timeout; sets STARTED_PID
# (= its session id).
start() {
  local name=$1 cpu=$2 pin=(); shift 2
  [[ -n $cpu ]] && pin=(taskset -c "$cpu")
  setsid ${pin[@]+"${pin[@]}"} timeout -s KILL "$LIFE" "$@" >"$RUN/$name.out" 2>"$RUN/$name.err" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}

# Waits until something listens on 127.0.0.1:PORT (without connecting: iperf3 takes any connection as a test).
wait_port() {
  local port=$1
  for _ in $(seq 1 150); do
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

# ------------------------------------------------------------------------------------------ install
need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx)
[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] || need+=(libnginx-mod-stream)
command -v wrk >/dev/null || need+=(wrk)
command -v iperf3 >/dev/null || need+=(iperf3)
$PY -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
if ((${#need[@]})); then
  log "installing from Debian: ${need[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >"$RUN/apt.log" 2>&1
  # Packages may start system services on images without a policy-rc.d: stop them, the bench uses its own.
  for svc in nginx haproxy; do
    if [[ -f /run/$svc.pid ]]; then kill -TERM "$(cat /run/$svc.pid)" 2>/dev/null || true; fi
    service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# ------------------------------------------------------------------------------------------ build Ferry
if [[ -z "$FERRY_JAR" ]]; then
  log "building Ferry from $ROOT in $WORK/src (the working tree is not touched)"
  rm -rf "$WORK/src" && mkdir -p "$WORK/src"
  (cd "$ROOT" && tar --exclude=./target --exclude=./.git --exclude=./bench -cf - .) | tar -xf - -C "$WORK/src"
  (cd "$WORK/src" && mvn -B -q package -DskipTests) >"$RUN/mvn.log" 2>&1
  FERRY_JAR=$WORK/src/target/ferry.jar
fi
for r in ferry ${VROWS[@]+"${VROWS[@]}"}; do
  [[ -f $(row_jar "$r") ]] || { log "$r: no jar at '$(row_jar "$r")'"; exit 2; }
done

# ------------------------------------------------------------------------------------------ meta
jstr() { $PY -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
{
  echo "{"
  echo "\"date\": \"$(date -u +%FT%TZ)\","
  echo "\"nproc\": \"$(nproc)\","
  echo "\"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\","
  echo "\"kernel\": \"$(uname -r)\","
  echo "\"java\": \"$(java -version 2>&1 | head -1 | sed 's/"//g')\","
  echo "\"haproxy\": \"$(haproxy -v 2>&1 | head -1)\","
  echo "\"nginx\": \"$(nginx -v 2>&1 | sed 's/"//g')\","
  echo "\"wrk\": \"$(wrk -v 2>&1 | head -1 | sed 's/"//g')\","
  echo "\"iperf3\": \"$(iperf3 -v 2>&1 | head -1)\","
  echo "\"ferry_commit\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)\","
  echo "\"ferry_tree\": \"$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -v '^?? bench/\|docs/benchmarks' | wc -l) uncommitted paths\","
  echo "\"ferry_jvm_flags\": $(jstr "$FERRY_JVM_FLAGS"), \"ferry_prewarm_s\": $FERRY_PREWARM,"
  echo "\"ferry_launcher\": $(jstr "$LAUNCHER"), \"ferry_launcher_defaults\": $(jstr "$LAUNCHER_DEFAULTS"),"
  # Every Ferry row of this run: its jar, the JAVA_OPTS it gives bin/ferry (idle runs add -XX:+AlwaysPreTouch) and
  # the environment it adds to the bench's own FERRY_* settings.
  rowspec=()
  for r in $ROWS; do [[ $r == ferry* ]] && rowspec+=("$r" "$(row_jar "$r")" "$(row_flags "$r")" "$(row_env "$r")"); done
  echo "\"ferry_rows\": $($PY -c 'import json, sys; a = sys.argv[1:]
print(json.dumps({a[i]: {"jar": a[i + 1], "jvm_flags": a[i + 2],
                         "env": dict(kv.split("=", 1) for kv in a[i + 3].split())} for i in range(0, len(a), 4)}))' \
    ${rowspec[@]+"${rowspec[@]}"}),"
  # Ferry settings in the caller's environment reach every Ferry row alike (a row's own env overrides them).
  echo "\"ferry_env_inherited\": $($PY -c 'import json, os
own = set("BENCH_INNER JAR VARIANTS JVM_FLAGS PREWARM INSTANCES ACCESS_LOG ECHO_ENABLED LISTEN_HOST LISTEN_PORT ADMIN_HOST ADMIN_PORT UPSTREAMS".split())
print(json.dumps({k: v for k, v in sorted(os.environ.items()) if k.startswith("FERRY_") and k[6:] not in own}))'),"
  [[ " $ROWS " == *" haproxy-splice "* ]] && echo "\"haproxy_splice\": $(jstr "$(for o in $HAPROXY_SPLICE; do printf 'option %s; ' "$o"; done)maxpipes 512"),"
  echo "\"repeat\": $REPEAT, \"duration\": $DURATION, \"warmup\": $WARMUP, \"conns\": $CONNS, \"threads\": $THREADS,"
  echo "\"idle_conns\": $IDLE_CONNS, \"rlimit_nofile\": \"$(ulimit -n)\","
  echo "\"ferry_variants\": $(jstr "$FERRY_VARIANTS"), \"variant_workloads\": \"$VARIANT_WORKLOADS\","
  echo "\"workloads\": \"$WORKLOADS\", \"scale_threads\": $SCALE_THREADS,"
  # Each HTTP workload's load: connections, body bytes, keep-alive or churn.
  specs=()
  for w in $RUN_WORKLOADS; do
    if http_spec "$w" && [[ " ${specs[*]} " != *" $w "* ]]; then
      specs+=("$w" "$WL_CONNS" "$WL_BYTES" "${WL_TLS:+TLS }${WL_CLOSE:-keep-alive}")
    fi
  done
  echo "\"http_workloads\": $($PY -c 'import json, sys; a = sys.argv[1:]
print(json.dumps({a[i]: {"conns": int(a[i + 1]), "bytes": int(a[i + 2]), "mode": a[i + 3]}
                  for i in range(0, len(a), 4)}))' \
    ${specs[@]+"${specs[@]}"}),"
  echo "\"scale_pinning\": \"scale: proxy on CPU ${SCALE_PROXY_CPU:-any}, wrk on CPU ${SCALE_LOAD_CPU:-any}, backends on CPU $LOAD_CPU\","
  echo "\"pinning\": \"proxy on CPU $PROXY_CPU; wrk, iperf3, backends, idle client on CPU $LOAD_CPU\""
  echo "}"
} > "$OUT/meta.json"
log "output: $OUT"

# ------------------------------------------------------------------------------------------ backends
mkdir -p "$RUN/www" "$RUN/nginx-http/logs"
for b in $BODY_SIZES; do head -c "$b" /dev/zero | tr '\0' 'x' > "$RUN/www/$b"; done
NGX_MODS=/usr/lib/nginx/modules
backend_nginx_conf "$RUN" "$HTTP_PORT"
start backend-http "$LOAD_CPU" nginx -p "$RUN/nginx-http" -c "$RUN/nginx-http.conf" -g 'daemon off;'
OUR_SIDS+=",$STARTED_PID"
start backend-iperf "$LOAD_CPU" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
OUR_SIDS+=",$STARTED_PID"
start backend-sink "$LOAD_CPU" $PY "$HERE/lib/benchlib.py" sink "$SINK_PORT" "$RUN/sink.count" "$LIFE"
OUR_SIDS+=",$STARTED_PID"
for p in $HTTP_PORT $IPERF_PORT $SINK_PORT; do wait_port "$p" || { log "backend on $p did not start"; exit 1; }; done
for b in $BODY_SIZES; do
  got=$(curl -sf --max-time 5 "http://127.0.0.1:$HTTP_PORT/$b" | wc -c)
  [[ $got == "$b" ]] || { log "backend nginx serves $got bytes for /$b, not $b"; exit 1; }
done
if has_http "$RUN_WORKLOADS" tls; then
  # One certificate for every proxy: EC P-256, as the tests use; the key in PKCS#8 (what Ferry reads), and the
  # concatenation HAProxy's "crt" wants.
  TLS_DIR=$RUN/tls
  mkdir -p "$TLS_DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TLS_DIR/key.pem" \
    -out "$TLS_DIR/cert.pem" -days 2 -subj /CN=bench.ferry -addext "subjectAltName=DNS:bench.ferry,IP:127.0.0.1" \
    >"$TLS_DIR/openssl.log" 2>&1 || { log "openssl could not make the bench certificate"; exit 1; }
  cat "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" > "$TLS_DIR/haproxy.pem"
  printf 'tls:\n  mode: terminate\n  certificate: %s\n  key: %s\n' "$TLS_DIR/cert.pem" "$TLS_DIR/key.pem" \
    > "$TLS_DIR/ferry.yaml"
fi

# ------------------------------------------------------------------------------------------ proxies
# start_proxy ROW UPSTREAM_PORT [extra JVM flags] [tls]: starts the row's proxy (not for direct), terminating TLS
# with the bench certificate when "tls"; sets PROXY_SID.
start_proxy() {
  local row=$1 up=$2 extra=${3:-} tls=${4:-} port=${PPORT[$1]}
  local hbind="" nlisten="" ntls="" fconf=()
  if [[ -n $tls ]]; then
    hbind=" ssl crt $TLS_DIR/haproxy.pem"
    nlisten=" ssl"
    ntls=$'\n    ssl_certificate '$TLS_DIR/cert.pem$';\n    ssl_certificate_key '$TLS_DIR/key.pem$';'
    fconf=(--config "$TLS_DIR/ferry.yaml")
  fi
  case $row in
    haproxy|haproxy-splice)
      # haproxy-splice: the same plus kernel splicing (HAPROXY_SPLICE options), and maxpipes, because HAProxy
      # otherwise reserves maxconn/4 pipes (2 fds each) and then asks for more fds than the hard limit of 20000.
      local gl="" df="" o
      if [[ $row == haproxy-splice ]]; then
        gl=$'\n  maxpipes 512'
        for o in $HAPROXY_SPLICE; do df+=$'\n  option '$o; done
      fi
      cat > "$RUN/$row.cfg" <<EOF
global
  nbthread 1
  maxconn 9000$gl
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h$df
frontend fe
  bind 127.0.0.1:$port$hbind
  default_backend be
backend be
  server s1 127.0.0.1:$up
EOF
      start "$row" "$PROXY_CPU" haproxy -db -f "$RUN/$row.cfg" ;;
    nginx-stream)
      mkdir -p "$RUN/nginx-stream/logs"
      cat > "$RUN/nginx-stream.conf" <<EOF
load_module $NGX_MODS/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $RUN/nginx-stream/nginx.pid;
error_log $RUN/nginx-stream/error.log warn;
events { worker_connections 10000; }
stream {
  server {
    listen 127.0.0.1:$port$nlisten backlog=4096;$ntls
    proxy_pass 127.0.0.1:$up;
    proxy_timeout 1h;
  }
}
EOF
      start nginx-stream "$PROXY_CPU" nginx -p "$RUN/nginx-stream" -c "$RUN/nginx-stream.conf" -g 'daemon off;' ;;
    ferry*)
      local venv=() inst=() opts
      opts=$(row_flags "$row")
      opts="${opts:+$opts }$extra"
      # The row's own environment comes after the bench's settings, so it may override them (not the wiring);
      # in the scale workload FERRY_INSTANCES is the workload's (1 or 2) whatever the row sets.
      read -r -a venv <<< "$(row_env "$row")" || true
      [[ -n ${SCALE_RUN:-} ]] && inst=(FERRY_INSTANCES="$PROXY_INSTANCES")
      # bin/ferry, as the README starts Ferry; its jar and JAVA_OPTS given. The bench's own parameters (exported
      # FERRY_VARIANTS, ...) are not Ferry settings, and JVM option variables from the caller's shell would change
      # every Ferry row unseen: neither is passed on (a variant may set JAVA_TOOL_OPTIONS as %VAR=VALUE).
      start "$row" "$PROXY_CPU" env -u FERRY_BENCH_INNER -u FERRY_VARIANTS -u FERRY_JVM_FLAGS -u FERRY_PREWARM \
        -u JAVA_TOOL_OPTIONS -u JDK_JAVA_OPTIONS -u _JAVA_OPTIONS FERRY_INSTANCES="$PROXY_INSTANCES" \
        FERRY_ACCESS_LOG=false FERRY_ECHO_ENABLED=false FERRY_LISTEN_HOST=127.0.0.1 FERRY_LISTEN_PORT="$port" \
        FERRY_ADMIN_HOST=127.0.0.1 FERRY_ADMIN_PORT="$FERRY_ADMIN" FERRY_UPSTREAMS="127.0.0.1:$up" \
        FERRY_JAR="$(row_jar "$row")" JAVA_OPTS="$opts" ${venv[@]+"${venv[@]}"} ${inst[@]+"${inst[@]}"} \
        "$LAUNCHER" ${fconf[@]+"${fconf[@]}"} ;;
  esac
  PROXY_SID=$STARTED_PID
  wait_port "$port" || { log "$row did not listen on $port"; tail -5 "$RUN/$row.err" >&2; return 1; }
  rm -f "$RUN/threads.txt"
  if [[ $row == ferry* ]]; then
    wait_port "$FERRY_ADMIN"
    sleep 0.5
    local jp; jp=$(pgrep -P "$PROXY_SID" java | head -1)
    # Java thread names by native id, so that CPU per thread can be reported by name (comm is cut at 15 chars).
    jcmd "$jp" Thread.print > "$RUN/threads.txt" 2>/dev/null || true
    # What this Ferry process really got: its FERRY_* environment, JVM arguments and its own start-up line of the
    # JVM settings in effect (builds before that line have none), one block per start.
    local jvm; jvm=$(grep -m1 -o 'conn=- JVM: .*' "$RUN/$row.err" || true)
    { echo "# $row pid $jp port $port up $up instances $PROXY_INSTANCES $(date -u +%T)"
      tr '\0' '\n' < "/proc/$jp/environ" 2>/dev/null | grep -E '^(FERRY_|JAVA_OPTS=|JAVA_TOOL_OPTIONS=)' | sort || true
      tr '\0' ' ' < "/proc/$jp/cmdline" 2>/dev/null; echo
      echo "${jvm:-no JVM line (a build before JvmReport)}"; } >> "$D/ferry-env.txt"
    # The first start of each row, for the report: what the JVM said it runs with.
    if ! grep -q "^$row	" "$OUT/ferry-jvm.tsv" 2>/dev/null; then
      printf '%s\t%s\n' "$row" "${jvm#conn=- }" >> "$OUT/ferry-jvm.tsv"
    fi
  fi
}

stop_proxy() { stop_pid "$PROXY_SID"; PROXY_SID=""; }

target_port() { if [[ $1 == direct ]]; then echo "$2"; else echo "${PPORT[$1]}"; fi; }

# Waits (at most QUIET_MAX s) until other processes use less than QUIET_PCT % of a core over 1 s.
quiet_wait() {
  local waited=0 o
  while :; do
    o=$($LIB others-now 1 "$OUR_SIDS${PROXY_SID:+,$PROXY_SID}")
    if awk -v o="$o" -v q="$QUIET_PCT" 'BEGIN{exit !(o < q)}'; then return 0; fi
    if ((waited >= QUIET_MAX)); then log "  still busy after ${QUIET_MAX}s (others ${o}%), measuring anyway"; return 0; fi
    waited=$((waited + 1))
  done
}

# measure NAME CMD...: snapshots CPU around CMD; prints the cpu-diff JSON.
measure() {
  local name=$1; shift
  $LIB cpu-snap "$D/$name.cpu0" "${PROXY_SID:-}" "$RUN/threads.txt"
  "$@"
  $LIB cpu-snap "$D/$name.cpu1" "${PROXY_SID:-}" "$RUN/threads.txt"
  $LIB cpu-diff "$D/$name.cpu0" "$D/$name.cpu1" "${PROXY_SID:-}" "$OUR_SIDS"
}

# wrk on WRK_CPU ("" = unpinned) with WRK_THREADS threads: LOAD_CPU and THREADS, except in the scale workload;
# WRK_CONNS connections asking for the WRK_BYTES-byte file: CONNS and 64, except in rr-c512, rr-32k and the like.
WRK_CPU=$LOAD_CPU
WRK_THREADS=$THREADS
WRK_CONNS=$CONNS
WRK_BYTES=64
# http, or https for the tls-* workloads (wrk verifies no certificate and resumes no session: with Connection: close
# every request is a full handshake).
WRK_SCHEME=http
wrk_run() { # PORT SECONDS OUTFILE [close]
  local hdr=() pin=()
  [[ ${4:-} == close ]] && hdr=(-H "Connection: close")
  [[ -n $WRK_CPU ]] && pin=(taskset -c "$WRK_CPU")
  ${pin[@]+"${pin[@]}"} timeout $(($2 + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$2s" --latency \
    ${hdr[@]+"${hdr[@]}"} "$WRK_SCHEME://127.0.0.1:$1/$WRK_BYTES" > "$3" 2>&1 || true
}

iperf_run() { # PORT STREAMS OUTFILE
  taskset -c "$LOAD_CPU" timeout $((DURATION + WARMUP + 30)) iperf3 -c 127.0.0.1 -p "$1" -P "$2" \
    -t $((DURATION + 1)) -O 1 -J > "$3" 2>"$3.err" || true
}

http_workloads() { # ROW ROUND [tls]: the plain HTTP workloads, or with "tls" the tls-* ones
  local row=$1 round=$2 tls=${3:-} port cpu
  local WRK_SCHEME=http pfx=""
  [[ -n $tls ]] && WRK_SCHEME=https pfx=tls-
  port=$(target_port "$row" "$HTTP_PORT")
  if [[ $row == ferry* && $FERRY_PREWARM -gt 0 ]]; then
    wrk_run "$port" "$FERRY_PREWARM" "$D/${pfx}prewarm-churn.txt" close
    wrk_run "$port" "$FERRY_PREWARM" "$D/${pfx}prewarm-rr.txt"
  fi
  local wl got
  for wl in $WORKLOADS; do
    http_spec "$wl" || continue
    [[ $WL_TLS == "$tls" ]] || continue
    local WRK_CONNS=$WL_CONNS WRK_BYTES=$WL_BYTES close=$WL_CLOSE
    # The whole body through this proxy, once, before it is measured (wrk counts responses, not their bytes).
    got=$(curl -sk --max-time 5 "$WRK_SCHEME://127.0.0.1:$port/$WRK_BYTES" | wc -c)
    [[ $got == "$WRK_BYTES" ]] || log "  !!! $row $wl: /$WRK_BYTES came back as $got bytes through the proxy"
    wrk_run "$port" "$WARMUP" "$D/$wl.warmup.txt" $close
    sleep 0.5
    quiet_wait
    cpu=$(measure "$wl" wrk_run "$port" "$DURATION" "$D/$wl.txt" $close)
    record_wrk "$row" "$round" "$wl" "$D/$wl.txt" "$cpu" "{\"conns\": $WRK_CONNS, \"bytes\": $WRK_BYTES}"
    log "  $row $wl: $(tail -1 "$RES")"
  done
}

record_wrk() { # ROW ROUND WL WRK-OUTPUT CPU-JSON [EXTRA-JSON]: appends one result line
  local w extra=${6:-}; w=$($LIB wrk "$4")
  [[ -n $extra ]] || extra='{}'
  $PY - "$RES" "$2" "$1" "$3" "$w" "$5" "$extra" <<'EOF'
import json, sys
res, rnd, row, wl, w, c, extra = sys.argv[1:]
w, c = json.loads(w), json.loads(c)
rec = dict(round=int(rnd), row=row, wl=wl, **json.loads(extra), **w, others=c["others_cpu_pct"])
if row != "direct":
    rec.update(cpu=c["proxy_cpu_pct"], ctxsw=c.get("ctxsw"), threads=c.get("threads_pct"), wall=c["wall_s"])
if "bench_cpu_pct" in c:
    rec.update(bench_cpu=c["bench_cpu_pct"])
open(res, "a").write(json.dumps(rec) + "\n")
EOF
}

# scale: Ferry not pinned (SCALE_PROXY_CPU), FERRY_INSTANCES=1 and =2 one after the other (1 first in odd rounds, 2
# first in even ones), each a fresh process with the usual prewarm, then rr and churn with SCALE_THREADS wrk threads
# (not pinned unless SCALE_LOAD_CPU). On the direct row: the same load without a proxy, the load side's ceiling.
# The backends stay where they are (LOAD_CPU): on a 2-core box wrk, nginx and Ferry share both cores.
scale_workload() { # ROW ROUND
  local row=$1 round=$2 port n order tag cpu label
  local PROXY_CPU=$SCALE_PROXY_CPU WRK_CPU=$SCALE_LOAD_CPU WRK_THREADS=$SCALE_THREADS PROXY_INSTANCES SCALE_RUN=1
  port=$(target_port "$row" "$HTTP_PORT")
  order="1 2"; ((round % 2)) || order="2 1"
  [[ $row == direct ]] && order=0
  for n in $order; do
    PROXY_INSTANCES=$((n > 0 ? n : 1)); tag=scale$n; label=" instances=$n"
    [[ $row == direct ]] && label=""
    if [[ $row != direct ]]; then
      start_proxy "$row" "$HTTP_PORT"
      if ((FERRY_PREWARM > 0)); then
        wrk_run "$port" "$FERRY_PREWARM" "$D/$tag-prewarm-churn.txt" close
        wrk_run "$port" "$FERRY_PREWARM" "$D/$tag-prewarm-rr.txt"
      fi
    fi
    for wl in rr churn; do
      local close=""; [[ $wl == churn ]] && close=close
      wrk_run "$port" "$WARMUP" "$D/$tag-$wl.warmup.txt" $close
      sleep 0.5
      quiet_wait
      cpu=$(measure "$tag-$wl" wrk_run "$port" "$DURATION" "$D/$tag-$wl.txt" $close)
      if [[ $row == direct ]]; then
        record_wrk "$row" "$round" "scale-$wl" "$D/$tag-$wl.txt" "$cpu" "{\"wrk_threads\": $SCALE_THREADS}"
      else
        record_wrk "$row" "$round" "scale-$wl" "$D/$tag-$wl.txt" "$cpu" \
          "{\"instances\": $n, \"wrk_threads\": $SCALE_THREADS}"
      fi
      log "  $row scale-$wl$label: $(tail -1 "$RES")"
    done
    [[ $row == direct ]] || stop_proxy
  done
  [[ $row == direct ]] && return 0
  $PY - "$RES" "$round" "$row" <<'EOF' | while read -r line; do log "  $line"; done
import json, sys
res, rnd, row = sys.argv[1:]
v = {}
for l in open(res):
    r = json.loads(l)
    if r["round"] == int(rnd) and r["row"] == row and r["wl"].startswith("scale-") and r.get("rps"):
        v[(r["wl"], r["instances"])] = r["rps"]
for wl in ("scale-rr", "scale-churn"):
    if (wl, 1) in v and (wl, 2) in v:
        print("%s %s factor instances=2/1: %.2f" % (row, wl, v[(wl, 2)] / v[(wl, 1)]))
EOF
}

bulk_workloads() {
  local row=$1 round=$2 port cpu
  port=$(target_port "$row" "$IPERF_PORT")
  # Warm-up run for every row (the JIT for Ferry, caches for all); not measured.
  local warm=$WARMUP
  [[ $row == ferry* ]] && ((FERRY_PREWARM > warm)) && warm=$FERRY_PREWARM
  taskset -c "$LOAD_CPU" timeout $((warm + 30)) iperf3 -c 127.0.0.1 -p "$port" -P 4 -t "$warm" -J \
    > "$D/bulk-warmup.json" 2>&1 || true
  sleep 0.5
  for n in 1 4; do
    quiet_wait
    cpu=$(measure "bulk$n" iperf_run "$port" "$n" "$D/bulk$n.json")
    local b; b=$($LIB iperf "$D/bulk$n.json")
    $PY - "$RES" "$round" "$row" "bulk$n" "$b" "$cpu" <<'EOF'
import json, sys
res, rnd, row, wl, b, c = sys.argv[1:]
b, c = json.loads(b), json.loads(c)
rec = dict(round=int(rnd), row=row, wl=wl, **b, others=c["others_cpu_pct"])
if row != "direct":
    rec.update(cpu=c["proxy_cpu_pct"], ctxsw=c.get("ctxsw"), threads=c.get("threads_pct"), wall=c["wall_s"])
open(res, "a").write(json.dumps(rec) + "\n")
EOF
    log "  $row bulk$n: $(tail -1 "$RES")"
  done
}

ferry_gc() { [[ $1 == ferry* ]] && jcmd "$(pgrep -P "$PROXY_SID" java | head -1)" GC.run >/dev/null 2>&1 || true; }
ferry_histo() { [[ $1 == ferry* ]] && jcmd "$(pgrep -P "$PROXY_SID" java | head -1)" GC.class_histogram > "$2" 2>&1 || true; }
ferry_heap() {
  if [[ $1 == ferry* ]]; then $LIB heap "http://127.0.0.1:$FERRY_ADMIN/metrics"; else echo null; fi
}

idle_workload() {
  local row=$1 round=$2 port
  [[ $row == direct ]] && return 0
  port=${PPORT[$row]}
  # Warm the accept/connect path first (twice IDLE_CONNS/2 connections), so that the baseline already includes
  # the JIT's code and arenas, pools and caches: what is measured then is what each further connection costs.
  run_idle_client "$port" $((IDLE_CONNS / 2)) warm1
  run_idle_client "$port" $((IDLE_CONNS / 2)) warm2
  sleep 2
  quiet_wait
  ferry_gc "$row"; sleep 0.5
  local rss0 heap0 rss1 heap1 seen
  rss0=$($LIB rss "$PROXY_SID"); heap0=$(ferry_heap "$row"); ferry_histo "$row" "$D/histo0.txt"
  $LIB cpu-snap "$D/idle.cpu0"
  rm -f "$D/idle.ready" "$D/idle.stop"
  taskset -c "$LOAD_CPU" timeout 300 $PY "$HERE/lib/benchlib.py" idle-client "$port" "$IDLE_CONNS" \
    "$RUN/sink.count" "$D/idle.ready" "$D/idle.stop" 240 &
  local cpid=$!
  for _ in $(seq 1 1200); do [[ -f $D/idle.ready ]] && break; sleep 0.1; done
  seen=$(cat "$D/idle.ready" 2>/dev/null || echo 0)
  sleep 2
  ferry_gc "$row"; sleep 0.5
  rss1=$($LIB rss "$PROXY_SID"); heap1=$(ferry_heap "$row"); ferry_histo "$row" "$D/histo1.txt"
  local histo=null
  if [[ $row == ferry* ]]; then
    $LIB histo-diff "$D/histo0.txt" "$D/histo1.txt" "$IDLE_CONNS" > "$D/idle-heap-classes.md" || true
    histo=$(sed -n 's/^| \*\*all classes\*\* | | \*\*\(-\?[0-9]*\)\*\* |$/\1/p' "$D/idle-heap-classes.md")
    [[ -n $histo ]] || histo=null
  fi
  $LIB cpu-snap "$D/idle.cpu1"
  touch "$D/idle.stop"
  wait "$cpid" || true
  local c; c=$($LIB cpu-diff "$D/idle.cpu0" "$D/idle.cpu1" "$PROXY_SID" "$OUR_SIDS")
  $PY - "$RES" "$round" "$row" "$rss0" "$rss1" "$heap0" "$heap1" "$seen" "$IDLE_CONNS" "$c" "$histo" <<'EOF'
import json, sys
res, rnd, row, r0, r1, h0, h1, seen, n, c, histo = sys.argv[1:]
n = int(n)
rec = dict(round=int(rnd), row=row, wl="idle", rss0_kb=int(r0), rss1_kb=int(r1), sink_seen=int(seen),
           rss_per_conn=(int(r1) - int(r0)) * 1024.0 / n, others=json.loads(c)["others_cpu_pct"])
if h0 != "null":
    rec.update(heap0=int(h0), heap1=int(h1), heap_metrics_per_conn=(int(h1) - int(h0)) / n)
if histo != "null":
    rec.update(heap_per_conn=float(histo))
open(res, "a").write(json.dumps(rec) + "\n")
EOF
  log "  $row idle: $(tail -1 "$RES")"
  # Let the sink see every close before the next row.
  for _ in $(seq 1 100); do [[ $(cat "$RUN/sink.count" 2>/dev/null) == 0 ]] && break; sleep 0.1; done
}

run_idle_client() { # PORT N TAG
  rm -f "$D/$3.ready" "$D/$3.stop"
  taskset -c "$LOAD_CPU" timeout 60 $PY "$HERE/lib/benchlib.py" idle-client "$1" "$2" "$RUN/sink.count" \
    "$D/$3.ready" "$D/$3.stop" 30 &
  local cpid=$!
  for _ in $(seq 1 300); do [[ -f $D/$3.ready ]] && break; sleep 0.1; done
  touch "$D/$3.stop"; wait "$cpid" || true
  for _ in $(seq 1 100); do [[ $(cat "$RUN/sink.count" 2>/dev/null) == 0 ]] && break; sleep 0.1; done
}

# ------------------------------------------------------------------------------------------ rounds
T0=$(date +%s)
ALL_WORKLOADS=$WORKLOADS
((REPEAT > 0)) || log "REPEAT=0: profile only"
for round in $(seq 1 "$REPEAT"); do
  log "round $round/$REPEAT"
  for row in $ROWS; do
    D=$OUT/r$round/$row; mkdir -p "$D"
    WORKLOADS=$ALL_WORKLOADS
    [[ $row == ferry-* ]] && WORKLOADS=$VARIANT_WORKLOADS
    if has_http "$WORKLOADS" plain; then
      [[ $row != direct ]] && start_proxy "$row" "$HTTP_PORT"
      http_workloads "$row" "$round"
      [[ $row != direct ]] && stop_proxy
    fi
    # Over TLS, the proxy terminates it (a process of its own, started for these workloads): not direct (nothing to
    # terminate) and not haproxy-splice (HAProxy cannot splice what it decrypts).
    if has_http "$WORKLOADS" tls && [[ $row != direct && $row != haproxy-splice ]]; then
      start_proxy "$row" "$HTTP_PORT" "" tls
      http_workloads "$row" "$round" tls
      stop_proxy
    fi
    if [[ " $WORKLOADS " == *" bulk "* ]]; then
      [[ $row != direct ]] && start_proxy "$row" "$IPERF_PORT"
      bulk_workloads "$row" "$round"
      [[ $row != direct ]] && stop_proxy
    fi
    if [[ " $WORKLOADS " == *" idle "* && $row != direct ]]; then
      # Ferry: heap pre-touched, so RSS growth is the off-heap part; live heap growth is read from /metrics.
      start_proxy "$row" "$SINK_PORT" "-XX:+AlwaysPreTouch"
      idle_workload "$row" "$round"
      stop_proxy
    fi
    if [[ " $WORKLOADS " == *" scale "* && ( $row == direct || $row == ferry* ) ]]; then
      scale_workload "$row" "$round"
    fi
  done
done
log "rounds done in $(( $(date +%s) - T0 )) s"

# ------------------------------------------------------------------------------------------ JFR profile
# One extra Ferry run, not part of the figures: warm up, then a JFR recording (settings=profile) over a keep-alive
# run and another over a churn run, started with jcmd so that the window is exactly the measured load.
jfr_window() { # NAME WRK-CLOSE-ARG
  local jp; jp=$(pgrep -P "$PROXY_SID" java | head -1)
  jcmd "$jp" JFR.start name="$1" settings=profile filename="$D/ferry-$1.jfr" >/dev/null
  wrk_run "${PPORT[ferry]}" "$DURATION" "$D/$1.txt" ${2:-}
  jcmd "$jp" JFR.stop name="$1" >/dev/null
  jfr print --json --events jdk.ExecutionSample "$D/ferry-$1.jfr" > "$D/$1-samples.json"
  jfr print --json --events jdk.NativeMethodSample "$D/ferry-$1.jfr" > "$D/$1-native.json"
  {
    echo "# JFR, Ferry, $1 ($DURATION s, $CONNS connections): $($LIB wrk "$D/$1.txt")"
    echo
    $LIB jfr "$D/$1-samples.json" "$D/$1-native.json"
    echo
    echo '```'
    jfr summary "$D/ferry-$1.jfr" 2>&1 | grep -E 'ExecutionSample|NativeMethodSample|GarbageCollection |Compilation |ObjectAllocationSample|Duration|Start' || true
    echo '```'
  } > "$D/hot-$1.md"
}
if [[ $PROFILE == 1 && " $ROWS " == *" ferry "* ]]; then
  D=$OUT/profile; mkdir -p "$D"
  log "JFR profile of Ferry during a keep-alive and a churn run"
  # A sampler that shares the one CPU with the event loop only runs when the loop is off the CPU, and so sees it
  # mostly in epoll_wait or right after a wake-up. For the profile the JVM may use both CPUs, and only its
  # vert.x-* threads (event loops, acceptor) are pinned to PROXY_CPU: JFR's sampler and the JIT run beside them.
  saved_cpu=$PROXY_CPU; PROXY_CPU="$LOAD_CPU,$PROXY_CPU"
  start_proxy ferry "$HTTP_PORT" "-XX:+FlightRecorder -XX:FlightRecorderOptions=stackdepth=128"
  PROXY_CPU=$saved_cpu
  jp=$(pgrep -P "$PROXY_SID" java | head -1)
  sed -n 's/^"\(vert\.x-[^"]*\)".* nid=0x\([0-9a-f]*\).*/\2 \1/p' "$RUN/threads.txt" | while read -r nid name; do
    taskset -p -c "$PROXY_CPU" $((16#$nid)) >/dev/null && echo "pinned $name to CPU $PROXY_CPU" >> "$D/pinning.txt"
  done
  wrk_run "${PPORT[ferry]}" "$FERRY_PREWARM" "$D/prewarm-churn.txt" close
  wrk_run "${PPORT[ferry]}" "$FERRY_PREWARM" "$D/prewarm-rr.txt"
  jfr_window rr
  jfr_window churn close
  stop_proxy
  log "  profile: rr $($LIB wrk "$D/rr.txt"); churn $($LIB wrk "$D/churn.txt")"
fi

# ------------------------------------------------------------------------------------------ report
mkdir -p "$DOCS"
# Keep the raw figures next to the write-up: results, meta, report, chart, profile summary.
DEST=$DOCS/$STAMP
mkdir -p "$DEST"
cp "$OUT/meta.json" "$DEST/"
if [[ -s $RES ]]; then
  $LIB report "$OUT" "$OUT/report.md" "$OUT/chart.png"
  cp "$OUT/results.jsonl" "$OUT/report.md" "$OUT/summary.json" "$DEST/"
  cp "$OUT"/chart.* "$DEST/" 2>/dev/null || true
fi
cp "$OUT"/profile/hot-*.md "$DEST/" 2>/dev/null || true
cp "$OUT/r1/ferry/idle-heap-classes.md" "$DEST/" 2>/dev/null || true
log "report: $OUT/report.md; copied to $DEST (total $(( $(date +%s) - T0 )) s)"
