#!/usr/bin/env python3
"""Markdown tables from the JMH JSON files of scripts/write-through.sh (or any Latency/Throughput runs).

    python3 transport-bench/scripts/summarize.py results/<dir>/*.json

Latency: p50 / p99 in us per (label, transport, frame size). Throughput: frames/s counted at the receiver
(the `frames` aux counter) with JMH's 99.9 % error, frames per write call (frames / writeCalls) and bytes
allocated per frame (gc.alloc.rate.norm, when run with -prof gc). The label is the file name.
"""
import json
import os
import sys


def label_of(path):
    return os.path.basename(path)[:-len(".json")]


def main(paths):
    lat, thr = [], []
    for path in paths:
        with open(path) as f:
            for r in json.load(f):
                bench = r["benchmark"].split(".")[-2]
                p = r["params"]
                row = (label_of(path), p.get("transport"), int(p.get("frameSize", 0)), int(p.get("window", 1)), r)
                (lat if bench == "LatencyBenchmark" else thr).append(row)
    if lat:
        print("| run | transport | frame | p50 us | p99 us | p99.9 us |")
        print("|---|---|---:|---:|---:|---:|")
        for label, t, size, _, r in sorted(lat, key=lambda x: (x[2], x[0], x[1])):
            pc = r["primaryMetric"]["scorePercentiles"]
            print(f"| {label} | {t} | {size} | {pc['50.0']:.1f} | {pc['99.0']:.1f} | {pc['99.9']:.1f} |")
    if thr:
        print()
        print("| run | transport | frame | window | frames/s | ± | frames/write | B/frame |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for label, t, size, window, r in sorted(thr, key=lambda x: (x[2], x[3], x[0], x[1])):
            sec = r.get("secondaryMetrics", {})
            frames = sec.get("frames", {})
            calls = sec.get("writeCalls", {}).get("score")
            per_write = f"{frames['score'] / calls:.1f}" if calls else "n/a"
            alloc = sec.get("gc.alloc.rate.norm", {}).get("score")
            alloc_s = f"{alloc:.2f}" if alloc is not None else ""
            print(f"| {label} | {t} | {size} | {window} | {frames.get('score', 0):,.0f} | "
                  f"{frames.get('scoreError', 0):,.0f} | {per_write} | {alloc_s} |")


if __name__ == "__main__":
    main(sys.argv[1:])
