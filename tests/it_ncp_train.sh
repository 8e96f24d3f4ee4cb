#!/bin/sh
# ncp-train end to end on a recording ncpd makes: training is
# deterministic for a seed (the same file, bit for bit) and differs for
# another; --eval reports JSON with every figure; incomplete,
# inconsistent or missing recordings and bad models are refused with a
# message naming them.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
TRAIN="$BUILD/ncp-train"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$TRAIN" ] || fail "missing $TRAIN"

"$BUILD/ncpd" --free-run --duration 6 --set task.kind=random \
	--set data_dir="$tmp" --record rec \
	--set shm.name=/ncpd-it-train-$$ --set control.socket="$tmp/s.sock" \
	>/dev/null 2>"$tmp/ncpd.err" || { cat "$tmp/ncpd.err" >&2; fail "ncpd --record"; }

train() {
	"$TRAIN" --data "$tmp/rec" --arch mlp-running --epochs 2 --block 1 \
		--hidden 64,32 --quiet "$@" >"$tmp/out" 2>&1 ||
		{ cat "$tmp/out" >&2; fail "ncp-train $*"; }
}
train --out "$tmp/a.safetensors" --seed 5
train --out "$tmp/b.safetensors" --seed 5
train --out "$tmp/c.safetensors" --seed 6
cmp -s "$tmp/a.safetensors" "$tmp/b.safetensors" || fail "one seed, two models"
cmp -s "$tmp/a.safetensors" "$tmp/c.safetensors" && fail "two seeds, one model"
grep -q "R^2" "$tmp/out" || fail "no validation report"
grep -q "samples/s" "$tmp/out" || fail "no training speed"

"$TRAIN" --eval "$tmp/a.safetensors" --data "$tmp/rec" --json >"$tmp/eval.json" ||
	fail "--eval"
$PY - "$tmp/eval.json" <<'PYEOF' || fail "--eval --json"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["score"]
for k in ("hand_rmse", "q_rmse", "dq_rmse", "min_r2"):
    assert isinstance(s[k], float), k
for k in ("q0", "q1", "dq0", "dq1", "hand_x", "hand_y"):
    assert isinstance(s["rmse"][k], float) and isinstance(s["r2"][k], float), k
assert s["rows"] == 6000 - 99, s["rows"]
assert d["step_us"]["p99"] > 0
assert d["horizon"] == 0
PYEOF

# The training history next to the model: the run, one line per epoch
# with the losses the progress lines print, the best epoch the model's
# metadata names, the scores --json prints.
"$TRAIN" --data "$tmp/rec" --arch mlp-running --epochs 3 --block 1 --hidden 64,32 \
	--seed 5 --out "$tmp/hist.safetensors" --json >"$tmp/hist.json" 2>"$tmp/hist.err" ||
	{ cat "$tmp/hist.err" >&2; fail "ncp-train for the history"; }
[ -f "$tmp/hist.history.jsonl" ] || fail "no $tmp/hist.history.jsonl next to the model"
$PY - "$tmp/hist.history.jsonl" "$tmp/hist.err" "$tmp/hist.json" "$tmp/hist.safetensors" <<'PYEOF' || fail "the training history"
import json, re, struct, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
run, epochs, result = lines[0], lines[1:-1], lines[-1]
assert run["format"] == "ncp-train-history" and run["format_version"] == 1, run
assert run["arch"] == "mlp-running" and run["epochs"] == 3 and run["seed"] == 5, run
assert run["model"] == sys.argv[4] and run["data"][0].endswith("/rec"), run
assert [e["epoch"] for e in epochs] == [1, 2, 3], epochs
# The progress lines: "epoch 2/3: loss 0.40467, val 0.66098 (best), ..."
printed = re.findall(r"^epoch (\d+)/3: loss ([0-9.]+), val ([0-9.]+)( \(best\))?",
                     open(sys.argv[2]).read(), re.M)
assert len(printed) == 3, printed
for e, (n, tl, vl, best) in zip(epochs, printed):
    assert int(n) == e["epoch"], (n, e)
    assert abs(e["train_loss"] - float(tl)) < 6e-6, (e, tl)
    assert abs(e["val_loss"] - float(vl)) < 6e-6, (e, vl)
    assert e["best"] == bool(best), (e, best)
assert 0 < epochs[0]["samples"] < epochs[1]["samples"] < epochs[2]["samples"], epochs
assert epochs[0]["lr"] > epochs[2]["lr"] > 0, "the step size decays"
best = [e["epoch"] for e in epochs if e["best"]][-1]
assert result["best_epoch"] == best, (result, best)
# ... which the model's metadata names too.
with open(sys.argv[4], "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    config = json.loads(json.loads(f.read(n))["__metadata__"]["config"])
assert config["best_epoch"] == best, (config["best_epoch"], best)
report = json.load(open(sys.argv[3]))
assert report["history"] == sys.argv[1], report["history"]
assert result["val"] == report["val"], (result["val"], report["val"])
PYEOF
# ridge: one line per lambda; the lambda chosen for each output is the one
# with the least validation loss.  A name without .safetensors gets the
# suffix appended.
"$TRAIN" --data "$tmp/rec" --arch ridge --stride 20 --block 1 --quiet \
	--out "$tmp/ridge" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "ncp-train --arch ridge"; }
$PY - "$tmp/ridge.history.jsonl" <<'PYEOF' || fail "the ridge training history"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
run, lams, result = lines[0], lines[1:-1], lines[-1]
assert run["arch"] == "ridge" and "epochs" not in run, run
assert len(lams) == 13 and lams[0]["lambda"] == 1e-05 and lams[-1]["lambda"] == 10, lams
for o in range(6):
    # null: the solve failed for that lambda (too few rows for the features)
    least = min((l for l in lams if l["val_loss"][o] is not None),
                key=lambda l: l["val_loss"][o])["lambda"]
    assert result["ridge_lambda"][o] == least, (o, result["ridge_lambda"], least)
PYEOF
# A history that cannot be written fails the run, naming it.
mkdir "$tmp/blocked.history.jsonl"
if "$TRAIN" --data "$tmp/rec" --arch ridge --stride 20 --block 1 --quiet \
	--out "$tmp/blocked.safetensors" >"$tmp/out" 2>&1; then
	fail "a history that cannot be written passed"
fi
grep -q "blocked.history.jsonl: cannot write the training history" "$tmp/out" ||
	{ cat "$tmp/out" >&2; fail "the unwritable history is not named"; }

# A horizon: deterministic too, and scored 30 steps on (30 fewer rows).
train --out "$tmp/h.safetensors" --seed 5 --horizon 30
train --out "$tmp/h2.safetensors" --seed 5 --horizon 30
cmp -s "$tmp/h.safetensors" "$tmp/h2.safetensors" || fail "one seed, two models with a horizon"
cmp -s "$tmp/a.safetensors" "$tmp/h.safetensors" && fail "the horizon changed nothing"
"$TRAIN" --eval "$tmp/h.safetensors" --data "$tmp/rec" --json >"$tmp/evalh.json" ||
	fail "--eval of a model with a horizon"
$PY - "$tmp/evalh.json" <<'PYEOF' || fail "--eval --json with a horizon"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["horizon"] == 30, d["horizon"]
assert d["score"]["rows"] == 6000 - 99 - 30, d["score"]["rows"]
PYEOF

# Refusals: each names what is wrong.
expect_refusal() {
	want=$1
	shift
	if "$TRAIN" "$@" >"$tmp/out" 2>&1; then
		fail "accepted: $*"
	fi
	grep -q -- "$want" "$tmp/out" || { cat "$tmp/out" >&2; fail "no '$want' in the message for: $*"; }
}
cp -r "$tmp/rec" "$tmp/partial"
sed -i 's/"complete":true/"complete":false/' "$tmp/partial/meta.json"
expect_refusal "incomplete" --data "$tmp/partial" --out "$tmp/x.safetensors"
cp -r "$tmp/rec" "$tmp/noarm"
rm "$tmp/noarm/arm.npy"
expect_refusal "arm.npy is missing" --data "$tmp/noarm" --out "$tmp/x.safetensors"
cp -r "$tmp/rec" "$tmp/other"
sed -i 's/"window":100/"window":50/' "$tmp/other/meta.json"
expect_refusal "must agree" --data "$tmp/rec" "$tmp/other" --out "$tmp/x.safetensors"
expect_refusal "not a recording" --data "$tmp/none" --out "$tmp/x.safetensors"
head -c 3000 "$tmp/a.safetensors" >"$tmp/cut.safetensors"
expect_refusal "cut.safetensors" --eval "$tmp/cut.safetensors" --data "$tmp/rec"
expect_refusal "unknown architecture" --data "$tmp/rec" --out "$tmp/x" --arch nope
expect_refusal "--horizon takes steps" --data "$tmp/rec" --out "$tmp/x" --horizon -1
expect_refusal "horizon (5990)" --data "$tmp/rec" --out "$tmp/x.safetensors" --horizon 5990
[ -e "$tmp/x.safetensors" ] && fail "a refused run left a model"
[ -e "$tmp/x.history.jsonl" ] && fail "a refused run left a history"
echo "ok: $(cat "$tmp/eval.json")"
