#!/bin/sh
# make bench: the emulator in a real-time daemon, next to the loop's own
# wake-up latency and cyclictest's (rt-tests), all three in the same run.
#  1. emulator_realtime (NCP_BENCH_EMU_RUNS runs, 3): an mlp-running model
#     (the default architecture; trained briefly here: latency does not
#     depend on how well) predicting every step for NCP_BENCH_EMU_SECONDS
#     (60): latency from a step's publication to its prediction, skipped
#     steps, the steps the loop predicted itself (fallback) and what that
#     cost it, slips.
#  2. online_from_scratch (as many runs): no model, online training on,
#     NCP_BENCH_ONLINE_SECONDS (120): hand RMSE over the last 20 s, when the
#     1 s RMSE first fell under 5 cm, latency and skips with training on.
#  3. emulator_latency_vs_loop: per kind of run, the medians over the runs
#     of the emulator's latency p99, the loop's wake-up p99 and
#     cyclictest's p99, and of the excess emulator p99 - loop p99 (the
#     design goal: within 50 us) and the ratios to cyclictest.
# cyclictest runs alongside each daemon run (1 ms, SCHED_FIFO 80, the
# loop's priority), so both see the same minute of the host.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
secs=${NCP_BENCH_EMU_SECONDS:-60}
osecs=${NCP_BENCH_ONLINE_SECONDS:-120}
runs=${NCP_BENCH_EMU_RUNS:-3}
tmp=$(mktemp -d /tmp/ncpd-bench-emu.XXXXXX)
name="/ncpd-bench-emu-$$"
trap 'rm -rf "$tmp"; rm -f "/dev/shm$name"' EXIT
uniq="--set shm.name=$name --set control.socket=$tmp/ctl.sock --set data_dir=$tmp/data"

if ! command -v cyclictest >/dev/null; then
	echo "bench_emulator_rt: cyclictest missing (apt-get install rt-tests)" >&2
	exit 1
fi

echo "bench_emulator_rt: a model to run (60 s recorded, 2 epochs)..." >&2
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq --free-run --duration 60 --set task.kind=random --record tr \
	>/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }
"$BUILD/ncp-train" --data "$tmp/data/tr" --out "$tmp/data/m.safetensors" \
	--epochs 2 --quiet >/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }

report() { # BENCH-NAME SUMMARY CYCLICTEST-OUTPUT
	$PY - "$1" "$2" "$3" <<'PYEOF'
import json, sys
sys.path.insert(0, "tests")
from cyclictest_hist import summary
name, path, ct_out = sys.argv[1:]
ct = summary(ct_out)
d = json.load(open(path))
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
PYEOF
}

run() { # BENCH-NAME SECONDS OUT ncpd-args...
	bname=$1 s=$2 out=$3
	shift 3
	cyclictest -m -p 80 -i 1000 -t 1 -D "$s" -q -h 20000 >"$tmp/ct.out" 2>"$tmp/ct.err" &
	ctpid=$!
	# shellcheck disable=SC2086
	"$BUILD/ncpd" $uniq --foreground --duration "$s" --summary json "$@" \
		>"$tmp/run.json" 2>"$tmp/e" || { cat "$tmp/e" >&2; kill "$ctpid"; return 1; }
	wait "$ctpid" || { echo "bench_emulator_rt: cyclictest failed: $(cat "$tmp/ct.err")" >&2; return 1; }
	report "$bname" "$tmp/run.json" "$tmp/ct.out" | tee -a "$out"
}

: >"$tmp/rt.jsonl"
: >"$tmp/online.jsonl"
i=1
while [ "$i" -le "$runs" ]; do
	echo "bench_emulator_rt: run $i/$runs: ${secs} s in real time with the model..." >&2
	run emulator_realtime "$secs" "$tmp/rt.jsonl" --set task.kind=random \
		--set task.seed=2 --set emulator.model=m || exit 1
	echo "bench_emulator_rt: run $i/$runs: ${osecs} s in real time, online training from no model..." >&2
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
