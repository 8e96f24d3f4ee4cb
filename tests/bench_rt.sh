#!/bin/sh
# make bench: the real-time loop at 1 kHz with a reader attached, next to
# cyclictest (rt-tests) for the same time in the same bench: wake-up
# jitter percentiles of both, their ratio, ncpd's overruns and slips next
# to cyclictest's late wake-ups.  NCP_BENCH_RT_SECONDS changes the length.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
secs=${NCP_BENCH_RT_SECONDS:-60}
name="/ncpd-bench-rt-$$"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; rm -f "/dev/shm$name"' EXIT

if ! command -v cyclictest >/dev/null; then
	echo "bench_rt: cyclictest missing (apt-get install rt-tests)" >&2
	exit 1
fi
echo "bench_rt: cyclictest for ${secs} s..." >&2
cyclictest -m -p 80 -i 1000 -t 1 -D "${secs}" -q -h 20000 >"$tmp/ct.out" 2>"$tmp/ct.err" ||
	{ echo "bench_rt: cyclictest failed: $(cat "$tmp/ct.err")" >&2; exit 1; }

echo "bench_rt: ncpd for ${secs} s with a reader attached..." >&2
"$BUILD/tests/fixture_shm_follow" "$name" >"$tmp/reader.json" 2>"$tmp/reader.err" &
rpid=$!
"$BUILD/ncpd" --set shm.name="$name" --set emulator.model=none --duration "$secs" --summary json \
	>"$tmp/ncpd.json" 2>"$tmp/ncpd.err" ||
	{ echo "bench_rt: ncpd failed: $(cat "$tmp/ncpd.err")" >&2; exit 1; }
wait $rpid

$PY - "$tmp/ct.out" "$tmp/ncpd.json" "$tmp/reader.json" "$secs" <<'PYEOF'
import json, sys
sys.path.insert(0, "tests")
from cyclictest_hist import summary
ct_out, ncpd_json, reader_json, secs = sys.argv[1:]
ct = summary(ct_out)
d = json.load(open(ncpd_json))
try:
    reader = json.loads(open(reader_json).read())
except ValueError:
    reader = None
j = d["jitter_us"]
print(json.dumps({
    "bench": "rt_loop_vs_cyclictest", "seconds": float(secs),
    "ncpd": {"jitter_us": j, "overruns": d["overruns"], "slips": d["slips"],
             "late_wakeups": d["late_wakeups"], "catchup_steps": d["catchup_steps"],
             "max_behind_ms": d["max_behind_ms"], "cost_us": d["cost_us"],
             "sched": d["sched"], "steps": d["steps"]},
    "cyclictest": ct,
    "ratio_p99": round(j["p99"] / ct["p99"], 3) if ct["p99"] else None,
    "ratio_p999": round(j["p999"] / ct["p999"], 3) if ct["p999"] else None,
    "reader": reader}))
PYEOF
