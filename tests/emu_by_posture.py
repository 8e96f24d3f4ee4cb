"""An emulator's hand error on a recording, by how far the arm is from the
joint angles M1 represents (docs/emulator.md, "Where the error comes from").

usage: /usr/bin/python3 tests/emu_by_posture.py MODEL RECORDING_DIR

Runs the numpy forward pass of ncpd.models (written from
docs/model-format.md) over the recording's m1.npy and stim.npy, scores each
step t >= window - 1 against arm[t + horizon] as ncp-train --eval does, and
prints the hand RMSE overall and by the distance of q from M1's centre in
M1's scales, max over the two joints of |q_j - m_j| / 0.25 with
m = (0.6, 2.2) (REACH's M1 input scaling, docs/model.md).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
from ncpd import models  # noqa: E402  (the tree's package)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model, rec = sys.argv[1], sys.argv[2]
    m = models.load(model)
    x = np.load(os.path.join(rec, "m1.npy"))
    arm = np.load(os.path.join(rec, "arm.npy"))
    u = np.zeros((len(x), m.stim_channels))
    sp = os.path.join(rec, "stim.npy")
    if os.path.exists(sp):
        s = np.nan_to_num(np.load(sp))
        u[:, :s.shape[1]] = s
    y = m.predict(x, u)
    W, H = m.window, m.horizon
    idx = np.arange(W - 1, len(arm) - H)
    e = np.linalg.norm(y[idx, 4:6] - arm[idx + H, 4:6], axis=1)
    q = arm[idx + H, :2]
    z = np.abs((q - np.array([0.6, 2.2])) / 0.25).max(axis=1)
    print("%s: hand RMSE %.1f mm over %d steps" % (rec, 1e3 * np.sqrt((e ** 2).mean()), len(e)))
    for lo, hi in [(0, 0.5), (0.5, 1), (1, 1.5), (1.5, 2), (2, np.inf)]:
        m = (z >= lo) & (z < hi)
        if m.any():
            print("  distance %.1f to %.1f: %5.1f%% of the steps, hand RMSE %.1f mm"
                  % (lo, hi, 100 * m.mean(), 1e3 * np.sqrt((e[m] ** 2).mean())))


if __name__ == "__main__":
    main()
