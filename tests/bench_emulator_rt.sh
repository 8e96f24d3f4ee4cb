#!/bin/sh
# make bench: the emulator in a real-time daemon.
#  1. emulator_realtime: an mlp-running model (the default architecture;
#     trained briefly here: latency does not depend on how well) predicting
#     every step for NCP_BENCH_EMU_SECONDS (60): latency from a step's
#     publication to its prediction, skipped steps, slips.
#  2. online_from_scratch: no model, online training on, 120 s
#     (NCP_BENCH_ONLINE_SECONDS): hand RMSE over the last 20 s, when the
#     1 s RMSE first fell under 5 cm, latency and skips with training on.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
secs=${NCP_BENCH_EMU_SECONDS:-60}
osecs=${NCP_BENCH_ONLINE_SECONDS:-120}
tmp=$(mktemp -d /tmp/ncpd-bench-emu.XXXXXX)
name="/ncpd-bench-emu-$$"
trap 'rm -rf "$tmp"; rm -f "/dev/shm$name"' EXIT
uniq="--set shm.name=$name --set control.socket=$tmp/ctl.sock --set data_dir=$tmp/data"

echo "bench_emulator_rt: a model to run (60 s recorded, 2 epochs)..." >&2
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq --free-run --duration 60 --set task.kind=random --record tr \
	>/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }
"$BUILD/ncp-train" --data "$tmp/data/tr" --out "$tmp/data/m.safetensors" \
	--epochs 2 --quiet >/dev/null 2>"$tmp/e" || { cat "$tmp/e" >&2; exit 1; }

report() { # BENCH-NAME SUMMARY
	$PY - "$1" "$2" <<'PYEOF'
import json, sys
name, path = sys.argv[1:]
d = json.load(open(path))
e, out = d["emulator"], {"bench": name}
out.update({"seconds": d["sim_seconds"], "arch": e["arch"],
            "latency_us": e["latency_us"], "predictions": e["predictions"],
            "skipped_steps": e["skipped_steps"],
            "skipped_percent": round(100.0 * e["skipped_steps"] / d["steps"], 4),
            "slips": d["slips"], "overruns": d["overruns"],
            "loop_jitter_us": d["jitter_us"], "hand_rmse": e["hand_rmse"],
            "hand_rmse_last_20s": e["hand_rmse_last_20s"],
            "first_under_0_05_s": e["first_under_0_05_s"]})
if "training" in d:
    out["training"] = d["training"]
print(json.dumps(out))
PYEOF
}

echo "bench_emulator_rt: ${secs} s in real time with the model..." >&2
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq --duration "$secs" --set task.kind=random --set task.seed=2 \
	--set emulator.model=m --summary json >"$tmp/a.json" 2>"$tmp/e" ||
	{ cat "$tmp/e" >&2; exit 1; }
report emulator_realtime "$tmp/a.json"

echo "bench_emulator_rt: ${osecs} s in real time, online training from no model..." >&2
# shellcheck disable=SC2086
"$BUILD/ncpd" $uniq --foreground --duration "$osecs" --set emulator.model=none \
	--set emulator.online=true --summary json >"$tmp/b.json" 2>"$tmp/e" ||
	{ cat "$tmp/e" >&2; exit 1; }
report online_from_scratch "$tmp/b.json"
