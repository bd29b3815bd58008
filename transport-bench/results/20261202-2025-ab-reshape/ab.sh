#!/bin/bash
# A/B in one run, pinned to one vCPU: the core before the reshape (7a7f984) against after, outbound check on and off.
out=$1
common="-p window=128 -p connections=1 -p framing=v4 -p tls=false -p frameSize=64,1024 -f 2 -wi 5 -w 1 -i 5 -r 2 -prof gc -rf json"
echo "start $(date -u +%H:%M) $(uptime)" > $out/conditions.txt
for round in 1; do
  taskset -c 1 java -jar /tmp/bench-before.jar ThroughputBenchmark -p transport=nio,netty-nio $common -rff $out/before.json > $out/before.log 2>&1
  taskset -c 1 java -jar /tmp/bench-after.jar ThroughputBenchmark -p transport=nio,netty-nio $common -rff $out/after-check-on.json > $out/after-on.log 2>&1
  taskset -c 1 java -jar /tmp/bench-after.jar ThroughputBenchmark -p transport=nio $common -jvmArgsAppend -Dcqlnio.bench.checkOutboundFrames=false -rff $out/after-check-off.json > $out/after-off.log 2>&1
done
echo "end $(date -u +%H:%M) $(uptime)" >> $out/conditions.txt
