"""Run one of REACH's models (DeWolf et al. 2016, github.com/studywolf/REACH-paper,
model_code/) in Nengo and print its reach errors and M1's mean rate as JSON.

    PYTHONPATH=NENGO_SRC /usr/bin/python3 tests/nengo/reach_nengo.py \
        --reach REACH/model_code MODEL [--seed N] [--duration S] [...]

MODEL is a01 (OSC, target steps on a line), a01line (a01 with its target
node replaced by REACH's own PMC tracing the same line at speed 2, as a03
does: what ncpd's task.kind=line runs), a02 (OSC, PMC circle), a03
(joint-space control, PMC line) or a05 (OSC, centre-out with the force field
and the adaptive cerebellum).  The model is REACH's own generate(), run as is
under today's Nengo, with only these changes made here from outside:

- the network's seed (REACH fixes seed=0) is set to --seed before the build;
- probes are added: the arm node's output, the PMC's target, and M1's spike
  count per step (a node summing M1's neurons);
- a01line: a01's `nengo.Network('PMC')` and its target node are replaced,
  while a01's generate() runs, by REACH.PMC.generate() of the line from
  (0, 1) to (0, 1.5) at speed 2 and that network's output node;
- a02 --circle-radius R: REACH.PMC.generate() is given a02's circle
  scaled about its centre from radius 0.5 to R;
- a05 --field off zeroes REACH's force matrix; a05 --adapt off builds the
  cerebellum with learning rate 0 (the adaptive population stays, with its
  output at exactly zero);
- --ncpd-params replaces the per-model S1, M1 and CB scaling (means and
  scales) by the one set ncpd uses for every task (docs/model.md), to
  measure how much of a difference the scaling makes.

Nothing in REACH's files is edited.  Needs numpy and scipy (Debian's
python3) and Nengo's source on PYTHONPATH.
"""

import argparse
import importlib
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reach_metrics  # noqa: E402

MODULES = {"a01": "a01_OSC_line", "a01line": "a01_OSC_line",
           "a02": "a02_OSC_PMC_circle",
           "a03": "a03_GC_PMC_line", "a05": "a05_OSC_8_reaches_CB_adapt"}

# ncpd's scaling, the same for every task (docs/model.md, "Scaling").
NCPD_SCALING = {
    "S1": ([0.6, 2.2, -0.5, 0, 0, 1.25], [0.5, 0.5, 1.7, 1.5, 0.75, 0.75]),
    "M1": ([0.6, 2.2, 0, 0], [0.25, 0.25, 0.25, 0.25]),
    "CB": ([0.6, 2.2, 0, 0], [0.125, 0.25, 1, 1.5]),
}


def wrap_generate(module, **override):
    """Make module.generate use the given keyword arguments instead of the
    caller's (the REACH scripts call REACH.M1.generate(...) and so on)."""
    orig = module.generate

    def generate(*args, **kwargs):
        kwargs.update(override)
        return orig(*args, **kwargs)
    module.generate = generate


class PMCLineShim:
    """Stands for the nengo module inside a01's generate(): its PMC network
    and target node become REACH's trajectory generator tracing a01's line."""

    def __init__(self, nengo, PMC):
        self._nengo = nengo
        self._PMC = PMC
        self._pmc = None

    def __getattr__(self, name):
        return getattr(self._nengo, name)

    def Network(self, *args, **kwargs):
        if args and args[0] == "PMC":
            line = np.array([[0.0, 0.0], [1.0, 1.5]])   # rows x, y
            self._pmc = self._PMC.generate(line, speed=2)
            return self._pmc
        return self._nengo.Network(*args, **kwargs)

    def Node(self, *args, **kwargs):
        if kwargs.get("label") == "PMC" and self._pmc is not None:
            return self._pmc.output
        return self._nengo.Node(*args, **kwargs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=sorted(MODULES))
    ap.add_argument("--reach", required=True,
                    help="REACH-paper's model_code directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated seconds (default: one period)")
    ap.add_argument("--field", choices=["on", "off"], default="on",
                    help="a05: the force field")
    ap.add_argument("--adapt", choices=["on", "off"], default="on",
                    help="a05: the adaptive cerebellum learns")
    ap.add_argument("--circle-radius", type=float, default=0.5,
                    help="a02: the circle's radius (REACH's is 0.5)")
    ap.add_argument("--ncpd-params", action="store_true",
                    help="use ncpd's S1/M1/CB scaling instead of the model's")
    ap.add_argument("--path-every", type=int, default=10,
                    help="keep every Nth step of the hand path in the output")
    ap.add_argument("--out", help="write the JSON here (else stdout)")
    a = ap.parse_args()

    sys.path.insert(0, os.path.abspath(a.reach))
    import nengo
    mod = importlib.import_module(MODULES[a.model])
    from REACH import M1, CB, S1, PMC

    if a.ncpd_params:
        for name, m in (("S1", S1), ("M1", M1), ("CB", CB)):
            means, scales = NCPD_SCALING[name]
            wrap_generate(m, means=means, scales=scales)
    if a.model == "a02" and a.circle_radius != 0.5:
        centre = np.array([[0.0], [1.25]])
        orig_pmc = PMC.generate

        def pmc_scaled(y_des, *args, **kwargs):
            y = centre + (np.asarray(y_des) - centre) * (a.circle_radius / 0.5)
            return orig_pmc(y, *args, **kwargs)
        PMC.generate = pmc_scaled
    if a.model == "a01line":
        mod.nengo = PMCLineShim(nengo, PMC)
    if a.model == "a05":
        if a.field == "off":
            mod.force_matrix[...] = 0.0
        if a.adapt == "off":
            wrap_generate(CB, learning_rate=0.0)

    t0 = time.time()
    net = mod.generate()
    net.seed = a.seed
    dt = 0.001
    m1 = net.M1.M1
    with net:
        m1_count = nengo.Node(size_in=1, label="m1 spike count")
        nengo.Connection(m1.neurons, m1_count,
                         transform=np.full((1, m1.n_neurons), dt),
                         synapse=None)
        p_arm = nengo.Probe(net.arm_node, synapse=None)
        p_m1 = nengo.Probe(m1_count, synapse=None)
        target_obj = net.xy
        p_target = nengo.Probe(target_obj, synapse=None)
    sim = nengo.Simulator(net, dt=dt, progress_bar=False)
    t_build = time.time() - t0

    # REACH's periods: a01 switches target every 1 s, a05 every 2 s; the
    # PMC traces its path once per 4.5 s / speed (a02 speed 1, a03 speed 2).
    period = {"a01": 1.0, "a01line": 2.25, "a02": 4.5, "a03": 2.25, "a05": 2.0}[a.model]
    duration = a.duration if a.duration else period
    t1 = time.time()
    sim.run(duration)
    t_run = time.time() - t1

    arm = sim.data[p_arm]
    dof = net.dim
    hand = arm[:, 2 * dof:2 * dof + 2]
    steps = len(hand)
    spr = int(round(period / dt))
    t = sim.trange()
    if a.model in ("a01", "a05"):
        n_reach = steps // spr
        # the target each reach is given: the PMC node's value in its period
        targets = [sim.data[p_target][k * spr + spr // 2]
                   for k in range(n_reach)]
        # the first reach starts where REACH put the hand (at rest)
        centre = hand[0]
        reaches = reach_metrics.target_task_reaches(hand, targets, centre,
                                                    spr)
    else:
        speed = {"a01line": 2.0, "a02": 1.0, "a03": 2.0}[a.model]
        ramp = np.clip((t * speed) % 4.5 - 2.5, -1, 1)
        if a.model == "a02":
            x = np.linspace(0.0, 2.0 * np.pi, 100)
            r = a.circle_radius
            path = np.vstack([np.cos(x) * r, np.sin(x) * r]).T + [0, 1.25]
        else:
            path = np.array([[0.0, 1.0], [0.0, 1.5]])
        reaches = reach_metrics.trajectory_reaches(hand, path, ramp, spr)
        centre = hand[0]
    summary = reach_metrics.summarise(reaches)
    summary["m1_mean_rate_hz"] = float(sim.data[p_m1].sum()
                                       / (m1.n_neurons * steps * dt))
    out = {"side": "nengo", "model": a.model, "seed": a.seed,
           "duration": duration, "period": period,
           "field": a.field if a.model == "a05" else None,
           "adapt": a.adapt if a.model == "a05" else None,
           "ncpd_params": a.ncpd_params,
           "circle_radius": a.circle_radius if a.model == "a02" else None,
           "nengo_version": nengo.__version__,
           "build_s": t_build, "run_s": t_run,
           "start": centre.tolist(),
           "summary": summary, "per_reach": reaches,
           "path_every": a.path_every,
           "hand": hand[::a.path_every].round(5).tolist(),
           "target": sim.data[p_target][::a.path_every].round(5).tolist()}
    text = json.dumps(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
