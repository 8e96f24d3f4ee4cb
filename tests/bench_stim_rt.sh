#!/bin/sh
# make bench: the real-time loop with exploration stimulation of M1
# (stim.source noise, stim.noise NCP_BENCH_STIM_NOISE = 0.05) and the
# emulator predicting every step, next to cyclictest in the same bench
# (cyclictest first, then ncpd, NCP_BENCH_STIM_SECONDS = 60 s each, as in
# bench_rt.sh): slips, overruns, ncpd's wake-up p99 and cyclictest's,
# their ratio, and the emulator's latency (p50, p99) and skipped steps.
# The model is trained briefly here on 30 s of stimulated free run
# (latency does not depend on how well it predicts).
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
secs=${NCP_BENCH_STIM_SECONDS:-60}
noise=${NCP_BENCH_STIM_NOISE:-0.05}
tmp=$(mktemp -d /tmp/ncpd-bench-stim.XXXXXX)
name="/ncpd-bench-stim-$$"
trap 'rm -rf "$tmp"; rm -f "/dev/shm$name"' EXIT
uniq="--set shm.name=$name --set control.socket=$tmp/ctl.sock --set data_dir=$tmp/data"
stim="--set stim.source=noise --set stim.noise=$noise"

if ! command -v cyclictest >/dev/null; then
	echo "bench_stim_rt: cyclictest missing (apt-get install rt-tests)" >&2
	exit 1
fi
echo "bench_stim_rt: a model to run (30 s recorded with stimulation, 2 epochs)..." >&2
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq $stim --free-run --duration 30 --set task.kind=random --record tr \
	>/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }
"$BUILD/ncp-train" --data "$tmp/data/tr" --out "$tmp/data/m.safetensors" \
	--epochs 2 --quiet >/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }

echo "bench_stim_rt: cyclictest for ${secs} s..." >&2
cyclictest -m -p 80 -i 1000 -t 1 -D "${secs}" -q -h 20000 >"$tmp/ct.out" 2>"$tmp/ct.err" ||
	{ echo "bench_stim_rt: cyclictest failed: $(cat "$tmp/ct.err")" >&2; exit 1; }
echo "bench_stim_rt: ncpd for ${secs} s in real time, stimulated, with the model..." >&2
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq $stim --duration "$secs" --set task.kind=random --set task.seed=2 \
	--set emulator.model=m --summary json >"$tmp/a.json" 2>"$tmp/e" ||
	{ cat "$tmp/e" >&2; exit 1; }

$PY - "$tmp/ct.out" "$tmp/a.json" "$secs" "$noise" <<'PYEOF'
import json, sys
sys.path.insert(0, "tests")
from cyclictest_hist import summary
ct_out, path, secs, noise = sys.argv[1:]
ct, d = summary(ct_out), json.load(open(path))
e, j = d["emulator"], d["jitter_us"]
print(json.dumps({
    "bench": "stim_emulator_rt", "seconds": float(secs),
    "stim": {"source": d["stim"]["source"], "noise": float(noise),
             "electrodes": d["stim"]["electrodes"]},
    "slips": d["slips"], "overruns": d["overruns"], "sched": d["sched"],
    "loop_jitter_us": j, "cyclictest_us": ct,
    "ratio_p99": round(j["p99"] / ct["p99"], 3) if ct["p99"] else None,
    "emulator": {"arch": e["arch"], "latency_us": e["latency_us"],
                 "predictions": e["predictions"], "skipped_steps": e["skipped_steps"],
                 "hand_rmse": e["hand_rmse"]}}))
PYEOF
