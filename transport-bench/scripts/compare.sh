#!/usr/bin/env bash
# The comparison recorded in docs/BENCHMARKS.md: unpinned and pinned (taskset) runs of CompareRunner,
# markdown tables and JMH JSON under transport-bench/results/ (or $OUT). About 25 minutes on 2 vCPUs.
# Build first: mvn -B -pl transport-bench -am package -DskipTests (or the whole build).
set -euo pipefail
cd "$(dirname "$0")/.."
jar=target/benchmarks.jar
out=${OUT:-results/$(date -u +%Y%m%d-%H%M)}
common=(--forks 1 --wi 5 --w 1 --i 5 --r 2)
mkdir -p "$out"
. scripts/run-lib.sh
run unpinned - --windows 1,16,128 --connections 1 --latency --oneway
run unpinned-8conns - --windows 128 --connections 8
run pinned-1cpu 1 --windows 128 --connections 1 --latency
cat "$out"/unpinned.md "$out"/unpinned-8conns.md "$out"/pinned-1cpu.md
