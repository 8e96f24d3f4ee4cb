#!/bin/sh
# make run: ncpd in real time on the default configuration, with its
# emulator predicting the arm.  The first time, there is no trained
# emulator yet: 5 simulated minutes of the random task are recorded in
# free-run and ncp-train trains the default model on them (progress shown),
# into data/emulator.safetensors.  With FROM_SCRATCH=1 there is no model at
# all and the emulator learns online while the loop runs.  On a terminal
# ncp-monitor shows the real and the predicted arm, and the daemon stops
# when the monitor quits (q); without a terminal, a real-time run prints
# its summary (10 s; 60 s from scratch).
BUILD=${BUILD:-build}
NCPD=$BUILD/ncpd
data=data # data_dir of config/ncpd.yaml
model="$data/emulator.safetensors"
log=$BUILD/ncpd-run.log

emu="--set emulator.model=emulator"
secs=10
if [ -n "${FROM_SCRATCH:-}" ]; then
	echo "No model: the emulator learns online from the first seconds on."
	emu="--set emulator.model=none --set emulator.online=true"
	secs=60
elif [ ! -f "$model" ]; then
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
	# shellcheck disable=SC2086
	"$NCPD" --foreground $emu 2>"$log" &
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
	echo "no terminal: a ${secs} s real-time run of ncpd with its emulator, then its summary" >&2
	# shellcheck disable=SC2086
	"$NCPD" --duration "$secs" $emu --summary json
fi
