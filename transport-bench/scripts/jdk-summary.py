#!/usr/bin/env python3
"""The summary of scripts/jdk-compare.sh: ThroughputBenchmark on JDK 17 against JDK 25, nio against netty-nio.

    python3 transport-bench/scripts/jdk-summary.py OUT/jdk17.json OUT/jdk25.json [OUT/jdk25-netty-unsafe.json]

One table of frames/s (counted at the receiver: the `frames` aux counter, with JMH's 99.9 % error) and bytes
allocated per frame (gc.alloc.rate.norm / frames per op, when run with -prof gc) per (run, transport, frame size,
window); then the ratios: nio / netty-nio per JDK, and JDK 25 / JDK 17 per transport. A missing file is skipped
(the NETTY_UNSAFE run is optional). The run's label is the file name; its JDK is the one the JSON names.
"""
import json
import os
import sys


def label_of(path):
    return os.path.basename(path)[:-len(".json")]


def load(paths):
    rows = {}  # (label, transport, frameSize, window) -> (frames/s, error, jdk, B/frame)
    labels = []
    for path in paths:
        if not os.path.exists(path):
            continue
        label = label_of(path)
        labels.append(label)
        with open(path) as f:
            for r in json.load(f):
                if r["benchmark"].split(".")[-2] != "ThroughputBenchmark":
                    continue
                p = r["params"]
                sec = r.get("secondaryMetrics", {})
                frames = sec.get("frames", {})
                alloc = sec.get("gc.alloc.rate.norm", {}).get("score")
                # gc.alloc.rate.norm is bytes per benchmark op, and an op writes one frame (the primary score).
                per_frame = alloc
                key = (label, p["transport"], int(p["frameSize"]), int(p["window"]))
                rows[key] = (number(frames.get("score")), number(frames.get("scoreError")), r.get("jdkVersion", "?"),
                             number(per_frame))
    return labels, rows


def number(v):
    """JMH writes NaN as a string (an error of one iteration): None then."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "n/a"


def main(paths):
    labels, rows = load(paths)
    if not rows:
        print("no ThroughputBenchmark results in " + " ".join(paths))
        return 1
    jdks = {label: next(v[2] for k, v in rows.items() if k[0] == label) for label in labels}
    print("| run | JDK | transport | frame | window | frames/s | ± | B/frame |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (label, t, size, window), (score, err, jdk, alloc) in sorted(
            rows.items(), key=lambda kv: (kv[0][2], kv[0][3], labels.index(kv[0][0]), kv[0][1])):
        score_s = f"{score:,.0f}" if score is not None else "n/a"
        err_s = f"{err:,.0f}" if err is not None else "n/a"
        alloc_s = f"{alloc:.1f}" if alloc is not None else ""
        print(f"| {label} | {jdk} | {t} | {size} | {window} | {score_s} | {err_s} | {alloc_s} |")

    shapes = sorted({(k[2], k[3]) for k in rows})
    print()
    print("nio / netty-nio (frames/s; above 1: nio faster), per run:")
    print()
    print("| frame | window | " + " | ".join(f"{label} ({jdks[label]})" for label in labels) + " |")
    print("|---:|---:|" + "---:|" * len(labels))
    for size, window in shapes:
        cells = []
        for label in labels:
            nio = rows.get((label, "nio", size, window), (None,))[0]
            if nio is None and label.startswith("jdk25"):
                nio = rows.get(("jdk25", "nio", size, window), (None,))[0]  # the optional run is netty-nio only
            netty = rows.get((label, "netty-nio", size, window), (None,))[0]
            cells.append(ratio(nio, netty))
        print(f"| {size} | {window} | " + " | ".join(cells) + " |")

    if "jdk17" in labels and "jdk25" in labels:
        print()
        print(f"JDK 25 / JDK 17 (frames/s; above 1: faster on {jdks['jdk25']} than on {jdks['jdk17']}):")
        print()
        transports = sorted({k[1] for k in rows if k[0] in ("jdk17", "jdk25")}, key=lambda t: (t != "nio", t))
        extra = [label for label in labels if label not in ("jdk17", "jdk25")]
        print("| frame | window | " + " | ".join(transports + [f"netty-nio ({label})" for label in extra]) + " |")
        print("|---:|---:|" + "---:|" * (len(transports) + len(extra)))
        for size, window in shapes:
            cells = [ratio(rows.get(("jdk25", t, size, window), (None,))[0],
                           rows.get(("jdk17", t, size, window), (None,))[0]) for t in transports]
            cells += [ratio(rows.get((label, "netty-nio", size, window), (None,))[0],
                            rows.get(("jdk17", "netty-nio", size, window), (None,))[0]) for label in extra]
            print(f"| {size} | {window} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
