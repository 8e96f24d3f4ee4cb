# Shared by the real-time benches that pair ncpd with cyclictest
# (tests/bench_rt.sh, bench_stim_rt.sh, bench_ncp_rt.sh,
# bench_emulator_rt.sh), sourced after each sets TAG: a scratch directory
# and segment name of its own, cleanup on exit, and the steps they share.
# Progress goes to stderr, the JSON lines to stdout.
#
# The pairing: cyclictest runs *while* the daemon's loop runs, over the
# same interval (started once the daemon's control socket is up, which is
# just before the loop starts, and stopped when the daemon exits), on its
# own CPU: the loop is pinned to NCP_BENCH_LOOP_CPU (0, rt.cpu) and
# cyclictest to NCP_BENCH_CT_CPU (1, -a) at the loop's priority (1 ms,
# SCHED_FIFO 80, -m), so neither delays the other's wake-ups.  The
# daemon's other threads are not pinned (its emulator and co-processor
# threads keep off the loop's CPU).  -1 for both: neither is pinned (the
# default on a machine with a single CPU).  tests/bench_rt_pairing.sh
# checks the scheme (docs/tuning.md).
# shellcheck shell=sh disable=SC2034  # PY, BENCH_PY_HEAD: for the benches
BUILD=${BUILD:-build}
PY=/usr/bin/python3
tmp=$(mktemp -d "/tmp/ncpd-bench-$TAG.XXXXXX")
name="/ncpd-bench-$TAG-$$"
dpid="" ctpid=""
cleanup() {
	for p in $dpid $ctpid; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
	rm -f "/dev/shm$name"
}
trap cleanup EXIT
uniq="--set shm.name=$name --set control.socket=$tmp/ctl.sock --set data_dir=$tmp/data"
say() { echo "bench_$TAG: $*" >&2; }
die() { say "$*"; exit 1; }
command -v cyclictest >/dev/null || die "cyclictest missing (apt-get install rt-tests)"

if [ "$(nproc)" -ge 2 ]; then
	NCP_BENCH_LOOP_CPU=${NCP_BENCH_LOOP_CPU:-0}
	NCP_BENCH_CT_CPU=${NCP_BENCH_CT_CPU:-1}
else
	NCP_BENCH_LOOP_CPU=${NCP_BENCH_LOOP_CPU:--1}
	NCP_BENCH_CT_CPU=${NCP_BENCH_CT_CPU:--1}
fi
# cyclictest as the loop runs: 1 ms, SCHED_FIFO 80, mlockall, histogram
ct_base="-m -p 80 -i 1000 -t 1 -q -h 20000"
NCP_BENCH_CT_OPTS=$ct_base
[ "$NCP_BENCH_CT_CPU" -lt 0 ] || NCP_BENCH_CT_OPTS="$NCP_BENCH_CT_OPTS -a $NCP_BENCH_CT_CPU"
export NCP_BENCH_LOOP_CPU NCP_BENCH_CT_CPU NCP_BENCH_CT_OPTS
# ncpd's arguments for the loop's CPU
pin="--set rt.cpu=$NCP_BENCH_LOOP_CPU"

# emulator_model [NCPD ARGS...]: data_dir/m.safetensors, an emulator
# trained briefly on 30 s of free run with those arguments (latency does
# not depend on how well it predicts).
emulator_model() {
	say "a model to run (30 s recorded, 2 epochs)..."
	# shellcheck disable=SC2086
	"$BUILD/ncpd" $uniq "$@" --free-run --duration 30 --set task.kind=random \
		--record tr >/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }
	"$BUILD/ncp-train" --data "$tmp/data/tr" --out "$tmp/data/m.safetensors" \
		--epochs 2 --quiet >/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }
}

# daemon_start SUMMARY NCPD-ARGS...: ncpd in real time in the background
# (pid in $dpid, its --summary json into SUMMARY, stderr into $tmp/e), the
# loop pinned, NCP_BENCH_NCPD_ARGS (say `--set ncp.cpu=1`) after the
# bench's own arguments, and cyclictest started alongside once the control
# socket is up (into $tmp/ct.out; not with alone=1).  daemon_wait ends
# both.
daemon_start() {
	ds_out=$1
	shift
	rm -f "$tmp/ctl.sock" "$tmp/ct.out"
	NCP_BENCH_LOAD_START=$(cut -d" " -f1 /proc/loadavg)
	export NCP_BENCH_LOAD_START
	# shellcheck disable=SC2086
	"$BUILD/ncpd" $uniq $pin --summary json "$@" ${NCP_BENCH_NCPD_ARGS:-} \
		>"$ds_out" 2>"$tmp/e" &
	dpid=$!
	ds_i=0
	while [ ! -S "$tmp/ctl.sock" ] && kill -0 "$dpid" 2>/dev/null; do
		ds_i=$((ds_i + 1))
		[ "$ds_i" -lt 2400 ] || { kill "$dpid"; die "no control socket after 120 s"; }
		sleep 0.05
	done
	[ "${alone:-0}" = 1 ] && return 0
	# shellcheck disable=SC2086
	cyclictest $NCP_BENCH_CT_OPTS >"$tmp/ct.out" 2>"$tmp/ct.err" &
	ctpid=$!
}

# daemon_wait: waits for the daemon started by daemon_start, then stops
# cyclictest (SIGTERM: it prints its histogram and exits 0; a background
# job of sh ignores SIGINT).
daemon_wait() {
	dstatus=0
	wait "$dpid" || dstatus=$?
	dpid=""
	ctstatus=0
	if [ -n "$ctpid" ]; then
		kill -TERM "$ctpid" 2>/dev/null
		wait "$ctpid" || ctstatus=$?
		ctpid=""
	fi
	[ "$dstatus" = 0 ] || { cat "$tmp/e" >&2; die "ncpd failed (exit $dstatus)"; }
	[ "${alone:-0}" = 1 ] && return 0
	if [ "$ctstatus" != 0 ] || ! grep -q '^# Max Latencies' "$tmp/ct.out"; then
		die "cyclictest failed (exit $ctstatus): $(cat "$tmp/ct.err")"
	fi
}

# The Python lines that load cyclictest's figures (ct) and a summary (d),
# and the loop's fields every bench prints: prepend to a bench's script,
# run with $tmp/ct.out and the summary file as its first arguments.
BENCH_PY_HEAD='
import json, sys
sys.path.insert(0, "tests")
from cyclictest_hist import summary, pairing
ct, d = summary(sys.argv[1]), json.load(open(sys.argv[2]))
j = d["jitter_us"]
loop = {"slips": d["slips"], "overruns": d["overruns"], "sched": d["sched"],
        "loop_jitter_us": j, "cyclictest_us": ct, "cyclictest_run": pairing(),
        "ratio_p99": round(j["p99"] / ct["p99"], 3) if ct["p99"] else None}
'
