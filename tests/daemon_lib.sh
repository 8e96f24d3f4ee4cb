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
# Wait until the daemon answers on its socket.
wait_up() {
	for _ in $(seq 200); do
		ctl status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	fail "the daemon did not come up"
}
# key SECTION KEY: one value of `status --json`.
key() {
	ctl --json status | $PY -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]][sys.argv[2]])' "$1" "$2"
}
