"""The co-processor's step in numpy (the ncpd package's ncpd.cpn, written
from docs/model-format.md, "Co-processor models", not from ncpd's C code)
against ncpd's own.

usage: cpn_forward.py MODEL OBS.npy THETA.npy [TOL]

MODEL is an ncpd-cpn .safetensors file; OBS (T x (R + 6)) the
observations of steps 0..T-1 of one state; THETA (T x E) ncpd's theta for
each.  Prints the largest difference and fails when it is above TOL
(default 1e-4, in the units of theta).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
from ncpd import cpn  # noqa: E402  (the tree's package)


def main():
    model = cpn.load(sys.argv[1])
    obs = np.load(sys.argv[2])
    theta = np.load(sys.argv[3])
    tol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    ref = model.run(obs)
    diff = np.abs(ref - theta).max()
    span = np.abs(ref).max()
    print("cpn_forward: %d steps, largest |theta| %.4g, largest difference %.3g"
          % (obs.shape[0], span, diff))
    sys.exit(0 if diff <= tol and span > 0 else 1)


if __name__ == "__main__":
    main()
