#!/bin/sh
# make bench: the co-processor in real time with online training, next to
# cyclictest (cyclictest first for NCP_BENCH_NCP_CT_SECONDS = 60 s, then
# ncpd, as bench_stim_rt.sh does), the emulator predicting every step.
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
ct_secs=${NCP_BENCH_NCP_CT_SECONDS:-60}
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
cyclictest_run "$ct_secs"
say "ncpd for $total s in real time: healthy $ta s, lesioned $tb s, training $tc s, trained $td s..."
ctl() { "$BUILD/ncpctl" --socket "$tmp/ctl.sock" "$@" >>"$tmp/ctl.out" 2>&1; }
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq --duration "$total" --set task.kind=random --set task.seed=7 \
	--set emulator.model=m --set ncp.model=none --set ncp.reference=30 \
	--summary json >"$tmp/a.json" 2>"$tmp/e" &
dpid=$!
for i in $(seq 100); do [ -S "$tmp/ctl.sock" ] && break; sleep 0.1; done
sleep "$ta"
ctl lesion pmc-m1 1 || die "lesion: $(cat "$tmp/ctl.out")"
sleep "$tb"
# shellcheck disable=SC2086
{ [ -z "$load" ] || ctl $load; } && ctl ncp train on && ctl ncp on ||
	die "ncp: $(cat "$tmp/ctl.out")"
sleep "$tc"
ctl ncp train off || die "ncp train off: $(cat "$tmp/ctl.out")"
"$BUILD/ncpctl" --socket "$tmp/ctl.sock" --json ncp status >"$tmp/trained.json" 2>>"$tmp/ctl.out"
wait "$dpid" || { cat "$tmp/e" >&2; exit 1; }

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
