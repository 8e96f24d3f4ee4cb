#!/bin/sh
# The emulator in the daemon: a model trained by ncp-train on a short
# recording drives the predicted arm in real time and in lockstep; the
# lockstep figures agree with ncp-train --eval on the same run and repeat
# bit for bit; ncpctl load swaps models; a truncated or mismatched model is
# refused while the model in use stays.
set -u
TAG=emu
. tests/daemon_lib.sh

# A small model: 40 s of the random task, ridge (closed form, seconds).
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 40 --set task.kind=random --record train \
	>/dev/null 2>"$tmp/rec.err" || fail "recording: $(cat "$tmp/rec.err")"
"$BUILD/ncp-train" --data "$tmp/data/train" --out "$tmp/data/ridge.safetensors" \
	--arch ridge-running --quiet >"$tmp/train.out" 2>&1 || fail "training: $(cat "$tmp/train.out")"

# emulator.model auto (the default): DATA_DIR/emulator.safetensors when it
# is there, and the log says so; none when it is not; none means none.
auto_run() { # OUT ERR [ARGS]
	out=$1; err=$2; shift 2
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 1 --summary json "$@" >"$out" 2>"$err"
}
preds() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["emulator"]["predictions"])' "$1"; }
auto_run "$tmp/auto0.json" "$tmp/auto0.err" || fail "run without a model: $(cat "$tmp/auto0.err")"
[ "$(preds "$tmp/auto0.json")" = 0 ] || fail "predictions without any model"
grep -qF "no model (emulator.model auto: no $tmp/data/emulator.safetensors)" "$tmp/auto0.err" ||
	fail "auto without a file: $(cat "$tmp/auto0.err")"
cp "$tmp/data/ridge.safetensors" "$tmp/data/emulator.safetensors"
auto_run "$tmp/auto1.json" "$tmp/auto1.err" || fail "run with auto: $(cat "$tmp/auto1.err")"
[ "$(preds "$tmp/auto1.json")" = 1000 ] || fail "auto did not load $tmp/data/emulator.safetensors"
grep -qF "model $tmp/data/emulator.safetensors (emulator.model auto)" "$tmp/auto1.err" ||
	fail "auto with a file: $(cat "$tmp/auto1.err")"
auto_run "$tmp/auto2.json" "$tmp/auto2.err" --set emulator.model=none || fail "run with none"
[ "$(preds "$tmp/auto2.json")" = 0 ] || fail "emulator.model=none loaded a model"
rm "$tmp/data/emulator.safetensors"
echo "emulator.model auto: loads data_dir/emulator.safetensors when it is there, else none"

# Lockstep: every step predicted, the same figures as ncp-train --eval on
# a recording of the same run, and the same run twice.
run_lockstep() { # OUT
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 15 --set task.kind=random --set task.seed=3 \
		--set emulator.model=ridge --summary json "$@"
}
run_lockstep --record eval >"$tmp/a.json" 2>"$tmp/a.err" || fail "lockstep run: $(cat "$tmp/a.err")"
run_lockstep >"$tmp/b.json" 2>/dev/null || fail "second lockstep run"
"$BUILD/ncp-train" --eval "$tmp/data/ridge.safetensors" --data "$tmp/data/eval" --json \
	>"$tmp/eval.json" 2>/dev/null || fail "ncp-train --eval"
$PY - "$tmp/a.json" "$tmp/b.json" "$tmp/eval.json" <<'PYEOF' || fail "lockstep emulator figures"
import json, sys
a, b, ev = (json.load(open(f)) for f in sys.argv[1:])
e = a["emulator"]
assert e["mode"] == "lockstep" and e["arch"] == "ridge-running", e
assert e["predictions"] == 15000 and e["skipped_steps"] == 0, e
assert e == b["emulator"], "two lockstep runs differ"
hand = ev["score"]["hand_rmse"]
assert abs(e["hand_rmse"] - hand) < 1e-4 * max(1.0, hand) + 2e-5, (e["hand_rmse"], hand)
print("lockstep: 15000 predictions, hand RMSE %.4f m (ncp-train --eval: %.4f m), q %.4f rad"
      % (e["hand_rmse"], hand, e["q_rmse"]))
PYEOF

# A model goes by its file's name however it was given: here a path
# longer than the shared memory's 31 bytes.
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 0.2 --set emulator.model="$tmp/data/ridge.safetensors" \
	--summary json >"$tmp/p.json" 2>"$tmp/p.err" || fail "run with a model path: $(cat "$tmp/p.err")"
$PY -c 'import json,sys; m = json.load(open(sys.argv[1]))["emulator"]["model"]; assert m == "ridge", m' \
	"$tmp/p.json" || fail "a model given by its path is not named by its file"

# Scoring: every predicted step from step window - 1 on is scored, in
# real time as in lockstep (a prediction made before its step's arm entry
# was in the ring used to go unscored): the same model over the same
# 3000 steps scores the same count of steps in both modes.
# shellcheck disable=SC2086
"$NCPD" $uniq --duration 3 --set task.kind=random --set task.seed=3 \
	--set emulator.model=ridge --summary json >"$tmp/rt.json" 2>"$tmp/rt.err" ||
	fail "real-time run: $(cat "$tmp/rt.err")"
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 3 --set task.kind=random --set task.seed=3 \
	--set emulator.model=ridge --summary json >"$tmp/ls.json" 2>/dev/null ||
	fail "lockstep run"
$PY - "$tmp/rt.json" "$tmp/ls.json" <<'PYEOF' || fail "real-time and lockstep scoring differ"
import json, sys
rt, ls = (json.load(open(f))["emulator"] for f in sys.argv[1:])
w = 100   # the ridge model's window
assert ls["predictions"] == 3000 and ls["scored_steps"] == 3000 - (w - 1), ls
assert rt["predictions"] + rt["skipped_steps"] == 3000, rt
# Every step the real-time run predicted from step w - 1 on is scored.
assert rt["predictions"] - (w - 1) <= rt["scored_steps"] <= rt["predictions"], rt
if rt["skipped_steps"] == 0:
    assert rt["scored_steps"] == ls["scored_steps"], (rt["scored_steps"], ls["scored_steps"])
print("scored steps: real time %d of %d predictions (%d by the loop's fallback, %d skipped), lockstep %d"
      % (rt["scored_steps"], rt["predictions"], rt["fallback"]["predictions"],
         rt["skipped_steps"], ls["scored_steps"]))
PYEOF

# Real time, with a model loaded over the socket.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground 2>"$tmp/d.err" &
dpid=$!
wait_up
ctl status | grep -q "loaded: false" || fail "a model before any was loaded"
ctl load ridge.safetensors >/dev/null || fail "load ridge"
sleep 2
ctl --json status >"$tmp/s1.json" || fail "status"
$PY - "$tmp/s1.json" "/dev/shm$name" <<'PYEOF' || fail "real-time emulator status"
import json, struct, sys
s = json.load(open(sys.argv[1]))["emulator"]
assert s["loaded"] and s["model"] == "ridge" and s["arch"] == "ridge-running", s
assert s["predictions"] > 1000, s
# The predicted block (docs/shm.md): blocks[2] at 160, its model at 128.
seg = open(sys.argv[2], "rb").read()
(off,) = struct.unpack_from("<Q", seg, 160)
model = seg[off + 128:off + 160].split(b"\0")[0].decode()
assert model == "ridge", model
PYEOF
sum1=$(ctl --json status | $PY -c 'import json,sys; print(json.load(sys.stdin)["emulator"]["checksum"])')

# Refused: a truncated file, a model for another neuron count, a path.
head -c 3000 "$tmp/data/ridge.safetensors" >"$tmp/data/cut.safetensors"
ctl load cut 2>"$tmp/e"; [ $? -eq 1 ] || fail "truncated model accepted"
grep -qi "cut.safetensors" "$tmp/e" || fail "refusal does not name the file: $(cat "$tmp/e")"
ctl load ../ridge 2>/dev/null && fail "a path outside data_dir was accepted"
ctl load nothere 2>/dev/null && fail "a missing model was accepted"
sleep 0.5
ctl --json status >"$tmp/s2.json"
$PY - "$tmp/s1.json" "$tmp/s2.json" "$sum1" <<'PYEOF' || fail "the model in use changed after a refused load"
import json, sys
a, b = (json.load(open(f))["emulator"] for f in sys.argv[1:3])
assert b["model"] == "ridge" and b["checksum"] == sys.argv[3], b
assert b["predictions"] > a["predictions"], "predictions stopped"
PYEOF
echo "refused a truncated model, a path and a missing one; the model in use stayed"
kill -TERM "$dpid"; wait "$dpid"; dpid=""
echo ok
