# Shared by the integration scripts (tests/it_*.sh), sourced after each
# sets TAG: a scratch directory, a daemon of its own (segment, socket and
# data directory unique to the run), cleanup on exit, and helpers.
#
#   TAG=record; . tests/daemon_lib.sh
#   "$NCPD" $uniq --foreground 2>"$tmp/d.err" & dpid=$!; wait_up
BUILD=${BUILD:-build}
PY=/usr/bin/python3
NCPD=$(pwd)/$BUILD/ncpd
CTL=$(pwd)/$BUILD/ncpctl
tmp=$(mktemp -d "/tmp/ncpd-it-$TAG.XXXXXX")
chmod 755 "$tmp"
name="/ncpd-it-$TAG-$$"
sock="$tmp/ctl.sock"
uniq="--set shm.name=$name --set control.socket=$sock --set data_dir=$tmp/data"
dpid=""
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$tmp"
	rm -f "/dev/shm$name"
}
trap cleanup EXIT
# fail MESSAGE: report (with the daemon's last log lines) and exit 1.
fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/d.err" ] && tail -5 "$tmp/d.err" >&2
	exit 1
}
ctl() { "$CTL" --socket "$sock" "$@"; }
# wait_for SECONDS WHAT COMMAND...: run COMMAND every 0.05 s until it
# succeeds; after SECONDS fail with "timed out after SECONDS s waiting for
# WHAT".  Stops early if the daemon ($dpid, when set) has exited.
wait_for() {
	_wf_s=$1
	_wf_end=$(($(date +%s) + $1))
	_wf_what=$2
	shift 2
	until "$@"; do
		[ -z "$dpid" ] || kill -0 "$dpid" 2>/dev/null ||
			fail "the daemon exited while waiting for $_wf_what"
		[ "$(date +%s)" -lt "$_wf_end" ] ||
			fail "timed out after $_wf_s s waiting for $_wf_what"
		sleep 0.05
	done
}
answers() { ctl status >/dev/null 2>&1; }
# Wait until the daemon answers on its socket.
wait_up() { wait_for 60 "the daemon to answer on $sock" answers; }
# skip_part REASON: a part of the script cannot run here; it goes on, and
# finish then reports the script as skipped (exit 77, the reason on the
# last line) rather than passed.
skipped=""
skip_part() {
	echo "SKIP: $*"
	skipped="${skipped:+$skipped; }$*"
}
# finish: the script's last line.
finish() {
	if [ -n "$skipped" ]; then
		echo "SKIP: $skipped"
		exit 77
	fi
	echo ok
}
# key SECTION KEY: one value of `status --json`.
key() {
	ctl --json status | $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]][sys.argv[2]])' "$1" "$2"
}
