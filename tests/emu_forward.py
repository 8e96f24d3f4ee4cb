"""The emulator's forward pass in numpy, written from docs/model-format.md
(not from ncpd's C code), to cross-check ncpd's predictions.

usage: emu_forward.py MODEL SPIKES.npy STIM.npy PRED.npy [TOL [ARM.npy]]

MODEL is an ncpd-emulator .safetensors file; SPIKES (T x N, 0/1) and STIM
(T x C) are the steps of one run from its first step; PRED (T x 6) holds
ncpd's prediction after each step.  Prints the largest difference of the
standardised outputs ((y - out_mean) / out_scale) and fails when it is
above TOL (default 1e-4).  With ARM.npy (the run's arm states, T x 6),
also prints the hand RMSE of its own predictions as ncp-train --eval
scores them: the prediction of step t against arm[t + horizon], for
every t >= window - 1 with t + horizon < T.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4",
          "U8": "|u1", "BOOL": "|b1", "F16": "<f2"}


def load_safetensors(path):
    """docs/file-formats.md, "Reading a model with numpy alone"."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        a = np.frombuffer(data[begin:end], dtype=DTYPES[t["dtype"]])
        tensors[name] = a.reshape(t["shape"])
    return tensors, meta


def features(meta, x, u):
    """The filtered features of every step: (T, (N + C) * K), in float64.

    window:  f[n][k](t) = g_k sum_{d=0}^{W-1} a_k^d x_n(t-d)
    running: f[n][k](t) = g_k sum_{d>=0}     a_k^d x_n(t-d)
    with a_k = exp(-dt/tau_k), g_k = (1 - a_k)/dt; steps before 0 are 0.
    """
    W = int(meta["window"])
    dt = float(meta["dt"])
    taus = json.loads(meta["taus"])
    running = meta["feature_mode"] == "running"
    s = np.concatenate([x.astype(np.float64), u.astype(np.float64)], axis=1)
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
            for d in range(min(W, T)):
                out[d:, :, k] += g * a ** d * s[:T - d]
    return out.reshape(T, -1)


def forward(tensors, meta, x, u):
    """y(t) for every step t (T, 6), and the standardised v(t)."""
    arch = meta["arch"]
    W, N = int(meta["window"]), int(meta["neurons"])
    K = len(json.loads(meta["taus"]))
    T = x.shape[0]
    f = features(meta, x, u)
    mean = tensors["in_mean"].astype(np.float64)
    scale = tensors["in_scale"].astype(np.float64)
    hidden = json.loads(meta["hidden"])
    w0 = tensors["layers.0.weight"].astype(np.float64)
    b0 = tensors["layers.0.bias"].astype(np.float64)
    if arch == "dense":
        # v_in = [flattened window m1[t-W+1 .. t] (zeros before step 0),
        # standardised stimulation features]; in chunks of steps, so that
        # the flattened windows never fill memory.
        z = (f[:, N * K:] - mean) / scale
        pad = np.concatenate([np.zeros((W - 1, N)), x.astype(np.float64)])
        v = np.zeros((T, w0.shape[0]))
        for t0 in range(0, T, 64):
            t1 = min(T, t0 + 64)
            win = np.stack([pad[t:t + W].reshape(-1) for t in range(t0, t1)])
            v_in = np.concatenate([win, z[t0:t1]], axis=1)
            v[t0:t1] = v_in @ w0.T + b0
    else:
        v = ((f - mean) / scale) @ w0.T + b0
    for i in range(1, len(hidden) + 1):
        v = np.maximum(v, 0.0)
        w = tensors[f"layers.{2 * i}.weight"].astype(np.float64)
        b = tensors[f"layers.{2 * i}.bias"].astype(np.float64)
        v = v @ w.T + b
    y = v * tensors["out_scale"] + tensors["out_mean"]
    return y, v


def horizon(meta):
    """format_version 1: outputs at the window's last step; 2: `horizon`
    steps after it (the metadata must say how many)."""
    version = int(meta["format_version"])
    assert version in (1, 2), f"format_version {version}"
    if version == 1:
        assert "horizon" not in meta, "horizon needs format_version 2"
        return 0
    h = int(meta["horizon"])
    assert h >= 0, h
    return h


def hand_rmse(meta, y, arm):
    """Hand RMSE of predictions y against the arm `horizon` steps later."""
    W, h = int(meta["window"]), horizon(meta)
    T = y.shape[0]
    t = np.arange(W - 1, T - h)
    d = y[t, 4:6] - arm[t + h, 4:6].astype(np.float64)
    ok = np.isfinite(d).all(axis=1)
    return float(np.sqrt(np.mean(np.sum(d[ok] ** 2, axis=1))))


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    tensors, meta = load_safetensors(sys.argv[1])
    assert meta["format"] == "ncpd-emulator", meta.get("format")
    x = np.load(sys.argv[2])
    u = np.load(sys.argv[3])
    pred = np.load(sys.argv[4]).astype(np.float64)
    tol = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-4
    assert x.shape[1] == int(meta["neurons"]), "spikes do not fit the model"
    assert u.shape[1] == int(meta["stim_channels"]), "stim does not fit the model"
    y, v = forward(tensors, meta, x, u)
    ours = (pred - tensors["out_mean"]) / tensors["out_scale"]
    diff = np.abs(ours - v)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    print(f"{meta['arch']}: {x.shape[0]} steps, standardised outputs spread "
          f"{v.std():.3g}, largest difference {diff.max():.3g} "
          f"(step {worst[0]}, output {worst[1]}), tolerance {tol:g}")
    if not np.isfinite(diff).all() or diff.max() > tol:
        print("FAIL: ncpd's predictions differ from the definition",
              file=sys.stderr)
        return 1
    if v.std() < 1e-3:
        print("FAIL: the outputs do not vary: nothing was checked",
              file=sys.stderr)
        return 1
    if len(sys.argv) > 6:
        arm = np.load(sys.argv[6])
        assert arm.shape == (x.shape[0], 6), "arm does not fit the run"
        print(f"horizon {horizon(meta)}: hand_rmse {hand_rmse(meta, y, arm):.9g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
