#!/usr/bin/env bash
# The TLS comparison recorded in docs/BENCHMARKS.md ("TLS"): nio against netty-nio, JDK SSLEngine on both,
# with the plaintext rows of the same run beside them; unpinned (throughput + latency) and pinned to one vCPU
# (throughput), then one -prof gc run of nio over TLS at 1 KiB. About 20 minutes on 2 vCPUs.
# Markdown tables and JMH JSON go to transport-bench/results/<date>-tls/ (or $OUT).
# Build first: mvn -B -pl transport-bench package -DskipTests (transport-core installed).
set -euo pipefail
cd "$(dirname "$0")/.."
jar=target/benchmarks.jar
out=${OUT:-results/$(date -u +%Y%m%d-%H%M)-tls}
common=(--transports nio,netty-nio --sizes 64,1024,24576 --windows 128 --connections 1 --tls false,true
        --forks 2 --wi 8 --w 1 --i 5 --r 1)   # 3 x 1 s warmup was too short for TLS (scores still rising)
mkdir -p "$out"
. scripts/run-lib.sh
run unpinned - --latency
run pinned-1cpu 1
log_conditions "gc start"
java -jar "$jar" ThroughputBenchmark -p transport=nio,netty-nio -p frameSize=1024 -p window=128 -p connections=1 \
    -p tls=true -f 1 -wi 8 -w 1 -i 5 -r 1 -prof gc -rf json -rff "$out/gc-tls-1024.json" > "$out/gc-tls-1024.log" 2>&1
log_conditions "gc end"
cat "$out"/unpinned.md "$out"/pinned-1cpu.md
grep -E "roundTrip(:frames|:gc.alloc.rate.norm)? " "$out/gc-tls-1024.log" || true
