#!/usr/bin/python3
"""Wake-up latency percentiles from cyclictest's histogram output
(cyclictest -q -h N): prints one JSON object {p50, p99, p999, max, samples,
late_wakeups} in microseconds.  Used by the real-time benches.

usage: cyclictest_hist.py CYCLICTEST_OUTPUT
"""
import json
import sys


def summary(path):
    hist, overflow, ct_max = {}, 0, None
    for line in open(path):
        if line.startswith("# Max Latencies:"):
            ct_max = int(line.split()[-1])
        elif line.startswith("# Histogram Overflows:"):
            overflow = int(line.split()[-1])
        elif line[:1].isdigit():
            us, n = line.split()[:2]
            hist[int(us)] = int(n)
    total = sum(hist.values()) + overflow

    def pct(q):
        rank, seen = q * total, 0
        for us in sorted(hist):
            seen += hist[us]
            if seen >= rank:
                # bin us holds latencies in [us, us+1): report its upper
                # edge, as ncpd's histogram does
                return us + 1
        return ct_max
    return {"p50": pct(0.5), "p99": pct(0.99), "p999": pct(0.999),
            "max": ct_max, "samples": total,
            "late_wakeups": sum(n for us, n in hist.items() if us >= 1000) + overflow}


if __name__ == "__main__":
    print(json.dumps(summary(sys.argv[1])))
