#!/bin/sh
# make run: ncpd in real time on the default configuration, with its
# emulator predicting the arm.  The first time, there is no trained
# emulator yet: 5 simulated minutes of the random task are recorded in
# free-run and ncp-train trains the default model on them (progress shown),
# into data/emulator.safetensors.  On a terminal ncp-monitor shows the real
# and the predicted arm, and the daemon stops when the monitor quits (q);
# without a terminal, a 10 s real-time run prints its summary.
BUILD=${BUILD:-build}
NCPD=$BUILD/ncpd
data=data # data_dir of config/ncpd.yaml
model="$data/emulator.safetensors"
log=$BUILD/ncpd-run.log

if [ ! -f "$model" ]; then
	rec="$data/make-run-train"
	echo "No trained emulator yet ($model): recording 5 simulated minutes"
	echo "of the random task in free-run, then training it with ncp-train."
	rm -rf "$rec"
	"$NCPD" --free-run --duration 300 --set task.kind=random --set task.seed=1 \
		--set shm.name=/ncpd-make-run-rec-$$ --set control.socket=/tmp/ncpd-make-run-$$.sock \
		--record make-run-train 2>"$log" ||
		{ cat "$log" >&2; exit 1; }
	"$BUILD/ncp-train" --data "$rec" --out "$model" || exit 1
	echo "emulator trained: $model"
fi

if [ -t 0 ] && [ -t 1 ] && [ -x "$BUILD/ncp-monitor" ]; then
	"$NCPD" --foreground --set emulator.model=emulator 2>"$log" &
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
	echo "no terminal: a 10 s real-time run of ncpd with its emulator, then its summary" >&2
	"$NCPD" --duration 10 --set emulator.model=emulator --summary json
fi
