#!/bin/sh
# ncp-monitor against a running ncpd: --once --json snapshots (consistent
# with each other, the loop statistics, the window and the arm's
# kinematics), exit codes when the daemon is killed or absent, the flags;
# then the curses screen in a tmux pseudo-terminal: it draws, survives
# resizes and a too-small terminal, follows the daemon through a clean
# stop, a restart and a SIGKILL, and quits on q with status 0.  A fixture
# writer stands in for the emulator (ncpd has none yet) to show the
# prediction and the training history.
set -u
BUILD=${BUILD:-build}
NCPD=$BUILD/ncpd
MON=$BUILD/ncp-monitor
FIXTURE=$BUILD/tests/fixture_monitor_writer
PY=/usr/bin/python3
NAME=/ncpd-it-mon-$$
FXNAME=/ncpd-it-mon-fx-$$
tmp=$(mktemp -d)
SOCK=$tmp/tmux # a private tmux server, its socket gone with tmp
pids=""

cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	tmux -S "$SOCK" kill-server 2>/dev/null
	rm -f "/dev/shm${NAME}" "/dev/shm${FXNAME}"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
	echo "FAIL: $*"
	[ -f "$tmp/screen" ] && { echo "--- last screen:"; cat "$tmp/screen"; }
	exit 1
}

# Start ncpd in real time on NAME for $1 simulated seconds; sets $daemon.
start_daemon() {
	# Its own control socket (and so its own instance lock) as well.
	"$NCPD" --set shm.name="$NAME" --set emulator.model=none --set control.socket="$tmp/ctl.sock" \
		--duration "$1" >"$tmp/ncpd.out" 2>"$tmp/ncpd.err" &
	daemon=$!
	pids="$pids $daemon"
	i=0
	until [ -e "/dev/shm${NAME}" ] && "$MON" --shm "$NAME" --once >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "ncpd did not publish $NAME within 10 s: $(cat "$tmp/ncpd.err")"
		kill -0 "$daemon" 2>/dev/null || fail "ncpd exited early: $(cat "$tmp/ncpd.err")"
		sleep 0.1
	done
}

generation() { # the generation of the segment NAME ($1) as 16 hex digits
	"$MON" --shm "$1" --once --json | $PY -c 'import json, sys
s = json.load(sys.stdin)["shm"]
assert "%016x" % s["generation"] == s["generation_hex"]
print(s["generation_hex"])'
}

# --- flags ------------------------------------------------------------------
"$MON" --help >"$tmp/help" || fail "--help exited $?"
for w in --shm --once --json --rate; do
	grep -q -- "$w" "$tmp/help" || fail "--help does not document $w"
done
expect_usage() { # expected-substring, args...
	want=$1; shift
	"$MON" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "ncp-monitor $* exited $rc, want 2"
	grep -qF -- "$want" "$tmp/err" || fail "ncp-monitor $*: '$(cat "$tmp/err")' lacks '$want'"
}
expect_usage "unknown option '--frob'" --frob
expect_usage "--rate 0: expected" --rate 0
expect_usage "--rate fast: expected" --rate fast
expect_usage "--shm ncpd: expected '/'" --shm ncpd
expect_usage "unexpected argument 'extra'" --once extra

# --- no segment ---------------------------------------------------------------
"$MON" --shm "/nonexistent-$$" --once --json >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "--once on a missing segment exited $rc, want 1"
grep -q "not found" "$tmp/err" || fail "missing segment message: '$(cat "$tmp/err")'"
[ -s "$tmp/out" ] && fail "--once on a missing segment printed on stdout"

# --- snapshots of a running daemon -----------------------------------------------
start_daemon 6
"$MON" --shm "$NAME" --once --json >"$tmp/a.json" || fail "first --once --json exited $?"
sleep 0.5
"$MON" --shm "$NAME" --once --json >"$tmp/b.json" || fail "second --once --json exited $?"
"$MON" --shm "$NAME" --once >"$tmp/text" || fail "--once (text) exited $?"
for w in overruns jitter window predicted "stim       source none  16 electrodes" "lesion     none" "health     "; do
	grep -q "$w" "$tmp/text" || fail "--once text lacks '$w': $(cat "$tmp/text")"
done
$PY - "$tmp/a.json" "$tmp/b.json" "$NAME" <<'PYEOF' || fail "snapshot checks"
import json, math, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
name = sys.argv[3]
assert b["step"] > a["step"], ("step did not grow", a["step"], b["step"])
assert a["shm"]["generation"] == b["shm"]["generation"]
for d in (a, b):
    s = d["step"]
    assert d["shm"]["name"] == name and d["shm"]["abi"].startswith("1.")
    assert d["shm"]["state"] == "running", d["shm"]["state"]
    assert d["mode"] == "realtime" and d["paused"] is False
    assert d["task"]["kind"] == "centre-out" and d["task"]["period"] > 0
    assert abs(d["t"] - (s + 1) * d["shm"]["dt"]) < 1e-9, (d["t"], s)
    # Statistics come every 250 steps: behind the state by less than that.
    st = d["stats"]
    assert st is not None, "no loop statistics"
    assert s + 1 - 260 <= st["steps"] <= s + 1 + 20, (st["steps"], s)
    for k in ("p50", "p99", "p999", "max"):
        assert st["jitter_us"][k] >= 0
    assert st["jitter_us"]["p50"] <= st["jitter_us"]["p99"] <= st["jitter_us"]["max"]
    assert st["cost_us"]["p50"] <= st["cost_us"]["max"]
    assert st["overruns"] >= 0 and st["slips"] >= 0 and st["rtf"] > 0
    # The window holds the newest steps, read after the state.
    w = d["window"]
    assert w["steps"] == w["len"] == 100 == len(w["spikes_per_step"]), w["steps"]
    last = w["first_step"] + w["steps"] - 1
    assert s - 2 <= last <= s + 50, (w["first_step"], s)
    assert all(isinstance(n, int) and 0 <= n <= 1000 for n in w["spikes_per_step"])
    # The hand is the arm's forward kinematics of q.
    q0, q1 = d["arm"]["q"]
    hx = 1.5 * math.cos(q0) + 1.3 * math.cos(q0 + q1)
    hy = 1.5 * math.sin(q0) + 1.3 * math.sin(q0 + q1)
    hand = d["arm"]["hand"]
    assert abs(hand[0] - hx) < 1e-6 and abs(hand[1] - hy) < 1e-6, (hand, hx, hy)
    assert len(d["target"]) == 2 and len(d["arm"]["dq"]) == 2
    assert d["predicted"] is None, d["predicted"]
    assert d["training"] is None, d["training"]
    # The electrodes (stim.electrodes 16, nothing stimulating) and no lesion.
    sb = d["stim"]
    assert sb["electrodes"] == 16 == len(sb["theta"]) == len(sb["alpha"]), sb
    assert sb["source"] == "none" and sb["max"] > 0, sb
    assert sb["theta"] == [0] * 16 and sb["alpha_max_abs"] == 0, sb
    assert s - 2 <= sb["step"] <= s + 50, (sb["step"], s)
    assert d["lesion"] == {"kind": "none", "fraction": 0, "neurons": 0}, d["lesion"]
    # The run's health in words, weighed against the host's stalls.
    h = d["health"]
    assert h["level"] in ("good", "fair", "poor"), h
    assert h["reason"] and isinstance(h["explained_by_host"], bool), h
    assert abs(h["late_fraction"] - st["overruns"] / st["steps"]) < 1e-12, (h, st)
    assert h["explained_by_host"] == (st["overruns"] <= h["host_late_steps"]), h
    assert abs(h["cost_p99_fraction"] - st["cost_us"]["p99"] / 1000) < 1e-9, h
print("steps %d -> %d, window %d..%d, hand (%.4f, %.4f)" % (
    a["step"], b["step"], b["window"]["first_step"],
    b["window"]["first_step"] + b["window"]["steps"] - 1, *b["arm"]["hand"]))
PYEOF

# A daemon killed outright leaves its segment behind: not a running one.
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
"$MON" --shm "$NAME" --once --json >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "--once after SIGKILL exited $rc, want 1"
grep -q "gone" "$tmp/err" || fail "--once after SIGKILL said '$(cat "$tmp/err")'"
[ -s "$tmp/out" ] && fail "--once after SIGKILL printed on stdout"
echo "after SIGKILL: $(cat "$tmp/err")"
rm -f "/dev/shm${NAME}" # what it left (the next ncpd would replace it)

# --- a fixture with a prediction and training ----------------------------------
# It runs until the end of the script kills it (600 s only guards
# against a hang: the daemon restarts below can outlast a shorter run).
"$FIXTURE" "$FXNAME" 600 >"$tmp/fx.out" 2>&1 &
fixture=$!
pids="$pids $fixture"
i=0
until grep -q ready "$tmp/fx.out"; do
	i=$((i + 1)); [ $i -le 50 ] || fail "fixture writer did not start: $(cat "$tmp/fx.out")"
	sleep 0.1
done
sleep 0.3 # a first loop statistics publication
"$MON" --shm "$FXNAME" --once --json >"$tmp/fx.json" || fail "--once on the fixture exited $?"
$PY - "$tmp/fx.json" <<'PYEOF' || fail "fixture snapshot checks"
import json, math, sys
d = json.load(open(sys.argv[1]))
p = d["predicted"]
assert p is not None and p["model"] == "fixture-en" and p["fresh"] is True, p
sb = d["stim"]
assert sb["source"] == "oracle" and sb["electrodes"] == 8 and sb["max"] == 2, sb
assert sb["theta"] == [(e - 3.5) / 2 for e in range(8)], sb["theta"]
assert sb["alpha"] == [-(e - 3.5) / 4 for e in range(8)], sb["alpha"]
assert sb["theta_max_abs"] == 1.75 and sb["alpha_max_abs"] == 0.875, sb
assert d["lesion"] == {"kind": "m1-silence", "fraction": 0.25, "neurons": 250}, d["lesion"]
q0, q1 = p["q"]
fk = (1.5 * math.cos(q0) + 1.3 * math.cos(q0 + q1),
      1.5 * math.sin(q0) + 1.3 * math.sin(q0 + q1))
assert max(abs(u - v) for u, v in zip(fk, p["hand_fk"])) < 1e-9, (fk, p["hand_fk"])
assert p["latency_us"] == 150 and p["hand_rmse"] == 0.03
h = d["health"]
assert h["level"] == "good" and h["reason"] == "keeping real time", h
assert h["jitter_p99_fraction"] == 0.02 and h["cost_p99_fraction"] == 0.03, h
t = d["training"]
assert t is not None and t["update"] >= 1 and abs(t["loss"] - 1 / (1 + t["update"] / 10)) < 1e-12, t
PYEOF

# --- the screen in a pseudo-terminal --------------------------------------------
command -v tmux >/dev/null 2>&1 || fail "tmux is needed for the screen test (apt-get install tmux)"
screen_of() { tmux -S "$SOCK" capture-pane -p -t "$1" >"$tmp/screen" 2>/dev/null; }
has_all() { # fixed strings...: all on the captured screen
	for w in "$@"; do
		grep -qF -- "$w" "$tmp/screen" || return 1
	done
}
wait_screen() { # target, seconds, fixed strings...: until all are shown
	t=$1 n=$(($2 * 10))
	shift 2
	i=0
	while [ $i -lt $n ]; do
		screen_of "$t"
		has_all "$@" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	for w in "$@"; do
		grep -qF -- "$w" "$tmp/screen" || echo "missing: '$w'"
	done
	return 1
}
run_monitor() { # session, name, cols, lines, extra env
	tmux -S "$SOCK" new-session -d -s "$1" -x "$3" -y "$4" \
		"env TERM=xterm $5 $MON --shm $2; echo \$? >$tmp/$1.rc; sleep 60"
}

# Without a terminal the screen cannot start.
"$MON" --shm "$NAME" </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] || fail "the screen without a terminal exited $rc, want 1"
grep -q "must be a terminal" "$tmp/err" || fail "no-terminal message: '$(cat "$tmp/err")'"

# Started before the daemon: it says it waits, then attaches.
run_monitor tui "$NAME" 100 30 LANG=C.UTF-8
wait_screen tui 5 "waiting" "not found" || fail "no 'waiting' before the daemon starts"
start_daemon 60
gen1=$(generation "$NAME")
wait_screen tui 10 overruns M1 workspace "no emulator prediction" "sp/st" "health " \
	"lesion none" "stim none E16 |alpha| max 0" \
	"gen $gen1" running || fail "the screen lacks something"

echo "screen 100x30 drawn (generation $gen1)"

# Resizes, down to too small and back.
tmux -S "$SOCK" resize-window -t tui -x 64 -y 20
wait_screen tui 5 "cost p50" "sp/st" || fail "no redraw at 64x20"
$PY -c 'import sys; sys.exit(any(len(l.rstrip("\n")) > 64 for l in open(sys.argv[1], encoding="utf-8")))' \
	"$tmp/screen" || fail "lines wider than 64 after a resize"
tmux -S "$SOCK" resize-window -t tui -x 40 -y 10
wait_screen tui 5 "terminal too small" || fail "a 40x10 terminal is not reported too small"
tmux -S "$SOCK" resize-window -t tui -x 100 -y 30
wait_screen tui 5 overruns "sp/st" || fail "no redraw after growing back"
echo "resizes: 64x20, 40x10 (too small), 100x30"

# A clean stop, then a new daemon: the monitor says so and re-attaches.
kill -TERM "$daemon"
wait "$daemon" 2>/dev/null
wait_screen tui 5 "daemon stopped" "sp/st" || fail "no 'daemon stopped' after SIGTERM"
grep -q "overruns" "$tmp/screen" || fail "the last picture was not kept after the stop"
start_daemon 60
gen2=$(generation "$NAME")
[ "$gen2" != "$gen1" ] || fail "the new daemon has the old generation"
wait_screen tui 5 "re-attached" "gen $gen2" || fail "no 're-attached' to generation $gen2 after a restart"
echo "stop and restart: re-attached, generation $gen1 -> $gen2"

# A daemon killed outright: "daemon gone", then the next one is found.
kill -9 "$daemon"
wait "$daemon" 2>/dev/null
wait_screen tui 5 "daemon gone" "sp/st" || fail "no 'daemon gone' after SIGKILL"
start_daemon 60
gen3=$(generation "$NAME")
wait_screen tui 5 "re-attached" "gen $gen3" || fail "no re-attach after SIGKILL and a new daemon"
echo "SIGKILL and restart: re-attached, generation $gen3"

# The prediction, the loss curve, ASCII cells (C locale), zoom.  The
# predicted arm reads without colour (TERM vt100 has none): dashed, its
# own joints, and a legend saying so.
run_monitor fx "$FXNAME" 90 36 "LC_ALL=C TERM=vt100"
wait_screen fx 10 "emulator fixture-en" "* *  predicted fixture-en (+ elbow), hand 3.0 cm off" \
	"hand RMSE" "loss " "@## arm (o elbow)" "sp/st" "health GOOD" "keeping real time" \
	|| fail "the fixture's prediction is not shown"
grep -q '#' "$tmp/screen" || fail "no ASCII arm in the C locale"
grep -q '[*]' "$tmp/screen" || fail "no ASCII predicted arm in the C locale"
# The reaching workspace by default: the fixture's targets and hand span
# under 1 m, so far less than the task's 2 m wide neighbourhood.
width() { # the workspace's shown width, m, from the captured screen
	sed -n 's/.*workspace \[[^]]*\] x \(-*[0-9.]*\)\.\.\(-*[0-9.]*\) .*/\1 \2/p' "$tmp/screen" |
		awk '{ print $2 - $1 }'
}
wait_screen fx 5 "workspace [reach] x" || fail "the workspace does not open on the reaching workspace"
w0=$(width)
awk -v w="$w0" 'BEGIN { exit !(w > 0.6 && w < 1.8) }' || fail "reaching workspace $w0 m wide, want 0.6 to 1.8"
# + zooms in and - out, a level of 1.5 each; 0 goes back.
tmux -S "$SOCK" send-keys -t fx +
wait_screen fx 5 "workspace [reach +1] x" || fail "+ did not zoom in"
w1=$(width)
tmux -S "$SOCK" send-keys -t fx - -
wait_screen fx 5 "workspace [reach -1] x" || fail "- did not zoom out"
w2=$(width)
awk -v a="$w0" -v b="$w1" -v c="$w2" 'BEGIN { exit !(b < a && c > a) }' ||
	fail "zoom widths $w1 < $w0 < $w2 m do not hold"
tmux -S "$SOCK" send-keys -t fx 0
wait_screen fx 5 "workspace [reach] x" || fail "0 did not go back to the reaching workspace"
echo "reaching workspace ${w0} m wide; zoomed in ${w1} m, out ${w2} m"
# In braille (UTF-8) the predicted arm is dashed where the arm is solid.
run_monitor fxu "$FXNAME" 100 30 "LANG=C.UTF-8"
wait_screen fxu 10 "@⠒⠒⠒ arm (o elbow)" "*⠒⠀⠒ predicted fixture-en (+ elbow)" ||
	fail "the braille legend does not tell the predicted arm's dashes"
tmux -S "$SOCK" send-keys -t fxu q
# Electrode bars: alpha = -theta / 2 over stim.max 2 (levels 4, 3, 2, 1 of
# 8 on the left, 1, 2, 3, 4 on the right); a switches to theta (7, 5, 3, 1).
wait_screen fx 5 "lesion m1-silence: 25% of M1" "stim oracle E8 |alpha| max 0.875" \
	"alpha -,.__.,-" || fail "the fixture's electrodes and lesion are not shown"
tmux -S "$SOCK" send-keys -t fx a
wait_screen fx 5 "stim oracle E8 |theta| max 1.75" "theta *=,__,=*" ||
	fail "a did not switch the bars to theta"
tmux -S "$SOCK" send-keys -t fx z
wait_screen fx 5 "[whole arm]" "x -1.60..1.60" || fail "z did not show the whole arm"
echo "prediction and training shown"

# q quits with status 0 (and Ctrl-C too).
tmux -S "$SOCK" send-keys -t tui q
tmux -S "$SOCK" send-keys -t fx C-c
i=0
until [ -f "$tmp/tui.rc" ] && [ -f "$tmp/fx.rc" ]; do
	i=$((i + 1)); [ $i -le 30 ] || fail "the monitor did not quit on q / Ctrl-C"
	sleep 0.1
done
[ "$(cat "$tmp/tui.rc")" = 0 ] || fail "q: exit status $(cat "$tmp/tui.rc")"
[ "$(cat "$tmp/fx.rc")" = 0 ] || fail "Ctrl-C: exit status $(cat "$tmp/fx.rc")"
kill -TERM "$daemon" "$fixture" 2>/dev/null
wait "$daemon" "$fixture" 2>/dev/null
echo "ok"
