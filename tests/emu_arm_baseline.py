"""What the arm's own state already says about the hand H steps on, with no
model (docs/emulator.md, "Toward 4.35 mm at horizon 0").

usage: /usr/bin/python3 tests/emu_arm_baseline.py RECORDING_DIR [H ...]

For each horizon H (default 0 and 100) it scores two predictions of the
hand after step t + H made from the arm states up to step t - 1 alone (what
S1 reports before step t), against arm.npy as ncp-train --eval scores an
emulator (Euclidean hand RMSE):
  hold        hand(t + H) = hand(t - 1)
  linear      hand(t + H) = hand(t - 1) + (H + 1) (hand(t - 1) - hand(t - 2))
An emulator given S1's arm state of the step before as an input can do at
least as well as these.
"""
import os
import sys

import numpy as np


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rec = sys.argv[1]
    try:
        hs = [int(h) for h in sys.argv[2:]] or [0, 100]
    except ValueError:
        sys.exit("emu_arm_baseline.py: horizons must be integers: %s" % " ".join(sys.argv[2:]))
    if any(h < 0 for h in hs):
        sys.exit("emu_arm_baseline.py: horizons must be 0 or more")
    arm = np.load(os.path.join(rec, "arm.npy")).astype(np.float64)
    hand = arm[:, 4:6]
    for h in hs:
        t = np.arange(2, len(hand) - h)
        if not len(t):
            sys.exit("emu_arm_baseline.py: %s has %d steps, too few for horizon %d" % (rec, len(hand), h))
        truth = hand[t + h]
        hold = hand[t - 1]
        lin = hand[t - 1] + (h + 1) * (hand[t - 1] - hand[t - 2])

        def rmse(p):
            e = np.linalg.norm(p - truth, axis=1)
            return 1e3 * np.sqrt(np.nanmean(e ** 2))
        print("%s: horizon %d: hold %.3f mm, linear %.3f mm over %d steps"
              % (rec, h, rmse(hold), rmse(lin), len(t)))


if __name__ == "__main__":
    main()
