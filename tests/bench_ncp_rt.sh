#!/bin/sh
# make bench: the co-processor in real time with online training, with
# cyclictest running alongside on the other CPU over the whole run
# (tests/bench_rt_lib.sh), the emulator predicting every step.
# The protocol (random reaches, task seed 7):
#   A  healthy, NCP_BENCH_NCP_HEALTHY = 32 s (the reference needs 30 s)
#   B  lesion pmc-m1 1, CPN off, NCP_BENCH_NCP_LESIONED = 15 s
#   C  ncp load, ncp train on: the CPN drives the electrodes with
#      exploration and is trained online, NCP_BENCH_NCP_TRAIN = 60 s
#   D  ncp train off: the CPN as trained, NCP_BENCH_NCP_EVAL = 60 s
# Prints slips, overruns, the loop's wake-up p99 against cyclictest's, the
# latency of theta (step published -> theta posted) against the
# emulator's, thetas skipped and computed by the loop's fallback, the
# training's rounds and rollbacks, and the recovery over the last 60 s
# (phase D's reaches against A's and B's mean end errors).
# The CPN starts from NCP_BENCH_NCP_MODEL when set (`scratch`: from no CPN,
# `ncp train on` starts one; tests/bench_ncp_rt_scratch.sh runs that), else
# from ncp-train --cpn with NCP_BENCH_NCP_TRAIN_S = 300 s of simulated
# training.
set -u
TAG=ncp
. tests/bench_rt_lib.sh
ta=${NCP_BENCH_NCP_HEALTHY:-32}
tb=${NCP_BENCH_NCP_LESIONED:-15}
tc=${NCP_BENCH_NCP_TRAIN:-60}
td=${NCP_BENCH_NCP_EVAL:-60}
train_s=${NCP_BENCH_NCP_TRAIN_S:-300}
total=$((ta + tb + tc + td))

emulator_model --set stim.source=noise --set stim.noise=0.05
load="ncp load cpn0"
start="ncp-train --cpn"
if [ "${NCP_BENCH_NCP_MODEL:-}" = scratch ]; then
	train_s=0
	load=""
	start=scratch
elif [ -n "${NCP_BENCH_NCP_MODEL:-}" ]; then
	train_s=0	# not trained here
	start=$NCP_BENCH_NCP_MODEL
	cp "$NCP_BENCH_NCP_MODEL" "$tmp/data/cpn0.safetensors" || die "no $NCP_BENCH_NCP_MODEL"
else
	say "a CPN (ncp-train --cpn, $train_s s of simulated training)..."
	"$BUILD/ncp-train" --cpn --set lesion.kind=pmc-m1 --set lesion.fraction=1 \
		--train-s "$train_s" --out "$tmp/data/cpn0.safetensors" \
		>"$tmp/train.json" 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }
fi
say "ncpd for $total s in real time (healthy $ta s, lesioned $tb s, training $tc s, trained $td s) and cyclictest..."
ctl() { "$BUILD/ncpctl" --socket "$tmp/ctl.sock" "$@" >>"$tmp/ctl.out" 2>&1; }
daemon_start "$tmp/a.json" --duration "$total" --set task.kind=random --set task.seed=7 \
	--set emulator.model=m --set ncp.model=none --set ncp.reference=30
sleep "$ta"
ctl lesion pmc-m1 1 || die "lesion: $(cat "$tmp/ctl.out")"
sleep "$tb"
# shellcheck disable=SC2086
if ! { [ -z "$load" ] || ctl $load; } || ! ctl ncp train on || ! ctl ncp on; then
	die "ncp: $(cat "$tmp/ctl.out")"
fi
sleep "$tc"
ctl ncp train off || die "ncp train off: $(cat "$tmp/ctl.out")"
"$BUILD/ncpctl" --socket "$tmp/ctl.sock" --json ncp status >"$tmp/trained.json" 2>>"$tmp/ctl.out"
daemon_wait

$PY -c "$BENCH_PY_HEAD"'
phases, train_s = [int(x) for x in sys.argv[3:7]], sys.argv[7]
e, n, t = d["emulator"], d["ncp"], d["ncp_training"]
print(json.dumps(dict({"bench": "ncp_rt", "seconds": sum(phases),
    "phases_s": dict(zip(["healthy", "lesioned", "training", "trained"], phases)),
    "cpn_start": sys.argv[8],
    "cpn_offline_train_s": float(train_s) or None}, **loop, **{
    "emulator_latency_us": e["latency_us"],
    "theta_latency_us": n["latency_us"],
    "theta_p99_over_emulator_p99": round(n["latency_us"]["p99"] / e["latency_us"]["p99"], 3)
        if e["latency_us"]["p99"] else None,
    "thetas": n["thetas"], "skipped_steps": n["skipped_steps"],
    "fallback": n["fallback"],
    "training": {k: t[k] for k in ("rounds", "cpn_epochs", "en_trainings", "offers",
                                   "rollbacks", "dropped", "task_loss", "en_loss")},
    "recovery_last_60s": {"l_healthy": n["l_healthy"], "l_lesioned": n["l_lesioned"],
                          "l_restored": n["l_restored"], "recovery_pct": n["recovery"],
                          "reaches": n["reaches"]}})))
' "$tmp/ct.out" "$tmp/a.json" "$ta" "$tb" "$tc" "$td" "$train_s" \
	"$start"
