#!/bin/sh
# make bench: checks the pairing the real-time benches use
# (tests/bench_rt_lib.sh: the loop pinned to NCP_BENCH_LOOP_CPU, cyclictest
# on NCP_BENCH_CT_CPU over the same interval).  NCP_BENCH_PAIR_ROUNDS (3)
# rounds of three runs of NCP_BENCH_PAIR_SECONDS (20) each, one after the
# other:
#   1. cyclictest on the loop's CPU and on its own CPU at the same time,
#      no daemon: are the two CPUs' wake-up latencies comparable?
#   2. the loop alone (a bare loop, no emulator model), pinned;
#   3. the same with cyclictest alongside on its CPU: does cyclictest
#      change the loop's wake-up p99?
# One JSON line per round (rt_pairing_round), then the medians over the
# rounds and their ratios (rt_pairing).
set -u
TAG=pair
. tests/bench_rt_lib.sh
rounds=${NCP_BENCH_PAIR_ROUNDS:-3}
secs=${NCP_BENCH_PAIR_SECONDS:-20}
if [ "$NCP_BENCH_LOOP_CPU" -lt 0 ] || [ "$NCP_BENCH_CT_CPU" -lt 0 ]; then
	die "needs two CPUs to compare (NCP_BENCH_LOOP_CPU, NCP_BENCH_CT_CPU)"
fi

: >"$tmp/rounds.jsonl"
i=1
while [ "$i" -le "$rounds" ]; do
	say "round $i/$rounds: cyclictest on CPUs $NCP_BENCH_LOOP_CPU and $NCP_BENCH_CT_CPU, $secs s..."
	la0=$(cut -d" " -f1 /proc/loadavg)
	# shellcheck disable=SC2086
	cyclictest $ct_base -D "$secs" -a "$NCP_BENCH_LOOP_CPU" >"$tmp/c0.out" 2>"$tmp/ct.err" &
	c0=$!
	# shellcheck disable=SC2086
	cyclictest $ct_base -D "$secs" -a "$NCP_BENCH_CT_CPU" >"$tmp/c1.out" 2>>"$tmp/ct.err" ||
		die "cyclictest failed: $(cat "$tmp/ct.err")"
	wait "$c0" || die "cyclictest failed: $(cat "$tmp/ct.err")"
	say "round $i/$rounds: the loop alone, $secs s..."
	alone=1 daemon_start "$tmp/alone.json" --set emulator.model=none --duration "$secs"
	alone=1 daemon_wait
	say "round $i/$rounds: the loop with cyclictest alongside, $secs s..."
	daemon_start "$tmp/paired.json" --set emulator.model=none --duration "$secs"
	daemon_wait
	$PY -c "$BENCH_PY_HEAD"'
c0, c1, alone, la0, i = summary(sys.argv[3]), summary(sys.argv[4]), json.load(open(sys.argv[5])), sys.argv[6], sys.argv[7]
run = loop["cyclictest_run"]
print(json.dumps({"bench": "rt_pairing_round", "round": int(i), "seconds": d["sim_seconds"],
    "cyclictest_both_cpus_p99_us": {"loop_cpu": c0["p99"], "ct_cpu": c1["p99"]},
    "cyclictest_both_cpus_p50_us": {"loop_cpu": c0["p50"], "ct_cpu": c1["p50"]},
    "loop_alone_us": alone["jitter_us"], "loop_paired_us": j, "cyclictest_paired_us": ct,
    "ratio_p99": loop["ratio_p99"], "cyclictest_run": run,
    "load_avg_round_start_1min": float(la0)}))
' "$tmp/ct.out" "$tmp/paired.json" "$tmp/c0.out" "$tmp/c1.out" "$tmp/alone.json" "$la0" "$i" |
		tee -a "$tmp/rounds.jsonl"
	i=$((i + 1))
done

$PY - "$tmp/rounds.jsonl" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(f):
    return statistics.median(f(r) for r in rows)
c0 = med(lambda r: r["cyclictest_both_cpus_p99_us"]["loop_cpu"])
c1 = med(lambda r: r["cyclictest_both_cpus_p99_us"]["ct_cpu"])
la, lp = med(lambda r: r["loop_alone_us"]["p99"]), med(lambda r: r["loop_paired_us"]["p99"])
print(json.dumps({"bench": "rt_pairing", "rounds": len(rows),
    "cyclictest_p99_us": {"loop_cpu": c0, "ct_cpu": c1},
    "ratio_ct_cpu_to_loop_cpu_p99": round(c1 / c0, 3) if c0 else None,
    "loop_p99_us": {"alone": la, "with_cyclictest": lp},
    "ratio_loop_with_to_alone_p99": round(lp / la, 3) if la else None,
    "ratio_p99": med(lambda r: r["ratio_p99"]),
    "load_avg_1min": [r["load_avg_round_start_1min"] for r in rows]}))
PYEOF
