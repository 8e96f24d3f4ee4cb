"""Co-processor network files (docs/model-format.md, "Co-processor
models") in numpy, and as a torch module when torch imports.

    cpn = ncpd.cpn.load("data/cpn.safetensors")
    theta = cpn.run(obs)            # (T, E) from observations (T, R + 6)
    m = ncpd.cpn.CpnModule.load("data/cpn.safetensors")   # torch
    m.save("mine.safetensors")      # ncpd loads it with 'ncpctl ncp load'
"""
import json
import math

import numpy as np

from . import safetensors

__all__ = ["Cpn", "CpnError", "load", "CpnModule"]

KEYS = ("format", "format_version", "electrodes", "rec_electrodes", "n_in",
        "inputs", "dt", "decay", "stim_max", "alpha_max", "hidden")


class CpnError(ValueError):
    """A CPN file or set of tensors that does not follow the format: the
    message names the place and the fault."""


def _num(meta, key, where, integer=False):
    try:
        v = int(meta[key]) if integer else float(meta[key])
    except (KeyError, TypeError, ValueError):
        raise CpnError("%s: metadata %s is %r, not a %s" % (
            where, key, meta.get(key), "whole number" if integer else "number")) from None
    if not math.isfinite(v):
        raise CpnError("%s: metadata %s is %r" % (where, key, meta[key]))
    return v


class Cpn:
    """A checked CPN: `tensors` (float32 arrays under PyTorch's names),
    `meta` (the metadata strings) and, from them, electrodes (E),
    rec_electrodes (R), n_in, dt, decay, stim_max, alpha_max, hidden."""

    def __init__(self, tensors, meta, where="CPN"):
        meta = dict(meta)
        for k in KEYS:
            if k not in meta:
                raise CpnError("%s: metadata lacks %s" % (where, k))
        if meta["format"] != "ncpd-cpn":
            raise CpnError("%s: format is %r, not 'ncpd-cpn'" % (where, meta["format"]))
        if meta["format_version"] != "1":
            raise CpnError("%s: format_version %r; this reader reads 1"
                           % (where, meta["format_version"]))
        self.electrodes = _num(meta, "electrodes", where, True)
        self.rec_electrodes = _num(meta, "rec_electrodes", where, True)
        self.n_in = _num(meta, "n_in", where, True)
        if not 1 <= self.electrodes <= 256 or not 0 <= self.rec_electrodes <= 256:
            raise CpnError("%s: %d electrodes and %d recording electrodes (1..256, "
                           "0..256)" % (where, self.electrodes, self.rec_electrodes))
        if self.n_in != self.rec_electrodes + 6 or meta["inputs"] != "rec,arm":
            raise CpnError("%s: n_in %d with inputs %r; the format has R + 6 = %d, "
                           "'rec,arm'" % (where, self.n_in, meta["inputs"],
                                          self.rec_electrodes + 6))
        self.dt = _num(meta, "dt", where)
        self.decay = _num(meta, "decay", where)
        self.stim_max = _num(meta, "stim_max", where)
        self.alpha_max = _num(meta, "alpha_max", where)
        if not (self.dt > 0 and 0 <= self.decay < 1 and self.stim_max > 0
                and 0 < self.alpha_max <= self.stim_max):
            raise CpnError("%s: dt %g, decay %g, stim_max %g, alpha_max %g out of "
                           "range" % (where, self.dt, self.decay, self.stim_max,
                                      self.alpha_max))
        try:
            hidden = json.loads(meta["hidden"])
            if not isinstance(hidden, list) or not all(
                    isinstance(h, int) and not isinstance(h, bool) and h > 0
                    for h in hidden):
                raise ValueError
        except ValueError:
            raise CpnError("%s: hidden is %r, not a JSON array of positive "
                           "integers" % (where, meta["hidden"])) from None
        self.hidden = hidden
        sizes = [self.n_in] + hidden + [self.electrodes]
        want = {"in_mean": (self.n_in,), "in_scale": (self.n_in,)}
        for i in range(len(sizes) - 1):
            want["layers.%d.weight" % (2 * i)] = (sizes[i + 1], sizes[i])
            want["layers.%d.bias" % (2 * i)] = (sizes[i + 1],)
        extra = sorted(set(tensors) - set(want))
        if extra:
            raise CpnError("%s: tensor %r is not part of this architecture" % (where, extra[0]))
        self.tensors = {}
        for name, shape in want.items():
            if name not in tensors:
                raise CpnError("%s: tensor %r is missing" % (where, name))
            a = np.asarray(tensors[name])
            if a.shape != shape:
                raise CpnError("%s: tensor %r has shape %s, want %s"
                               % (where, name, list(a.shape), list(shape)))
            if not np.isfinite(a).all():
                raise CpnError("%s: tensor %r is not finite everywhere" % (where, name))
            self.tensors[name] = a.astype(np.float32)
        if not (self.tensors["in_scale"] > 0).all():
            raise CpnError("%s: in_scale is not positive everywhere" % where)
        self.meta = meta

    def target(self, obs):
        """a*, the currents asked for, for observations (T, n_in) or (n_in,):
        float64."""
        t = {k: v.astype(np.float64) for k, v in self.tensors.items()}
        z = (np.asarray(obs, np.float64) - t["in_mean"]) / t["in_scale"]
        z = np.where(np.isfinite(z), z, 0.0)
        L = len(self.hidden) + 1
        v = z
        for i in range(L):
            v = v @ t["layers.%d.weight" % (2 * i)].T + t["layers.%d.bias" % (2 * i)]
            if i < L - 1:
                v = np.maximum(v, 0)
        return self.alpha_max * np.tanh(v)

    def run(self, obs, alpha=None):
        """theta (T, E) float64 for the observations of steps 0..T-1 (T,
        n_in), alpha starting from `alpha` (zero by default), as ncpd
        steps it."""
        a_star = self.target(np.atleast_2d(obs))
        d = self.decay ** (self.dt / 0.01)
        s = self.stim_max
        alpha = np.zeros(self.electrodes) if alpha is None else np.array(alpha, np.float64)
        out = np.empty_like(a_star)
        for k in range(len(a_star)):
            theta = np.clip(a_star[k] - d * alpha, -s, s)
            alpha = np.clip(d * alpha + theta, -s, s)
            out[k] = theta
        return out

    def save(self, path):
        """Write the file (the container via ncpd.safetensors)."""
        safetensors.write(path, self.tensors, self.meta)


def load(path):
    """Read and check a CPN file (Cpn); CpnError or SafetensorsError
    naming the fault."""
    tensors, meta = safetensors.read(path, copy=True)
    return Cpn(tensors, meta, where=str(path))


def __getattr__(name):
    # The torch module only when asked for: importing torch takes seconds.
    if name == "CpnModule":
        import torch

        class CpnModule(torch.nn.Module):
            """The CPN as a torch module: forward(obs) gives a*, the
            currents asked for (differentiable, for training a CPN in
            PyTorch); load() and save() use the same files as ncpd."""

            def __init__(self, cpn):
                super().__init__()
                self.cpn_meta = dict(cpn.meta)
                sizes = [cpn.n_in] + cpn.hidden + [cpn.electrodes]
                mods = []
                for i in range(len(sizes) - 1):
                    mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
                    if i < len(sizes) - 2:
                        mods.append(torch.nn.ReLU())
                self.layers = torch.nn.Sequential(*mods)
                self.register_buffer("in_mean", torch.zeros(cpn.n_in))
                self.register_buffer("in_scale", torch.ones(cpn.n_in))
                self.load_state_dict({k: torch.from_numpy(v.copy())
                                      for k, v in cpn.tensors.items()})
                self.alpha_max = cpn.alpha_max

            @classmethod
            def load(cls, path):
                return cls(load(path))

            def forward(self, obs):
                z = (torch.as_tensor(obs).to(self.in_mean.dtype) - self.in_mean) / self.in_scale
                z = torch.where(torch.isfinite(z), z, torch.zeros_like(z))
                return self.alpha_max * torch.tanh(self.layers(z))

            def to_cpn(self):
                t = {k: v.detach().cpu().numpy().astype(np.float32)
                     for k, v in self.state_dict().items()}
                return Cpn(t, self.cpn_meta, where="CpnModule")

            def save(self, path):
                self.to_cpn().save(path)

        globals()["CpnModule"] = CpnModule
        return CpnModule
    raise AttributeError("module 'ncpd.cpn' has no attribute %r" % name)
