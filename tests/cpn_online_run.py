#!/usr/bin/python3
"""Online co-processor training on a lesioned arm, in a free run of ncpd
(docs/coprocessor.md, "Training from scratch on a short run").

ncpd runs random reaches (task seed 7, or --task-seed) healthy until --lesion-at seconds
(--pause-at stops it on that exact step), then gets `lesion pmc-m1 1` and,
unless --no-train, `ncp train on` (and `ncp load NAME` first with --load),
and runs to --duration.  Prints one JSON object: the mean and largest end
error of the reaches after the lesion, of the last 60 s, a curve of the
mean end error per --bin seconds, the co-processor's figures (L_healthy,
L_lesioned, L_restored over the last 60 s, recovery) and the training's.

The recovery of the last 60 s, as the co-processor's block computes it
(1 - (L - L_healthy) / (L_lesioned - L_healthy)) x 100, with L the mean
end error of the last 60 s of reaches (all of them, explored or not) and
L_lesioned from --l-lesioned: the ncp block's own needs reaches under the
lesion with the CPN off, which this protocol does not have.

usage: cpn_online_run.py [--duration S] [--lesion-at S] [--task-seed N] [--load NAME]
       [--no-train] [--bin S] [--l-lesioned M] [--build DIR] [--data DIR]
       [--set KEY=VALUE ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=95)
    ap.add_argument("--lesion-at", type=float, default=32)
    ap.add_argument("--task-seed", type=int, default=7)
    ap.add_argument("--load")
    ap.add_argument("--no-train", action="store_true")
    ap.add_argument("--bin", type=float, default=10)
    ap.add_argument("--l-lesioned", type=float,
                    help="L_lesioned (m) for the recovery of the last 60 s, e.g. "
                    "the mean end error after the lesion of a --no-train run")
    ap.add_argument("--build", default="build")
    ap.add_argument("--data", help="data_dir (for --load)")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ncpd-cpnrun.")
    sock = os.path.join(tmp, "ctl.sock")
    name = "/ncpd-cpnrun-%d" % os.getpid()
    data = a.data or os.path.join(tmp, "data")
    os.makedirs(data, exist_ok=True)
    args = [os.path.join(a.build, "ncpd"), "--free-run", "--duration",
            str(a.duration), "--pause-at", str(a.lesion_at), "--summary", "json",
            "--set", "shm.name=" + name, "--set", "control.socket=" + sock,
            "--set", "data_dir=" + data, "--set", "task.kind=random",
            "--set", "task.seed=%d" % a.task_seed, "--set", "emulator.model=none",
            "--set", "ncp.model=none"]
    for s in a.set:
        args += ["--set", s]
    out = open(os.path.join(tmp, "summary.json"), "w+")
    err = open(os.path.join(tmp, "d.err"), "w+")
    t0 = time.time()
    d = subprocess.Popen(args, stdout=out, stderr=err)
    try:
        run(a, d, sock, out, err, t0)
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        subprocess.run(["rm", "-rf", tmp, "/dev/shm" + name])


def run(a, d, sock, out, err, t0):

    def ctl(*cmd, check=True):
        r = subprocess.run([os.path.join(a.build, "ncpctl"), "--socket", sock,
                            "--json"] + list(cmd), capture_output=True, text=True)
        if check and r.returncode:
            sys.exit("ncpctl %s: %s" % (" ".join(cmd), r.stderr.strip()))
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None

    want = round(a.lesion_at / 1e-3)
    while True:
        if d.poll() is not None:
            err.seek(0)
            sys.exit("ncpd exited before the lesion: " + err.read()[-500:])
        s = ctl("status", check=False)
        if s and s["loop"].get("paused") and s["loop"]["step"] == want:
            break
        time.sleep(0.02)
    ctl("lesion", "pmc-m1", "1")
    if a.load:
        ctl("ncp", "load", a.load)
    if not a.no_train:
        ctl("ncp", "train", "on")
    ctl("resume")
    if d.wait():
        err.seek(0)
        sys.exit("ncpd failed: " + err.read()[-500:])
    out.seek(0)
    s = json.load(out)
    period = 1.0
    e = [r["end_error"] for r in s["reaches"]]
    first = int(round(a.lesion_at / period))
    after = e[first:]
    last = e[max(first, len(e) - int(round(60 / period))):]
    nb = int(round(a.bin / period))
    curve = [round(sum(after[i:i + nb]) / len(after[i:i + nb]), 4)
             for i in range(0, len(after), nb)]
    n, t = s["ncp"], s["ncp_training"]
    print(json.dumps({
        "duration": a.duration, "lesion_at": a.lesion_at, "train": not a.no_train,
        "load": a.load, "sets": a.set,
        "after_lesion": {"reaches": len(after), "mean_end_error": sum(after) / len(after),
                         "max_end_error": max(after)},
        "last_60s": {"reaches": len(last), "mean_end_error": sum(last) / len(last),
                     "recovery_pct": (1 - (sum(last) / len(last) - n["l_healthy"]) /
                                      (a.l_lesioned - n["l_healthy"])) * 100
                     if a.l_lesioned and n["l_healthy"] is not None else None},
        "curve_per_%gs" % a.bin: curve,
        "ncp": {k: n[k] for k in ("l_healthy", "l_lesioned", "l_restored",
                                  "recovery", "reaches")},
        "training": {k: t[k] for k in ("rounds", "cpn_epochs", "en_trainings", "offers",
                                       "rollbacks", "last_rollback", "task_loss",
                                       "en_loss")},
        "wall_s": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()
