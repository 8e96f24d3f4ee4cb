# Shared by the real-time benches that pair ncpd with cyclictest
# (tests/bench_stim_rt.sh, tests/bench_ncp_rt.sh), sourced after each sets
# TAG: a scratch directory and segment name of its own, cleanup on exit,
# and the steps they share.  Progress goes to stderr, the JSON line to
# stdout.
BUILD=${BUILD:-build}
PY=/usr/bin/python3
tmp=$(mktemp -d "/tmp/ncpd-bench-$TAG.XXXXXX")
name="/ncpd-bench-$TAG-$$"
trap 'rm -rf "$tmp"; rm -f "/dev/shm$name"' EXIT
uniq="--set shm.name=$name --set control.socket=$tmp/ctl.sock --set data_dir=$tmp/data"
say() { echo "bench_$TAG: $*" >&2; }
die() { say "$*"; exit 1; }
command -v cyclictest >/dev/null || die "cyclictest missing (apt-get install rt-tests)"

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

# cyclictest_run SECONDS: cyclictest as the loop runs (1 ms, SCHED_FIFO
# 80) for SECONDS into $tmp/ct.out, just before the daemon's run.
cyclictest_run() {
	say "cyclictest for $1 s..."
	cyclictest -m -p 80 -i 1000 -t 1 -D "$1" -q -h 20000 >"$tmp/ct.out" 2>"$tmp/ct.err" ||
		die "cyclictest failed: $(cat "$tmp/ct.err")"
}

# The Python lines that load cyclictest's figures (ct) and a summary (d),
# and the loop's fields every bench prints: prepend to a bench's script,
# run with $tmp/ct.out and the summary file as its first arguments.
BENCH_PY_HEAD='
import json, sys
sys.path.insert(0, "tests")
from cyclictest_hist import summary
ct, d = summary(sys.argv[1]), json.load(open(sys.argv[2]))
j = d["jitter_us"]
loop = {"slips": d["slips"], "overruns": d["overruns"], "sched": d["sched"],
        "loop_jitter_us": j, "cyclictest_us": ct,
        "ratio_p99": round(j["p99"] / ct["p99"], 3) if ct["p99"] else None}
'
