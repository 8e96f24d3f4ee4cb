#!/usr/bin/python3
"""Wake-up latency percentiles from cyclictest's histogram output
(cyclictest -q -h N): prints one JSON object {p50, p99, p999, max, samples,
late_wakeups} in microseconds.  Used by the real-time benches.

usage: cyclictest_hist.py CYCLICTEST_OUTPUT
"""
import json
import os
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


def pairing():
    """How tests/bench_rt_lib.sh ran cyclictest against the loop (its
    environment): concurrently, over the daemon's run, the CPUs of each
    (-1: not pinned), cyclictest's options, and the load average (1 min)
    at the run's start and end and over the last 5 min at its end."""
    la = open("/proc/loadavg").read().split()
    start = os.environ.get("NCP_BENCH_LOAD_START")
    return {"concurrent": True,
            "cpu": int(os.environ.get("NCP_BENCH_CT_CPU", "-1")),
            "loop_cpu": int(os.environ.get("NCP_BENCH_LOOP_CPU", "-1")),
            "options": os.environ.get("NCP_BENCH_CT_OPTS", ""),
            "load_avg": {"start_1min": float(start) if start else None,
                         "end_1min": float(la[0]), "end_5min": float(la[1])}}


if __name__ == "__main__":
    print(json.dumps(summary(sys.argv[1])))
