#!/bin/sh
# make bench: the whole process of a 16 s free run (ncpd --free-run
# --duration 16 --summary json), timed from outside: with a cold decoder
# cache (an empty directory: every decoder solved and stored), a warm one
# (every decoder found) and none (cache.enable=false), interleaved, the
# median of NCP_BENCH_STARTUP_RUNS (5) each.  The reference in the same
# bench is `ncpd --version` (exec and dynamic loading alone); ratios are
# against the cache-off run.  One JSON line per case.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
runs=${NCP_BENCH_STARTUP_RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" /tmp/ncpd-bench-startup-$$' EXIT

echo "bench_startup: $runs x (cold, warm, off, --version)..." >&2
$PY - "$BUILD/ncpd" "$tmp" "$runs" "$$" <<'PYEOF'
import json, os, shutil, statistics, subprocess, sys, time
ncpd, tmp, runs, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = [ncpd, "--set", "instance=bench-startup-%s" % pid,
        "--set", "shm.name=/ncpd-bench-startup-%s" % pid,
        "--set", "control.socket=/tmp/ncpd-bench-startup-%s/s.sock" % pid,
        "--set", "data_dir=%s/data" % tmp, "--set", "log.level=warning"]
run16 = ["--free-run", "--duration", "16", "--summary", "json"]
cache = os.path.join(tmp, "cache")

def timed(args):
    t0 = time.perf_counter()
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode:
        sys.exit("bench_startup: %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return dt, (json.loads(p.stdout) if p.stdout.strip().startswith(b"{") else None)

res = {k: [] for k in ("cold", "warm", "off", "version")}
for _ in range(runs):
    shutil.rmtree(cache, ignore_errors=True)
    res["cold"].append(timed(base + ["--set", "cache.dir=" + cache] + run16))
    res["warm"].append(timed(base + ["--set", "cache.dir=" + cache] + run16))
    res["off"].append(timed(base + ["--set", "cache.enable=false"] + run16))
    res["version"].append(timed([ncpd, "--version"]))
for k, rs in res.items():
    if k != "version":
        b = [s["build"] for _, s in rs]
        want = (lambda x: x["cache_hits"] == 0 and x["cache_stored"] > 0) if k == "cold" else \
               (lambda x: x["cache_misses"] == 0 and x["cache_hits"] > 0) if k == "warm" else \
               (lambda x: x["cache_dir"] is None)
        if not all(want(x) for x in b):
            sys.exit("bench_startup: the %s runs did not use the cache as meant: %s" % (k, b))

med = lambda xs: statistics.median(xs)
off = med([t for t, _ in res["off"]])
ver = med([t for t, _ in res["version"]])
for k in ("cold", "warm", "off"):
    ts = [t for t, _ in res[k]]
    out = {"bench": "startup_" + k, "process_s": round(med(ts), 4),
           "process_s_min": round(min(ts), 4), "process_s_max": round(max(ts), 4),
           "build_s": round(med([s["build"]["seconds"] for _, s in res[k]]), 4),
           "wall_seconds": round(med([s["wall_seconds"] for _, s in res[k]]), 4),
           # the rest: exec, loading, set-up, threads, exit
           "other_s": round(med([t - s["build"]["seconds"] - s["wall_seconds"]
                                 for t, s in res[k]]), 4),
           "sim_seconds": 16, "runs": runs,
           "vs_cache_off": round(med(ts) / off, 3),
           "version_process_s": round(ver, 4)}
    print(json.dumps(out))
PYEOF
