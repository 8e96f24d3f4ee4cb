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
echo "ok: $(cat "$tmp/eval.json")"
