#!/bin/sh
# The co-processor in ncpd: bad input (a CPN file for another E, a
# corrupt file, NaN weights, `ncp on` without a CPN) gets a clear error,
# the stimulation stays as it was and the loop goes on; a CPN loaded and
# turned on drives the electrodes (stim.source cpn, thetas in the ncp
# block), off lets them decay; `ncp save` writes a file that loads again;
# `ncp load` is refused while training; and a free run with the CPN is
# the same twice.
set -u
TAG=ncp
. tests/daemon_lib.sh
fix="$BUILD/tests/fixture_cpn_file"
[ -x "$fix" ] || fail "missing $fix (make builds it)"
mkdir -p "$tmp/data"
"$fix" "$tmp/data/good.safetensors" 16 16 3 || fail "fixture good"
"$fix" "$tmp/data/e8.safetensors" 8 16 || fail "fixture e8"
$PY - "$tmp/data" <<'PYEOF' || fail "writing the bad files"
import sys, struct
d = sys.argv[1]
b = open(d + "/good.safetensors", "rb").read()
open(d + "/corrupt.safetensors", "wb").write(b[:len(b) // 2])
open(d + "/nan.safetensors", "wb").write(b[:-4] + struct.pack("<f", float("nan")))
PYEOF

# shellcheck disable=SC2086
"$NCPD" $uniq --set emulator.model=none --set ncp.model=none \
	--foreground 2>"$tmp/d.err" &
dpid=$!
wait_up
step() { key loop step; }
# st EXPR: true when the Python expression holds for the status (d).
st() {
	ctl --json status | $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}
# expect_err WHAT CODE MESSAGE COMMAND...: the command fails with CODE and
# its message contains MESSAGE.
expect_err() {
	_what=$1 _code=$2 _msg=$3
	shift 3
	ctl "$@" >"$tmp/out" 2>"$tmp/err" && fail "$_what: accepted"
	grep -qF "($_code)" "$tmp/err" || fail "$_what: not $_code: $(cat "$tmp/err")"
	grep -qF -- "$_msg" "$tmp/err" || fail "$_what: message: $(cat "$tmp/err")"
	echo "$_what: $(cat "$tmp/err")"
}
expect_err "ncp on without a CPN" ENOENT "no co-processor model is loaded" ncp on
[ "$(key ncp on)" = False ] || fail "the CPN is on"
# A held command; bad files must leave it alone.
ctl stim set 0.1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 >/dev/null || fail "stim set"
wait_for 10 "theta 0.1 in force" st 'abs(d["stim"]["theta_max_abs"] - 0.1) < 1e-6'
s0=$(step)
expect_err "a CPN for 8 electrodes" EINVAL "made for 8 stimulation electrodes" ncp load e8
expect_err "a corrupt CPN file" EINVAL "past the end" ncp load corrupt
expect_err "NaN weights" EINVAL "nan" ncp load nan
expect_err "a missing CPN" ENOENT "no model" ncp load missing
[ "$(key ncp loaded)" = False ] || fail "a bad file was loaded"
st 'abs(d["stim"]["theta_max_abs"] - 0.1) < 1e-6' ||
	fail "the stimulation changed: $(key stim theta_max_abs)"
[ "$(key stim source)" = none ] || fail "stim.source $(key stim source)"
wait_for 10 "the loop to go on" st "d['loop']['step'] > $s0 + 100"
echo "bad CPN files refused; theta 0.1 held; the loop went on"

ctl ncp load good >/dev/null || fail "ncp load good"
ctl ncp on >/dev/null || fail "ncp on"
wait_for 10 "thetas from the CPN" st 'd["ncp"]["thetas"] > 200'
[ "$(key stim source)" = cpn ] || fail "stim.source $(key stim source) with the CPN on"
$PY tests/shm_reader.py "$name" 10 >"$tmp/shm.json" || fail "shm reader"
$PY - "$tmp/shm.json" <<'PYEOF' || fail "the ncp block"
import json, sys
d = json.load(open(sys.argv[1]))
n = d["ncp"]
assert n["loaded"] == 1 and n["on"] == 1 and n["model"] == "good", n
assert n["thetas"] > 0 and n["step"] > 0, n
assert d["stim"]["source"] == "cpn", d["stim"]
print("ncp block: %d thetas, newest from step %d, latency %.1f us" %
      (n["thetas"], n["step"], n["latency_us"]))
PYEOF
ctl ncp off >/dev/null || fail "ncp off"
wait_for 10 "theta 0 after ncp off" st 'd["stim"]["theta_max_abs"] == 0'
ctl ncp save saved >/dev/null || fail "ncp save"
[ -s "$tmp/data/saved.safetensors" ] || fail "no saved file"
ctl ncp load saved >/dev/null || fail "the saved CPN does not load"
ctl ncp train on >/dev/null || fail "ncp train on"
expect_err "ncp load while training" EBUSY "ncp train off" ncp load good
ctl ncp train off >/dev/null || fail "ncp train off"
kill "$dpid"; wait "$dpid"; rc=$?
dpid=""
[ $rc -eq 0 ] || fail "ncpd exited $rc"
echo "ncp on, off, save, load of the saved file, train on/off"

# The oracle sets theta: ncp on is refused, the daemon goes on.
# shellcheck disable=SC2086
"$NCPD" $uniq --set emulator.model=none --set ncp.model=good \
	--set stim.source=oracle --set lesion.kind=pmc-m1 --foreground 2>"$tmp/d.err" &
dpid=$!
wait_up
expect_err "ncp on with the oracle" EPERM "oracle" ncp on
kill "$dpid"; wait "$dpid"
dpid=""

# Free run with the CPN driving: the same run twice, and not the run
# without it.
run() {
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 3 --summary json --set emulator.model=none \
		--set lesion.kind=pmc-m1 "$@" 2>"$tmp/d.err" |
		$PY -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d["reaches"], d["m1_mean_rate_hz"], d["ncp"]["thetas"]]))'
}
a=$(run --set ncp.model=good --set stim.source=cpn) || fail "free run a"
b=$(run --set ncp.model=good --set stim.source=cpn) || fail "free run b"
c=$(run --set ncp.model=none) || fail "free run without"
[ "$a" = "$b" ] || fail "two free runs with the CPN differ"
[ "$a" != "$c" ] || fail "the CPN changed nothing"
echo "free run with the CPN: the same twice, not the run without"

# The co-processor's reach statistics are the simulation's end errors
# (all reaches but the last, whose end it sees only at the next target).
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 6 --summary json --set emulator.model=none \
	--set ncp.model=none 2>"$tmp/d.err" >"$tmp/h.json" || fail "healthy free run"
$PY - "$tmp/h.json" <<'PYEOF' || fail "reach statistics"
import json, sys
d = json.load(open(sys.argv[1]))
e = [r["end_error"] for r in d["reaches"]]
n = d["ncp"]
assert n["reaches"]["healthy"] == len(e) - 1, (n["reaches"], len(e))
want = sum(e[:-1]) / (len(e) - 1)
assert abs(n["l_healthy"] - want) < 1e-6, (n["l_healthy"], want)
print("reach statistics: %d healthy reaches, mean end error %.2f mm as the simulation's"
      % (len(e) - 1, want * 1e3))
PYEOF
finish
