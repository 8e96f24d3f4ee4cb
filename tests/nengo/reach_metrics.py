"""Reach errors from a hand trace, as ncpd's summary defines them.

End error: distance from the hand to the reach's target (a trajectory's last
point) at the reach's last step.  Path error: distance from the hand to the
planned path, mean and maximum over the reach's steps; for a target task the
planned path is the segment from the previous target (the first reach: the
centre) to this one over the whole period, for a trajectory the path's
polyline over the steps where the ramp is above -1 (docs/model.md, Tasks).

Used for the Nengo side of tests/nengo/compare.py (ncpd's side comes from
ncpd's own summary) and for paths of both sides.  numpy only.
"""

import numpy as np


def dist_to_polyline(p, poly):
    """Distance of each point of p (T x 2) to the polyline poly (N x 2)."""
    p = np.asarray(p, float)
    poly = np.asarray(poly, float)
    if len(poly) == 1:
        return np.linalg.norm(p - poly[0], axis=1)
    best = np.full(len(p), np.inf)
    for a, b in zip(poly[:-1], poly[1:]):
        ab = b - a
        l2 = float(ab @ ab)
        if l2 == 0.0:
            d = np.linalg.norm(p - a, axis=1)
        else:
            s = np.clip(((p - a) @ ab) / l2, 0.0, 1.0)
            d = np.linalg.norm(p - (a + s[:, None] * ab), axis=1)
        best = np.minimum(best, d)
    return best


def target_task_reaches(hand, targets, centre, steps_per_reach):
    """Per-reach errors of a target task.

    hand: T x 2 hand after each step; targets: list of the reaches' targets
    in order; centre: the first reach's start."""
    out = []
    prev = np.asarray(centre, float)
    for k, tgt in enumerate(targets):
        a, b = k * steps_per_reach, (k + 1) * steps_per_reach
        if b > len(hand):
            break
        tgt = np.asarray(tgt, float)
        h = hand[a:b]
        d = dist_to_polyline(h, np.vstack([prev, tgt]))
        out.append({"reach": k, "target": tgt.tolist(),
                    "end_error": float(np.linalg.norm(h[-1] - tgt)),
                    "path_error_mean": float(d.mean()),
                    "path_error_max": float(d.max())})
        prev = tgt
    return out


def trajectory_reaches(hand, path, ramp, steps_per_reach):
    """Per-reach errors of a trajectory task (one trace per period).

    ramp: T values of the ramp s (-1 while the start is held)."""
    out = []
    path = np.asarray(path, float)
    k = 0
    while (k + 1) * steps_per_reach <= len(hand):
        a, b = k * steps_per_reach, (k + 1) * steps_per_reach
        h = hand[a:b]
        m = np.asarray(ramp[a:b]) > -1
        d = dist_to_polyline(h[m], path) if m.any() else np.zeros(1)
        out.append({"reach": k, "target": path[-1].tolist(),
                    "end_error": float(np.linalg.norm(h[-1] - path[-1])),
                    "path_error_mean": float(d.mean()),
                    "path_error_max": float(d.max())})
        k += 1
    return out


def summarise(reaches):
    """Run figures from per-reach errors, as ncpd's summary names them."""
    if not reaches:
        return {}
    return {"reaches": len(reaches),
            "mean_end_error": float(np.mean([r["end_error"] for r in reaches])),
            "mean_path_error": float(np.mean([r["path_error_mean"]
                                              for r in reaches])),
            "max_path_error": float(np.max([r["path_error_max"]
                                            for r in reaches]))}
