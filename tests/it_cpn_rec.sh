#!/bin/sh
# The co-processor trained from recordings: free-run recordings of
# healthy reaches and of lesioned ones with exploration noise hold what
# it observes (rec.npy, alpha.npy); `ncp-train --cpn --data` trains the
# stimulation EN and the CPN from them, the EN predicting held-out
# recorded data with R^2 >= 0.8 and the CPN restoring part of the deficit
# on held-out reaches, the same CPN file from the same recordings twice; the CPN file loads in ncpd and drives the
# electrodes; a recording holds the observation the co-processor reads
# from shared memory, bit for bit; and its refusals: a recording without electrodes (an older
# one), other electrodes, a NaN in a recorded row, a file of the wrong
# shape, no healthy data, a setting for another network.
set -u
TAG=cpnrec
. tests/daemon_lib.sh
TRAIN=$(pwd)/$BUILD/ncp-train
mkdir -p "$tmp/data"
D=$tmp/data

# rec NAME SECONDS [--set ...]: a free-run recording.
rec() {
	_n=$1 _s=$2
	shift 2
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration "$_s" --set emulator.model=none \
		--set ncp.model=none --set task.kind=random --record "$_n" "$@" \
		>/dev/null 2>"$tmp/rec.err" || { cat "$tmp/rec.err" >&2; fail "recording $_n"; }
}
rec healthy 30 --set task.seed=1
ex=""
for k in 1 2 3 4 5 6 7 8; do
	rec "ex$k" 10 --set task.seed=$((10 + k)) --set lesion.kind=pmc-m1 \
		--set lesion.fraction=1 --set stim.source=noise --set stim.noise=0.2 \
		--set stim.noise_seed=$k
	ex="$ex $D/ex$k"
done
echo "recorded 30 s healthy, 8 x 10 s lesioned with exploration noise"

# train OUT ARGS...: ncp-train --cpn --data, its JSON in $tmp/OUT.json.
train() {
	_o=$1
	shift
	"$TRAIN" --cpn "$@" >"$tmp/$_o.json" 2>"$tmp/$_o.err"
}
# refuse WHAT MESSAGE ARGS...: ncp-train fails (exit 1) saying MESSAGE.
refuse() {
	_what=$1 _msg=$2
	shift 2
	train bad "$@"
	_rc=$?
	[ $_rc -eq 1 ] || fail "$_what: exit $_rc, want 1: $(cat "$tmp/bad.err")"
	grep -qF -- "$_msg" "$tmp/bad.err" || fail "$_what: message: $(cat "$tmp/bad.err")"
	echo "$_what: $(cat "$tmp/bad.err")"
}

# Bad input, each in a copy of a good recording.
cp -r "$D/ex1" "$D/old"
$PY - "$D/old" <<'PYEOF' || fail "making the old recording"
import json, os, sys
d = sys.argv[1]
m = json.load(open(d + "/meta.json"))
for k in ("rec", "alpha"):
    del m["files"][k]
    os.remove("%s/%s.npy" % (d, k))
del m["rec_electrodes"]
json.dump(m, open(d + "/meta.json", "w"))
PYEOF
refuse "an older recording" "made before ncpd recorded what the co-processor observes" \
	--data "$D/healthy" "$D/old"
rec r8 1 --set ncp.rec_electrodes=8
refuse "other recording electrodes" "8 recording electrodes (rec.npy), $D/healthy has 16" \
	--data "$D/healthy" "$D/r8"
cp -r "$D/ex2" "$D/nan"
$PY - "$D/nan" <<'PYEOF' || fail "making the NaN recording"
import numpy as np, sys
p = sys.argv[1] + "/rec.npy"
a = np.load(p)
a[1234, 5] = np.nan
np.save(p, a)
PYEOF
refuse "a NaN in a recorded row" "nan/rec.npy: row 1234 column 5 is nan" \
	--data "$D/healthy" "$D/nan"
cp -r "$D/ex3" "$D/shape"
$PY - "$D/shape" <<'PYEOF' || fail "making the misshapen recording"
import numpy as np, sys
p = sys.argv[1] + "/alpha.npy"
np.save(p, np.load(p)[:, :15])
PYEOF
refuse "alpha.npy of the wrong shape" "alpha.npy: shape (10000, 15) does not match meta.json (10000 steps x 16)" \
	--data "$D/healthy" "$D/shape"
refuse "no healthy recording" "the healthy reference needs a recording of healthy reaches" \
	--data $ex
refuse "a setting for another network" "was recorded with stim.layout topographic, the run has stim.layout random" \
	--data "$D/healthy" $ex --set stim.layout=random
refuse "no lesioned recording" "need a recording of lesioned reaches" --data "$D/healthy"
rm -rf "$D/old" "$D/r8" "$D/nan" "$D/shape"
# Options of the other mode: a usage error (exit 2).
train bad --data "$D/healthy" --svg "$tmp/x.svg"
[ $? -eq 2 ] && grep -qF -- "--svg is for the simulated experiment" "$tmp/bad.err" ||
	fail "--svg with --data: $(cat "$tmp/bad.err")"
train bad --set lesion.kind=pmc-m1 --rounds 3
[ $? -eq 2 ] && grep -qF -- "--rounds is for training from recordings" "$tmp/bad.err" ||
	fail "--rounds without --data: $(cat "$tmp/bad.err")"
echo "options of the other mode refused: $(cat "$tmp/bad.err")"

# The same recordings and options: the same CPN file, bit for bit.
for k in 1 2; do
	train det$k --data "$D/healthy" "$D/ex1" "$D/ex2" --rounds 1 --no-eval \
		--out "$tmp/det$k.safetensors" || fail "ncp-train --cpn --data, run $k: $(cat "$tmp/det$k.err")"
done
cmp -s "$tmp/det1.safetensors" "$tmp/det2.safetensors" || fail "two trainings on the same recordings differ"
echo "two trainings on the same recordings: the same CPN file"

# Training; the EN on the held-out blocks, the CPN in the closed loop.
# shellcheck disable=SC2086
train run --data "$D/healthy" $ex --rounds 10 --eval-s 32 --eval-seed 1001 \
	--out "$D/cpnrec.safetensors" || { cat "$tmp/run.err" >&2; fail "ncp-train --cpn --data"; }
$PY - "$tmp/run.json" <<'PYEOF' || fail "the training from recordings"
import json, sys
d = json.load(open(sys.argv[1]))
s, en = d["samples"], d["en_held_out"]
print("samples: %d healthy, %d training, %d held out; reference R^2 %.3f"
      % (s["healthy"], s["train"], s["held_out"], d["reference_r2"]))
print("EN on held-out recorded data: loss %.3g m^2 (first %.3g), the mean's %.3g: R^2 %.3f"
      % (en["loss"], en["loss_first"], en["mean_predictor_loss"], en["r2"]))
print("held-out reaches: L healthy %.1f mm, lesioned %.1f mm, restored %.1f mm: recovery %.1f%%"
      % (1e3 * d["L_healthy"], 1e3 * d["L_lesioned"], 1e3 * d["L_restored"],
         d["recovery_pct"]))
assert s["healthy"] > 5000 and s["train"] > 10000 and s["held_out"] > 1000, s
assert d["rollbacks"] == 0 and d["cpn_epochs"] == 50, d
assert en["r2"] >= 0.8, en
assert d["L_lesioned"] > 5 * d["L_healthy"], d
assert d["recovery_pct"] >= 10, d["recovery_pct"]
PYEOF

# The daemon loads the CPN and it drives the electrodes.
# shellcheck disable=SC2086
"$NCPD" $uniq --set emulator.model=none --set ncp.model=none \
	--set lesion.kind=pmc-m1 --set lesion.fraction=1 --foreground 2>"$tmp/d.err" &
dpid=$!
wait_up
st() {
	ctl --json status | $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}
ctl ncp load cpnrec >/dev/null || fail "ncp load cpnrec: $(ctl ncp load cpnrec 2>&1)"
ctl ncp on >/dev/null || fail "ncp on"
wait_for 20 "thetas from the CPN" st 'd.get("ncp", {}).get("thetas", 0) > 200 and d["stim"]["theta_max_abs"] > 0'
[ "$(key stim source)" = cpn ] || fail "stim.source $(key stim source) with the CPN on"
echo "ncpd loaded the CPN trained from recordings: $(key ncp thetas) thetas"
# While it drives: a recording holds, row for row, the observation the
# co-processor reads from shared memory.
ctl record start live >/dev/null || fail "record start"
sleep 0.5
$PY tests/shm_reader.py "$name" 100 >"$tmp/shm.json" || fail "shm reader"
ctl record stop >/dev/null || fail "record stop"
$PY - "$tmp/shm.json" "$D/live" <<'PYEOF' || fail "the recording against shared memory"
import json, sys
import numpy as np
sys.path.insert(0, "client/python")
import ncpd
w = json.load(open(sys.argv[1]))
rec = ncpd.Recording(sys.argv[2])
n = 0
for s, o in zip(w["window_steps"], w["window_obs"]):
    t = s - rec.first_step
    assert 0 <= t < rec.steps, (s, rec.first_step, rec.steps)
    for k, a in (("rec", rec.rec), ("arm", rec.arm), ("target", rec.target),
                 ("alpha", rec.alpha)):
        want = np.asarray(o[k], np.float32)
        assert np.array_equal(a[t], want), (k, s, a[t], want)
    n += 1
assert n == 100 and np.abs(rec.alpha).max() > 0, (n, np.abs(rec.alpha).max())
print("rec.npy, arm.npy, target.npy, alpha.npy: the shared-memory observation "
      "of %d steps, bit for bit" % n)
PYEOF
kill "$dpid"; wait "$dpid"; rc=$?
dpid=""
[ $rc -eq 0 ] || fail "ncpd exited $rc"
finish
