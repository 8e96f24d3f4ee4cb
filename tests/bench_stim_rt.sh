#!/bin/sh
# make bench: the real-time loop with exploration stimulation of M1
# (stim.source noise, stim.noise NCP_BENCH_STIM_NOISE = 0.05) and the
# emulator predicting every step, for NCP_BENCH_STIM_SECONDS = 60 s, with
# cyclictest running alongside on the other CPU over the same interval
# (tests/bench_rt_lib.sh): slips, overruns, ncpd's wake-up p99 and
# cyclictest's, their ratio, and the emulator's latency (p50, p99) and
# skipped steps.
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
say "ncpd for ${secs} s in real time, stimulated, with the model, and cyclictest..."
# shellcheck disable=SC2086
daemon_start "$tmp/a.json" $stim --duration "$secs" --set task.kind=random \
	--set task.seed=2 --set emulator.model=m
daemon_wait

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
