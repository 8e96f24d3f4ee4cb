#!/bin/sh
# make bench: what ncp-web's page costs the real-time loop.  One ncpd run
# in real time; alternating segments with no page open and with the page
# open in headless Chromium (the browser runs throughout, on about:blank
# while closed); the loop's wake-up p99 of each segment and the medians'
# ratio, open / closed (tests/bench_web.py).  NCP_BENCH_WEB_SECONDS
# (segment length, default 10) and NCP_BENCH_WEB_PAIRS (default 3).
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
secs=${NCP_BENCH_WEB_SECONDS:-10}
pairs=${NCP_BENCH_WEB_PAIRS:-3}
rate=25
name="/ncpd-bench-web-$$"
tmp=$(mktemp -d)
dpid=""
wpid=""
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$tmp"
	rm -f "/dev/shm$name"
}
trap cleanup EXIT

if ! command -v chromium >/dev/null || ! $PY -c 'import aiohttp' 2>/dev/null; then
	echo "bench_web: chromium and python3-aiohttp are needed (make deps)" >&2
	exit 1
fi
total=$(awk -v s="$secs" -v p="$pairs" 'BEGIN { printf "%d", 2 * s * p + 60 }')
"$BUILD/ncpd" --set shm.name="$name" --set emulator.model=none --set control.socket="$tmp/ctl.sock" \
	--set data_dir="$tmp/data" --duration "$total" >"$tmp/ncpd.out" 2>"$tmp/ncpd.err" &
dpid=$!
i=0
until [ -e "/dev/shm$name" ]; do
	i=$((i + 1))
	[ $i -le 300 ] || { echo "bench_web: ncpd did not start: $(cat "$tmp/ncpd.err")" >&2; exit 1; }
	sleep 0.1
done
$PY client/web/ncp-web --shm "$name" --port 0 --rate "$rate" >"$tmp/web.out" 2>"$tmp/web.err" &
wpid=$!
i=0
until grep -q serving "$tmp/web.out"; do
	i=$((i + 1))
	[ $i -le 300 ] || { echo "bench_web: ncp-web did not start: $(cat "$tmp/web.err")" >&2; exit 1; }
	sleep 0.1
done
port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/$|\1|p' "$tmp/web.out")
echo "bench_web: ncpd in real time, ncp-web on port $port; $pairs pairs of $secs s segments" >&2
$PY tests/bench_web.py "http://127.0.0.1:$port/" "$name" "$secs" "$pairs" "$rate"
