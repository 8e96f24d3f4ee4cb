#!/bin/sh
# make bench: a real-time soak of the daemon's resident memory.
#
# ncpd runs in real time for NCP_BENCH_SOAK_SECONDS (360) with online
# training from no model (the default config otherwise: rt.lock_memory on,
# emulator.replay 300 s), records the run for its first 5/6, and
# every NCP_BENCH_SOAK_EVERY (10) seconds gets 20 status requests and a
# monitor snapshot.  Each sample prints one JSON line (bench soak_rss):
# VmRSS, its anonymous and file parts and the locked total
# (/proc/PID/smaps_rollup), the replay buffer's steps, and the three
# mappings that grew most since the first sample.  The last line (bench
# soak) reports whether RSS was flat over the run's second half: the
# least-squares slope over it (MB/min), its change in MB (last sample
# minus the first of the half) and flat = that change under 1% of RSS.
# It asserts nothing about memory; it fails only when the daemon does, a
# request fails or the recording is incomplete.
#
# NCP_BENCH_SOAK_SET adds --set options (e.g. "emulator.replay=60").
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
secs=${NCP_BENCH_SOAK_SECONDS:-360}
every=${NCP_BENCH_SOAK_EVERY:-10}
tmp=$(mktemp -d /tmp/ncpd-bench-soak.XXXXXX)
name="/ncpd-bench-soak-$$"
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	rm -rf "$tmp"
	rm -f "/dev/shm$name"
}
trap cleanup EXIT
sets=""
for kv in ${NCP_BENCH_SOAK_SET:-}; do
	sets="$sets --set $kv"
done

echo "bench_soak: ${secs} s in real time, online training, recording, requests..." >&2
# shellcheck disable=SC2086
"$BUILD/ncpd" --foreground --duration "$secs" --set emulator.model=none \
	--set emulator.online=true --set instance="soak-$$" \
	--set shm.name="$name" --set control.socket="$tmp/ctl.sock" \
	--set data_dir="$tmp/data" $sets --summary json \
	>"$tmp/summary.json" 2>"$tmp/ncpd.err" &
dpid=$!
$PY - "$BUILD" "$dpid" "$tmp" "$name" "$secs" "$every" <<'PYEOF'
import json, os, re, subprocess, sys, time
build, pid, tmp, shm, secs, every = sys.argv[1:]
secs, every = float(secs), float(every)
sock = os.path.join(tmp, "ctl.sock")
ctl = [os.path.join(build, "ncpctl"), "--socket", sock]

def ctl_run(*args):
    return subprocess.run(ctl + list(args), capture_output=True, text=True)

def kb(path, keys):
    out = {}
    try:
        for line in open(path):
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    except OSError:
        pass
    return out

MAP = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")
def mappings():
    """Resident kB of each mapping, keyed by start address and name."""
    out, key = {}, None
    try:
        for line in open("/proc/%s/smaps" % pid):
            m = MAP.match(line)
            if m:
                key = (m.group(1), m.group(3) or "[anon]")
            elif line.startswith("Rss:") and key:
                out[key] = int(line.split()[1])
    except OSError:
        pass
    return out

t0 = time.monotonic()
while not os.path.exists(sock):
    if time.monotonic() - t0 > 30:
        sys.exit("bench_soak: no control socket after 30 s")
    time.sleep(0.1)
rec_secs = max(int(secs) * 5 // 6, 10)
r = ctl_run("record", "start", "soak", str(rec_secs))
if r.returncode:
    sys.exit("bench_soak: record start: " + r.stderr.strip())
samples, failed, base = [], 0, None
n = 0
while True:
    # Stop sampling a few seconds before the daemon's end.
    due = t0 + n * every
    if due > t0 + secs - 2:
        break
    time.sleep(max(0.0, due - time.monotonic()))
    n += 1
    replay = None
    for _ in range(20):
        r = ctl_run("--json", "status")
        if r.returncode:
            failed += 1
            continue
        try:
            d = json.loads(r.stdout)
            replay = d.get("status", d)["train"]["replay_steps"]
        except (ValueError, KeyError, TypeError):
            pass
    r = subprocess.run([os.path.join(build, "ncp-monitor"), "--shm", shm,
                        "--once", "--json"], capture_output=True)
    failed += r.returncode != 0
    st = kb("/proc/%s/status" % pid, ("VmRSS",))
    ro = kb("/proc/%s/smaps_rollup" % pid, ("Anonymous", "Rss", "Locked"))
    if "VmRSS" not in st:
        break
    maps = mappings()
    if base is None:
        base = maps
    grew = sorted(((v - base.get(k, 0), k) for k, v in maps.items()),
                  reverse=True)[:3]
    s = {"bench": "soak_rss", "t": round(time.monotonic() - t0, 1),
         "rss_mb": round(st["VmRSS"] / 1024, 1),
         "anon_mb": round(ro.get("Anonymous", 0) / 1024, 1),
         "file_mb": round((ro.get("Rss", 0) - ro.get("Anonymous", 0)) / 1024, 1),
         "locked_mb": round(ro.get("Locked", 0) / 1024, 1),
         "replay_steps": replay,
         "grew_mb": [[round(d / 1024, 1), "%s %s" % k] for d, k in grew if d > 0]}
    samples.append(s)
    print(json.dumps(s), flush=True)
half = [s for s in samples if s["t"] >= samples[-1]["t"] / 2] if samples else []
slope = change = None
if len(half) >= 2:
    xs = [s["t"] / 60 for s in half]
    ys = [s["rss_mb"] for s in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / \
        sum((x - mx) ** 2 for x in xs)
    change = ys[-1] - ys[0]
json.dump({"samples": len(samples), "failed_requests": failed,
           "recording_seconds": rec_secs,
           "rss_first_mb": samples[0]["rss_mb"] if samples else None,
           "rss_last_mb": samples[-1]["rss_mb"] if samples else None,
           "rss_max_mb": max(s["rss_mb"] for s in samples) if samples else None,
           "last_half_slope_mb_per_min": None if slope is None else round(slope, 3),
           "last_half_change_mb": None if change is None else round(change, 1),
           "flat": None if change is None else
               abs(change) < 0.01 * samples[-1]["rss_mb"]},
          open(os.path.join(tmp, "soak.json"), "w"))
PYEOF
pyrc=$?
wait "$dpid"
rc=$?
dpid=
if [ "$rc" -ne 0 ] || [ "$pyrc" -ne 0 ]; then
	echo "bench_soak: ncpd exited $rc, sampler $pyrc: $(cat "$tmp/ncpd.err")" >&2
	exit 1
fi
$PY - "$tmp" <<'PYEOF'
import json, os, sys
tmp = sys.argv[1]
s = json.load(open(os.path.join(tmp, "soak.json")))
d = json.load(open(os.path.join(tmp, "summary.json")))
meta = os.path.join(tmp, "data", "soak", "meta.json")
rec = json.load(open(meta)) if os.path.exists(meta) else None
out = {"bench": "soak", "seconds": d["sim_seconds"]}
out.update(s)
out.update({"slips": d["slips"], "overruns": d["overruns"],
            "loop_page_faults": d.get("page_faults"),
            "recording_complete": rec is not None,
            "training": d.get("training")})
print(json.dumps(out))
ok = rec is not None and s["failed_requests"] == 0
sys.exit(0 if ok else 1)
PYEOF
