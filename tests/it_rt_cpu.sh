#!/bin/sh
# With the loop pinned (rt.cpu) the real-time threads that follow it, the
# emulator's and the co-processor's, keep off its CPU when they are not
# pinned themselves (emulator.cpu, ncp.cpu -1), and stay where they are
# put when they are.  Reads each thread's allowed CPUs from
# /proc/PID/task/TID/status.  Needs SCHED_FIFO (root) and two CPUs.
set -u
TAG=rtcpu
. tests/daemon_lib.sh

if [ "$(nproc)" -lt 2 ]; then
	echo "SKIP: one CPU: no other CPU to keep off the loop's"
	exit 77
fi

# allowed NAME: the allowed CPUs of the daemon's thread NAME (a list as
# the kernel writes it, e.g. 1 or 0-1).
allowed() {
	for t in /proc/"$dpid"/task/*; do
		[ "$(cat "$t/comm")" = "$1" ] || continue
		sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$t/status"
		return 0
	done
	fail "no thread $1 in the daemon"
}
# has LIST CPU: true when the kernel's CPU list holds CPU.
has() {
	$PY -c '
import sys
cpus = set()
for part in sys.argv[1].split(","):
    lo, _, hi = part.partition("-")
    cpus.update(range(int(lo), int(hi or lo) + 1))
sys.exit(0 if int(sys.argv[2]) in cpus else 1)' "$1" "$2"
}
# run ARGS...: a daemon in real time with ARGS, up and its threads named.
run() {
	# shellcheck disable=SC2086
	"$NCPD" $uniq --foreground --set emulator.model=none "$@" 2>"$tmp/d.err" &
	dpid=$!
	wait_up
	if ! grep -q "^Cpus_allowed_list" /proc/"$dpid"/status; then
		echo "SKIP: no Cpus_allowed_list in /proc here"
		exit 77
	fi
	if grep -q "SCHED_FIFO priority [0-9]* refused" "$tmp/d.err"; then
		echo "SKIP: SCHED_FIFO refused here (not root): the threads run with the normal policy"
		exit 77
	fi
}
stop() {
	kill "$dpid"
	wait "$dpid" 2>/dev/null
	dpid=""
}

run --set rt.cpu=1
loop=$(allowed ncp-loop) emu=$(allowed ncp-emu) cpn=$(allowed ncp-cpn)
[ "$loop" = 1 ] || fail "the loop allowed on CPUs $loop, not 1 (rt.cpu 1)"
has "$emu" 1 && fail "the emulator thread allowed on the loop's CPU 1 ($emu)"
has "$cpn" 1 && fail "the co-processor thread allowed on the loop's CPU 1 ($cpn)"
has "$emu" 0 || fail "the emulator thread not allowed on CPU 0 ($emu)"
stop

run --set rt.cpu=0 --set emulator.cpu=0 --set ncp.cpu=0
emu=$(allowed ncp-emu) cpn=$(allowed ncp-cpn)
[ "$emu" = 0 ] || fail "the emulator thread allowed on CPUs $emu, not 0 (emulator.cpu 0)"
[ "$cpn" = 0 ] || fail "the co-processor thread allowed on CPUs $cpn, not 0 (ncp.cpu 0)"
stop

run
emu=$(allowed ncp-emu) loop=$(allowed ncp-loop)
[ "$emu" = "$loop" ] ||
	fail "no rt.cpu: the emulator thread allowed on CPUs $emu, the loop on $loop"
stop
finish
