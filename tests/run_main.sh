#!/bin/sh
# make run: ncpd in real time on the default configuration.  On a terminal
# ncp-monitor shows it and the daemon stops when the monitor quits (q);
# without a terminal, a 10 s real-time run prints its summary.
BUILD=${BUILD:-build}
NCPD=$BUILD/ncpd
log=$BUILD/ncpd-run.log

if [ -t 0 ] && [ -t 1 ] && [ -x "$BUILD/ncp-monitor" ]; then
	"$NCPD" --foreground 2>"$log" &
	pid=$!
	# Show the monitor only once the daemon is up (or say why it is not).
	for _ in $(seq 100); do
		grep -q 'running' "$log" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$pid" 2>/dev/null; then
		cat "$log" >&2
		exit 1
	fi
	"$BUILD/ncp-monitor"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	echo "ncpd stopped; its log is $log"
else
	echo "no terminal: a 10 s real-time run of ncpd, then its summary" >&2
	"$NCPD" --duration 10 --summary json
fi
