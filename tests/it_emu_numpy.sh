#!/bin/sh
# The emulator's forward pass against tests/emu_forward.py, a numpy
# implementation written from docs/model-format.md (Debian's python3 and
# numpy): for every architecture, a default-sized model run by ncpd over
# M1-like spikes with stimulation (tests/fixture_emu_dump.c); then a model
# that ncp-train trained, with a horizon, on a recording ncpd made with
# exploration stimulation, run over that recording with its stimulation.
# The standardised outputs must agree within 1e-4, and the hand RMSE at
# the horizon that numpy computes from its own predictions must be
# ncp-train --eval's.  Then the same for models with the arm-state input
# and in the residual form (made up, and trained by ncp-train --arm-input
# and --residual), and the daemon running those models in the loop, in
# lockstep and in real time.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
fixture="$BUILD/tests/fixture_emu_dump"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$fixture" ] || fail "missing $fixture (make builds it)"
$PY -c 'import numpy' || fail "$PY has no numpy"

for arch in ridge ridge-running mlp mlp-running dense ridge+arm mlp-running+arm \
	ridge+res mlp-running+res; do
	mkdir -p "$tmp/$arch"
	"$fixture" "$arch" "$tmp/$arch" 1200 3 || fail "fixture for $arch"
	$PY tests/emu_forward.py "$tmp/$arch/model.safetensors" \
		"$tmp/$arch/spikes.npy" "$tmp/$arch/stim.npy" \
		"$tmp/$arch/pred.npy" 1e-4 "$tmp/$arch/arm.npy" >/dev/null ||
		fail "$arch differs from the definition"
done

# A recording from ncpd with exploration stimulation, a model from
# ncp-train predicting 50 steps ahead.
mkdir -p "$tmp/data" "$tmp/run"
"$BUILD/ncpd" --free-run --duration 4 --set task.kind=random \
	--set stim.source=noise --set stim.noise=0.1 \
	--set data_dir="$tmp/data" --record rec \
	--set shm.name=/ncpd-it-emu-$$ --set control.socket="$tmp/s.sock" \
	>/dev/null 2>"$tmp/ncpd.err" || { cat "$tmp/ncpd.err" >&2; fail "ncpd --record"; }
"$BUILD/ncp-train" --data "$tmp/data/rec" --out "$tmp/trained.safetensors" \
	--arch mlp-running --epochs 2 --block 0.5 --horizon 50 --quiet \
	>"$tmp/train.out" 2>&1 || { cat "$tmp/train.out" >&2; fail "ncp-train"; }
# against_numpy MODEL RUN LABEL HORIZON ARM_INPUT RESIDUAL: ncpd runs
# MODEL over the recording into $tmp/RUN, numpy's definition
# (tests/emu_forward.py) must give the same predictions, and ncp-train
# --eval the same hand RMSE at HORIZON, its report saying arm_input
# ARM_INPUT and residual RESIDUAL (True or False); the report is left in
# $tmp/RUN.eval.json.
against_numpy() {
	mkdir -p "$tmp/$2"
	"$fixture" --run "$1" "$tmp/data/rec" "$tmp/$2" || fail "fixture --run ($3)"
	$PY tests/emu_forward.py "$1" "$tmp/$2/spikes.npy" "$tmp/$2/stim.npy" \
		"$tmp/$2/pred.npy" 1e-4 "$tmp/data/rec/arm.npy" >"$tmp/np.out" ||
		{ cat "$tmp/np.out"; fail "the $3 differs from the definition"; }
	cat "$tmp/np.out"
	np_rmse=$(sed -n "s/^horizon $4: hand_rmse //p" "$tmp/np.out")
	[ -n "$np_rmse" ] || fail "numpy did not score the $3 at horizon $4"
	"$BUILD/ncp-train" --eval "$1" --data "$tmp/data/rec" --json \
		>"$tmp/$2.eval.json" || fail "ncp-train --eval ($3)"
	$PY -c '
import json, sys
e = json.load(open(sys.argv[1]))
ours, ref = e["score"]["hand_rmse"], float(sys.argv[2])
print("ncp-train --eval, %s, horizon %d: hand_rmse %.9g, numpy %.9g"
      % (sys.argv[3], e["horizon"], ours, ref))
sys.exit(0 if e["horizon"] == int(sys.argv[4]) and str(e["arm_input"]) == sys.argv[5]
         and str(e["residual"]) == sys.argv[6]
         and abs(ours - ref) <= 1e-4 * ref + 1e-9 else 1)
' "$tmp/$2.eval.json" "$np_rmse" "$3" "$4" "$5" "$6" ||
		fail "ncp-train --eval scores the $3 otherwise than the definition"
}
against_numpy "$tmp/trained.safetensors" run "trained model" 50 False False
$PY -c 'import numpy as np, sys; sys.exit(0 if np.abs(np.load(sys.argv[1])).max() > 0 else 1)' \
	"$tmp/run/stim.npy" || fail "the recording's stimulation did not reach the model"

# The daemon, running the same model in lockstep over the same run, scores
# each prediction against the arm `horizon` steps later, as --eval does.
"$BUILD/ncpd" --free-run --duration 4 --set task.kind=random \
	--set stim.source=noise --set stim.noise=0.1 \
	--set data_dir="$tmp/data" --set emulator.model="$tmp/trained.safetensors" \
	--set shm.name=/ncpd-it-emu-$$ --set control.socket="$tmp/s.sock" \
	--summary json >"$tmp/ls.json" 2>"$tmp/ncpd.err" || { cat "$tmp/ncpd.err" >&2; fail "ncpd with the model"; }
$PY -c '
import json, sys
d, ev = json.load(open(sys.argv[1]))["emulator"], json.load(open(sys.argv[2]))
ours, ref = d["hand_rmse"], ev["score"]["hand_rmse"]
print("daemon lockstep horizon 50: hand_rmse %.9g over %d steps, ncp-train --eval %.9g"
      % (ours, d["scored_steps"], ref))
sys.exit(0 if abs(ours - ref) <= 1e-4 * ref + 2e-5 and d["scored_steps"] == 4000 - 99 - 50 else 1)
' "$tmp/ls.json" "$tmp/run.eval.json" ||
	fail "the daemon scores a model with a horizon otherwise than ncp-train --eval"

# The arm-state input: a model ncp-train trained with it (horizon 0), run
# by ncpd over the recording, against numpy and --eval; then by the daemon
# in the loop, in lockstep (the loop hands it the arm) and in real time
# (the emulator thread reads it from the window slots), over the same run.
# The same for a model in the residual form (ncp-train --residual).
"$BUILD/ncp-train" --data "$tmp/data/rec" --out "$tmp/arm.safetensors" \
	--arch mlp-running --epochs 2 --block 0.5 --arm-input --quiet \
	>"$tmp/train.out" 2>&1 || { cat "$tmp/train.out" >&2; fail "ncp-train --arm-input"; }
against_numpy "$tmp/arm.safetensors" runarm "arm-input model" 0 True False
"$BUILD/ncp-train" --data "$tmp/data/rec" --out "$tmp/res.safetensors" \
	--arch mlp-running --epochs 2 --block 0.5 --residual --quiet \
	>"$tmp/train.out" 2>&1 || { cat "$tmp/train.out" >&2; fail "ncp-train --residual"; }
against_numpy "$tmp/res.safetensors" runres "residual model" 0 True True
# in_the_loop MODEL LABEL RESIDUAL: the daemon records every prediction
# into pred.npy at its step's row: each against numpy's on that run's own
# spikes, stimulation and arm, to 2e-5 of out_scale beyond the float32
# rounding of the prediction (emu_forward.difference; the layers' float
# rounding is near 2e-6; the arm of the wrong step, one step late or
# early, moves the arm-input model's by about 2e-4 here, the residual
# one's by a step's change; leaving out the residual form's base by 1e4),
# the summary saying residual RESIDUAL (True or False).
in_the_loop() {
	for mode in lockstep realtime; do
		[ $mode = lockstep ] && fr=--free-run || fr=
		name=$(basename "$1" .safetensors)-$mode
		"$BUILD/ncpd" $fr --duration 4 --set task.kind=random \
			--set stim.source=noise --set stim.noise=0.1 \
			--set data_dir="$tmp/data" --set emulator.model="$1" \
			--set shm.name=/ncpd-it-emu-$$ --set control.socket="$tmp/s.sock" \
			--record "$name" --summary json >"$tmp/$name.json" 2>"$tmp/ncpd.err" &
		dpid=$!
		if [ $mode = realtime ]; then
			# status names the model's kind while it runs.
			rm -f "$tmp/status.txt"
			for i in $(seq 40); do
				"$BUILD/ncpctl" --socket "$tmp/s.sock" --json status >"$tmp/status.txt" 2>/dev/null && break
				sleep 0.1
			done
			$PY -c '
import json, sys
e = json.load(open(sys.argv[1]))["emulator"]
sys.exit(0 if e["arm_input"] is True and str(e["residual"]) == sys.argv[2] and e["horizon"] == 0 else 1)
' "$tmp/status.txt" "$3" ||
				{ cat "$tmp/status.txt" >&2; fail "status does not say the $2 reads the arm (residual $3)"; }
		fi
		wait $dpid || { cat "$tmp/ncpd.err" >&2; fail "ncpd $mode with the $2"; }
		PYTHONPATH=client/python:tests $PY -c '
import json, sys
import numpy as np
import ncpd
from ncpd import models
from emu_forward import difference
m, rec = models.load(sys.argv[1]), ncpd.Recording(sys.argv[2])
d = json.load(open(sys.argv[3]))["emulator"]
y, v = m.forward(rec.m1, rec.stim_input(m.stim_channels), rec.arm)
pred = np.asarray(rec.pred)
have = np.isfinite(pred).all(axis=1)
diff = difference(m, pred[have], y[have]).max()
print("daemon %s, %s: %d of %d steps predicted (%d skipped), largest difference from numpy %.3g, arm_input %s, residual %s"
      % (sys.argv[4], sys.argv[5], have.sum(), len(pred), d["skipped_steps"], diff,
         d["arm_input"], d["residual"]))
if sys.argv[4] == "lockstep" and not have.all():
    sys.exit("lockstep left steps unpredicted")
if have.sum() < len(pred) // 2:
    sys.exit("fewer than half the steps predicted: nothing to compare")
if not d["arm_input"] or str(d["residual"]) != sys.argv[6]:
    sys.exit("the summary says arm_input %s, residual %s" % (d["arm_input"], d["residual"]))
sys.exit(0 if diff <= 2e-5 and v[have].std() > 1e-2 else 1)
' "$1" "$tmp/data/$name" "$tmp/$name.json" $mode "$2" "$3" ||
			fail "the daemon ($mode) runs the $2 otherwise than the definition"
	done
}
in_the_loop "$tmp/arm.safetensors" "arm-input model" False
in_the_loop "$tmp/res.safetensors" "residual model" True
# Online training from the arm-input model keeps the input (the trainer reads the
# replay buffer's arm of the step before), and from the residual model keeps
# its form: trained on the change, its predictions stay within 2 mm of the
# hand (the trained model's own error is under 1 mm; a trainer that fitted
# the state itself on top of the base would be off by the arm's position).
# Lockstep, so it repeats.
online() {	# MODEL LABEL RESIDUAL(True|False) MAX_HAND_RMSE
	"$BUILD/ncpd" --free-run --duration 12 --set task.kind=random \
		--set stim.source=noise --set stim.noise=0.1 \
		--set data_dir="$tmp/data" --set emulator.model="$1" \
		--set emulator.online=true --set emulator.online_every=5 \
		--set shm.name=/ncpd-it-emu-$$ --set control.socket="$tmp/s.sock" \
		--summary json >"$tmp/online.json" 2>"$tmp/ncpd.err" ||
		{ cat "$tmp/ncpd.err" >&2; fail "ncpd online training of the $2"; }
	$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
e, t = d["emulator"], d["training"]
print("online training of the %s: %d updates, %d swaps, %d rollbacks, arm_input %s, residual %s, hand_rmse %.4g"
      % (sys.argv[2], t["updates"], t["swaps"], t["rollbacks"], e["arm_input"], e["residual"], e["hand_rmse"]))
sys.exit(0 if e["arm_input"] and str(e["residual"]) == sys.argv[3] and t["updates"] > 100
         and t["swaps"] >= 1 and e["hand_rmse"] <= float(sys.argv[4]) else 1)
' "$tmp/online.json" "$2" "$3" "$4" || fail "online training of the $2 lost its input or form, or did not train"
}
online "$tmp/arm.safetensors" "arm-input model" False 1
online "$tmp/res.safetensors" "residual model" True 0.002
echo "ok"
