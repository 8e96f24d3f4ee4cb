"""Run one of REACH's models (DeWolf et al. 2016, github.com/studywolf/REACH-paper,
model_code/) in Nengo and print its reach errors and M1's mean rate as JSON.

    PYTHONPATH=NENGO_SRC /usr/bin/python3 tests/nengo/reach_nengo.py \
        --reach REACH/model_code MODEL [--seed N] [--duration S] [...]

MODEL is a01 (OSC, target steps on a line), a01line (a01 with its target
node replaced by REACH's own PMC tracing the same line at speed 2, as a03
does: what ncpd's task.kind=line runs), a02 (OSC, PMC circle), a03
(joint-space control, PMC line), a05 (OSC, centre-out with the force field
and the adaptive cerebellum), or arm3, arm3line, arm3steps or arm3joint
(REACH's circuits on ncpd's three-link arm, below).  The model is REACH's own
generate(), run as is under today's Nengo, with only these changes made here
from outside:

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

The arm3 models have no script in REACH's model_code to run: REACH's
three-link model (a06_OSC_line_3link.py, on its generalize_arms branch) drives
abr_control's MapleSim arm, not ncpd's.  They build, with REACH's own M1, CB,
S1 and PMC generators and its framework's wiring (as generalize_arms's
framework.py connects any number of joints), the network ncpd builds for
arm.links 3: ncpd's three-link arm as the plant (tests/nengo/arm3.py), its
scaling, kp 50, kv 1.5 sqrt(kp), a 500-neuron error ensemble, 1000 neurons
in M1 and CB, 8 x 50 in S1, and M1 decoding ncpd's null-space term
(docs/model.md) on top of REACH's M1 function.  arm3 runs ncpd's centre-out
task (centre (0, 0.45), 8 targets at 0.1 m, 1 s each, every other reach back
to the centre); arm3line REACH's PMC tracing (0, 0.4) to (0, 0.5) at speed 2
from a hand at rest at (0, 0.4); arm3joint the centre-out task with M1 in
joint space (REACH's a03 controller, u = M(q) kp q_err, with M1's input
sized 2 x 3 as a03's is 2 x 2; the PMC holds each target's straight-wrist
posture, the error ensemble has 3 dimensions; ncpd's reach.control joint);
arm3steps a01's task on this arm (the target stepping between (0, 0.5) and
(0, 0.4) every second, the hand at rest at (0, 0.4); ncpd's task.kind
steps), the line task REACH's three-link a06 runs on its own arm.

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
           "a03": "a03_GC_PMC_line", "a05": "a05_OSC_8_reaches_CB_adapt",
           "arm3": None, "arm3line": None, "arm3joint": None,
           "arm3steps": None}

# ncpd's scaling, the same for every task (docs/model.md, "Scaling").
NCPD_SCALING = {
    "S1": ([0.6, 2.2, -0.5, 0, 0, 1.25], [0.5, 0.5, 1.7, 1.5, 0.75, 0.75]),
    "M1": ([0.6, 2.2, 0, 0], [0.25, 0.25, 0.25, 0.25]),
    "CB": ([0.6, 2.2, 0, 0], [0.125, 0.25, 1, 1.5]),
}

# ncpd's scaling and workspace for the three-link arm (docs/model.md, "The
# three-link arm").
ARM3_SCALING = {
    "S1": ([0.39, 1.9, 0, 0, 0, 0, 0, 0.45],
           [0.7, 0.6, 0.8, 3, 3, 3, 0.3, 0.3]),
    "M1": ([0.39, 1.9, 0, 0, 0], [0.35, 0.3, 0.3, 0.12, 0.12]),
    "CB": ([0.39, 1.9, 0, 0, 0, 0], [0.35, 0.3, 0.3, 1.5, 1.5, 1.5]),
}
ARM3_CENTRE = (0.0, 0.45)
ARM3_RADIUS = 0.1
ARM3_TARGETS = 8
ARM3_LINE = np.array([[0.0, 0.4], [0.0, 0.5]])
ARM3_KP_NULL = 10.0


def centre_out_target(k, centre, radius, n_targets):
    """ncpd's centre-out task: reach k goes to the centre (k even) or to
    target (k // 2) mod n on the circle (k odd)."""
    x, y = centre
    if k % 2 == 1:
        a = 2.0 * np.pi * ((k // 2) % n_targets) / n_targets
        x, y = x + radius * np.cos(a), y + radius * np.sin(a)
    return np.array([x, y])


def joint_m1(nengo, arm, kp, means, scales):
    """REACH's M1 generator for joint-space control (a03's
    operational_space=False, inertia_compensation=True: u = M(q) kp q_err),
    its input [q, q_err] of 2 DOF dimensions.  REACH.M1.generate sizes
    the input DOF + 2, which is 2 DOF only for two joints; this is the
    same network for any number."""
    from utils import generate_scaling_functions, AreaIntercepts
    n = arm.DOF
    dim = 2 * n
    scale_down, scale_up = generate_scaling_functions(np.asarray(means),
                                                      np.asarray(scales))
    net = nengo.Network("M1")
    with net:
        net.M1 = nengo.Ensemble(
            n_neurons=1000, dimensions=dim, radius=np.sqrt(dim),
            intercepts=AreaIntercepts(dimensions=dim,
                                      base=nengo.dists.Uniform(-1, .1)))
        net.input = nengo.Node(output=scale_down, size_in=dim)
        net.output = nengo.Node(size_in=n)

        def m1_func(x):
            x = scale_up(x)
            return arm.M(q=x[:n]) @ (kp * x[n:])
        nengo.Connection(net.input, net.M1, synapse=None)
        nengo.Connection(net.M1, net.output, function=m1_func, synapse=None)
    return net


def steps_target(k, line):
    """ncpd's steps task (REACH's a01): reach k goes to the line's end (k
    even) or its start (k odd)."""
    return np.array(line[1] if k % 2 == 0 else line[0])


def generate_arm3(nengo, M1, CB, S1, PMC, line, joint=False, steps=False,
                  dt=0.001):
    """REACH's circuits on ncpd's three-link arm (see the module's doc).
    line: the PMC traces ARM3_LINE; steps: its target steps between
    ARM3_LINE's ends (a01's task); else the centre-out task.  joint: M1
    in joint space (REACH's a03 controller; centre-out only), the PMC
    holding each target's straight-wrist posture as ncpd's does."""
    import arm3
    kp = 50.0
    kv = 1.5 * np.sqrt(kp)
    start = ARM3_LINE[0] if line or steps else np.array(ARM3_CENTRE)
    arm_sim = arm3.Arm3(start, dt=dt)
    q_start = arm_sim.q0.copy()
    net = nengo.Network()
    with net:
        net.dim = dim = arm_sim.DOF
        net.arm_node = arm_sim.create_nengo_node()
        net.error = nengo.Ensemble(500, dim if joint else 2)
        net.xy = nengo.Node(size_in=2)
        m1_means, m1_scales = ARM3_SCALING["M1"]
        if joint:
            # ncpd's joint-space scaling: q as in task space, q_err about
            # 0 with the task-space error's scale.
            net.M1 = joint_m1(nengo, arm_sim, kp,
                              list(m1_means[:dim]) + [0.0] * dim,
                              list(m1_scales[:dim]) + [m1_scales[dim]] * dim)
        else:
            net.M1 = M1.generate(arm_sim, kp=kp, operational_space=True,
                                 inertia_compensation=True,
                                 means=m1_means, scales=m1_scales)
        # ncpd's null-space term on top of REACH's M1 function: the start
        # posture held in the null space of the hand's task.
        if not joint:
            conn = [c for c in net.M1.all_connections if c.pre is net.M1.M1]
            assert len(conn) == 1, "REACH's M1 has one decoded connection"
            reach_f = conn[0].function
            mm, ms = np.asarray(m1_means), np.asarray(m1_scales)

            def m1_with_null(x):
                v = np.asarray(x) * ms + mm
                q = v[:dim]
                J, M, Mx = arm_sim.J(q=q), arm_sim.M(q=q), arm_sim.Mx(q=q)
                e = ARM3_KP_NULL * (q_start - q)
                return reach_f(x) + M @ e - J.T @ (Mx @ (J @ e))
            conn[0].function = m1_with_null
        s1_means, s1_scales = ARM3_SCALING["S1"]
        net.S1 = S1.generate(arm_sim, means=s1_means, scales=s1_scales)
        if joint:
            nengo.Connection(net.S1.output[:dim], net.error, transform=-1)
        else:
            nengo.Connection(net.S1.output[dim * 2:], net.error, transform=-1)
        if joint:
            postures = [arm3.inv_kinematics(centre_out_target(
                k, ARM3_CENTRE, ARM3_RADIUS, ARM3_TARGETS))
                for k in range(2 * ARM3_TARGETS)]
            net.PMC = nengo.Network("PMC")
            with net.PMC:
                def reach_index(t):
                    return (int(round(t / dt)) - 1) // int(round(1.0 / dt))
                net.PMC.output = nengo.Node(
                    output=lambda t: postures[reach_index(t)
                                              % (2 * ARM3_TARGETS)],
                    label="PMC")
                target_xy = nengo.Node(
                    output=lambda t: centre_out_target(
                        reach_index(t), ARM3_CENTRE, ARM3_RADIUS,
                        ARM3_TARGETS), label="target")
        elif line:
            rows = ARM3_LINE.T.copy()          # PMC.generate takes rows x, y
            net.PMC = PMC.generate(rows, speed=2)
        else:
            net.PMC = nengo.Network("PMC")
            with net.PMC:
                def pmc_func(t):
                    k = (int(round(t / dt)) - 1) // int(round(1.0 / dt))
                    if steps:
                        return steps_target(k, ARM3_LINE)
                    return centre_out_target(k, ARM3_CENTRE, ARM3_RADIUS,
                                             ARM3_TARGETS)
                net.PMC.output = nengo.Node(output=pmc_func, label="PMC")
        nengo.Connection(net.PMC.output, net.error)
        nengo.Connection(target_xy if joint else net.PMC.output, net.xy)
        cb_means, cb_scales = ARM3_SCALING["CB"]
        net.CB = CB.generate(arm_sim, kv=kv, means=cb_means, scales=cb_scales)

        # REACH's framework.py, for any number of joints (its
        # generalize_arms branch): the relay sums M1's and CB's torques.
        relay = nengo.Node(size_in=dim, label="relay")
        nengo.Connection(relay, net.arm_node[:dim])
        nengo.Connection(net.xy, net.arm_node[dim:])
        nengo.Connection(net.M1.output, relay)
        nengo.Connection(net.error[:dim], net.M1.input[dim:])
        nengo.Connection(net.arm_node, net.S1.input)
        nengo.Connection(net.S1.output[:dim], net.M1.input[:dim])
        nengo.Connection(net.arm_node[:dim * 2], net.CB.input[:dim * 2])
        nengo.Connection(net.CB.output[:dim], relay)
    net.start_q = q_start
    return net


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
    if MODULES[a.model] is not None:
        mod = importlib.import_module(MODULES[a.model])
    else:
        if a.ncpd_params or a.field != "on" or a.adapt != "on":
            ap.error("%s is ncpd's network already: --ncpd-params, --field "
                     "and --adapt do not apply" % a.model)
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
    if a.model.startswith("arm3"):
        net = generate_arm3(nengo, M1, CB, S1, PMC, a.model == "arm3line",
                            joint=a.model == "arm3joint",
                            steps=a.model == "arm3steps")
    else:
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
    period = {"a01": 1.0, "a01line": 2.25, "a02": 4.5, "a03": 2.25, "a05": 2.0,
              "arm3": 1.0, "arm3line": 2.25, "arm3joint": 1.0,
              "arm3steps": 1.0}[a.model]
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
    if a.model in ("arm3", "arm3joint", "arm3steps"):
        n_reach = steps // spr
        targets = [steps_target(k, ARM3_LINE) if a.model == "arm3steps"
                   else centre_out_target(k, ARM3_CENTRE, ARM3_RADIUS,
                                          ARM3_TARGETS)
                   for k in range(n_reach)]
        centre = hand[0]
        reaches = reach_metrics.target_task_reaches(hand, targets, centre,
                                                    spr)
    elif a.model in ("a01", "a05"):
        n_reach = steps // spr
        # the target each reach is given: the PMC node's value in its period
        targets = [sim.data[p_target][k * spr + spr // 2]
                   for k in range(n_reach)]
        # the first reach starts where REACH put the hand (at rest)
        centre = hand[0]
        reaches = reach_metrics.target_task_reaches(hand, targets, centre,
                                                    spr)
    else:
        speed = {"a01line": 2.0, "a02": 1.0, "a03": 2.0,
                 "arm3line": 2.0}[a.model]
        ramp = np.clip((t * speed) % 4.5 - 2.5, -1, 1)
        if a.model == "a02":
            x = np.linspace(0.0, 2.0 * np.pi, 100)
            r = a.circle_radius
            path = np.vstack([np.cos(x) * r, np.sin(x) * r]).T + [0, 1.25]
        elif a.model == "arm3line":
            path = ARM3_LINE
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
