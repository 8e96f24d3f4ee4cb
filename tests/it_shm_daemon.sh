#!/bin/sh
# The Python reader written from docs/shm.md (tests/shm_reader.py, Debian's
# python3 with numpy) against a running ncpd in real time: the window it
# copies must hold exactly the spikes the daemon's simulation produced for
# those steps (replayed from the same configuration by
# tests/fixture_sim_spikes), and the state block must agree with it.
set -u
TAG=pyd
. tests/daemon_lib.sh

sets="--set emulator.model=none --set shm.name=$name --set control.socket=$tmp/ctl.sock --set task.kind=random --set task.seed=5"
# shellcheck disable=SC2086
"$NCPD" $sets --duration 6 >"$tmp/d.out" 2>"$tmp/d.err" &
dpid=$!
wait_for 60 "the segment /dev/shm$name" test -e "/dev/shm$name"
sleep 1.5
$PY tests/shm_reader.py "$name" 100 >"$tmp/a.json" || fail "reader failed"
sleep 0.5
$PY tests/shm_reader.py "$name" 100 >"$tmp/b.json" || fail "second read failed"
first=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["window_first_step"])' "$tmp/a.json")
last=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["window_first_step"] + d["window_count"])' "$tmp/b.json")
# shellcheck disable=SC2086
"$BUILD/tests/fixture_sim_spikes" "$first" $((last - first)) $sets >"$tmp/replay.json" || fail "replay failed"
$PY - "$tmp/a.json" "$tmp/b.json" "$tmp/replay.json" <<'PYEOF' || fail "window differs from the daemon's simulation"
import json, math, sys
a, b, replay = (json.load(open(f)) for f in sys.argv[1:])
first = a["window_first_step"]
for snap in (a, b):
    assert snap["daemon_state"] == "running", snap["daemon_state"]
    assert snap["window_count"] == 100, snap["window_count"]
    steps = snap["window_steps"]
    assert steps == list(range(steps[0], steps[0] + 100)), "steps not consecutive"
    for s, spikes in zip(steps, snap["window_spikes"]):
        assert spikes == replay[s - first], "step %d: %s vs %s" % (s, spikes, replay[s - first])
    st = snap["state"]
    assert st["step"] >= steps[-1], (st["step"], steps[-1])
    # The hand is where the header's link lengths put it.
    l0, l1 = snap["arm_links"]
    q0, q1 = st["q"]
    fk = (l0 * math.cos(q0) + l1 * math.cos(q0 + q1),
          l0 * math.sin(q0) + l1 * math.sin(q0 + q1))
    assert max(abs(a - b) for a, b in zip(fk, st["hand"])) < 1e-9, (fk, st["hand"])
    # The observation (1.4): the arm after each step, as S1 has it, and
    # the recording electrodes' rates.
    obs = snap["window_obs"]
    assert obs is not None and len(obs) == 100, "no observation"
    for o in obs:
        assert len(o["rec"]) == 16 and len(o["alpha"]) == 16, o
        assert min(o["rec"]) >= 0, o["rec"]
        q0, q1 = o["arm"][:2]
        fk = (l0 * math.cos(q0) + l1 * math.cos(q0 + q1),
              l0 * math.sin(q0) + l1 * math.sin(q0 + q1))
        assert max(abs(a - b) for a, b in zip(fk, o["arm"][4:6])) < 1e-5, (fk, o["arm"])
    assert max(max(o["rec"]) for o in obs) > 1, "the recording electrodes are silent"
assert b["head"] > a["head"], "the daemon did not advance"
n = sum(len(s) for s in a["window_spikes"])
print("window of steps %d..%d matches the simulation (%d spikes)" % (first, a["window_steps"][-1], n))
PYEOF
kill "$dpid"; wait "$dpid"; rc=$?
dpid=""
[ $rc -eq 0 ] || fail "ncpd exited $rc on SIGTERM: $(cat "$tmp/d.err")"
[ -e "/dev/shm$name" ] && fail "segment left behind after SIGTERM"
echo ok
