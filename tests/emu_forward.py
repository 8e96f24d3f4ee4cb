"""The emulator's forward pass in numpy (ncpd.models, written from
docs/model-format.md, not from ncpd's C code), to cross-check ncpd's
predictions.

usage: emu_forward.py MODEL SPIKES.npy STIM.npy PRED.npy [TOL [ARM.npy]]

MODEL is an ncpd-emulator .safetensors file; SPIKES (T x N, 0/1) and STIM
(T x C) are the steps of one run from its first step; PRED (T x 6) holds
ncpd's prediction after each step.  Prints the largest difference
between ncpd's predictions and the definition's, in output standard
deviations (out_scale) beyond the float32 rounding of ncpd's (difference()
below), and fails when it is above TOL (default 1e-4).  With ARM.npy (the run's arm states, T x 6),
also prints the hand RMSE of its own predictions as ncp-train --eval
scores them: the prediction of step t against arm[t + horizon], for
every t >= window - 1 with t + horizon < T.  A model with the arm-state
input needs ARM.npy: step t reads its row t - 1 (in the residual form
the outputs are that row plus the layers' output).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
from ncpd import models  # noqa: E402  (the tree's package)


def difference(m, pred, y):
    """|pred - y| / out_scale, less what rounding pred to float32 allows
    (half a unit in its last place), 0 where within it: pred (T, n_out)
    ncpd's predictions (float32; NaN rows stay NaN), y the definition's
    (model m's forward).  ncpd's last operation rounds each output to
    float32; in the residual form the outputs are the arm state (q near 2
    rad), whose rounding (1.2e-7) is several 1e-4 of a step's change
    (out_scale near 2e-4 rad), so without the allowance a correct
    prediction would look wrong by more than the layers' own error."""
    p32 = np.asarray(pred, np.float32)
    slack = np.spacing(np.abs(p32)).astype(np.float64) / 2
    d = np.abs(p32.astype(np.float64) - y) - slack
    return np.maximum(d, 0.0) / m.tensors["out_scale"].astype(np.float64)


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    m = models.load(sys.argv[1])
    x = np.load(sys.argv[2])
    u = np.load(sys.argv[3])
    pred = np.load(sys.argv[4])
    tol = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-4
    assert x.shape[1] == m.neurons, "spikes do not fit the model"
    assert u.shape[1] == m.stim_channels, "stim does not fit the model"
    arm = np.load(sys.argv[6]) if len(sys.argv) > 6 else None
    if m.arm_input and arm is None:
        print("FAIL: the model reads the arm state: give ARM.npy", file=sys.stderr)
        return 2
    y, v = m.forward(x, u, arm)
    diff = difference(m, pred, y)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    kind = (" in the residual form" if m.residual else
            " with the arm-state input" if m.arm_input else "")
    print(f"{m.arch}{kind}: {x.shape[0]} steps, standardised outputs spread "
          f"{v.std():.3g}, largest difference {diff.max():.3g} "
          f"(step {worst[0]}, output {worst[1]}; in out_scale beyond float32 "
          f"rounding), tolerance {tol:g}")
    if not np.isfinite(diff).all() or diff.max() > tol:
        print("FAIL: ncpd's predictions differ from the definition",
              file=sys.stderr)
        return 1
    if v.std() < 1e-3:
        print("FAIL: the outputs do not vary: nothing was checked",
              file=sys.stderr)
        return 1
    if arm is not None:
        assert arm.shape == (x.shape[0], 6), "arm does not fit the run"
        print(f"horizon {m.horizon}: hand_rmse {m.hand_rmse(y, arm):.9g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
