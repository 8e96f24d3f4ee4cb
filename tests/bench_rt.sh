#!/bin/sh
# make bench: the real-time loop at 1 kHz with a reader attached, with
# cyclictest (rt-tests) running alongside on the other CPU over the same
# interval (tests/bench_rt_lib.sh): wake-up jitter percentiles of both,
# their ratio, ncpd's overruns and slips next to cyclictest's late
# wake-ups.  NCP_BENCH_RT_SECONDS (60) changes the length.
set -u
TAG=rt
. tests/bench_rt_lib.sh
secs=${NCP_BENCH_RT_SECONDS:-60}

say "ncpd for ${secs} s with a reader attached, and cyclictest..."
"$BUILD/tests/fixture_shm_follow" "$name" >"$tmp/reader.json" 2>"$tmp/reader.err" &
rpid=$!
daemon_start "$tmp/ncpd.json" --set emulator.model=none --duration "$secs"
daemon_wait
wait $rpid

$PY -c "$BENCH_PY_HEAD"'
reader_json, secs = sys.argv[3:]
try:
    reader = json.loads(open(reader_json).read())
except ValueError:
    reader = None
print(json.dumps({
    "bench": "rt_loop_vs_cyclictest", "seconds": float(secs),
    "ncpd": {"jitter_us": j, "overruns": d["overruns"], "slips": d["slips"],
             "late_wakeups": d["late_wakeups"], "catchup_steps": d["catchup_steps"],
             "max_behind_ms": d["max_behind_ms"], "cost_us": d["cost_us"],
             "sched": d["sched"], "steps": d["steps"]},
    "cyclictest": ct, "cyclictest_run": loop["cyclictest_run"],
    "ratio_p99": loop["ratio_p99"],
    "ratio_p999": round(j["p999"] / ct["p999"], 3) if ct["p999"] else None,
    "reader": reader}))
' "$tmp/ct.out" "$tmp/ncpd.json" "$tmp/reader.json" "$secs"
