#!/bin/sh
# REACH's trajectories, force field and probes through ncpd: task.kind
# line, circle and path, and steps (a01's target) (the summary's path and end errors; bad path
# files exit 2 naming file and line), the field in config and with
# `ncpctl field`, and probes chosen in config or with `record start
# --probe` (bad names refused with the names there are).
set -u
TAG=reach
. tests/daemon_lib.sh

# run ARGS...: a free run's summary figures.
run() {
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --summary json "$@" 2>"$tmp/d.err" |
		$PY -c 'import json,sys; d=json.load(sys.stdin); print(len(d["reaches"]), d["mean_end_error"], d["mean_path_error"], d["max_path_error"], d["neurons"], d["field"]["on"])'
}
# A line and a circle traced from PMC: two periods each.
for kind in line circle; do
	set -- $(run --duration 9 --set task.kind=$kind --set task.period=4.5) ||
		fail "$kind run"
	echo "$kind: $1 reaches, end error $2 m, path error mean $3 m, max $4 m, $5 neurons"
	[ "$1" = 2 ] && [ "$5" = 3300 ] || fail "$kind: $1 reaches, $5 neurons (want 2, 3300)"
	$PY -c "import sys; sys.exit(not ($2 < 0.03 and $3 < 0.02 and $4 < 0.06 and $3 > 0))" ||
		fail "$kind: end error $2, path error $3 / $4 m"
done
# A path from a file: an L-shaped path; the same points as the line are
# the same run.
printf '# the line, as a file\n0 1.0\n0.0, 1.5\n' >"$tmp/line.txt"
printf '0 1.0\n0 1.3\n0.2 1.3\n' >"$tmp/ell.txt"
a=$(run --duration 4.5 --set task.kind=line --set task.period=4.5) || fail "line"
b=$(run --duration 4.5 --set task.kind=path --set task.path_file="$tmp/line.txt" \
	--set task.period=4.5) || fail "path of a line"
[ "$a" = "$b" ] || fail "a path file of the line's points ran differently: $a vs $b"
set -- $(run --duration 4.5 --set task.kind=path --set task.path_file="$tmp/ell.txt" \
	--set task.period=4.5) || fail "ell path"
$PY -c "import sys; sys.exit(not ($2 < 0.03 and $3 < 0.03))" ||
	fail "ell path: end error $2, path error $3 m"
echo "path file: the line's points run as the line; an L: end error $2 m, path error $3 m"

# REACH's a01: the target steps between the line's ends every second
# (no generator: 2800 neurons), the hand following within 3 cm.
set -- $(run --duration 4 --set task.kind=steps --set task.line=0,1,0,1.5 \
	--set task.centre=0,1) || fail "steps run"
echo "steps (a01): $1 reaches, end error $2 m, path error mean $3 m, max $4 m, $5 neurons"
[ "$1" = 4 ] && [ "$5" = 2800 ] || fail "steps: $1 reaches, $5 neurons (want 4, 2800)"
$PY -c "import sys; sys.exit(not ($2 < 0.03 and $3 < 0.03 and $3 > 0))" ||
	fail "steps: end error $2, path error $3 m"

# bad MESSAGE ARGS...: a configuration refused (exit 2), with MESSAGE;
# BAD_RC=1: refused at start (a probe is checked against the network
# built).
bad() {
	want=$1
	shift
	# shellcheck disable=SC2086
	"$NCPD" $uniq --free-run --duration 1 "$@" >/dev/null 2>"$tmp/e"
	rc=$?
	[ $rc -eq "${BAD_RC:-2}" ] || fail "$*: exit $rc, want ${BAD_RC:-2} ($(cat "$tmp/e"))"
	grep -qF -- "$want" "$tmp/e" || fail "$*: '$(cat "$tmp/e")' lacks '$want'"
}
printf '0 1.0\n0 1.2\nnan 1.3\n' >"$tmp/nan.txt"
printf '0 1.0\n0.1 1.1\n\n2.5 0.1\n' >"$tmp/far.txt"
printf '0 1.0\n' >"$tmp/one.txt"
bad "$tmp/nan.txt:3: point (nan, 1.3) is not finite" --set task.kind=path --set task.path_file="$tmp/nan.txt"
bad "$tmp/far.txt:4: point (2.5, 0.1) is out of reach" --set task.kind=path --set task.path_file="$tmp/far.txt"
bad "1 point; a path needs at least 2" --set task.kind=path --set task.path_file="$tmp/one.txt"
bad "$tmp/none.txt: No such file" --set task.kind=path --set task.path_file="$tmp/none.txt"
bad "task.kind path needs task.path_file" --set task.kind=path
bad "task.kind line: point (0.000, 2.700) is out of reach" --set task.kind=line --set task.line=0,1,0,2.7
bad "task.kind steps: task.line's end (0.000, 2.900) is out of reach" --set task.kind=steps \
	--set task.line=0,1,0,2.9
echo "bad paths: exit 2 naming the file, the line and the fault"

# REACH's a02 circle (radius 0.5): its left side needs the shoulder past
# S1's range, refused by default (reach.workspace sensed); with
# reach.workspace arm it runs; past the arm's length stays refused.
bad "task.radius 0.5 around task.centre [0, 1.25] leaves the reachable workspace (at [-0.492, 1.337]: the shoulder would be at 1.0038 rad: the circuits sense it up to 1.0000 rad" \
	--set task.kind=circle --set task.radius=0.5 --set task.period=4.5
bad "task.kind line: point (0.000, 2.900) is out of reach: 2.9 m from the shoulder, the arm reaches 0.2 to 2.8 m" \
	--set reach.workspace=arm --set task.kind=line --set task.line=0,1,0,2.9
set -- $(run --duration 9 --set task.kind=circle --set task.radius=0.5 --set task.period=4.5 \
	--set reach.workspace=arm) || fail "circle r 0.5 with reach.workspace arm"
echo "circle r 0.5 (reach.workspace arm): $1 reaches, end error $2 m, path error mean $3 m, max $4 m"
[ "$1" = 2 ] || fail "circle r 0.5: $1 reaches (want 2)"
$PY -c "import sys; sys.exit(not ($2 < 0.06 and $3 < 0.03 and $3 > 0))" ||
	fail "circle r 0.5: end error $2, path error $3 m"

# The field from the config: path errors grow.
set -- $(run --duration 8) || fail "no field"
p0=$3
set -- $(run --duration 8 --set field.on=true) || fail "field"
[ "$6" = True ] || fail "field.on=true: summary field.on $6"
$PY -c "import sys; sys.exit(not ($3 > 2 * $p0))" || fail "field: path error $3 m vs $p0 m without"
echo "field on: path error $3 m (none: $p0 m)"

# Probes from the config; a bad one stops ncpd with the names there are.
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 1 --record cfg \
	--set "record.probes=cb:spikes, error:value:0.01, relay" 2>"$tmp/d.err" || fail "probes from config"
$PY - "$tmp/data/cfg" <<'PYEOF' || fail "probe files from the config"
import sys, json, numpy as np
d = sys.argv[1]
m = json.load(open(d + "/meta.json"))
assert [p["file"] for p in m["probes"]] == ["probe.cb.spikes.npy", "probe.error.value.npy", "probe.relay.value.npy"], m["probes"]
cb = np.load(d + "/probe.cb.spikes.npy"); e = np.load(d + "/probe.error.value.npy")
assert cb.shape == (1000, 1000) and cb.dtype == np.uint8 and 5 < cb.mean() * 1000 < 200, cb.mean()
assert e.shape == (1000, 2) and e.dtype == np.float32 and m["probes"][1]["synapse"] == 0.01
PYEOF
BAD_RC=1 bad "record.probes: probe 'cb:volts': unknown kind 'volts'" --record x --set record.probes=cb:volts
BAD_RC=1 bad "no population or node 'm2' (there are: pmc, arm, s1.in" --record x --set record.probes=m2
echo "probes from record.probes: files and meta.json; bad ones refused"

# A running daemon: the field and probes over the socket.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground --set rt.priority=0 --set emulator.priority=0 \
	--set rt.lock_memory=false 2>"$tmp/d.err" &
dpid=$!
wait_up
[ "$(key field on)" = False ] || fail "field at start: $(key field on)"
ctl field on 0.5 >/dev/null || fail "field on 0.5 refused"
[ "$(key field on)" = True ] && [ "$(key field strength)" = 0.5 ] ||
	fail "field on: $(key field on) $(key field strength)"
ctl field on 500 2>"$tmp/e"; [ $? -eq 1 ] || fail "field strength 500: want exit 1"
grep -q "STRENGTH must be within \[-100, 100\]" "$tmp/e" || fail "500: $(cat "$tmp/e")"
ctl field off >/dev/null || fail "field off refused"
[ "$(key field on)" = False ] && [ "$(key field strength)" = 0.5 ] ||
	fail "field off: $(key field on) $(key field strength)"
ctl record start bad --probe cb:spikes --probe nothing 2>"$tmp/e"; [ $? -eq 1 ] ||
	fail "a bad probe: want exit 1"
grep -q "probe 'nothing': no population or node 'nothing' (there are: pmc, arm" "$tmp/e" ||
	fail "bad probe: $(cat "$tmp/e")"
[ ! -e "$tmp/data/bad" ] || fail "a refused recording left its directory"
ctl record start p 0.5 --probe m1:value --probe s1:spikes >/dev/null || fail "record --probe refused"
wait_for 20 "recording p to complete" test -f "$tmp/data/p/probe.s1.spikes.npy"
wait_for 20 "meta.json of p" grep -q '"complete": *true' "$tmp/data/p/meta.json"
$PY - "$tmp/data/p" <<'PYEOF' || fail "probe files from record start"
import sys, json, numpy as np
d = sys.argv[1]
m = json.load(open(d + "/meta.json"))
s1 = np.load(d + "/probe.s1.spikes.npy"); u = np.load(d + "/probe.m1.value.npy")
n = m["steps"]
assert s1.shape == (n, 300) and u.shape == (n, 2) and n == 500, (s1.shape, u.shape, n)
assert s1.sum() > 0 and np.isfinite(u).all()
PYEOF
ctl task line 2>"$tmp/e"; [ $? -eq 1 ] || fail "task line without the generator: want exit 1"
grep -q "task line: the trajectory generator is built at start for the configured trajectory (none)" "$tmp/e" ||
	fail "task line: $(cat "$tmp/e")"
echo "ncpctl field on/off and record start --probe: applied, bad ones refused; task line refused without the generator"
kill "$dpid"; wait "$dpid" 2>/dev/null; dpid=""

# A daemon started with the circle: target tasks and back to the circle;
# with reach.workspace arm, targets past S1's range taken, past the arm's
# length refused.
# shellcheck disable=SC2086
"$NCPD" $uniq --foreground --set rt.priority=0 --set emulator.priority=0 \
	--set rt.lock_memory=false --set task.kind=circle --set task.period=4.5 \
	--set reach.workspace=arm 2>"$tmp/d.err" &
dpid=$!
wait_up
[ "$(key task kind)" = circle ] || fail "task.kind at start: $(key task kind)"
ctl task centre-out 1 >/dev/null || fail "task centre-out refused"
task_is() { [ "$(key task kind)" = "$1" ]; }
wait_for 10 "the centre-out task" task_is centre-out
ctl task circle 4.5 >/dev/null || fail "task circle refused"
wait_for 10 "the circle again" task_is circle
ctl task line 2>"$tmp/e"; [ $? -eq 1 ] || fail "task line on a circle's generator: want exit 1"
grep -q "configured trajectory (circle); restart ncpd with task.kind line" "$tmp/e" ||
	fail "task line: $(cat "$tmp/e")"
echo "a circle's daemon: centre-out and back to the circle; task line refused"
ctl target 0.1 0.45 >/dev/null 2>"$tmp/e" || fail "reach.workspace arm: target 0.1 0.45 refused: $(cat "$tmp/e")"
ctl target 0 3 2>"$tmp/e" && fail "reach.workspace arm: target 0 3 accepted"
grep -q "3 m from the shoulder, the arm reaches 0.2 to 2.8 m" "$tmp/e" ||
	fail "target 0 3: $(cat "$tmp/e")"
echo "reach.workspace arm: target (0.1, 0.45) taken (past S1's range), (0, 3) refused"
finish
