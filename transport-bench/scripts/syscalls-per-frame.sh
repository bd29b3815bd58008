#!/usr/bin/env bash
# Counts syscalls per frame, per thread, for one ThroughputBenchmark configuration: runs the benchmark
# (1 fork), attaches `perf stat --per-thread` to the forked JVM for a few seconds in the middle of the
# measurement, and prints each thread's syscall counts next to its name. Divide by frames/s x seconds.
# Usage: scripts/syscalls-per-frame.sh TRANSPORT FRAME_SIZE WINDOW [SECONDS]
set -euo pipefail
transport=$1; size=$2; window=$3; secs=${4:-4}
jar="$(dirname "$0")/../target/benchmarks.jar"
out=$(mktemp -d)
java -jar "$jar" ThroughputBenchmark -p transport="$transport" -p frameSize="$size" -p window="$window" \
    -p connections=1 -f 1 -wi 2 -w 1 -i 3 -r 3 > "$out/jmh.log" 2>&1 &
jmh=$!
pid=""
for _ in $(seq 1 100); do
    pid=$(pgrep -f "ForkedMain" | head -1 || true)
    [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] || { echo "no forked JVM found"; kill "$jmh"; exit 1; }
sleep 4 # past the warmup
events=syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex
perf stat --per-thread -x, -e "$events" -p "$pid" -- sleep "$secs" 2> "$out/perf.csv" || true
for task in /proc/"$pid"/task/*; do echo "$(basename "$task"),$(cat "$task/comm" 2>/dev/null)"; done > "$out/names.csv"
wait "$jmh" || true
grep -E "^ThroughputBenchmark.roundTrip:frames|^Iteration" "$out/jmh.log"
awk -F, 'NR==FNR { name[$1]=$2; next }
         $2 > 0 { split($1, t, "-"); tid=t[length(t)]; printf "%-28s %-28s %12d\n", name[tid], $4, $2 }' \
    "$out/names.csv" "$out/perf.csv" | sort
echo "(counts over $secs s; logs in $out)"
