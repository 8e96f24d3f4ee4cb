#!/bin/sh
# Recording: a free run recorded with --record matches the simulation
# spike for spike; ncpctl record start/stop in real time; SIGTERM during a
# recording; a full disk stops the recording with a clear error while the
# loop goes on, and every file stays complete and loadable by numpy.
set -u
TAG=rec
. tests/daemon_lib.sh

# Checks a recording: loadable, rows line up, meta complete.  Prints rows.
check_rec() { # DIR [STOPPED-PREFIX]
	$PY - "$1" "${2:-}" <<'PYEOF'
import json, sys
import numpy as np
d, stopped = sys.argv[1:]
meta = json.load(open(d + "/meta.json"))
assert meta["format"] == "ncpd-recording" and meta["complete"], meta
m1 = np.load(d + "/m1.npy"); arm = np.load(d + "/arm.npy"); tgt = np.load(d + "/target.npy")
n = meta["steps"]
assert m1.shape == (n, meta["m1_neurons"]) and m1.dtype == np.uint8, m1.shape
assert arm.shape == (n, 6) and arm.dtype == np.float32
assert tgt.shape == (n, 2) and tgt.dtype == np.float32
assert set(np.unique(m1)) <= {0, 1}
ok = ~np.isnan(arm[:, 0])
assert ok.sum() == n - meta["dropped_steps"]
# The hand is where the joint angles put it.
q0, q1 = arm[ok, 0].astype(float), arm[ok, 1].astype(float)
hx = 1.5 * np.cos(q0) + 1.3 * np.cos(q0 + q1)
assert np.abs(hx - arm[ok, 4]).max() < 1e-4
if stopped:
    assert meta["stopped"].startswith(stopped), meta["stopped"]
print(n)
PYEOF
}

# 1. Free run with --record: every step, matching the simulation.
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 3 --set task.kind=random --record fr \
	>/dev/null 2>"$tmp/fr.err" || fail "free run: $(cat "$tmp/fr.err")"
rows=$(check_rec "$tmp/data/fr" duration) || fail "free-run recording invalid"
[ "$rows" = 3000 ] || fail "free-run recording has $rows rows, want 3000"
# shellcheck disable=SC2086
"$BUILD/tests/fixture_sim_spikes" 2900 100 $uniq --set task.kind=random >"$tmp/replay.json" ||
	fail "replay"
$PY - "$tmp/data/fr/m1.npy" "$tmp/replay.json" <<'PYEOF' || fail "recorded spikes differ from the simulation"
import json, sys
import numpy as np
m1 = np.load(sys.argv[1]); replay = json.load(open(sys.argv[2]))
for k, spikes in enumerate(replay):
    assert np.flatnonzero(m1[2900 + k]).tolist() == spikes, 2900 + k
PYEOF
echo "free run: 3000 rows, spikes identical to the simulation"

# 2. Real time: record start/stop, a set duration, refusals.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground 2>"$tmp/rt.err" &
dpid=$!
wait_up
ctl record start timed 1.5 >/dev/null || fail "record start"
ctl record start again 2>"$tmp/e"; [ $? -eq 1 ] && grep -q EBUSY "$tmp/e" || fail "second start not refused"
ctl record start ../up 2>"$tmp/e"; grep -q EACCES "$tmp/e" || fail "path name not refused"
sleep 2.2
ctl status | grep -q "active: false" || fail "timed recording still active"
rows=$(check_rec "$tmp/data/timed" duration) || fail "timed recording invalid"
[ "$rows" = 1500 ] || fail "timed recording: $rows rows, want 1500"
ctl record start timed 2>"$tmp/e"; grep -q EEXIST "$tmp/e" || fail "reused name not refused"
ctl record start manual >/dev/null || fail "record start manual"
sleep 0.5
ctl record stop >"$tmp/stop.txt" || fail "record stop"
ctl record stop 2>/dev/null && fail "second stop accepted"
# The reply comes once the files are complete, and counts their rows.
rows=$(check_rec "$tmp/data/manual" stop) || fail "stopped recording invalid"
said=$(sed -n 's/^  steps: //p' "$tmp/stop.txt")
[ "$said" = "$rows" ] || fail "record stop said $said steps, the files hold $rows"
echo "real time: a 1.5 s recording has 1500 rows; one stopped after 0.5 s has $rows, as record stop said"

# 3. SIGTERM while recording: complete files.
ctl record start cut >/dev/null || fail "record start cut"
sleep 0.4
kill -TERM "$dpid"; wait "$dpid"; dpid=""
check_rec "$tmp/data/cut" shutdown >/dev/null || fail "recording cut by SIGTERM invalid"
echo "SIGTERM during a recording: files complete"

# 4. A full disk (root: a 2 MiB tmpfs in a private mount namespace).  The
#    daemon runs in the namespace; the copy of its recording is made there
#    once it has exited, then the namespace goes with it.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
	mkdir -p "$tmp/small"
	unshare -m sh -c "
		mount -t tmpfs -o size=2m tmpfs '$tmp/small' || exit 3
		'$NCPD' --set shm.name=$name --set control.socket=$sock \
			--set data_dir='$tmp/small' --foreground 2>'$tmp/full.err' &
		echo \$! >'$tmp/full.pid'
		wait \$! || exit 4
		cp -r '$tmp/small/big' '$tmp/big'
	" &
	upid=$!
	wait_for 10 "the daemon's pid" test -s "$tmp/full.pid"
	dpid=$(cat "$tmp/full.pid") # not our child: cleanup's kill still works
	wait_up
	ctl record start big >/dev/null || fail "record start big"
	disk_full() { ctl status | grep -q 'error: No_space_left_on_device'; }
	wait_for 30 "the disk-full error in status" disk_full
	s1=$(key loop step)
	sleep 0.3
	s2=$(key loop step)
	[ "$s2" -gt "$s1" ] || fail "the loop stopped with the disk full ($s1 -> $s2)"
	ctl shutdown >/dev/null || fail "shutdown"
	dpid=""
	wait "$upid"; rc=$?
	[ $rc -eq 0 ] || fail "full-disk run failed ($rc): $(tail -3 "$tmp/full.err")"
	rows=$(check_rec "$tmp/big" "error: No space") || fail "recording on a full disk invalid"
	grep -q "recording big stopped after" "$tmp/full.err" || fail "no log line for the full disk"
	echo "full disk: recording stopped after $rows steps with an error, files valid, loop went on"
elif [ "$(id -u)" != 0 ]; then
	skip_part "a full disk: mounting a private tmpfs needs root (running as uid $(id -u))"
else
	skip_part "a full disk: unshare (util-linux) is missing"
fi
finish
