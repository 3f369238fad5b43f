#!/usr/bin/env bash
# Builds Ferry and candidate-fix variants of it from a copy of the working tree, under $WORK/variants (never in the
# working tree), for `FERRY_VARIANTS=... bench/run.sh`. Each variant is one exact source edit (it fails loudly if
# the source no longer matches). Prints the FERRY_JAR and FERRY_VARIANTS lines to use.
#   colocate      Ferry.java: event-loop pool = max(instances, shards) instead of instances + shards, so the
#                 registry shard shares the listener's event loop (no cross-thread wake-up per lifecycle message)
#   nonetmetrics  Ferry.java: Vert.x NET_SERVER, NET_CLIENT and EVENT_BUS metrics disabled (the vertx_net_* and
#                 vertx_eventbus_* meters updated per read/write/message); a measurement of their cost, not a fix
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-/tmp/benchwork}
V=$WORK/variants
rm -rf "$V" && mkdir -p "$V/base"
(cd "$ROOT" && tar --exclude=./target --exclude=./.git --exclude=./bench -cf - .) | tar -xf - -C "$V/base"
for v in colocate nonetmetrics; do cp -r "$V/base" "$V/$v"; done
patch_file() { # DIR OLD NEW
  python3 - "$1/src/main/java/dev/ferry/Ferry.java" "$2" "$3" <<'PY'
import sys
p, old, new = sys.argv[1:]
s = open(p).read()
if s.count(old) != 1:
    sys.exit("variant patch does not apply to %s: %r" % (p, old))
open(p, "w").write(s.replace(old, new))
PY
}
patch_file "$V/colocate" '.setEventLoopPoolSize(options.instances() + options.registryShards())' \
  '.setEventLoopPoolSize(Math.max(options.instances(), options.registryShards()))'
patch_file "$V/nonetmetrics" '.setJvmMetricsEnabled(true)' '.setJvmMetricsEnabled(true)
        .addDisabledMetricsCategory(io.vertx.micrometer.MetricsDomain.NET_SERVER)
        .addDisabledMetricsCategory(io.vertx.micrometer.MetricsDomain.NET_CLIENT)
        .addDisabledMetricsCategory(io.vertx.micrometer.MetricsDomain.EVENT_BUS)'
for v in base colocate nonetmetrics; do
  (cd "$V/$v" && mvn -B -q package -DskipTests) >"$V/$v.log" 2>&1 || { echo "build of $v failed: $V/$v.log" >&2; exit 1; }
done
echo "FERRY_JAR=$V/base/target/ferry.jar"
echo "FERRY_VARIANTS=\"colocate=$V/colocate/target/ferry.jar nonetmetrics=$V/nonetmetrics/target/ferry.jar\""
