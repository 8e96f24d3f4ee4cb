"""ncpd's emulator models (docs/model-format.md) in numpy, and as
torch.nn.Modules when torch imports.

    m = ncpd.models.load("data/emulator.safetensors")   # a Model (numpy)
    y = m.predict(rec.m1, rec.stim_input(m.stim_channels))   # (T, 6)
    m2 = ncpd.models.new("mlp-running", seed=1)          # fresh weights
    m2.save("data/mine.safetensors")                     # ncpd loads it

    emu = ncpd.models.Emulator.load("data/emulator.safetensors")  # torch
    y = emu(torch.from_numpy(spikes), torch.from_numpy(stim))
    emu.save("data/trained.safetensors")

A model with the arm-state input (format_version 3, m.arm_input) also takes
the run's arm states, arm.npy's rows: m.predict(rec.m1, stim, arm=rec.arm).
In the residual form (format_version 4, m.residual) that input is the whole
arm state of the step before and the outputs are it plus the layers' output.

The numpy forward pass is the page's definition, computed in float64:
the reference ncpd's own inference is checked against.
"""
import json

import numpy as np

from . import safetensors

__all__ = ["Model", "ModelError", "ARCHS", "OUTPUTS", "outputs_of", "arm_inputs_of",
           "load", "new", "metadata", "features", "arm_input", "Emulator"]

ARCHS = ("ridge", "ridge-running", "mlp", "mlp-running", "dense")
OUTPUTS = ("q0", "q1", "dq0", "dq1", "hand_x", "hand_y")


def outputs_of(links):
    """The outputs of a model of an arm of `links` links (2 or 3): q and dq
    of each joint, the hand's x and y (OUTPUTS for 2)."""
    return (tuple("q%d" % j for j in range(links)) +
            tuple("dq%d" % j for j in range(links)) + ("hand_x", "hand_y"))


def arm_inputs_of(links, residual=False):
    """The arm-state inputs of a model of an arm of `links` links (the
    metadata "arm_input"): q and dq of each joint, and in the residual form
    the whole state, the outputs' names."""
    return outputs_of(links)[:None if residual else 2 * links]


DEFAULT_HIDDEN = {"ridge": [], "ridge-running": [], "mlp": [256, 256],
                  "mlp-running": [256, 256], "dense": [128, 128]}
DEFAULT_TAUS = (0.005, 0.02, 0.05)
MAX_HORIZON = 10000


class ModelError(ValueError):
    """A model file or description that is not a valid ncpd-emulator model:
    the message names the file and the fault."""


def metadata(arch, neurons=1000, stim_channels=32, window=100,
             taus=DEFAULT_TAUS, dt=0.001, hidden=None, horizon=0, config=None,
             links=2, arm_input=False, residual=False):
    """The metadata (str to str) a model of these sizes needs (of an arm
    of `links` links: 2 links + 2 outputs; with arm_input, the arm-state
    input, format_version 3; residual, the residual form, which has the
    arm-state input: format_version 4)."""
    if links not in (2, 3):
        raise ModelError("links %r: ncpd's arms have 2 or 3" % (links,))
    if arch not in ARCHS:
        raise ModelError("arch %r: one of %s" % (arch, ", ".join(ARCHS)))
    hidden = list(DEFAULT_HIDDEN[arch] if hidden is None else hidden)
    if arch.startswith("ridge") and hidden:
        raise ModelError("%s has no hidden layers (got %r)" % (arch, hidden))
    if not arch.startswith("ridge") and not hidden:
        raise ModelError("%s needs hidden layers" % arch)
    taus = [float(t) for t in taus]
    K = len(taus)
    arm_input = arm_input or residual
    if arm_input and arch == "dense":
        raise ModelError("the arm-state input is for ridge*, mlp*, not dense")
    n_in = (window * neurons + stim_channels * K if arch == "dense"
            else (neurons + stim_channels) * K)
    if arm_input:
        n_in += len(arm_inputs_of(links, residual))
    version = "4" if residual else "3" if arm_input else "2" if horizon else "1"
    m = {"format": "ncpd-emulator", "format_version": version,
         "arch": arch,
         "feature_mode": "running" if arch.endswith("-running") else "window",
         "window": str(int(window)), "neurons": str(int(neurons)),
         "stim_channels": str(int(stim_channels)), "dt": repr(float(dt)),
         "taus": json.dumps(taus), "hidden": json.dumps([int(h) for h in hidden]),
         "n_in": str(n_in), "n_out": str(len(outputs_of(links))),
         "outputs": json.dumps(list(outputs_of(links)))}
    if version != "1":
        m["horizon"] = str(int(horizon))
    if arm_input:
        m["arm_input"] = json.dumps(list(arm_inputs_of(links, residual)))
    if residual:
        m["residual"] = "true"
    if config is not None:
        m["config"] = config if isinstance(config, str) else json.dumps(config)
    return m


class _Spec:
    """The sizes a model's metadata gives, checked."""

    def __init__(self, meta, where):
        def bad(msg):
            return ModelError("%s: %s" % (where, msg))

        def need(k):
            if k not in meta:
                raise bad('metadata "%s" is missing' % k)
            return meta[k]

        def integer(k, lo, hi):
            v = need(k)
            try:
                n = int(v)
            except ValueError:
                raise bad('metadata "%s" is %r, not an integer' % (k, v)) from None
            if not lo <= n <= hi or str(n) != v.strip():
                raise bad('metadata "%s" is %r, out of range (%d to %d)' % (k, v, lo, hi))
            return n

        def jlist(k):
            try:
                v = json.loads(need(k))
            except ValueError:
                raise bad('metadata "%s" is %r, not JSON' % (k, meta[k])) from None
            if not isinstance(v, list):
                raise bad('metadata "%s" is %r, not a list' % (k, meta[k]))
            return v

        if need("format") != "ncpd-emulator":
            raise bad('metadata "format" is %r, not "ncpd-emulator"' % meta["format"])
        self.version = integer("format_version", 1, 4)
        if self.version == 1 and "horizon" in meta:
            raise bad('a format_version 1 model has no "horizon" (use 2)')
        self.horizon = integer("horizon", 0, MAX_HORIZON) if self.version >= 2 else 0
        if self.version >= 3 and "arm_input" not in meta:
            raise bad('format_version %d needs the metadata "arm_input" '
                      '(the arm-state input), which is missing' % self.version)
        if self.version < 3 and "arm_input" in meta:
            raise bad('metadata "arm_input" needs format_version 3 or 4 (the file says %d)'
                      % self.version)
        self.arm_input = self.version >= 3
        if self.version == 4 and meta.get("residual") != "true":
            raise bad('format_version 4 is the residual form and needs the metadata '
                      '"residual": "true"%s' % (", which is missing" if "residual" not in meta
                                                else ", not %s" % json.dumps(meta["residual"])))
        if self.version < 4 and "residual" in meta:
            raise bad('metadata "residual" needs format_version 4 (the file says %d)'
                      % self.version)
        self.residual = self.version == 4
        self.arch = need("arch")
        if self.arch not in ARCHS:
            raise bad('arch %r is unknown (%s)' % (self.arch, ", ".join(ARCHS)))
        mode = "running" if self.arch.endswith("-running") else "window"
        if need("feature_mode") != mode:
            raise bad('feature_mode %r disagrees with arch %s (want %s)'
                      % (meta["feature_mode"], self.arch, mode))
        self.running = mode == "running"
        self.window = integer("window", 1, 1 << 20)
        self.neurons = integer("neurons", 1, 1 << 20)
        self.stim_channels = integer("stim_channels", 0, 1 << 16)
        try:
            self.dt = float(need("dt"))
        except ValueError:
            raise bad('metadata "dt" is %r, not a number' % meta["dt"]) from None
        if not self.dt > 0 or not np.isfinite(self.dt):
            raise bad('metadata "dt" is %r, not a positive number' % meta["dt"])
        self.taus = jlist("taus")
        if not self.taus or not all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                    and t > 0 for t in self.taus):
            raise bad('metadata "taus" is %r: positive numbers' % meta["taus"])
        self.hidden = jlist("hidden")
        if not all(isinstance(h, int) and not isinstance(h, bool) and h > 0
                   for h in self.hidden):
            raise bad('metadata "hidden" is %r: positive integers' % meta["hidden"])
        if self.arch.startswith("ridge") == bool(self.hidden):
            raise bad('arch %s with hidden %r' % (self.arch, self.hidden))
        K = len(self.taus)
        self.n_out = integer("n_out", 1, 1 << 20)
        if self.n_out not in (6, 8):
            raise bad('metadata "n_out" is %s, want 6 (2-link arm) or 8 '
                      '(3-link arm)' % meta["n_out"])
        self.links = (self.n_out - 2) // 2
        self.outputs = outputs_of(self.links)
        if jlist("outputs") != list(self.outputs):
            raise bad('metadata "outputs" is %s, want %s'
                      % (meta["outputs"], json.dumps(list(self.outputs))))
        names = arm_inputs_of(self.links, self.residual)
        self.n_arm = len(names) if self.arm_input else 0
        if self.arm_input:
            if self.arch == "dense":
                raise bad("the arm-state input is for ridge*, mlp*, not dense")
            if jlist("arm_input") != list(names):
                raise bad('metadata "arm_input" is %s, want %s (the %s of '
                          'the arm of %d links its %d outputs are for)'
                          % (meta["arm_input"], json.dumps(list(names)),
                             "whole state" if self.residual else "q and dq",
                             self.links, self.n_out))
        self.n_in = integer("n_in", 1, 1 << 40)
        want = (self.window * self.neurons + self.stim_channels * K
                if self.arch == "dense" else (self.neurons + self.stim_channels) * K)
        want += self.n_arm
        if self.n_in != want:
            raise bad('metadata "n_in" is %d; %s with these sizes has %d inputs'
                      % (self.n_in, self.arch, want))
        self.n_std = (self.stim_channels * K if self.arch == "dense"
                      else (self.neurons + self.stim_channels) * K)

    def shapes(self):
        """Every tensor's name and shape."""
        s = {"in_mean": (self.n_std,), "in_scale": (self.n_std,),
             "out_mean": (self.n_out,), "out_scale": (self.n_out,)}
        if self.n_arm:
            s["arm_mean"] = (self.n_arm,)
            s["arm_scale"] = (self.n_arm,)
        sizes = [self.n_in] + list(self.hidden) + [self.n_out]
        for i in range(len(sizes) - 1):
            s["layers.%d.weight" % (2 * i)] = (sizes[i + 1], sizes[i])
            s["layers.%d.bias" % (2 * i)] = (sizes[i + 1],)
        return s


def features(x, u, taus, dt, window, running):
    """The filtered features of every step of a run (T, (N + C) * K), in
    float64 (docs/model-format.md):

        window:  f[n][k](t) = g_k sum_{d=0}^{W-1} a_k^d x_n(t-d)
        running: f[n][k](t) = g_k sum_{d>=0}     a_k^d x_n(t-d)

    with a_k = exp(-dt/tau_k), g_k = (1 - a_k)/dt; steps before 0 are 0.
    x (T, N) spikes, u (T, C) stimulation (C may be 0)."""
    s = np.concatenate([np.asarray(x, np.float64), np.asarray(u, np.float64)], axis=1)
    T, R = s.shape
    out = np.zeros((T, R, len(taus)))
    for k, tau in enumerate(taus):
        a = np.exp(-dt / tau)
        g = (1.0 - a) / dt
        if running:
            f = np.zeros(R)
            for t in range(T):
                f = a * f + g * s[t]
                out[t, :, k] = f
        else:
            for d in range(min(window, T)):
                out[d:, :, k] += g * a ** d * s[:T - d]
    return out.reshape(T, -1)


def arm_input(arm, links, residual=False):
    """The arm-state input of every step of a run (T, 2 links; in the
    residual form T, 2 links + 2), float64: step t reads the arm after
    step t - 1 (row t - 1 of arm.npy, its q and dq columns, or all of them
    in the residual form); step 0's, and any non-finite value, is unknown
    (NaN).  arm (T, >= 2 links, or 2 links + 2) the run's arm states from
    its first step."""
    n = len(arm_inputs_of(links, residual))
    a = np.asarray(arm, np.float64)
    if a.ndim != 2 or a.shape[1] < n:
        raise ModelError("arm states of shape %s; the model takes (T, >= %d)"
                         % (list(a.shape), n))
    out = np.full((len(a), n), np.nan)
    out[1:] = a[:-1, :n]
    out[~np.isfinite(out)] = np.nan
    return out


class Model:
    """An emulator model in numpy: `meta` (str to str, the file's
    metadata) and `tensors` (name to float32 array, PyTorch's state_dict
    names and shapes).  Attributes from the metadata: arch, window, neurons,
    stim_channels, taus, dt, hidden, horizon, running, n_in, n_out, links,
    outputs, arm_input, residual, n_arm.

    Model(tensors, meta) checks that the metadata is complete and
    consistent and that every tensor is there, float32, of its shape and
    finite (scales positive); ModelError says what is wrong.
    """

    def __init__(self, tensors, meta, where="model"):
        self.meta = dict(meta)
        spec = _Spec(self.meta, where)
        for k in ("arch", "window", "neurons", "stim_channels", "taus", "dt",
                  "hidden", "horizon", "running", "n_in", "n_out", "links",
                  "outputs", "arm_input", "residual", "n_arm"):
            setattr(self, k, getattr(spec, k))
        shapes = spec.shapes()
        extra = sorted(set(tensors) - set(shapes))
        if extra:
            raise ModelError("%s: tensor %r is not part of %s" % (where, extra[0], self.arch))
        self.tensors = {}
        for name, shape in shapes.items():
            if name not in tensors:
                raise ModelError("%s: tensor %r is missing" % (where, name))
            a = np.asarray(tensors[name])
            if a.dtype != np.float32:
                raise ModelError("%s: tensor %r is %s, want float32 (F32)"
                                 % (where, name, a.dtype))
            if a.shape != shape:
                raise ModelError("%s: tensor %r has shape %s, want %s"
                                 % (where, name, list(a.shape), list(shape)))
            if not np.isfinite(a).all():
                raise ModelError("%s: tensor %r holds a value that is not finite"
                                 % (where, name))
            if name.endswith("_scale") and not (a > 0).all():
                raise ModelError("%s: tensor %r holds a scale that is not positive"
                                 % (where, name))
            self.tensors[name] = a
        self.where = where

    def __repr__(self):
        return "Model(%s: %s, %d neurons, %d stim channels, window %d, hidden %s%s)" % (
            self.where, self.arch, self.neurons, self.stim_channels, self.window,
            self.hidden, (", horizon %d" % self.horizon if self.horizon else "")
            + (", residual on the arm state" if self.residual else
               ", arm-state input" if self.arm_input else ""))

    @property
    def config(self):
        """The training configuration ncp-train recorded (a dict; {} when none)."""
        c = self.meta.get("config")
        return json.loads(c) if c else {}

    def save(self, path):
        """Write the model to `path` (.safetensors), atomically."""
        safetensors.write(path, self.tensors, self.meta)

    def features(self, x, u=None):
        """The filtered features of every step (T, (N + C) * K), float64."""
        x, u = self._inputs(x, u)
        return features(x, u, self.taus, self.dt, self.window, self.running)

    def _inputs(self, x, u):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.neurons:
            raise ModelError("spikes of shape %s; the model takes (T, %d)"
                             % (list(x.shape), self.neurons))
        if u is None:
            u = np.zeros((len(x), self.stim_channels), np.float32)
        u = np.nan_to_num(np.asarray(u, np.float64), nan=0.0)
        if u.ndim != 2 or len(u) != len(x) or u.shape[1] > self.stim_channels:
            raise ModelError("stimulation of shape %s; the model takes (%d, <= %d)"
                             % (list(u.shape), len(x), self.stim_channels))
        if u.shape[1] < self.stim_channels:
            u = np.concatenate([u, np.zeros((len(u), self.stim_channels - u.shape[1]))], 1)
        return x, u

    def _arm(self, x, arm):
        """(z, b): the standardised arm-state inputs (T, n_arm), unknown as
        0, and what the outputs are added to (T, n_out): in the residual
        form the arm-state input, arm_mean where it is unknown; else 0."""
        if not self.arm_input:
            return np.zeros((len(x), 0)), np.zeros((len(x), self.n_out))
        if arm is None:
            raise ModelError("%s reads the arm state: give arm= (the run's "
                             "arm.npy rows)" % self.where)
        a = arm_input(arm, self.links, self.residual)
        if len(a) != len(x):
            raise ModelError("arm states of %d steps for %d steps of spikes"
                             % (len(a), len(x)))
        mean = self.tensors["arm_mean"].astype(np.float64)
        z = (a - mean) / self.tensors["arm_scale"].astype(np.float64)
        b = (np.where(np.isnan(a), mean, a) if self.residual
             else np.zeros((len(x), self.n_out)))
        return np.nan_to_num(z, nan=0.0), b

    def forward(self, x, u=None, arm=None):
        """(y, v) for every step t of a run from its first step: y (T, 6) the
        predicted arm state (of step t + horizon), v (T, 6) the standardised
        outputs (the layers' output: y = b + v * out_scale + out_mean, b
        the residual form's arm-state input, else 0); float64.  x (T, N)
        spikes, u (T, <= C) stimulation (NaN as 0, missing columns 0; None:
        none); arm (T, 2 links + 2) the arm state after every step
        (arm.npy), required by a model with the arm-state input (step t
        reads row t - 1), ignored otherwise."""
        x, u = self._inputs(x, u)
        za, b = self._arm(x, arm)
        W, N, K = self.window, self.neurons, len(self.taus)
        T = x.shape[0]
        t = self.tensors
        f = features(x, u, self.taus, self.dt, W, self.running)
        mean = t["in_mean"].astype(np.float64)
        scale = t["in_scale"].astype(np.float64)
        w0 = t["layers.0.weight"].astype(np.float64)
        b0 = t["layers.0.bias"].astype(np.float64)
        if self.arch == "dense":
            # v_in = [flattened window m1[t-W+1 .. t] (zeros before step 0),
            # standardised stimulation features], in chunks of steps so the
            # flattened windows never fill memory.
            z = (f[:, N * K:] - mean) / scale
            pad = np.concatenate([np.zeros((W - 1, N)), x.astype(np.float64)])
            v = np.zeros((T, w0.shape[0]))
            for t0 in range(0, T, 64):
                t1 = min(T, t0 + 64)
                win = np.stack([pad[s:s + W].reshape(-1) for s in range(t0, t1)])
                v[t0:t1] = np.concatenate([win, z[t0:t1]], axis=1) @ w0.T + b0
        else:
            z = np.concatenate([(f - mean) / scale, za], axis=1)
            v = z @ w0.T + b0
        for i in range(1, len(self.hidden) + 1):
            v = np.maximum(v, 0.0)
            v = (v @ t["layers.%d.weight" % (2 * i)].astype(np.float64).T
                 + t["layers.%d.bias" % (2 * i)])
        y = b + (v * t["out_scale"] + t["out_mean"])
        return y, v

    def predict(self, x, u=None, arm=None):
        """The predictions for every step (T, 6), float64 (forward's y)."""
        return self.forward(x, u, arm)[0]

    def hand_rmse(self, y, arm):
        """Hand RMSE (m) of predictions y against the arm `horizon` steps
        later, as ncp-train --eval scores: every t >= window - 1 with
        t + horizon < T, dropped (NaN) steps left out."""
        T = y.shape[0]
        t = np.arange(self.window - 1, T - self.horizon)
        h = slice(y.shape[1] - 2, y.shape[1])     # the hand: the last two
        d = y[t, h] - np.asarray(arm)[t + self.horizon, h].astype(np.float64)
        ok = np.isfinite(d).all(axis=1)
        return float(np.sqrt(np.mean(np.sum(d[ok] ** 2, axis=1))))


def load(path):
    """The model in `path` (a Model); ModelError or
    safetensors.SafetensorsError naming the fault."""
    tensors, meta = safetensors.read(path)
    return Model(tensors, meta, where=str(path))


def new(arch="mlp-running", neurons=1000, stim_channels=32, window=100,
        taus=DEFAULT_TAUS, dt=0.001, hidden=None, horizon=0, seed=0, links=2,
        arm_input=False, residual=False):
    """A model with fresh weights, drawn as PyTorch's Linear draws them
    (uniform in +-1/sqrt(fan_in)) from `seed`; inputs and outputs not
    standardised (means 0, scales 1); arm_input: with the arm-state input;
    residual: in the residual form."""
    meta = metadata(arch, neurons, stim_channels, window, taus, dt, hidden, horizon,
                    links=links, arm_input=arm_input, residual=residual)
    spec = _Spec(meta, "new model")
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in spec.shapes().items():
        if name.startswith("layers."):
            i = int(name.split(".")[1]) // 2
            fan_in = ([spec.n_in] + list(spec.hidden))[i]
            bound = 1.0 / np.sqrt(fan_in)
            tensors[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
        elif name.endswith("_scale"):
            tensors[name] = np.ones(shape, np.float32)
        else:
            tensors[name] = np.zeros(shape, np.float32)
    return Model(tensors, meta, where="new %s model" % arch)


def __getattr__(name):
    # The torch module only when asked for: importing torch takes seconds.
    if name in ("Emulator", "load_torch"):
        from . import torch_emulator
        return getattr(torch_emulator, name)
    raise AttributeError("module 'ncpd.models' has no attribute %r" % name)
