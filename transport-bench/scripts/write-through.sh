#!/usr/bin/env bash
# Issue 15's measurements: one outstanding frame (LatencyBenchmark) and pipelined windows 16/128
# (ThroughputBenchmark), nio with write-through against nio before it (an older benchmarks.jar, $BEFORE_JAR),
# nio without the loop's polls (and with WT_OFF=1 without write-through), Netty (nio, epoll, io_uring) and the
# blocking floor, 3 forks each; PARTS="polls quiet" adds the alternatives measured for the defaults.
# PLACEMENT=pinned runs every JVM under `taskset -c $CPU` (one vCPU for all threads), PLACEMENT=unpinned on both.
# JSON and logs go to $OUT. Build first: mvn -B -pl transport-bench -am package -DskipTests ($JAR: another jar).
#   BEFORE_JAR=/tmp/bench-before.jar PLACEMENT=pinned CPU=1 OUT=results/x transport-bench/scripts/write-through.sh
set -euo pipefail
cd "$(dirname "$0")/.."
jar=${JAR:-target/benchmarks.jar}
out=${OUT:-results/$(date -u +%Y%m%d-%H%M)-write-through}
placement=${PLACEMENT:-unpinned}
parts=${PARTS:-latency throughput}
mkdir -p "$out"
pin=()
if [ "$placement" = pinned ]; then pin=(taskset -c "${CPU:-1}"); fi
common=(-f 3 -wi 3 -w 1 -i 4 -r 2 -rf json)
latency=(LatencyBenchmark -p tls=false -p frameSize=64,1024)
throughput=(ThroughputBenchmark -p tls=false -p connections=1 -p framing=v4 -p window=16,128
            -p frameSize=64,1024,24576)

# $1 label, $2 jar, rest: JMH arguments
run() {
  local label=$1 j=$2
  shift 2
  echo "$(date -u +%H:%M:%S) $placement $label (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/conditions.txt"
  "${pin[@]}" java -jar "$j" "$@" "${common[@]}" -rff "$out/$placement-$label.json" > "$out/$placement-$label.log" 2>&1
}

for part in $parts; do
  case $part in
    latency)
      run latency "$jar" "${latency[@]}" -p transport=nio,netty-nio,netty-epoll,netty-io_uring,blocking
      run latency-polls0 "$jar" "${latency[@]}" -p transport=nio -jvmArgsAppend -Dcqlnio.bench.pollsBeforeSleep=0
      if [ -n "${WT_OFF:-}" ]; then
        run latency-wt-off "$jar" "${latency[@]}" -p transport=nio -jvmArgsAppend -Dcqlnio.bench.writeThrough=false
      fi
      if [ -n "${BEFORE_JAR:-}" ]; then run latency-before "$BEFORE_JAR" "${latency[@]}" -p transport=nio; fi
      ;;
    throughput)
      run throughput "$jar" "${throughput[@]}" -p transport=nio,netty-nio -prof gc
      if [ -n "${BEFORE_JAR:-}" ]; then run throughput-before "$BEFORE_JAR" "${throughput[@]}" -p transport=nio; fi
      ;;
    polls)
      for polls in 20 200; do
        run "latency-polls$polls" "$jar" LatencyBenchmark -p tls=false -p frameSize=64,1024 -p transport=nio \
            -jvmArgsAppend "-Dcqlnio.bench.pollsBeforeSleep=$polls"
      done
      ;;
    quiet)
      for quiet in 0 100000; do
        run "throughput-quiet$quiet" "$jar" ThroughputBenchmark -p tls=false -p connections=1 -p framing=v4 \
            -p window=16,128 -p frameSize=64 -p transport=nio -jvmArgsAppend "-Dcqlnio.bench.writeThroughQuietNanos=$quiet"
      done
      run throughput-wt-off "$jar" ThroughputBenchmark -p tls=false -p connections=1 -p framing=v4 \
          -p window=16,128 -p frameSize=64 -p transport=nio -jvmArgsAppend -Dcqlnio.bench.writeThrough=false
      ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
  esac
done
echo "$(date -u +%H:%M:%S) done" >> "$out/conditions.txt"
