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
TAG=stim
. tests/bench_rt_lib.sh
secs=${NCP_BENCH_STIM_SECONDS:-60}
noise=${NCP_BENCH_STIM_NOISE:-0.05}
stim="--set stim.source=noise --set stim.noise=$noise"

# shellcheck disable=SC2086
emulator_model $stim
cyclictest_run "$secs"
say "ncpd for ${secs} s in real time, stimulated, with the model..."
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq $stim --duration "$secs" --set task.kind=random --set task.seed=2 \
	--set emulator.model=m --summary json >"$tmp/a.json" 2>"$tmp/e" ||
	{ cat "$tmp/e" >&2; exit 1; }

$PY -c "$BENCH_PY_HEAD"'
secs, noise = sys.argv[3:]
e = d["emulator"]
print(json.dumps(dict({
    "bench": "stim_emulator_rt", "seconds": float(secs),
    "stim": {"source": d["stim"]["source"], "noise": float(noise),
             "electrodes": d["stim"]["electrodes"]}}, **loop, **{
    "emulator": {"arch": e["arch"], "latency_us": e["latency_us"],
                 "predictions": e["predictions"], "skipped_steps": e["skipped_steps"],
                 "hand_rmse": e["hand_rmse"]}})))
' "$tmp/ct.out" "$tmp/a.json" "$secs" "$noise"
