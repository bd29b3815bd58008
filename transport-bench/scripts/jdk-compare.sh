#!/usr/bin/env bash
# The JDKs drivers run on (issue 16): ThroughputBenchmark, nio against netty-nio, on JDK 17 and on the newest JDK
# (Temurin 25 on this project's machines), from the same benchmarks.jar (Java 17 bytecode) with the same parameters:
# window 128, one connection, v4 frames of 64 B / 1 KiB / 24 KiB, 3 forks of 3 x 1 s warmup + 4 x 2 s, -prof gc.
# Each JMH run forks its benchmark JVMs on the JDK that runs it (-jvm). JSON and logs per JDK go to $OUT
# (jdk17.json, jdk25.json, *.log, conditions.txt), then summary.md: frames/s per provider and JDK, nio/netty-nio per
# JDK, JDK 25/JDK 17 per provider (scripts/jdk-summary.py). About 8 minutes (18 JMH trials of ~12.5 s per JDK); run
# it on a quiet machine (load < 0.5).
#
# Netty 4.2 runs without sun.misc.Unsafe on Java 25+ by default (io.netty.noUnsafe=true there: heap-copied, cleaner-
# freed direct buffers), so netty-nio on 25 is Netty as a driver gets it. NETTY_UNSAFE=1 adds a third run, netty-nio
# on 25 with Unsafe allowed (-Dio.netty.noUnsafe=false --sun-misc-unsafe-memory-access=allow), about 2 minutes more.
# OUT is relative to transport-bench/ (default results/<UTC time>-jdk-compare).
#
# Build first: mvn -B -pl transport-bench -am package -DskipTests (or the whole build).
# Settings (environment): JAR, OUT, JDK17 (java executable; default the Debian OpenJDK 17), JDK25 (default
# scripts/newest-jdk.sh), PLACEMENT=pinned (default: every thread of the benchmark JVM on vCPU $CPU, default 1, with
# taskset, as the recorded grids) or unpinned, and the JMH knobs FORKS WI W I R SIZES WINDOWS. A smoke:
#   FORKS=1 WI=0 I=1 R=1 SIZES=64 OUT=/tmp/jdk-smoke nice transport-bench/scripts/jdk-compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jar=${JAR:-target/benchmarks.jar}
out=${OUT:-results/$(date -u +%Y%m%d-%H%M)-jdk-compare}
placement=${PLACEMENT:-pinned}

if [ ! -f "$jar" ]; then
  echo "no $jar: build it first (mvn -B -pl transport-bench -am package -DskipTests)" >&2
  exit 2
fi
jdk17=${JDK17:-/usr/lib/jvm/java-17-openjdk-amd64/bin/java}
if [ ! -x "$jdk17" ]; then
  echo "no JDK 17 at $jdk17: set JDK17 to its java" >&2
  exit 2
fi
if [ -n "${JDK25:-}" ]; then
  jdk25=$JDK25
else
  jdk25=$(../scripts/newest-jdk.sh) || { echo "no JDK >= 21 under /usr/lib/jvm: set JDK25 to its java" >&2; exit 2; }
fi

mkdir -p "$out"
pin=()
if [ "$placement" = pinned ]; then pin=(taskset -c "${CPU:-1}"); fi
jmh=(-f "${FORKS:-3}" -wi "${WI:-3}" -w "${W:-1}" -i "${I:-4}" -r "${R:-2}" -prof gc -rf json)

# $1 label, $2 java, $3 transports, rest: more JMH arguments. The JMH host JVM runs on the JDK of its forks.
run() {
  local label=$1 java=$2 transports=$3
  shift 3
  local params=(ThroughputBenchmark -p "transport=$transports" -p tls=false -p connections=1 -p framing=v4
                -p "window=${WINDOWS:-128}" -p "frameSize=${SIZES:-64,1024,24576}")
  { echo "$(date -u +%FT%TZ) $placement $label start, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "  $("$java" -version 2>&1 | sed -n 2p)"; } | tee -a "$out/conditions.txt"
  "${pin[@]}" "$java" -jar "$jar" "${params[@]}" "${jmh[@]}" -jvm "$java" "$@" -rff "$out/$label.json" \
      > "$out/$label.log" 2>&1
  echo "$(date -u +%FT%TZ) $placement $label end, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/conditions.txt"
}

start=$(date +%s)
run jdk17 "$jdk17" nio,netty-nio
run jdk25 "$jdk25" nio,netty-nio
if [ -n "${NETTY_UNSAFE:-}" ]; then
  # Prepend, not append: JMH's -jvmArgsAppend would replace the benchmark's own @Fork(jvmArgsAppend) (heap, GC, opens).
  run jdk25-netty-unsafe "$jdk25" netty-nio -jvmArgsPrepend "-Dio.netty.noUnsafe=false --sun-misc-unsafe-memory-access=allow"
fi
python3 scripts/jdk-summary.py "$out"/jdk17.json "$out"/jdk25.json "$out"/jdk25-netty-unsafe.json \
    | tee "$out/summary.md"
echo "$(( $(date +%s) - start )) s; JSON, logs and summary.md in $out"
