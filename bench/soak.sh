#!/usr/bin/env bash
# The long chaos soak: random (seeded) faulty clients and upstreams against a real Ferry child process, then every
# lifecycle check (gauges at 0, no leak, no detected double free, one access-log line per connection, hashes,
# memory, clean SIGTERM). See docs/soak.md. Exit status 0 = every check held.
#
#   bench/soak.sh                                  # 10 minutes, 32 concurrent clients, random seed
#   DURATION=5m CONCURRENCY=24 SEED=42 bench/soak.sh
#   FERRY_JAR=target/ferry.jar bench/soak.sh       # run Ferry from the shaded jar (mvn -B package -DskipTests first)
#
# Environment: DURATION (10m; 90s, 5m, 1h...), CONCURRENCY (32), SEED (random, printed), FERRY_JAR (unset: Ferry
# runs from target/classes), WORK_DIR (a new temp dir; holds Ferry's stdout/stderr and config), SKIP_BUILD=1 (reuse
# target/ and target/soak-classpath.txt). Further arguments go to dev.ferry.soak.SoakDriver, e.g.
# --jvm-arg -Xmx512m (for the Ferry child) or --external PROXY_PORT,ADMIN_PORT,B0,B1,B2,B3 (Ferry already running,
# upstreams on those four ports).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10m}
CONCURRENCY=${CONCURRENCY:-32}
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
CP_FILE=target/soak-classpath.txt

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile="$CP_FILE"
fi
CP="target/test-classes:target/classes:$(cat "$CP_FILE")"

args=(--duration "$DURATION" --concurrency "$CONCURRENCY" --seed "$SEED")
if [ -n "${FERRY_JAR:-}" ]; then
  args+=(--ferry-jar "$FERRY_JAR")
fi
if [ -n "${WORK_DIR:-}" ]; then
  args+=(--work-dir "$WORK_DIR")
fi
echo "chaos soak: duration $DURATION, concurrency $CONCURRENCY, seed $SEED" >&2
exec java -Xmx512m -cp "$CP" dev.ferry.soak.SoakDriver "${args[@]}" "$@"
