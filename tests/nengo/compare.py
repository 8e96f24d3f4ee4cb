"""ncpd's REACH models against Nengo's: run both, print the tables, draw the
figures (docs/reach-nengo.md).

    /usr/bin/python3 tests/nengo/compare.py --nengo-src NENGO --reach REACH \
        [--ncpd build/ncpd] [--out DIR] [--seeds 1,2,3,4,5] [--jobs 2] \
        [--models a01,...,arm3,arm3line,arm3steps,arm3joint] \
        [--img docs/img] [--markdown FILE]

NENGO is Nengo's source tree (the directory holding the nengo package), REACH
REACH-paper's model_code directory.  Each run's result is kept in DIR
(default /tmp/reach-nengo) as JSON and reused by the next invocation (--force
runs everything again).  Every process runs under nice -n 10.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# Each model: the Nengo model name (tests/nengo/reach_nengo.py), the
# simulated seconds, and ncpd's configuration of the same model (None when
# ncpd has no such task or control yet).  The keys ncpd cannot set (S1, M1
# and CB scaling) are listed in docs/reach-nengo.md.
MODELS = {
    "a01": dict(
        title="a01: OSC, target steps (0,1) <-> (0,1.5) every 1 s",
        nengo="a01", duration=4.0,
        ncpd=["task.kind=steps", "task.line=0,1,0,1.5", "task.centre=0,1",
              "task.period=1", "reach.kp=50", "reach.error_neurons=500"],
        needs_value=("task.kind", "steps")),
    "a01line": dict(
        title="a01 with REACH's PMC tracing the line (speed 2)",
        nengo="a01line", duration=4.5,
        ncpd=["task.kind=line", "task.line=0,1,0,1.5", "task.centre=0,1",
              "task.period=2.25", "reach.kp=50", "reach.error_neurons=500"]),
    "a02r50": dict(
        title="a02 as REACH has it: OSC, PMC circle r 0.5 (speed 1)",
        nengo="a02", duration=9.0,
        # the circle's left side needs the shoulder past S1's range: ncpd
        # takes it with reach.workspace arm (the hand stops short there)
        ncpd=["task.kind=circle", "task.radius=0.5", "task.centre=0,1.25",
              "task.period=4.5", "reach.kp=200", "reach.error_neurons=1000",
              "reach.workspace=arm"],
        needs="reach.workspace"),
    "a02": dict(
        title="a02: OSC, PMC circle r 0.45 (speed 1)",
        nengo="a02", duration=9.0, nengo_args=["--circle-radius", "0.45"],
        ncpd=["task.kind=circle", "task.radius=0.45", "task.centre=0,1.25",
              "task.period=4.5", "reach.kp=200", "reach.error_neurons=1000"]),
    "a03": dict(
        title="a03: joint-space control, PMC line in joint space (speed 2)",
        nengo="a03", duration=4.5,
        ncpd=["task.kind=line", "task.line=0,1,0,1.5", "task.centre=0,1",
              "task.period=2.25", "reach.kp=100", "reach.error_neurons=1000",
              "reach.control=joint"],
        needs="reach.control"),
    "a05": dict(
        title="a05: OSC, centre-out, force field, adaptive CB (40 reaches)",
        nengo="a05", duration=80.0,
        ncpd=["task.kind=centre-out", "task.period=2", "task.radius=0.25",
              "task.targets=8", "task.centre=0,1.25", "reach.kp=50",
              "reach.error_neurons=1000", "field.on=true", "field.kind=joint",
              "field.strength=0.4", "reach.adapt=true",
              "reach.adapt_rate=0.0001"]),
    # ncpd's three-link arm: REACH has no script for it (its a06 drives
    # another arm), so the Nengo side is REACH's circuits built as ncpd
    # builds them for arm.links 3 (reach_nengo.py): its cells go in the
    # "ncpd's scaling" column.
    "arm3": dict(
        title="three-link arm: OSC, centre-out (8 targets, 0.1 m, 1 s)",
        nengo="arm3", duration=16.0, ncpd_network=True,
        ncpd=["arm.links=3", "task.kind=centre-out", "task.centre=0,0.45",
              "task.radius=0.1", "task.targets=8", "task.period=1",
              "reach.kp=50", "reach.error_neurons=500"]),
    "arm3line": dict(
        title="three-link arm: OSC, PMC line (0,0.4) to (0,0.5) (speed 2)",
        nengo="arm3line", duration=4.5, ncpd_network=True,
        ncpd=["arm.links=3", "task.kind=line", "task.line=0,0.4,0,0.5",
              "task.centre=0,0.4", "task.period=2.25", "reach.kp=50",
              "reach.error_neurons=500"]),
    "arm3steps": dict(
        title="three-link arm: OSC, target steps (0,0.4) <-> (0,0.5), 1 s",
        nengo="arm3steps", duration=4.0, ncpd_network=True,
        ncpd=["arm.links=3", "task.kind=steps", "task.line=0,0.4,0,0.5",
              "task.centre=0,0.4", "task.period=1", "reach.kp=50",
              "reach.error_neurons=500"],
        needs_value=("task.kind", "steps")),
    "arm3joint": dict(
        title="three-link arm: joint space, centre-out (8 targets, 0.1 m)",
        nengo="arm3joint", duration=16.0, ncpd_network=True,
        ncpd=["arm.links=3", "reach.control=joint", "task.kind=centre-out",
              "task.centre=0,0.45", "task.radius=0.1", "task.targets=8",
              "task.period=1", "reach.kp=50", "reach.error_neurons=500"]),
}

# The adaptation curves: a05 with the field on (adapting or not) and off.
ADAPT = {
    "adapt": dict(label="field on, adaptation on", field="on", adapt="on"),
    "noadapt": dict(label="field on, adaptation off", field="on",
                    adapt="off"),
    "nofield": dict(label="no field, adaptation off", field="off",
                    adapt="off"),
}


def nice(cmd):
    return ["nice", "-n", "10"] + cmd


class Runner:
    def __init__(self, a):
        self.a = a
        os.makedirs(a.out, exist_ok=True)

    def nengo(self, model, seed, duration, field="on", adapt="on",
              ncpd_params=False, extra=()):
        tag = "nengo-%s-s%d-%s%s%s%s" % (model, seed, field, adapt,
                                         "-ncpdp" if ncpd_params else "",
                                         "".join(extra).replace("-", ""))
        path = os.path.join(self.a.out, tag + ".json")
        if self.a.nengo_cached_only:
            return json.load(open(path)) if os.path.exists(path) else None
        if not self.a.force:
            wait_for_other(path, [os.path.join(self.a.out, tag + x)
                                  for x in (".log", ".xlog")])
        if os.path.exists(path) and not self.a.force:
            return json.load(open(path))
        cmd = ["/usr/bin/python3", os.path.join(HERE, "reach_nengo.py"),
               model, "--reach", self.a.reach, "--seed", str(seed),
               "--duration", str(duration), "--field", field,
               "--adapt", adapt, "--out", path]
        if ncpd_params:
            cmd.append("--ncpd-params")
        cmd += list(extra)
        env = dict(os.environ, PYTHONPATH=self.a.nengo_src)
        log = open(os.path.join(self.a.out, tag + ".log"), "w")
        r = subprocess.run(nice(cmd), env=env, stdout=log, stderr=log)
        if r.returncode != 0:
            print("FAILED: %s (see %s.log)" % (" ".join(cmd), tag),
                  file=sys.stderr)
            return None
        return json.load(open(path))

    def ncpd(self, name, seed, duration, sets):
        tag = "ncpd-%s-s%d" % (name, seed)
        path = os.path.join(self.a.out, tag + ".json")
        if os.path.exists(path) and not self.a.force:
            return json.load(open(path))
        inst = "reachnengo-%s-s%d" % (name, seed)
        data = os.path.join(self.a.out, "ncpd-data")
        # ncpd refuses to record over a recording: a run made again (no
        # result kept, or --force) replaces its own
        shutil.rmtree(os.path.join(data, tag), ignore_errors=True)
        cmd = [self.a.ncpd, "--free-run", "--duration", str(duration),
               "--summary", "json", "--record", tag,
               "--set", "instance=" + inst, "--set", "shm.name=/" + inst,
               "--set", "control.socket=%s" % os.path.join(
                   self.a.out, "sock", inst, "ncpd.sock"),
               "--set", "data_dir=" + data, "--set", "rt.priority=0",
               "--set", "rt.lock_memory=false", "--set", "seed=%d" % seed,
               "--set", "emulator.model=none", "--set", "ncp.model=none"]
        for s in sets:
            cmd += ["--set", s]
        r = subprocess.run(nice(cmd), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            print("FAILED: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]),
                  file=sys.stderr)
            return None
        summ = json.loads(r.stdout)
        arm = np.load(os.path.join(data, tag, "arm.npy"))
        tgt = np.load(os.path.join(data, tag, "target.npy"))
        out = {"side": "ncpd", "name": name, "seed": seed,
               "duration": duration, "config": sets,
               "summary": {"reaches": summ["reaches_total"],
                           "mean_end_error": summ["mean_end_error"],
                           "mean_path_error": summ["mean_path_error"],
                           "max_path_error": summ["max_path_error"],
                           "m1_mean_rate_hz": summ["m1_mean_rate_hz"]},
               "per_reach": summ["reaches"],
               "path_every": 10,
               # the hand: arm.npy's last two columns (after q, dq)
               "hand": arm[::10, -2:].astype(float).round(5).tolist(),
               "target": tgt[::10, :2].astype(float).round(5).tolist()}
        with open(path, "w") as f:
            json.dump(out, f)
        return out


def wait_for_other(path, logs, fresh=3600.0):
    """A run whose log exists, younger than an hour, and whose result does
    not yet: another invocation (or worker) is running it; wait for it."""
    while not os.path.exists(path):
        live = [g for g in logs if os.path.exists(g)
                and time.time() - os.path.getmtime(g) < fresh]
        if not live or os.path.getsize(live[0]) > 0:
            return          # none, or a failed run's log (it has text)
        time.sleep(10)


def ncpd_has_key(ncpd, key):
    r = subprocess.run([ncpd, "--help-config"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return ("`%s`" % key) in r.stdout


def ncpd_has_value(ncpd, key, value):
    """Whether this ncpd's KEY takes VALUE (its --help-config choices)."""
    r = subprocess.run([ncpd, "--help-config"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    row = [ln for ln in r.stdout.splitlines()
           if ln.startswith("| `%s` |" % key)]
    choices = row[0].split("|")[4].replace(",", " ").split() if row else []
    return value in choices


FIGS = ("mean_end_error", "mean_path_error", "max_path_error",
        "m1_mean_rate_hz")


def stats(runs, key):
    v = np.array([r["summary"][key] for r in runs if r is not None])
    return v


N_SEEDS = [0]


def fmt_mm(v, scale=1000.0):
    """mean [min, max] in mm (or Hz with scale 1); the number of seeds when
    fewer than asked for ran."""
    if len(v) == 0:
        return "not run"
    return "%.1f [%.1f, %.1f]%s" % (
        v.mean() * scale, v.min() * scale, v.max() * scale,
        "" if len(v) == N_SEEDS[0] else " (%d seeds)" % len(v))


def verdict(nv, cv):
    """Where ncpd's mean lies against Nengo's spread (min..max over seeds)."""
    if len(nv) == 0 or len(cv) == 0:
        return "-"
    m, lo, hi = cv.mean(), nv.min(), nv.max()
    if lo <= m <= hi:
        return "in"
    if m > hi:
        return "above by %.0f%%" % (100.0 * (m - hi) / hi if hi else 0)
    return "below by %.0f%%" % (100.0 * (lo - m) / lo if lo else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nengo-src", required=True)
    ap.add_argument("--reach", required=True)
    ap.add_argument("--ncpd", default="build/ncpd")
    ap.add_argument("--out", default="/tmp/reach-nengo")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--scaling-models", default=None,
                    help="models also run in Nengo with ncpd's scaling "
                         "(default: all of --models)")
    ap.add_argument("--adapt-reaches", type=int, default=40)
    ap.add_argument("--no-adapt", action="store_true",
                    help="skip the adaptation curves")
    ap.add_argument("--img", default=None,
                    help="write the figures into this directory")
    ap.add_argument("--markdown", default=None,
                    help="also write the tables into this file")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--nengo-cached-only", action="store_true",
                    help="take the Nengo runs already in --out, run none "
                         "(a cell then says how many seeds it has)")
    a = ap.parse_args()
    a.ncpd = os.path.abspath(a.ncpd)
    a.reach = os.path.abspath(a.reach)
    a.nengo_src = os.path.abspath(a.nengo_src)
    seeds = [int(s) for s in a.seeds.split(",")]
    N_SEEDS[0] = len(seeds)
    models = a.models.split(",")
    scaling_models = (a.scaling_models.split(",") if a.scaling_models
                      else models)
    run = Runner(a)

    jobs = {}
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs)
    for m in models:
        spec = MODELS[m]
        for s in seeds:
            extra = tuple(spec.get("nengo_args", ()))
            if spec.get("ncpd_network"):
                jobs[("nengop", m, s)] = ex.submit(run.nengo, spec["nengo"],
                                                   s, spec["duration"])
            else:
                jobs[("nengo", m, s)] = ex.submit(run.nengo, spec["nengo"], s,
                                                  spec["duration"],
                                                  extra=extra)
            if m in scaling_models and not spec.get("ncpd_network"):
                jobs[("nengop", m, s)] = ex.submit(
                    run.nengo, spec["nengo"], s, spec["duration"],
                    ncpd_params=True, extra=extra)
            ok = spec["ncpd"] is not None and (
                "needs" not in spec or ncpd_has_key(a.ncpd, spec["needs"]))
            if ok and "needs_value" in spec:
                ok = ncpd_has_value(a.ncpd, *spec["needs_value"])
            if ok:
                jobs[("ncpd", m, s)] = ex.submit(run.ncpd, m, s,
                                                 spec["duration"],
                                                 spec["ncpd"])
    adapt_dur = 2.0 * a.adapt_reaches
    if not a.no_adapt:
        base = [x for x in MODELS["a05"]["ncpd"]
                if not x.startswith(("field.on", "reach.adapt="))]
        for c, spec in ADAPT.items():
            for s in seeds:
                if c == "adapt" and "a05" in models and \
                        adapt_dur == MODELS["a05"]["duration"]:
                    continue          # the a05 row's runs are these
                jobs[("nengo", "a05" + c, s)] = ex.submit(
                    run.nengo, "a05", s, adapt_dur, spec["field"],
                    spec["adapt"])
                jobs[("ncpd", "a05" + c, s)] = ex.submit(
                    run.ncpd, "a05" + c, s, adapt_dur,
                    base + ["field.on=" + ("true" if spec["field"] == "on"
                                           else "false"),
                            "reach.adapt=" + ("true" if spec["adapt"] == "on"
                                              else "false")])
    res = {k: f.result() for k, f in jobs.items()}
    ex.shutdown()

    def runs(side, m):
        if side in ("nengo", "ncpd") and m == "a05adapt" and \
                (side, m, seeds[0]) not in res:
            m = "a05"
        return [res.get((side, m, s)) for s in seeds
                if res.get((side, m, s)) is not None]

    lines = []
    p = lines.append
    p("### Errors and M1's rate, %d network seeds (%s)" %
      (len(seeds), a.seeds))
    p("")
    p("Each cell: mean [min, max] over the seeds. Errors in mm, rates in Hz. "
      "\"vs Nengo\": where ncpd's mean lies against Nengo's min..max.")
    p("")
    p("| model | figure | Nengo (REACH's parameters) | Nengo (ncpd's scaling) "
      "| ncpd | ncpd vs Nengo | ncpd vs Nengo (ncpd's scaling) |")
    p("| --- | --- | --- | --- | --- | --- | --- |")
    names = {"mean_end_error": "end error", "mean_path_error":
             "path error (mean)", "max_path_error": "path error (max)",
             "m1_mean_rate_hz": "M1 mean rate"}
    for m in models:
        for key in FIGS:
            sc = 1.0 if key == "m1_mean_rate_hz" else 1000.0
            nv, pv, cv = (stats(runs("nengo", m), key),
                          stats(runs("nengop", m), key),
                          stats(runs("ncpd", m), key))
            cell = fmt_mm(cv, sc) if len(cv) else "not run"
            own = "no REACH script" if MODELS[m].get("ncpd_network") else \
                fmt_mm(nv, sc)
            p("| %s | %s | %s | %s | %s | %s | %s |" % (
                m if key == FIGS[0] else "", names[key], own,
                fmt_mm(pv, sc), cell, verdict(nv, cv), verdict(pv, cv)))
    p("")
    for m in models:
        spec = MODELS[m]
        if not runs("ncpd", m):
            why = spec.get("why_not")
            if why is None and "needs" in spec:
                why = "ncpd has no `%s` key in this build" % spec["needs"]
            if why is None and "needs_value" in spec:
                why = "this build's `%s` has no `%s`" % spec["needs_value"]
            p("- %s: ncpd not run: %s." % (m, why or "its runs failed"))
    if not a.no_adapt:
        p("")
        p("### Adaptation: path error (mm) per reach, a05, mean over seeds")
        p("")
        p("Reaches alternate: even reaches return to the centre, odd ones go "
          "out to the targets. Blocks of 4 reaches (2 out, 2 back); "
          "mean [min, max] over seeds of the block's mean.")
        p("")
        hdr = "| reaches |"
        for c in ADAPT:
            hdr += " Nengo %s | ncpd %s |" % (c, c)
        p(hdr)
        p("| --- |" + " --- | --- |" * len(ADAPT))
        curves = {}
        for c in ADAPT:
            for side in ("nengo", "ncpd"):
                rr = runs(side, "a05" + c)
                if rr:
                    curves[(side, c)] = np.array(
                        [[x["path_error_mean"] for x in r["per_reach"]
                          [:a.adapt_reaches]] for r in rr])
        for b in range(0, a.adapt_reaches, 4):
            row = "| %d-%d |" % (b, b + 3)
            for c in ADAPT:
                for side in ("nengo", "ncpd"):
                    cv = curves.get((side, c))
                    if cv is None or cv.shape[1] < b + 4:
                        row += " - |"
                        continue
                    blk = cv[:, b:b + 4].mean(axis=1)
                    row += " %s |" % fmt_mm(blk)
            p(row)
        p("")
        p("Outward reaches only (odd reaches), first 4 vs last 4, mean over "
          "seeds (mm):")
        p("")
        p("| condition | side | first 4 out | last 4 out | seeds |")
        p("| --- | --- | --- | --- | --- |")
        for c in ADAPT:
            for side in ("nengo", "ncpd"):
                cv = curves.get((side, c))
                if cv is None:
                    continue
                out = cv[:, 1::2] * 1000
                p("| %s | %s | %.1f | %.1f | %d |" % (
                    ADAPT[c]["label"], side, out[:, :4].mean(),
                    out[:, -4:].mean(), len(out)))
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    if a.img:
        plots(a, models, runs, seeds, curves if not a.no_adapt else {})


def plots(a, models, runs, seeds, curves):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(a.img, exist_ok=True)
    def nengo_runs(m):
        return runs("nengop" if MODELS[m].get("ncpd_network") else "nengo", m)
    shown = [m for m in models if nengo_runs(m)]
    cols = min(3, len(shown))
    rows = (len(shown) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.4 * rows),
                             squeeze=False)
    skip = 20       # the first 0.2 s: the probed target is still filtering in
    for ax, m in zip(axes.flat, shown):
        for side, col in (("nengo", "tab:blue"), ("ncpd", "tab:red")):
            rr = nengo_runs(m) if side == "nengo" else runs(side, m)
            for i, r in enumerate(rr):
                h = np.array(r["hand"])
                if m == "a05":
                    h = h[:int(32.0 / 0.001 / r["path_every"])]
                ax.plot(h[:, 0], h[:, 1], color=col, lw=0.7, alpha=0.7,
                        label=side if i == 0 else None)
        r0 = nengo_runs(m)[0]
        t = np.array(r0["target"])[skip:]
        if m == "a05":
            t = t[:int(32.0 / 0.001 / r0["path_every"])]
        ax.plot(t[:, 0], t[:, 1], "k:", lw=1, label="target (Nengo seed %d)"
                % r0["seed"])
        ax.set_title(MODELS[m]["title"], fontsize=8)
        if m.startswith(("a01", "a03")) or m in ("arm3line", "arm3steps"):
            w = 0.02 if m.startswith("arm3") else 0.05
            ax.set_xlim(-w, w)           # x stretched: the paths are lines
            ax.set_xlabel("x (m), stretched")
        else:
            ax.set_aspect("equal")
            ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(shown):]:
        ax.axis("off")
    fig.suptitle("Hand paths, %d network seeds each (a05: first 16 reaches, "
                 "field on, adapting)" % len(seeds), fontsize=10)
    # leave the suptitle its own band above the panels
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (4.4 * rows)))
    fig.savefig(os.path.join(a.img, "reach-nengo-paths.png"), dpi=80)
    if curves:
        fig, ax = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for j, (side, name) in enumerate((("nengo", "Nengo (REACH a05)"),
                                          ("ncpd", "ncpd"))):
            for c, col in zip(ADAPT, ("tab:green", "tab:red", "tab:gray")):
                cv = curves.get((side, c))
                if cv is None:
                    continue
                out = cv[:, 1::2] * 1000
                x = np.arange(1, cv.shape[1], 2)
                ax[j].plot(x, out.mean(axis=0), "o-", ms=3, color=col,
                           label=ADAPT[c]["label"])
                ax[j].fill_between(x, out.min(axis=0), out.max(axis=0),
                                   color=col, alpha=0.2)
            ax[j].set_title(name, fontsize=10)
            ax[j].set_xlabel("reach (outward reaches; 2 s each)")
            ax[j].legend(fontsize=8)
        ax[0].set_ylabel("path error, mean over the reach (mm)")
        fig.suptitle("Force-field adaptation: mean and range over %d seeds"
                     % len(seeds), fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(a.img, "reach-nengo-adapt.png"), dpi=110)


if __name__ == "__main__":
    main()
