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

# Real time, with a model loaded over the socket.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground 2>"$tmp/d.err" &
dpid=$!
wait_up
ctl status | grep -q "loaded: false" || fail "a model before any was loaded"
ctl load ridge >/dev/null || fail "load ridge"
sleep 2
ctl --json status >"$tmp/s1.json" || fail "status"
$PY - "$tmp/s1.json" <<'PYEOF' || fail "real-time emulator status"
import json, sys
s = json.load(open(sys.argv[1]))["status"]["emulator"]
assert s["loaded"] and s["model"] == "ridge" and s["arch"] == "ridge-running", s
assert s["predictions"] > 1000, s
PYEOF
sum1=$(ctl --json status | $PY -c 'import json,sys; print(json.load(sys.stdin)["status"]["emulator"]["checksum"])')

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
a, b = (json.load(open(f))["status"]["emulator"] for f in sys.argv[1:3])
assert b["model"] == "ridge" and b["checksum"] == sys.argv[3], b
assert b["predictions"] > a["predictions"], "predictions stopped"
PYEOF
echo "refused a truncated model, a path and a missing one; the model in use stayed"
kill -TERM "$dpid"; wait "$dpid"; dpid=""
echo ok
