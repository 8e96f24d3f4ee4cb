#!/bin/sh
# Lesions and stimulation through ncpd: --stim-file replays (an all-zero
# file changes nothing, a pulse changes the run; bad files exit 2 with a
# reason), stim.npy and lesion.npy in recordings, and `ncpctl lesion` /
# `ncpctl stim` on a running daemon.
set -u
TAG=stim
. tests/daemon_lib.sh

$PY - "$tmp" <<'PYEOF' || fail "writing stim files"
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/zero.npy", np.zeros((2000, 16), np.float32))
a = np.zeros((300, 16), np.float32); a[:, 8] = 0.3
np.save(d + "/pulse.npy", a)
np.save(d + "/narrow.npy", np.zeros((10, 8), np.float32))
np.save(d + "/f64.npy", np.zeros((10, 16)))
a = np.zeros((10, 16), np.float32); a[3, 1] = np.nan
np.save(d + "/nan.npy", a)
a = np.zeros((10, 16), np.float32); a[6, 9] = -30
np.save(d + "/big.npy", a)
PYEOF

# summary FILE_ARGS...: the figures of a 2 s free run that depend on the
# simulation only (not on the wall clock).
summary() {
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 2 --summary json "$@" 2>"$tmp/d.err" |
		$PY -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d["reaches"], d["m1_mean_rate_hz"], d["lesion"], d["stim"]["electrodes"]]))'
}
plain=$(summary) || fail "free run"
zero=$(summary --stim-file "$tmp/zero.npy") || fail "zero stim file"
pulse=$(summary --stim-file "$tmp/pulse.npy") || fail "pulse stim file"
[ "$plain" = "$zero" ] || fail "an all-zero stim file changed the run: $plain vs $zero"
[ "$plain" != "$pulse" ] || fail "a pulse on electrode 8 changed nothing"
echo "zero stim file: same run; pulse: a different one"

# A recording keeps theta and the lesion per step; its stim.npy replays
# the same run.
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --record a --stim-file "$tmp/pulse.npy" \
	--set lesion.kind=m1-silence --set lesion.fraction=0.2 2>"$tmp/d.err" || fail "recording a"
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --record b --stim-file "$tmp/data/a/stim.npy" \
	--set lesion.kind=m1-silence --set lesion.fraction=0.2 2>"$tmp/d.err" || fail "recording b"
$PY - "$tmp/data" <<'PYEOF' || fail "stim.npy and lesion.npy"
import sys, json, numpy as np
d = sys.argv[1]
s = np.load(d + "/a/stim.npy"); l = np.load(d + "/a/lesion.npy")
assert s.shape == (1000, 16) and s.dtype == np.float32, s.shape
assert (s[:300, 8] == np.float32(0.3)).all() and not s[300:].any()
assert l.shape == (1000, 2) and (l == [2, 200]).all(), l[:2]
assert json.load(open(d + "/a/meta.json"))["files"]["stim"] == "stim.npy"
for f in ("arm", "m1", "stim"):
    assert np.array_equal(np.load(f"{d}/a/{f}.npy"), np.load(f"{d}/b/{f}.npy")), f
PYEOF
echo "recorded stim.npy and lesion.npy; replaying stim.npy gives the same run"

expect_bad() { # FILE MESSAGE
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 1 --stim-file "$1" >/dev/null 2>"$tmp/e"
	rc=$?
	[ $rc -eq 2 ] || fail "--stim-file $1: exit $rc, want 2"
	grep -qF -- "$2" "$tmp/e" || fail "--stim-file $1: '$(cat "$tmp/e")' lacks '$2'"
}
expect_bad "$tmp/narrow.npy" "expected float32 of shape (steps, 16) (stim.electrodes), got <f4 of shape (10, 8)"
expect_bad "$tmp/f64.npy" "got <f8 of shape (10, 16)"
expect_bad "$tmp/nan.npy" "row 3, electrode 1: not a finite number"
expect_bad "$tmp/big.npy" "row 6, electrode 9: -30 is beyond stim.max 20"
expect_bad "$tmp/missing.npy" "missing.npy"
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --stim-file "$tmp/zero.npy" \
	--set stim.source=noise >/dev/null 2>"$tmp/e"
[ $? -eq 2 ] && grep -q "needs stim.source none" "$tmp/e" || fail "stim file with a noise source"
echo "bad stim files: exit 2 with the reason"

# A running daemon: lesions and electrode commands over the socket.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground 2>"$tmp/d.err" &
dpid=$!
wait_up
[ "$(key lesion kind)" = none ] || fail "lesion at start: $(key lesion kind)"
ctl lesion pmc-m1 0.5 >/dev/null || fail "lesion pmc-m1 0.5 refused"
sleep 0.2
[ "$(key lesion kind)" = pmc-m1 ] && [ "$(key lesion neurons)" = 500 ] ||
	fail "lesion not applied: $(key lesion kind) $(key lesion neurons)"
# The lesion in shared memory, read by the numpy reader written from docs/shm.md.
$PY tests/shm_reader.py "$name" 1 | $PY -c 'import json, sys
d = json.load(sys.stdin)["stim"]
assert d["lesion_kind"] == "pmc-m1" and d["lesion_fraction"] == 0.5, d
assert d["lesion_neurons"] == 500 and d["electrodes"] == 16, d' ||
	fail "the stim block does not show the lesion"
ctl lesion m1-silence 2 2>"$tmp/e"; [ $? -eq 1 ] || fail "fraction 2: want exit 1"
grep -q "FRACTION must be within \[0, 1\]" "$tmp/e" || fail "fraction 2: $(cat "$tmp/e")"
ctl lesion off >/dev/null || fail "lesion off refused"
sleep 0.2
[ "$(key lesion kind)" = none ] && [ "$(key lesion neurons)" = 0 ] || fail "lesion not lifted"

ctl stim set 0 0 0 0 0 0 0 0.3 0 0 0 0 0 0 0 0 | grep -q "electrodes: 16" ||
	fail "stim set refused"
ctl stim set 0.3 2>"$tmp/e"; [ $? -eq 1 ] || fail "stim set, 1 value: want exit 1"
grep -q "theta has 1 values; stim.electrodes is 16" "$tmp/e" || fail "1 value: $(cat "$tmp/e")"
ctl stim set 0 0 0 0 0 0 0 25 0 0 0 0 0 0 0 0 2>"$tmp/e"; [ $? -eq 1 ] || fail "25: want exit 1"
grep -q "theta\[7\] = 25 is beyond stim.max 20 (ERANGE)" "$tmp/e" || fail "25: $(cat "$tmp/e")"
ctl stim set 0 0 0 0 0 0 0 nan 0 0 0 0 0 0 0 0 2>/dev/null; [ $? -eq 1 ] || fail "nan: want exit 1"
# Held at the centre, the hand moves when one electrode is driven.
ctl stim off >/dev/null || fail "stim off refused"
ctl target 0 1.25 >/dev/null || fail "target refused"
sleep 1
hand() { ctl --json status | $PY -c 'import json,sys; print(*json.load(sys.stdin)["arm"]["hand"])'; }
h0=$(hand)
ctl stim set 0 0 0 0 0 0 0 0.3 0 0 0 0 0 0 0 0 >/dev/null || fail "stim set refused"
sleep 0.5
h1=$(hand)
# theta and alpha in shared memory and in status while electrode 8 is held.
$PY tests/shm_reader.py "$name" 1 | $PY -c 'import json, sys
d = json.load(sys.stdin)["stim"]
t, a = d["theta"], d["alpha"]
assert len(t) == len(a) == 16 and d["source"] == "none", d
assert abs(t[7] - 0.3) < 1e-6 and all(v == 0 for i, v in enumerate(t) if i != 7), t
# alpha = d alpha + theta settles at theta / (1 - d), beyond theta.
assert a[7] > 0.3 and all(v == 0 for i, v in enumerate(a) if i != 7), a
assert abs(d["theta_max_abs"] - t[7]) < 1e-6 and abs(d["alpha_max_abs"] - a[7]) < 1e-5, d
assert d["lesion_kind"] == "none" and d["lesion_neurons"] == 0, d' ||
	fail "the stim block does not show electrode 8's theta and alpha"
[ "$(key stim source)" = none ] && [ "$(key stim electrodes)" = 16 ] ||
	fail "status: stim.source $(key stim source), stim.electrodes $(key stim electrodes)"
$PY -c "import sys; sys.exit(abs($(key stim theta_max_abs) - 0.3) > 1e-6)" ||
	fail "status: stim.theta_max_abs $(key stim theta_max_abs), want 0.3"
moved=$($PY -c "import math; a=[float(v) for v in '$h0'.split()]; b=[float(v) for v in '$h1'.split()]; print('%.1f' % (1e3 * math.dist(a, b)))")
$PY -c "import sys; sys.exit(0 if $moved > 10 else 1)" || fail "stimulation moved the hand $moved mm"
echo "stim set on electrode 8: the hand moved $moved mm in 0.5 s"
ctl stim off >/dev/null || fail "stim off refused"
s1=$(key loop step); sleep 0.3; s2=$(key loop step)
[ "$s1" != "$s2" ] || fail "the loop stopped"
[ "$(key loop slips)" = 0 ] || echo "note: $(key loop slips) slips (loaded machine)"
echo "lesion and stim commands: applied, bad ones refused, the loop goes on"

# The oracle follows a lesion made at run time: started healthy it has
# nothing to restore (its map is zero, theta stays 0); after `lesion
# pmc-m1 1` its map is refitted for the lesion and it stimulates; after
# `lesion off` it stops again.
kill "$dpid" && wait "$dpid"
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground --set stim.source=oracle 2>"$tmp/d.err" &
dpid=$!
wait_up
ctl target 0.15 1.25 >/dev/null || fail "target refused"
sleep 0.3
[ "$(key stim source)" = oracle ] || fail "stim.source $(key stim source)"
[ "$(key stim theta_max_abs)" = 0 ] ||
	fail "a healthy M1: the oracle's theta is $(key stim theta_max_abs), want 0"
stimulating() { $PY -c "import sys; sys.exit(0 if $(key stim theta_max_abs) > 0.01 else 1)"; }
quiet() { [ "$(key stim theta_max_abs)" = 0 ]; }
ctl lesion pmc-m1 1 >/dev/null || fail "lesion pmc-m1 1 refused"
wait_for 20 "the oracle to stimulate after lesion pmc-m1 1 (its map refitted)" stimulating
echo "oracle after a run-time lesion: |theta| max $(key stim theta_max_abs)"
ctl lesion off >/dev/null || fail "lesion off refused"
wait_for 20 "the oracle to stop after lesion off" quiet
[ "$(key loop slips)" = 0 ] || echo "note: $(key loop slips) slips (loaded machine)"
echo "the oracle follows run-time lesions: refitted, put in force with the lesion"
