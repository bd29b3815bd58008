#!/usr/bin/env bash
# Heap per connection (docs/BENCHMARKS.md, "Heap per connection"): FootprintRunner for every transport and
# connection count, $RUNS fresh JVMs each; markdown to $out/footprint.md, raw class histograms beside it.
# Build first: mvn -B -pl transport-bench -am package -DskipTests. About 3 minutes on 2 vCPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=target/benchmarks.jar
out=${OUT:-results/$(date -u +%Y%m%d-%H%M)-footprint}
transports=${TRANSPORTS:-nio netty-nio netty-epoll}
counts=${COUNTS:-2000 5000}
runs=${RUNS:-2}
jvm=(-Xms1g -Xmx1g -XX:+UseParallelGC --add-opens=java.base/java.nio=ALL-UNNAMED
     --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED -Dio.netty.tryReflectionSetAccessible=true
     -Dio.netty.leakDetection.level=DISABLED)
ulimit -n "$(ulimit -Hn)"   # one descriptor per connection here, and as many in the peer's JVM
mkdir -p "$out"
{ echo "# start $(date -u +%FT%TZ)"; uptime; git rev-parse --short HEAD 2>/dev/null || echo "(not a git checkout)"; } >> "$out/conditions.txt"
for n in $counts; do
    for t in $transports; do
        for r in $(seq 1 "$runs"); do
            java "${jvm[@]}" -cp "$jar" io.cqlnio.bench.FootprintRunner --transport "$t" --connections "$n" \
                --label "run $r" --md "$out/footprint.md" --histograms "$out/histograms-$t-$n-run$r" \
                > "$out/$t-$n-run$r.log" 2>&1
        done
    done
done
{ echo "# end $(date -u +%FT%TZ)"; uptime; } >> "$out/conditions.txt"
# The summary rows first, then each run's class breakdown.
grep -h '^| nio\|^| netty' "$out/footprint.md" | sort -s -t'|' -k3,3n > "$out/summary.md"
cat "$out/summary.md"
