#!/bin/sh
# ncpd steered over its control socket: a manual target reached in time,
# errors and exit codes of ncpctl, 64 concurrent clients while the loop
# runs in real time, silent and stalled clients, a refused peer, SIGHUP
# reload, SIGTERM and `shutdown` leaving nothing behind, and detaching.
set -u
TAG=ctl
. tests/daemon_lib.sh
sock="$tmp/run/ncpd.sock"
status_key() { # KEY -> value
	ctl status | $PY -c 'import sys
key = sys.argv[1]
sec, k = key.split(".")
cur = None
for line in sys.stdin:
    if not line.startswith(" "):
        cur = line.strip().rstrip(":")
    elif cur == sec and line.strip().startswith(k + ":"):
        print(line.split(":", 1)[1].strip())' "$1"
}

# A configuration file of our own (SIGHUP re-reads it).
cp config/ncpd.yaml "$tmp/ncpd.yaml"
mkdir -p "$tmp/run"
chmod 755 "$tmp/run"
"$NCPD" --foreground --config "$tmp/ncpd.yaml" --set data_dir="$tmp/data" --set shm.name="$name" \
	--set control.socket="$sock" 2>"$tmp/d.err" &
dpid=$!
wait_up

# 1. A manual target: the hand gets within 5 cm in under 2.5 simulated
#    seconds (counted in loop steps, so a loaded host does not change
#    it).  The reply says the task became manual, and which task it
#    replaced.
s0=$(status_key loop.step)
ctl --json target 0.15 1.42 >"$tmp/t.json" || fail "target refused"
$PY - "$tmp/t.json" <<'PYEOF' || fail "target reply does not say the task became manual: $(cat "$tmp/t.json")"
import json, sys
flat = json.dumps(json.load(open(sys.argv[1])))
assert '"kind": "manual"' in flat and '"previous": "centre-out"' in flat, flat
PYEOF
ctl help target | grep -q "switch the task to manual" || fail "help target does not say the task becomes manual"
near() {
	d=$(status_key target.distance)
	$PY -c "import sys; sys.exit(0 if float('$d') < 0.05 else 1)"
}
wait_for 60 "the hand to reach the target" near
arrived=$($PY -c "print('%.2f' % (($(status_key loop.step) - $s0) * 0.001))")
$PY -c "import sys; sys.exit(0 if $arrived < 2.5 else 1)" || fail "arrival took $arrived simulated s"
[ "$(status_key task.kind)" = manual ] || fail "task did not become manual"
echo "target reached within 0.05 m in $arrived simulated s (or less)"

# 2. Errors: exit 1 with the daemon's reason; exit 2 when unreachable.
ctl target 0 3 2>"$tmp/e" && fail "out-of-reach target accepted"
grep -q "outside the reachable workspace: 3 m from the shoulder" "$tmp/e" || fail "no reason: $(cat "$tmp/e")"
# Within the links' reach, but where the circuits cannot sense the hand:
# the arm would stall at the elbow's limit 0.18 m short.
ctl target 0.1 0.45 2>"$tmp/e" && fail "target 0.1 0.45 accepted: the hand stops 0.18 m short of it"
grep -q "outside the reachable workspace: y 0.45 m is below 0.6 m.*(ERANGE)" "$tmp/e" ||
	fail "no reason for 0.1 0.45: $(cat "$tmp/e")"
ctl target nan 1 2>/dev/null; [ $? -eq 1 ] || fail "nan target: want exit 1"
ctl frobnicate 2>/dev/null; [ $? -eq 1 ] || fail "unknown command: want exit 1"
ctl config get task.nope 2>"$tmp/e"; [ $? -eq 1 ] || fail "unknown key: want exit 1"
"$CTL" --socket "$tmp/none.sock" status 2>/dev/null; [ $? -eq 2 ] || fail "no daemon: want exit 2"
ctl config get task.period | grep -qx "  period: 1" || fail "config get task.period"
ctl --json status | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and d["loop"]["mode"] == "realtime"' ||
	fail "status --json"
ctl pause >/dev/null && sleep 0.2
s1=$(status_key loop.step); sleep 0.3; s2=$(status_key loop.step)
[ "$s1" = "$s2" ] || fail "paused loop advanced ($s1 -> $s2)"
[ "$(status_key loop.paused)" = true ] || fail "paused flag"
ctl resume >/dev/null && sleep 0.2
s3=$(status_key loop.step)
[ "$s3" -gt "$s2" ] || fail "resumed loop did not advance"

# 3. Clients that connect and never send, or stall mid-line, hold nobody up.
$PY - "$sock" "$CTL" <<'PYEOF' || fail "a silent or stalled client held others up"
import socket, subprocess, sys, time
path, ctl = sys.argv[1:]
silent = socket.socket(socket.AF_UNIX); silent.connect(path)
half = socket.socket(socket.AF_UNIX); half.connect(path); half.send(b"stat")
worst = 0.0
for _ in range(20):
    t = time.monotonic()
    # A server held up by either client would never answer: the time-out
    # is a hang guard, not a speed limit.
    subprocess.run([ctl, "--socket", path, "status"], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)
    worst = max(worst, time.monotonic() - t)
half.send(b"us\n")
reply = half.makefile().readline()
assert reply.startswith("ok loop.step="), reply
print("with a silent and a stalled client: slowest of 20 status calls %.1f ms" % (worst * 1e3))
PYEOF

# 4. 64 concurrent clients, mixed valid and invalid lines, for 10 s.
slips0=$(status_key loop.slips)
"$BUILD/tests/bench_ctl" --socket "$sock" --clients 64 --seconds 10 >"$tmp/bench.json" ||
	fail "some requests were not answered as they should: $(cat "$tmp/bench.json")"
slips1=$(status_key loop.slips)
cat "$tmp/bench.json"
[ "$slips0" = "$slips1" ] || fail "the loop slipped while serving 64 clients ($slips0 -> $slips1)"
echo "slips during the 64-client load: $((slips1 - slips0)); overruns so far: $(status_key loop.overruns)"

# 5. Peers that may not use the socket.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	nobody "$CTL" --socket "$sock" status 2>"$tmp/e"
	[ $? -eq 2 ] || fail "nobody reached a 0660 socket"
	chmod 666 "$sock" # a mistake: the credential check still refuses
	nobody "$CTL" --socket "$sock" status 2>"$tmp/e"
	[ $? -eq 1 ] || fail "nobody was served: $(cat "$tmp/e")"
	grep -q EACCES "$tmp/e" || fail "refusal without EACCES: $(cat "$tmp/e")"
	chmod 660 "$sock"
	echo "a peer with another uid is refused"
elif [ "$(id -u)" != 0 ]; then
	skip_part "a refused peer: needs root to run ncpctl as another uid (running as uid $(id -u))"
else
	skip_part "a refused peer: setpriv (util-linux) is missing"
fi

# 6. SIGHUP: reloadable keys apply, others are reported.
sed -i 's/^  period: 1.0/  period: 2.0/; s/^seed: 0/seed: 5/' "$tmp/ncpd.yaml"
kill -HUP "$dpid"
wait_for 10 "the reload to be logged" grep -q "reload: task.period" "$tmp/d.err"
grep -q "reload: task.period: 1 -> 2" "$tmp/d.err" || fail "task.period not reloaded"
grep -q "seed changed (0 -> 5) but needs a restart" "$tmp/d.err" || fail "seed change not reported"
sleep 0.2
[ "$(status_key task.period)" = 2 ] || fail "the loop did not take the new period"
printf 'task:\n  period: [\n' >"$tmp/ncpd.yaml"
kill -HUP "$dpid"
sleep 0.5
grep -q "reload failed, keeping the configuration in use" "$tmp/d.err" || fail "a bad reload was not reported"
ctl status >/dev/null || fail "daemon unhappy after a bad reload"

# 7. SIGTERM: clean exit, nothing left behind.
kill -TERM "$dpid"
wait "$dpid"; rc=$?
dpid=""
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
[ -e "/dev/shm$name" ] && fail "segment left after SIGTERM"
[ -e "$sock" ] && fail "socket left after SIGTERM"
[ -e "$tmp/run/ncpd.pid" ] && fail "instance lock left after SIGTERM"
[ -e "$sock.lock" ] && fail "socket lock $sock.lock left after SIGTERM"

# 8. Detached: the starting process returns once the daemon runs; a second
#    instance is refused; `shutdown` stops it and cleans up.
"$NCPD" --set data_dir="$tmp/data" --set shm.name="$name" --set control.socket="$sock" 2>"$tmp/d2.err" ||
	fail "detached start failed: $(cat "$tmp/d2.err")"
ctl status >/dev/null || fail "detached daemon not answering"
"$NCPD" --set shm.name="$name" --set control.socket="$sock" 2>"$tmp/e"
[ $? -eq 1 ] || fail "a second instance was not refused"
grep -q "instance 'ncpd' is already running" "$tmp/e" || fail "second instance: $(cat "$tmp/e")"
pid=$(cat "$tmp/run/ncpd.pid")
ctl shutdown >/dev/null || fail "shutdown"
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 20 "the daemon to exit after shutdown" gone
[ -e "/dev/shm$name" ] || [ -e "$sock" ] || [ -e "$sock.lock" ] ||
	[ -e "$tmp/run/ncpd.pid" ] && fail "files left after shutdown: $(ls "$tmp/run")"
finish
