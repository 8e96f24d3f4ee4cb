#!/bin/sh
# The 3-link arm through the daemon: arm.links other than 2 or 3 refused
# by name; a free run's centre-out reaches end on their targets and its
# recording has 8 arm columns and says arm_links 3; in real time the
# segment says ABI 2.x and 3 joints to C and Python readers and to
# ncp-monitor; an emulator model of the 2-link arm is refused on it, one of
# the 3-link arm is taken.
set -u
TAG=arm3
. tests/daemon_lib.sh
export PYTHONPATH="$(pwd)/client/python${PYTHONPATH:+:$PYTHONPATH}"

# 1. Bad values: a clear error naming the arms there are.
for v in 4 1 0 -3; do
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 1 --set arm.links=$v \
		>/dev/null 2>"$tmp/bad.err" && fail "arm.links=$v was taken"
	grep -q "arm.links.*$v links: ncpd has arms of 2 links (REACH's) and 3 links" \
		"$tmp/bad.err" || fail "arm.links=$v: $(cat "$tmp/bad.err")"
done
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --set arm.links=three >/dev/null \
	2>"$tmp/bad.err" && fail "arm.links=three was taken"
grep -q "expected an integer" "$tmp/bad.err" || fail "arm.links=three: $(cat "$tmp/bad.err")"
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --set arm.links=3 --set ncp.train=true \
	>/dev/null 2>"$tmp/bad.err" && fail "ncp.train on 3 links was taken"
grep -q "2-link arm's state" "$tmp/bad.err" || fail "ncp.train: $(cat "$tmp/bad.err")"
echo "arm.links 4, 1, 0, -3, three and ncp.train with 3 links: refused"

# 2. Free run: centre-out reaches of the 3-link arm, recorded.
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 8 --set arm.links=3 --set emulator.model=none \
	--record c3 --summary json >"$tmp/s3.json" 2>"$tmp/fr.err" ||
	fail "3-link free run: $(tail -3 "$tmp/fr.err")"
$PY - "$tmp/s3.json" "$tmp/data/c3" <<'PYEOF' || fail "3-link free run"
import json, sys
import numpy as np
import ncpd
s = json.load(open(sys.argv[1]))
ends = [r["end_error"] for r in s["reaches"]]
assert len(ends) == 8, ends
# Measured 0.002-0.014 m over these 8 reaches of 0.1 m.
assert max(ends) < 0.03, ends
meta = json.load(open(sys.argv[2] + "/meta.json"))
assert meta["arm_links"] == 3, meta.get("arm_links")
assert meta["arm_columns"] == ["q0", "q1", "q2", "dq0", "dq1", "dq2",
                               "hand_x", "hand_y"], meta["arm_columns"]
arm = np.load(sys.argv[2] + "/arm.npy")
assert arm.shape == (8000, 8), arm.shape
assert np.load(sys.argv[2] + "/pred.npy").shape == (8000, 8)
# The hand is where Winter's segments at these angles put it.
l = np.array([0.186, 0.146, 0.108]) * 1.75
phi = np.cumsum(arm[:, :3].astype(float), axis=1)
hx = (l * np.cos(phi)).sum(axis=1)
hy = (l * np.sin(phi)).sum(axis=1)
assert np.abs(hx - arm[:, 6]).max() < 1e-4 and np.abs(hy - arm[:, 7]).max() < 1e-4
# The wrist moved (it is a joint, not a fixed hand).
assert np.ptp(arm[:, 2]) > 0.01, np.ptp(arm[:, 2])
r = ncpd.Recording(sys.argv[2])
assert r.links == 3 and r.q.shape == (8000, 3) and r.hand.shape == (8000, 2)
print("free run: 8 reaches of 0.1 m end %.1f-%.1f mm off; recording 8 columns"
      % (1e3 * min(ends), 1e3 * max(ends)))
PYEOF

# 3. A 2-link emulator model on the 3-link arm: refused by name.
$PY - "$tmp/emu2.safetensors" "$tmp/emu3.safetensors" <<'PYEOF' || fail "making models"
import sys
import ncpd.models as m
m.new("ridge-running", links=2).save(sys.argv[1])
m.new("ridge-running", links=3).save(sys.argv[2])
PYEOF
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --set arm.links=3 \
	--set emulator.model="$tmp/emu2.safetensors" >/dev/null 2>"$tmp/m2.err" &&
	fail "a 2-link model on the 3-link arm was taken"
grep -q "predicts an arm of 2 links (6 outputs); this daemon's arm has 3" \
	"$tmp/m2.err" || fail "2-link model: $(cat "$tmp/m2.err")"
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --set emulator.model="$tmp/emu3.safetensors" \
	>/dev/null 2>"$tmp/m3.err" && fail "a 3-link model on the 2-link arm was taken"
grep -q "predicts an arm of 3 links (8 outputs); this daemon's arm has 2" \
	"$tmp/m3.err" || fail "3-link model: $(cat "$tmp/m3.err")"
echo "emulator models of the other arm: refused"

# 4. Real time: the segment, read by Python and ncp-monitor.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground --set arm.links=3 \
	--set emulator.model="$tmp/emu3.safetensors" 2>"$tmp/d.err" &
dpid=$!
wait_up
$PY - "$name" <<'PYEOF' || fail "Python on the 3-joint segment"
import sys, time
import numpy as np
import ncpd
shm = ncpd.Shm(sys.argv[1])
assert shm.abi[0] == 2 and shm.joints == 3, (shm.abi, shm.joints)
assert np.allclose(shm.arm_links, np.array([0.186, 0.146, 0.108]) * 1.75)
t0 = time.time()
while shm.head < 300 and time.time() - t0 < 30:
    time.sleep(0.05)
st = shm.state_block()
assert st["q"].shape == (3,) and st["dq"].shape == (3,) and st["u"].shape == (3,)
phi = np.cumsum(st["q"])
hand = np.array([(shm.arm_links * np.cos(phi)).sum(),
                 (shm.arm_links * np.sin(phi)).sum()])
assert np.abs(hand - st["hand"]).max() < 1e-9, (hand, st["hand"])
a = shm.arm(n=100)
assert a["q"].shape == (100, 3) and a["dq"].shape == (100, 3)
w = shm.window(n=10)
if w.obs is not None:
    assert w.obs["arm"].shape == (10, 8), w.obs["arm"].shape
    o = w.obs["arm"].astype(float)
    ph = np.cumsum(o[:, :3], axis=1)
    assert np.abs((shm.arm_links * np.cos(ph)).sum(axis=1) - o[:, 6]).max() < 1e-4
p = shm.predicted()
assert p is None or (p["x"].shape == (8,) and p["q"].shape == (3,))
print("Python: ABI %d.%d, 3 joints, state, arm history, window, prediction" % shm.abi)
PYEOF
"$BUILD/ncp-monitor" --shm "$name" --once --json >"$tmp/mon.json" ||
	fail "ncp-monitor --once"
$PY - "$tmp/mon.json" <<'PYEOF' || fail "ncp-monitor's snapshot"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["shm"]["abi"].startswith("2."), j["shm"]["abi"]
assert len(j["shm"]["arm_links"]) == 3, j["shm"]["arm_links"]
PYEOF
"$BUILD/ncp-monitor" --shm "$name" --once >"$tmp/mon.txt" || fail "ncp-monitor --once"
grep -q "^arm        q (.*, .*, .*) rad" "$tmp/mon.txt" ||
	fail "ncp-monitor does not print 3 joints: $(grep arm "$tmp/mon.txt")"
echo "ncp-monitor: ABI 2.x, 3 links, 3 joints"
kill "$dpid"
wait "$dpid"
dpid=""
finish
