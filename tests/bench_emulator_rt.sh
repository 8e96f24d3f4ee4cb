#!/bin/sh
# make bench: the emulator in a real-time daemon, next to the loop's own
# wake-up latency and cyclictest's (rt-tests), all three in the same run.
#  1. emulator_realtime (NCP_BENCH_EMU_RUNS runs, 3): an mlp-running model
#     (the default architecture; trained briefly here on 30 s of free
#     run: latency does not depend on how well) predicting every step for
#     NCP_BENCH_EMU_SECONDS (60): latency from a step's publication to its prediction, skipped
#     steps, the steps the loop predicted itself (fallback) and what that
#     cost it, slips.
#  2. online_from_scratch (as many runs): no model, online training on,
#     NCP_BENCH_ONLINE_SECONDS (120): hand RMSE over the last 20 s, when the
#     1 s RMSE first fell under 5 cm, latency and skips with training on.
#  3. emulator_latency_vs_loop: per kind of run, the medians over the runs
#     of the emulator's latency p99, the loop's wake-up p99 and
#     cyclictest's p99, and of the excess emulator p99 - loop p99 (the
#     design goal: within 50 us) and the ratios to cyclictest.
# cyclictest runs alongside each daemon run on the other CPU, over the
# same interval (tests/bench_rt_lib.sh), so both see the same minute of
# the host.
set -u
TAG=emu
. tests/bench_rt_lib.sh
secs=${NCP_BENCH_EMU_SECONDS:-60}
osecs=${NCP_BENCH_ONLINE_SECONDS:-120}
runs=${NCP_BENCH_EMU_RUNS:-3}

# shellcheck disable=SC2119  # no arguments: the default free run
emulator_model

report() { # BENCH-NAME SUMMARY CYCLICTEST-OUTPUT
	$PY -c "$BENCH_PY_HEAD"'
name = sys.argv[3]
e, out = d["emulator"], {"bench": name}
out.update({"seconds": d["sim_seconds"], "arch": e["arch"],
            "latency_us": e["latency_us"], "predictions": e["predictions"],
            "skipped_steps": e["skipped_steps"],
            "skipped_percent": round(100.0 * e["skipped_steps"] / d["steps"], 4),
            "scored_steps": e.get("scored_steps"),
            "fallback": e.get("fallback"),
            "slips": d["slips"], "overruns": d["overruns"],
            "loop_jitter_us": d["jitter_us"], "loop_cost_us": d["cost_us"],
            "cyclictest_us": {k: ct[k] for k in ("p50", "p99", "max", "samples")},
            "cyclictest_run": loop["cyclictest_run"],
            "ratio_p99": loop["ratio_p99"],
            "hand_rmse": e["hand_rmse"],
            "hand_rmse_last_20s": e["hand_rmse_last_20s"],
            "first_under_0_05_s": e["first_under_0_05_s"]})
ep, lp, cp = e["latency_us"]["p99"], d["jitter_us"]["p99"], ct["p99"]
out["excess_p99_us"] = round(ep - lp, 1)
out["ratio_emulator_to_loop_p99"] = round(ep / lp, 3) if lp else None
out["ratio_emulator_to_cyclictest_p99"] = round(ep / cp, 3) if cp else None
if "training" in d:
    out["training"] = d["training"]
print(json.dumps(out))
' "$3" "$2" "$1"
}

run() { # BENCH-NAME SECONDS OUT ncpd-args...
	bname=$1 s=$2 out=$3
	shift 3
	daemon_start "$tmp/run.json" --foreground --duration "$s" "$@"
	daemon_wait
	report "$bname" "$tmp/run.json" "$tmp/ct.out" | tee -a "$out"
}

: >"$tmp/rt.jsonl"
: >"$tmp/online.jsonl"
i=1
while [ "$i" -le "$runs" ]; do
	say "run $i/$runs: ${secs} s in real time with the model..."
	run emulator_realtime "$secs" "$tmp/rt.jsonl" --set task.kind=random \
		--set task.seed=2 --set emulator.model=m || exit 1
	say "run $i/$runs: ${osecs} s in real time, online training from no model..."
	run online_from_scratch "$osecs" "$tmp/online.jsonl" --set emulator.model=none \
		--set emulator.online=true || exit 1
	i=$((i + 1))
done

$PY - "$tmp/rt.jsonl" "$tmp/online.jsonl" <<'PYEOF'
import json, statistics, sys
def med(xs):
    return round(statistics.median(xs), 3)
out = {"bench": "emulator_latency_vs_loop"}
for kind, path in (("model", sys.argv[1]), ("online_training", sys.argv[2])):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    out[kind] = {
        "runs": len(rows),
        "emulator_p99_us": med([r["latency_us"]["p99"] for r in rows]),
        "loop_wakeup_p99_us": med([r["loop_jitter_us"]["p99"] for r in rows]),
        "cyclictest_p99_us": med([r["cyclictest_us"]["p99"] for r in rows]),
        "excess_p99_us": med([r["excess_p99_us"] for r in rows]),
        "ratio_emulator_to_loop_p99": med([r["ratio_emulator_to_loop_p99"] for r in rows]),
        "ratio_emulator_to_cyclictest_p99": med([r["ratio_emulator_to_cyclictest_p99"] for r in rows]),
        "emulator_max_us": med([r["latency_us"]["max"] for r in rows]),
        "fallback_predictions": med([(r["fallback"] or {}).get("predictions", 0) for r in rows]),
        "fallback_cost_p99_us": med([(r["fallback"] or {"cost_us": {}})["cost_us"].get("p99", 0) for r in rows]),
        "within_50_us": sum(r["excess_p99_us"] <= 50 for r in rows),
    }
print(json.dumps(out))
PYEOF
