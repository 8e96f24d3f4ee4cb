"""The emulator as a torch.nn.Module (docs/model-format.md): its
state_dict() is the model file's tensors, so a model trained here runs in
ncpd and a model ncp-train wrote trains on here.

    emu = Emulator.load("data/emulator.safetensors")
    y = emu(spikes, stim)                       # (T, 6), every step of a run
    emu.save("data/tuned.safetensors")
    y = emu(spikes, stim, arm)                  # a model with the arm-state input
                                                # (or in the residual form)

Imported by ncpd.models when ncpd.models.Emulator is first used.
"""
import json

import numpy as np
import torch
from torch import nn

from . import models, safetensors

__all__ = ["Emulator", "load_torch"]

BLOCK = 64      # steps per block of the filters' scan


def _scan(s, a, g, block=BLOCK):
    """f(t) = a f(t-1) + g s(t), f(-1) = 0, for s (T, R) float64: blocks
    of `block` steps at once (a lower-triangular matrix of a powers), the
    state carried from block to block."""
    T, R = s.shape
    B = (T + block - 1) // block
    pad = torch.zeros(B * block - T, R, dtype=s.dtype, device=s.device)
    sb = torch.cat([s, pad]).reshape(B, block, R)
    i = torch.arange(block, dtype=s.dtype, device=s.device)
    d = i[:, None] - i[None, :]
    M = torch.where(d >= 0, g * a ** d.clamp(min=0), torch.zeros((), dtype=s.dtype))
    local = torch.einsum("ij,bjr->bir", M, sb)
    carry_w = (a ** (i + 1))[:, None]
    out, c = [], torch.zeros(R, dtype=s.dtype, device=s.device)
    for b in range(B):
        fb = local[b] + carry_w * c
        out.append(fb)
        c = fb[-1]
    return torch.cat(out)[:T]


class Emulator(nn.Module):
    """An ncpd emulator model as a module: Emulator(meta) with meta the
    model file's metadata (ncpd.models.metadata() makes one), randomly
    initialised as nn.Linear is; Emulator.load(path) from a file.

    forward(x, u=None, arm=None): x (T, N) spikes of a run from its first
    step, u (T, <= C) its stimulation (NaN as 0, missing channels 0), arm
    (T, 2 links + 2) the arm state after every step (arm.npy; a model with
    the arm-state input reads row t - 1 at step t, ncpd.models.arm_input,
    and in the residual form adds it to the outputs, arm_mean where it is
    unknown), tensors or numpy arrays; returns the predictions for every
    step (T, 6), float32.  Features are computed in float64 and are
    differentiable in u; the arm is data (no gradient reaches it).
    predict(x, u, arm) is the same without gradients, as numpy.
    """

    def __init__(self, meta):
        super().__init__()
        spec = models._Spec(dict(meta), "Emulator")
        self.meta = dict(meta)
        self.arch, self.W, self.N = spec.arch, spec.window, spec.neurons
        self.C, self.dt, self.taus = spec.stim_channels, spec.dt, list(spec.taus)
        self.running, self.horizon = spec.running, spec.horizon
        self.arm_input, self.links = spec.arm_input, spec.links
        self.residual = spec.residual
        sizes = [spec.n_in] + list(spec.hidden) + [spec.n_out]
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)
        self.register_buffer("in_mean", torch.zeros(spec.n_std))
        self.register_buffer("in_scale", torch.ones(spec.n_std))
        self.register_buffer("out_mean", torch.zeros(spec.n_out))
        self.register_buffer("out_scale", torch.ones(spec.n_out))
        if spec.arm_input:
            self.register_buffer("arm_mean", torch.zeros(spec.n_arm))
            self.register_buffer("arm_scale", torch.ones(spec.n_arm))

    @property
    def neurons(self):
        return self.N

    @property
    def stim_channels(self):
        return self.C

    @property
    def window(self):
        return self.W

    @classmethod
    def load(cls, path):
        """The model in `path`, checked as ncpd.models.load checks it."""
        m = models.load(path)
        return cls.from_model(m)

    @classmethod
    def from_model(cls, m):
        """From an ncpd.models.Model (numpy)."""
        emu = cls(m.meta)
        emu.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.tensors.items()})
        return emu

    def to_model(self):
        """As an ncpd.models.Model (numpy), checked."""
        tensors = {k: v.detach().cpu().numpy().astype(np.float32)
                   for k, v in self.state_dict().items()}
        return models.Model(tensors, self.meta, where="Emulator")

    def save(self, path, config=None):
        """Write the model to `path` atomically, as ncpd reads it; config
        (a dict) goes into the metadata's "config"."""
        m = self.to_model()
        if config is not None:
            m.meta["config"] = json.dumps(config)
        m.save(path)

    def features(self, x, u=None):
        """(T, (N + C) * K) float64 filtered features of every step."""
        x, u = self._inputs(x, u)
        s = torch.cat([x.to(torch.float64), u.to(torch.float64)], dim=1)
        out = []
        for tau in self.taus:
            a = float(np.exp(-self.dt / tau))
            g = (1.0 - a) / self.dt
            f = _scan(s, a, g)
            if not self.running:        # the window: less what fell out
                late = torch.zeros_like(f)
                late[self.W:] = f[:-self.W] * a ** self.W
                f = f - late
            out.append(f)
        return torch.stack(out, dim=2).reshape(s.shape[0], -1)

    def _inputs(self, x, u):
        if not torch.is_tensor(x):      # numpy, a recording's memory map
            x = torch.from_numpy(np.array(x, np.float32))
        if u is not None and not torch.is_tensor(u):
            u = torch.from_numpy(np.array(u, np.float64))
        if x.dim() != 2 or x.shape[1] != self.N:
            raise models.ModelError("spikes of shape %s; the model takes (T, %d)"
                                    % (list(x.shape), self.N))
        T = x.shape[0]
        if u is None:
            u = torch.zeros(T, self.C, dtype=torch.float64)
        u = torch.nan_to_num(torch.as_tensor(u).to(torch.float64), nan=0.0)
        if u.dim() != 2 or u.shape[0] != T or u.shape[1] > self.C:
            raise models.ModelError("stimulation of shape %s; the model takes (%d, <= %d)"
                                    % (list(u.shape), T, self.C))
        if u.shape[1] < self.C:
            u = torch.cat([u, torch.zeros(T, self.C - u.shape[1], dtype=u.dtype)], 1)
        return x, u

    def forward(self, x, u=None, arm=None):
        x, u = self._inputs(x, u)
        f = self.features(x, u)
        T = x.shape[0]
        base = 0.0      # what the outputs are added to: the residual form's arm
        if self.arch == "dense":
            K = len(self.taus)
            z = ((f[:, self.N * K:] - self.in_mean.double())
                 / self.in_scale.double()).float()
            # The first layer over the spike window is a convolution in
            # time: weight [h, p * N + n] applies to x_n(t - (W - 1 - p)).
            first = self.layers[0]
            w = first.weight[:, :self.W * self.N].reshape(-1, self.W, self.N)
            pad = torch.cat([torch.zeros(self.W - 1, self.N), x.float()])
            conv = nn.functional.conv1d(pad.t()[None], w.permute(0, 2, 1))[0].t()
            h = conv + z @ first.weight[:, self.W * self.N:].t() + first.bias
            v = self.layers[1:](h) if len(self.layers) > 1 else h
        else:
            z = ((f - self.in_mean.double()) / self.in_scale.double()).float()
            if self.arm_input:
                if arm is None:
                    raise models.ModelError("this model reads the arm state: give "
                                            "arm (the run's arm.npy rows)")
                if torch.is_tensor(arm):
                    arm = arm.detach().cpu().numpy()
                a = torch.from_numpy(models.arm_input(arm, self.links, self.residual))
                if a.shape[0] != T:
                    raise models.ModelError("arm states of %d steps for %d steps of "
                                            "spikes" % (a.shape[0], T))
                a = a.to(self.arm_mean.device)
                za = torch.nan_to_num((a - self.arm_mean.double())
                                      / self.arm_scale.double(), nan=0.0)
                z = torch.cat([z, za.float()], dim=1)
                if self.residual:
                    base = torch.where(torch.isnan(a), self.arm_mean.double(), a).float()
            v = self.layers(z)
        return base + (v * self.out_scale + self.out_mean)


    def predict(self, x, u=None, arm=None):
        """forward() without gradients, as a numpy (T, 6) float32 array."""
        with torch.no_grad():
            return self.forward(x, u, arm).cpu().numpy()


def load_torch(path):
    """Emulator.load(path)."""
    return Emulator.load(path)
