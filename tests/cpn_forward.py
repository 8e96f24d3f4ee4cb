"""The co-processor's step in numpy, written from docs/model-format.md
("Co-processor models"), not from ncpd's C code.

usage: cpn_forward.py MODEL OBS.npy THETA.npy [TOL]

MODEL is an ncpd-cpn .safetensors file; OBS (T x (R + 6)) the
observations of steps 0..T-1 of one state; THETA (T x E) ncpd's theta for
each.  Prints the largest difference and fails when it is above TOL
(default 1e-4, in the units of theta).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
from ncpd import safetensors  # noqa: E402  (the tree's package)


def run(tensors, meta, obs):
    E = int(meta["electrodes"])
    dt = float(meta["dt"])
    d = float(meta["decay"]) ** (dt / 0.01)
    smax = float(meta["stim_max"])
    amax = float(meta["alpha_max"])
    L = len(json.loads(meta["hidden"])) + 1
    alpha = np.zeros(E)
    out = np.zeros((obs.shape[0], E))
    for t in range(obs.shape[0]):
        z = (obs[t].astype(np.float64) - tensors["in_mean"]) / tensors["in_scale"]
        z[~np.isfinite(z)] = 0
        v = z
        for i in range(L):
            v = tensors["layers.%d.weight" % (2 * i)] @ v + tensors["layers.%d.bias" % (2 * i)]
            if i < L - 1:
                v = np.maximum(v, 0)
        a = amax * np.tanh(v)
        theta = np.clip(a - d * alpha, -smax, smax)
        alpha = np.clip(d * alpha + theta, -smax, smax)
        out[t] = theta
    return out


def main():
    tensors, meta = safetensors.read(sys.argv[1])
    assert meta["format"] == "ncpd-cpn", meta["format"]
    obs = np.load(sys.argv[2])
    theta = np.load(sys.argv[3])
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    ref = run({k: v.astype(np.float64) for k, v in tensors.items()}, meta, obs)
    diff = np.abs(ref - theta).max()
    span = np.abs(ref).max()
    print("cpn_forward: %d steps, largest |theta| %.4g, largest difference %.3g"
          % (obs.shape[0], span, diff))
    sys.exit(0 if diff <= tol and span > 0 else 1)


if __name__ == "__main__":
    main()
