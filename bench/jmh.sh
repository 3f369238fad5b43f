#!/usr/bin/env bash
# JMH microbenchmarks of the connection registry (bench/jmh). Builds Ferry and the JMH module in a copy under
# $WORK (never inside the working tree) and runs them. Extra arguments go to JMH, e.g.
#   bench/jmh.sh -f 1 -wi 2 -i 3 -p shards=1         (quick)
#   bench/jmh.sh RegistryBench.lifecycle              (one benchmark)
# Output: JMH's text report on stdout and $WORK/jmh-result.json. Pinned to CPU 0-1 (the whole box) by default.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-/tmp/benchwork}
FERRY_JAR=${FERRY_JAR:-}
CPUS=${JMH_CPUS:-0-1}

mkdir -p "$WORK"
if [[ -z "$FERRY_JAR" ]]; then
  rm -rf "$WORK/src-jmh" && mkdir -p "$WORK/src-jmh"
  (cd "$ROOT" && tar --exclude=./target --exclude=./.git --exclude=./bench -cf - .) | tar -xf - -C "$WORK/src-jmh"
  (cd "$WORK/src-jmh" && mvn -B -q package -DskipTests)
  FERRY_JAR=$WORK/src-jmh/target/ferry.jar
fi
rm -rf "$WORK/jmh" && mkdir -p "$WORK/jmh"
cp -r "$HERE/jmh/." "$WORK/jmh/"
(cd "$WORK/jmh" && mvn -B -q package -Dferry.jar="$FERRY_JAR")
CP="$WORK/jmh/target/classes:$FERRY_JAR:$(cat "$WORK/jmh/target/classpath.txt")"
echo "# java: $(java -version 2>&1 | head -1); ferry jar: $FERRY_JAR; cpus: $CPUS" >&2
exec taskset -c "$CPUS" timeout 1800 java -cp "$CP" org.openjdk.jmh.Main \
  -rf json -rff "$WORK/jmh-result.json" "${@:-RegistryBench}"
