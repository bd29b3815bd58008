#!/usr/bin/env bash
# Counts context switches and syscalls per thread for one benchmark configuration: runs it (1 fork),
# attaches `perf stat --per-thread` (kernel tracepoints: no ptrace slowdown) to the forked JVM for a few
# seconds in the middle of the measurement, and prints each thread's counts beside its name and the
# measured scores. Divide a count by (frames/s x seconds) for per-frame figures.
# Usage: scripts/syscalls-per-frame.sh JMH_ARGS...   e.g.
#   scripts/syscalls-per-frame.sh ThroughputBenchmark -p transport=nio -p frameSize=64 -p window=128 -p connections=1
#   scripts/syscalls-per-frame.sh LatencyBenchmark -p transport=netty-nio -p frameSize=64
set -euo pipefail
secs=${SECONDS_TO_COUNT:-4}
jar="$(dirname "$0")/../target/benchmarks.jar"
out=$(mktemp -d)
java -jar "$jar" "$@" -f 1 -wi 2 -w 1 -i 3 -r 3 > "$out/jmh.log" 2>&1 &
jmh=$!
pid=""
for _ in $(seq 1 100); do
    # the fork is the child of this run's JMH JVM, not any other benchmark that may be running
    pid=$(pgrep -P "$jmh" -f ForkedMain | head -1 || true)
    [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] || { echo "no forked JVM found"; kill "$jmh"; exit 1; }
sleep 4 # past the warmup
events=context-switches,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev
events=$events,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex
perf stat --per-thread -x, -e "$events" -p "$pid" -- sleep "$secs" 2> "$out/perf.csv" || true
for task in /proc/"$pid"/task/*; do echo "$(basename "$task"),$(cat "$task/comm" 2>/dev/null)"; done > "$out/names.csv"
wait "$jmh" || true
grep -E "^Iteration|^(Throughput|Latency|OneWay)Benchmark" "$out/jmh.log" || true
awk -F, 'NR==FNR { name[$1]=$2; next }
         $2 > 0 { split($1, t, "-"); tid=t[length(t)]; printf "%-28s %-32s %12d\n", name[tid], $4, $2 }' \
    "$out/names.csv" "$out/perf.csv" | grep -Ev "^(C[12] Compiler|GC Thread|VM |Service|Monitor|Signal|Common|Sweeper|java |Notification|Reference|Finalizer|Attach)" | sort
echo "(counts over $secs s; logs in $out)"
