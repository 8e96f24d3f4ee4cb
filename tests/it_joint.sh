#!/bin/sh
# Joint-space control (reach.control=joint, REACH's generalized
# coordinates): free runs of the centre-out task and of REACH's a03 line
# reach, their end errors against the task-space default's on the same
# brain; a recording, the emulator (a model trained on a joint-space
# recording), a running daemon (status, shared memory, ncp-monitor) all
# as in task space; bad values refused naming the key and the choices.
set -u
TAG=joint
. tests/daemon_lib.sh

# run OUT ARGS...: a free run's summary into OUT.
run() {
	out=$1
	shift
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --summary json "$@" >"$out" 2>"$tmp/d.err" ||
		fail "ncpd $*: $(cat "$tmp/d.err")"
}
run "$tmp/task.json" --duration 16
run "$tmp/joint.json" --duration 16 --set reach.control=joint --record jc
# REACH's a03: kp 100, a 1000-neuron error ensemble, the line from
# (0, 1) to (0, 1.5) traced at speed 2 (a period of 4.5 / 2 s).
A03="--set reach.control=joint --set reach.kp=100 --set reach.error_neurons=1000 --set task.kind=line --set task.period=2.25"
# shellcheck disable=SC2086
run "$tmp/a03.json" --duration 9 $A03
$PY - "$tmp/task.json" "$tmp/joint.json" "$tmp/a03.json" <<'PYEOF' || fail "joint-space end errors"
import json, sys
task, joint, a03 = (json.load(open(f)) for f in sys.argv[1:])
ref = task["mean_end_error"]
for name, d, n in (("centre-out", joint, 16), ("a03 line", a03, 4)):
    worst = max(r["end_error"] for r in d["reaches"])
    print("%s in joint space: %d reaches, mean end error %.4f m (task-space "
          "default %.4f m), worst %.4f m, path error %.4f m, M1 %.2f Hz (task %.2f Hz)"
          % (name, len(d["reaches"]), d["mean_end_error"], ref, worst,
             d["mean_path_error"], d["m1_mean_rate_hz"], task["m1_mean_rate_hz"]))
    assert len(d["reaches"]) == n, len(d["reaches"])
    assert d["mean_end_error"] < 2 * ref, (d["mean_end_error"], ref)
    assert worst < 0.05, worst
    assert 5 < d["m1_mean_rate_hz"] < 40, d["m1_mean_rate_hz"]
    # a03: 500 more error neurons and the generator's 500 ramp neurons.
    assert d["neurons"] == task["neurons"] + (1000 if d is a03 else 0), \
        (d["neurons"], task["neurons"])
# The line traced: the hand within 2 cm of it on average.
assert a03["mean_path_error"] < 0.02, a03["mean_path_error"]
PYEOF

# The 3-link arm in joint space: the centre-out task's reaches arrive
# (end errors against its task-space controller's and against the 2-link
# arm's in joint space), and a line traced in joint space (the wrist
# resolved along the path by the posture nearest the path's first).
run "$tmp/j3.json" --duration 16 --set arm.links=3 --set reach.control=joint
run "$tmp/t3.json" --duration 16 --set arm.links=3
run "$tmp/j3line.json" --duration 9 --set arm.links=3 --set reach.control=joint \
	--set task.kind=line --set task.centre=0,0.4 --set task.period=2.25
$PY - "$tmp/j3.json" "$tmp/t3.json" "$tmp/joint.json" "$tmp/j3line.json" <<'PYEOF' || fail "3-link arm in joint space"
import json, sys
j3, t3, j2, line = (json.load(open(f)) for f in sys.argv[1:])
def out(d):
    return [r["end_error"] for r in d["reaches"][1::2]]
for name, d in (("3-link joint", j3), ("3-link task", t3), ("2-link joint", j2)):
    o = out(d)
    print("%s, centre-out: mean end error %.4f m, outward reaches mean %.4f m, "
          "worst %.4f m" % (name, d["mean_end_error"], sum(o) / len(o), max(o)))
print("3-link joint, line (0, 0.4) to (0, 0.5): end error %.4f m, path error "
      "%.4f m (max %.4f m)" % (line["mean_end_error"], line["mean_path_error"],
                               line["max_path_error"]))
assert len(j3["reaches"]) == 16, len(j3["reaches"])
# every outward reach arrives: within 3 cm of its target (0.1 m away)
assert max(out(j3)) < 0.03, out(j3)
assert j3["mean_end_error"] < 2 * t3["mean_end_error"], (j3["mean_end_error"], t3["mean_end_error"])
assert 5 < j3["m1_mean_rate_hz"] < 40, j3["m1_mean_rate_hz"]
assert len(line["reaches"]) == 4 and line["mean_path_error"] < 0.02, line
PYEOF

# The lesion and the oracle's stimulation on the joint-error inputs: the
# cut stops the reaches, the oracle brings them back.
run "$tmp/les.json" --duration 8 --set reach.control=joint --set lesion.kind=pmc-m1
run "$tmp/ora.json" --duration 8 --set reach.control=joint --set lesion.kind=pmc-m1 \
	--set stim.source=oracle
$PY - "$tmp/joint.json" "$tmp/les.json" "$tmp/ora.json" <<'PYEOF' || fail "lesion and oracle in joint space"
import json, sys
h, les, ora = (json.load(open(f)) for f in sys.argv[1:])
h8 = sum(r["end_error"] for r in h["reaches"][:8]) / 8
print("joint space, centre-out 8 s: healthy %.4f m, pmc-m1 lesion %.4f m, "
      "with the oracle %.4f m" % (h8, les["mean_end_error"], ora["mean_end_error"]))
assert les["lesion"]["neurons"] == 1000, les["lesion"]
assert les["mean_end_error"] > 5 * h8, (les["mean_end_error"], h8)
assert ora["mean_end_error"] < 1.5 * h8, (ora["mean_end_error"], h8)
PYEOF

# The recording: what task space records (targets in the workspace).
$PY - "$tmp/data/jc" <<'PYEOF' || fail "joint-space recording"
import json, sys, numpy as np
d = sys.argv[1]
m = json.load(open(d + "/meta.json"))
m1, arm, tgt = (np.load(d + "/%s.npy" % f) for f in ("m1", "arm", "target"))
assert m["steps"] == 16000 and m1.shape == (16000, 1000) and arm.shape[0] == 16000, (m["steps"], m1.shape, arm.shape)
assert np.allclose(tgt[0], [0, 1.25], atol=1e-6), tgt[0]
r = np.hypot(tgt[:, 0], tgt[:, 1] - 1.25)
assert r.max() < 0.25 + 1e-6 and abs(r.max() - 0.25) < 1e-6, r.max()
assert 5 < m1.mean() * 1000 < 40, m1.mean() * 1000
PYEOF
echo "recording: M1 spikes, the arm and the targets in the workspace"

# The emulator: a model trained on the joint-space recording predicts
# every step of a joint-space run (the first 4 s of the reaches it was
# trained on: the point is that it runs and follows the arm).
"$BUILD/ncp-train" --data "$tmp/data/jc" --out "$tmp/data/jridge.safetensors" \
	--arch ridge-running --quiet >"$tmp/train.out" 2>&1 || fail "training: $(cat "$tmp/train.out")"
run "$tmp/emu.json" --duration 4 --set reach.control=joint --set emulator.model=jridge
$PY - "$tmp/emu.json" <<'PYEOF' || fail "the emulator in joint space"
import json, sys
e = json.load(open(sys.argv[1]))["emulator"]
print("emulator (ridge on 16 s of joint-space centre-out): %d predictions, "
      "hand RMSE %.4f m" % (e["predictions"], e["hand_rmse"]))
assert e["predictions"] == 4000 and e["skipped_steps"] == 0, e
assert 0 < e["hand_rmse"] < 0.02, e["hand_rmse"]
PYEOF

# A running daemon in joint space: a manual target is reached, status,
# the shared memory and the monitor show it.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground --set rt.priority=0 --set emulator.priority=0 \
	--set rt.lock_memory=false --set reach.control=joint 2>"$tmp/d.err" &
dpid=$!
wait_up
ctl config get reach.control >"$tmp/cfg" || fail "config get reach.control"
grep -q joint "$tmp/cfg" || fail "config get reach.control: $(cat "$tmp/cfg")"
ctl target 0.15 1.35 >/dev/null || fail "target refused"
near() {
	ctl --json status | $PY -c 'import json,sys
d = json.load(sys.stdin)
h = d["arm"]["hand"]
sys.exit(not (abs(h[0] - 0.15) < 0.03 and abs(h[1] - 1.35) < 0.03))'
}
wait_for 20 "the hand at the manual target" near
$PY tests/shm_reader.py "$name" 10 >"$tmp/shm.json" || fail "shm reader"
$PY - "$tmp/shm.json" <<'PYEOF' || fail "shared memory in joint space"
import json, sys
d = json.load(open(sys.argv[1]))
obs = d["window_obs"][-1]
assert max(abs(a - b) for a, b in zip(obs["target"], [0.15, 1.35])) < 1e-6, obs
assert abs(obs["arm"][4] - 0.15) < 0.03 and abs(obs["arm"][5] - 1.35) < 0.03, obs
PYEOF
"$BUILD/ncp-monitor" --shm "$name" --once --json >"$tmp/mon.json" || fail "ncp-monitor --once"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); h=d["arm"]["hand"]; sys.exit(not (abs(h[0]-0.15) < 0.03 and abs(h[1]-1.35) < 0.03))' \
	"$tmp/mon.json" || fail "monitor: $(cat "$tmp/mon.json")"
kill "$dpid"; wait "$dpid" 2>/dev/null; dpid=""
echo "a daemon in joint space: manual target reached; status, shared memory and monitor agree"

# bad MESSAGE ARGS...: refused (exit 2) with MESSAGE.
bad() {
	want=$1
	shift
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 1 "$@" >/dev/null 2>"$tmp/e"
	rc=$?
	[ $rc -eq 2 ] || fail "$*: exit $rc, want 2 ($(cat "$tmp/e"))"
	grep -qF -- "$want" "$tmp/e" || fail "$*: '$(cat "$tmp/e")' lacks '$want'"
}
bad "key 'reach.control': expected one of task, joint, got 'sideways'" --set reach.control=sideways
bad "key 'reach.control': expected one of task, joint, got ''" --set reach.control=
printf 'reach:\n  control: [joint]\n' >"$tmp/bad.yaml"
bad "$tmp/bad.yaml:2" --config "$tmp/bad.yaml"
bad "task.kind line: point (0.000, 2.700) is out of reach" --set reach.control=joint \
	--set task.kind=line --set task.line=0,1,0,2.7
bad "task.kind line: point (0.000, 0.900) is out of reach" --set arm.links=3 \
	--set reach.control=joint --set task.kind=line --set task.centre=0,0.4 \
	--set task.line=0,0.4,0,0.9
bad "stim.source oracle: the oracle fits M1's plan of two dimensions" \
	--set arm.links=3 --set reach.control=joint --set stim.source=oracle
echo "bad values: refused naming the key and the choices"
finish
