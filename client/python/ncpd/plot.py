"""Pictures of what ncpd did: from a recording (ncpd.Recording) and the
predictions of its emulator, and from ncp-train's history.  ncp-plot is
its command line; from Python or Jupyter:

    import ncpd, ncpd.plot
    rec = ncpd.Recording("data/run1")
    pred = ncpd.plot.predictions(rec)                   # the recorded pred.npy
    pred = ncpd.plot.predictions(rec, ncpd.models.load("data/emulator.safetensors"))
    fig = ncpd.plot.hand_paths(rec, pred)               # a matplotlib Figure
    fig = ncpd.plot.joints(rec, pred, 0, 10)
    fig = ncpd.plot.raster(rec, 0, 2)
    fig = ncpd.plot.end_errors(rec, pred)
    fig = ncpd.plot.learning_curves(ncpd.plot.read_history("data/emulator.history.jsonl"))

Predictions are aligned with the arm: row t of predictions() is the
predicted state of step t (the model's output from the window ending at
step t - horizon), NaN where there is none, so that it compares with
rec.arm row for row.  Every drawn line carries a gid naming what it
shows ("real-hand-3", "pred-q0", ...), which SVG output keeps as the id
of its group.
"""
import json
import math
import os

import numpy as np

__all__ = ["PlotError", "predictions", "reaches", "span_rows", "hand_paths", "joints",
           "raster", "end_errors", "read_history", "learning_curves",
           "REAL", "PRED", "TARGET"]

# The real arm: solid and dark; the prediction: dashed and orange, so the
# two differ without colour too; targets: green crosses.
REAL = dict(color="#222222", linestyle="-", linewidth=1.4)
PRED = dict(color="#e66100", linestyle="--", linewidth=1.4)
TARGET = dict(color="#1a9850", marker="X", markersize=9, linestyle="none")


class PlotError(ValueError):
    """Input a picture cannot be made from; the message says what and where."""


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # Text stays text in SVG (searchable, and smaller).
    matplotlib.rcParams["svg.fonttype"] = "none"
    return plt


# --- the data -----------------------------------------------------------------

def _lead_in(model):
    """Steps of history after which the model's features no longer depend
    on what came before (to double rounding): the window, and for running
    features 30 of the longest time constant (e^-30 ~ 1e-13)."""
    steps = model.window - 1
    if model.running:
        steps = max(steps, int(math.ceil(30 * max(model.taus) / model.dt)))
    return steps


def predictions(rec, model=None, chunk=2500, horizon=0, rows=None):
    """The predicted arm state of every step of `rec`, (steps, 2 J + 2)
    float64 (J the arm's joints: 6 columns, 8 for the 3-link arm),
    NaN where there is none.

    With a model (ncpd.models.Model): the model run over the recording's
    m1 and stim from row 0, in chunks of `chunk` rows each preceded by
    the steps the model's filters remember (so memory stays bounded), its
    first `window - 1` rows left NaN (no full window yet), as ncp-train
    --eval scores it.  `rows` (row numbers), when given, limits the work
    to the chunks that hold them; other chunks stay NaN.  Without a
    model: the daemon's predictions, pred.npy (PlotError when the
    recording has none), made by a model of the given `horizon` (a
    recording does not say which model the daemon ran).  Either way row
    t + horizon holds the prediction from the window ending at step t."""
    T = rec.steps
    A = len(rec.arm_columns)
    out = np.full((T, A), np.nan)
    if model is None:
        p = rec.files.get("pred")
        if p is None:
            raise PlotError("%s: no pred.npy (the emulator did not run while "
                            "recording): give a model" % rec.path)
        y = np.asarray(p, np.float64)
        start = 0
    else:
        if model.neurons != rec.m1.shape[1]:
            raise PlotError("%s has %d M1 neurons, the model %s %d"
                            % (rec.path, rec.m1.shape[1], model.where, model.neurons))
        if model.n_out != A:
            raise PlotError("%s is of an arm of %d links, the model %s predicts "
                            "%d outputs" % (rec.path, rec.links, model.where,
                                            model.n_out))
        if abs(model.dt - rec.dt) > 1e-12:
            raise PlotError("%s has dt %g, the model %s %g"
                            % (rec.path, rec.dt, model.where, model.dt))
        horizon = model.horizon
        start = model.window - 1
        # The chunks of the windows whose predictions land on `rows`.
        need = np.ones(-(-T // chunk), bool)
        if rows is not None:
            src = np.asarray(rows, np.int64) - horizon
            need[:] = False
            need[src[(src >= 0) & (src < T)] // chunk] = True
        u = rec.stim_input(model.stim_channels)
        lead = _lead_in(model)
        y = np.full((T, A), np.nan)
        for a in range(0, T, chunk):
            if not need[a // chunk]:
                continue
            b = min(T, a + chunk)
            a0 = max(0, a - lead)
            y[a:b] = model.predict(rec.m1[a0:b], u[a0:b])[a - a0:]
    if horizon < T:
        out[start + horizon:] = y[start:T - horizon]
    return out


def reaches(rec):
    """The reaches of a recording: (start, end) row ranges over which the
    target stays the same, in order (rows with no target, dropped steps,
    end one).  The last one ends with the recording rather than with a
    new target."""
    tg = np.asarray(rec.target)
    ok = np.isfinite(tg).all(axis=1)
    change = np.ones(len(tg), bool)
    change[1:] = (tg[1:] != tg[:-1]).any(axis=1) | (ok[1:] != ok[:-1])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], len(tg))
    return [(int(s), int(e)) for s, e in zip(starts, ends) if ok[s]]


def span_rows(rec, t_from, t_to):
    """Rows (a, b) of the span [t_from, t_to) seconds from the recording's
    start (t_to None: to its end); PlotError when it holds none."""
    a = max(0, int(round(t_from / rec.dt)))
    b = rec.steps if t_to is None else min(rec.steps, int(round(t_to / rec.dt)))
    if b <= a:
        raise PlotError("%s: the span %g..%s s holds no step (the recording "
                        "has %.3f s)" % (rec.path, t_from,
                                         "end" if t_to is None else "%g" % t_to,
                                         rec.steps * rec.dt))
    return a, b


def _centre(rec):
    cfg = rec.meta.get("config") or {}
    c = (cfg.get("task") or {}).get("centre")
    return np.asarray(c if c else (0.0, 1.25), np.float64)


# --- the pictures -------------------------------------------------------------

def hand_paths(rec, pred=None, first=0, count=8):
    """The hand's path in each of `count` reaches from reach `first`: one
    panel per reach, the real path, the predicted one (when pred is
    given), the start and the target."""
    plt = _pyplot()
    rs = reaches(rec)[first:first + count]
    if not rs:
        raise PlotError("%s: no reach from reach %d on (it has %d)"
                        % (rec.path, first, len(reaches(rec))))
    cols = min(4, len(rs))
    nrows = (len(rs) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.2 * nrows + 0.6),
                             sharex=True, sharey=True, squeeze=False)
    hand = np.asarray(rec.hand, np.float64)
    tg = np.asarray(rec.target, np.float64)
    hx = 2 * rec.links          # the hand's columns: after q and dq
    pts = []
    for i, (s, e) in enumerate(rs):
        ax = axes[i // cols][i % cols]
        k = first + i
        ax.plot(hand[s:e, 0], hand[s:e, 1], gid="real-hand-%d" % k,
                label="real", **REAL)
        if pred is not None:
            ax.plot(pred[s:e, hx], pred[s:e, hx + 1], gid="pred-hand-%d" % k,
                    label="predicted", **PRED)
        ax.plot([hand[s, 0]], [hand[s, 1]], "o", color=REAL["color"],
                markersize=4, gid="start-%d" % k)
        ax.plot([tg[s, 0]], [tg[s, 1]], gid="target-%d" % k, label="target", **TARGET)
        err = np.hypot(*(hand[e - 1] - tg[s]))
        ax.set_title("reach %d  (%.2f, %.2f) m\nend error %.1f mm" % (
            k, tg[s, 0], tg[s, 1], 1e3 * err), fontsize=9)
        ax.set_aspect("equal", adjustable="box")
        ax.grid(alpha=0.3)
        pts += [hand[s:e], tg[s:s + 1]]
        if pred is not None:
            pts.append(pred[s:e, hx:hx + 2])
    for j in range(len(rs), nrows * cols):
        axes[j // cols][j % cols].set_visible(False)
    p = np.concatenate(pts)
    p = p[np.isfinite(p).all(axis=1)]
    lo, hi = p.min(axis=0), p.max(axis=0)
    pad = 0.08 * max(hi - lo) + 0.01
    axes[0][0].set_xlim(lo[0] - pad, hi[0] + pad)
    axes[0][0].set_ylim(lo[1] - pad, hi[1] + pad)
    for ax in axes[-1]:
        ax.set_xlabel("x (m)")
    for row in axes:
        row[0].set_ylabel("y (m)")
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle("%s: hand paths, real%s" % (
        rec.name, " and predicted" if pred is not None else ""))
    fig.tight_layout()
    return fig


def _joints(links):
    """(name, column, unit) of every joint angle and velocity."""
    return ([("q%d" % j, j, "rad") for j in range(links)] +
            [("dq%d" % j, links + j, "rad/s") for j in range(links)])


JOINTS = tuple(_joints(2))


def joints(rec, pred=None, t_from=0.0, t_to=10.0):
    """Joint angles and velocities against time over [t_from, t_to)
    seconds of the recording: real, and predicted when pred is given."""
    plt = _pyplot()
    a, b = span_rows(rec, t_from, t_to)
    t = rec.time[a:b]
    arm = np.asarray(rec.arm[a:b], np.float64)
    js = _joints(rec.links)
    nj = len(js)
    fig, axes = plt.subplots(nj, 1, figsize=(10, 2 * nj), sharex=True)
    for ax, (name, c, unit) in zip(axes, js):
        ax.plot(t, arm[:, c], gid="real-" + name, label="real", **REAL)
        if pred is not None:
            ax.plot(t, pred[a:b, c], gid="pred-" + name, label="predicted", **PRED)
        ax.set_ylabel("%s (%s)" % (name, unit))
        ax.grid(alpha=0.3)
    # Target changes, as thin verticals.
    for s, _ in reaches(rec):
        if a < s < b:
            for ax in axes:
                ax.axvline(rec.time[s], color="#999999", linewidth=0.6, zorder=0)
    axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("loop time (s); grey lines: a new target")
    if pred is not None:
        ok = np.isfinite(pred[a:b, :nj]).all(axis=1) & np.isfinite(arm[:, :nj]).all(axis=1)
        rmse = np.sqrt(np.mean((pred[a:b][ok, :nj] - arm[ok, :nj]) ** 2, axis=0)) if ok.any() \
            else [np.nan] * nj
        L = rec.links
        fig.suptitle("%s: joints, real and predicted (RMSE q %s rad, dq %s rad/s)"
                     % (rec.name, " ".join("%.4f" % v for v in rmse[:L]),
                        " ".join("%.3f" % v for v in rmse[L:])))
    else:
        fig.suptitle("%s: joints" % rec.name)
    fig.tight_layout()
    return fig


def raster(rec, t_from=0.0, t_to=2.0, max_columns=2000):
    """M1's spikes over [t_from, t_to) seconds (neurons down, time
    across; bins of several steps when the span has more than
    max_columns steps, darker for more spikes) and each neuron's rate
    over the span."""
    plt = _pyplot()
    a, b = span_rows(rec, t_from, t_to)
    m1 = np.asarray(rec.m1[a:b])
    steps, N = m1.shape
    bin_steps = max(1, -(-steps // max_columns))
    nb = steps // bin_steps
    counts = m1[:nb * bin_steps].reshape(nb, bin_steps, N).sum(axis=1, dtype=np.int32).T
    rate = m1.sum(axis=0, dtype=np.int64) / (steps * rec.dt)
    fig, (ax, axr) = plt.subplots(1, 2, figsize=(11, 6), sharey=True,
                                  gridspec_kw={"width_ratios": [5, 1]})
    t0 = rec.time[a]
    im = ax.imshow(counts, aspect="auto", interpolation="nearest", cmap="Greys",
                   origin="lower", vmin=0, vmax=max(1, int(counts.max())),
                   extent=(t0, t0 + nb * bin_steps * rec.dt, -0.5, N - 0.5))
    im.set_gid("m1-raster")
    ax.set_xlabel("loop time (s)" + ("; %d steps a column" % bin_steps
                                     if bin_steps > 1 else ""))
    ax.set_ylabel("M1 neuron")
    # A filled step per neuron (a line this dense would be simplified
    # when drawn, and lose its peaks).
    fill = axr.fill_betweenx(np.arange(N), 0, rate, step="mid", color="#333333",
                             linewidth=0)
    fill.set_gid("m1-rate")
    axr.set_xlim(left=0)
    axr.set_xlabel("rate (Hz)")
    fig.suptitle("%s: M1, %d neurons, %.2f s; mean rate %.1f Hz, %.1f spikes a step"
                 % (rec.name, N, steps * rec.dt, rate.mean(), m1.sum() / steps))
    fig.tight_layout()
    return fig


def end_errors(rec, pred=None):
    """Reach end errors per target: the distance from the hand to the
    target at the last step of each reach (every reach a new target
    ended; not the last, which the recording cut), and when pred is
    given, the distance from the predicted to the real hand there.  Left,
    the targets in the workspace shaded by their mean error; right, each
    target's errors."""
    plt = _pyplot()
    rs = reaches(rec)[:-1]
    if not rs:
        raise PlotError("%s: no finished reach (the target never changed)" % rec.path)
    hand = np.asarray(rec.hand, np.float64)
    tg = np.asarray(rec.target, np.float64)
    ends = np.array([e - 1 for _, e in rs])
    targets = tg[[s for s, _ in rs]]
    err = np.hypot(*(hand[ends] - targets).T)
    hx = 2 * rec.links          # the hand's columns: after q and dq
    perr = None if pred is None else np.hypot(*(pred[ends, hx:hx + 2] - hand[ends]).T)
    # Targets to the mm; ordered by angle around the workspace's centre.
    keys = np.round(targets * 1000).astype(np.int64)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    c = _centre(rec)
    ang = np.degrees(np.arctan2(uniq[:, 1] / 1e3 - c[1], uniq[:, 0] / 1e3 - c[0]))
    order = np.argsort(ang, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    mean = np.array([err[inv == g].mean() for g in range(len(uniq))])

    fig, (axm, axe) = plt.subplots(1, 2, figsize=(12, 5),
                                   gridspec_kw={"width_ratios": [2, 3]})
    sc = axm.scatter(uniq[:, 0] / 1e3, uniq[:, 1] / 1e3, c=1e3 * mean, cmap="viridis",
                     marker="X", s=70, edgecolors="k", linewidths=0.4)
    sc.set_gid("target-map")
    axm.plot([c[0]], [c[1]], "+", color="k", markersize=10)
    fig.colorbar(sc, ax=axm, label="mean end error (mm)")
    axm.set_aspect("equal", adjustable="datalim")
    axm.set_xlabel("x (m)")
    axm.set_ylabel("y (m)")
    axm.set_title("targets (+ the centre)", fontsize=10)
    x = rank[inv]
    jitter = 0.12 if perr is not None else 0.0
    axe.plot(x - jitter, 1e3 * err, "o", color=REAL["color"], markersize=4,
             gid="real-end-error", label="real hand to target")
    if perr is not None:
        axe.plot(x + jitter, 1e3 * perr, "s", color=PRED["color"], markersize=4,
                 markerfacecolor="none", gid="pred-end-error",
                 label="predicted to real hand")
    axe.plot(rank, 1e3 * mean, "_", color=REAL["color"], markersize=14,
             markeredgewidth=2, gid="real-end-error-mean", label="mean per target")
    if len(uniq) <= 16:
        axe.set_xticks(np.arange(len(uniq)))
        axe.set_xticklabels(["(%.2f,\n%.2f)" % (uniq[g, 0] / 1e3, uniq[g, 1] / 1e3)
                             for g in order], fontsize=8)
        axe.set_xlabel("target (m), by angle around the centre")
    else:
        from matplotlib.ticker import MaxNLocator
        axe.xaxis.set_major_locator(MaxNLocator(integer=True))
        axe.set_xlabel("target, numbered by angle around the centre (%d targets)"
                       % len(uniq))
    axe.set_ylabel("error at the reach's end (mm)")
    axe.set_yscale("log" if (err > 0).all() and err.max() > 30 * err.min() else "linear")
    axe.grid(alpha=0.3)
    axe.legend(fontsize=8)
    title = "%s: %d reaches, end error median %.1f mm" % (rec.name, len(rs),
                                                          1e3 * np.median(err))
    if perr is not None:
        title += "; prediction at the end median %.1f mm" % (1e3 * np.nanmedian(perr))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def read_history(path):
    """ncp-train's history (docs/file-formats.md): (run, rows, result),
    rows the epoch lines (or the lambda lines of ridge).  A model's path
    (MODEL.safetensors) reads the history next to it."""
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        path = path[:-len(".safetensors")] + ".history.jsonl"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise PlotError("%s: %s" % (path, e.strerror or e)) from None
    lines = []
    for n, line in enumerate(text.splitlines(), start=1):
        try:
            lines.append(json.loads(line))
        except ValueError as e:
            raise PlotError("%s:%d: not JSON: %s" % (path, n, e)) from None
    if len(lines) < 2 or not isinstance(lines[0], dict) \
            or lines[0].get("format") != "ncp-train-history":
        raise PlotError("%s: not an ncp-train history (its first line must have "
                        "\"format\": \"ncp-train-history\")" % path)
    if lines[0].get("format_version") != 1:
        raise PlotError("%s: format_version %r; this reader reads 1"
                        % (path, lines[0].get("format_version")))
    for n, row in enumerate(lines[1:-1], start=2):
        if not isinstance(row, dict) or not ("epoch" in row or "lambda" in row):
            raise PlotError("%s:%d: neither an epoch nor a lambda line" % (path, n))
    return lines[0], lines[1:-1], lines[-1]


def learning_curves(history, name=None):
    """ncp-train's learning curves: training and validation loss per
    epoch, the best epoch marked (mlp, dense); the validation loss of each
    output per lambda, the chosen ones marked (ridge)."""
    plt = _pyplot()
    run, rows, result = history
    name = name or os.path.basename(str(run.get("model", "model")))
    val = result.get("val") or {}
    fig, ax = plt.subplots(figsize=(8, 5))
    if rows and "epoch" in rows[0]:
        ep = [r["epoch"] for r in rows]
        tl = [np.nan if r["train_loss"] is None else r["train_loss"] for r in rows]
        vl = [np.nan if r["val_loss"] is None else r["val_loss"] for r in rows]
        ax.plot(ep, tl, gid="train-loss", label="training", marker=".", **REAL)
        ax.plot(ep, vl, gid="val-loss", label="validation", marker=".", **PRED)
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        best = result.get("best_epoch")
        if best:
            ax.axvline(best, color="#1a9850", linewidth=1, label="best epoch %d (saved)" % best)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (MSE of the standardised outputs)")
    elif rows:
        names = ("q0", "q1", "dq0", "dq1", "hand_x", "hand_y")
        lam = np.array([r["lambda"] for r in rows], np.float64)
        vl = np.array([[np.nan if v is None else v for v in r["val_loss"]] for r in rows])
        chosen = result.get("ridge_lambda") or []
        for o, n in enumerate(names):
            line, = ax.plot(lam, vl[:, o], marker=".", gid="val-loss-" + n, label=n)
            if o < len(chosen):
                i = int(np.argmin(np.abs(np.log(lam) - np.log(chosen[o]))))
                ax.plot([lam[i]], [vl[i, o]], "o", markersize=9, markerfacecolor="none",
                        color=line.get_color(), gid="chosen-" + n)
        ax.set_xscale("log")
        ax.set_xlabel("lambda (circles: chosen per output)")
        ax.set_ylabel("validation loss (MSE of the standardised output)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    t = "%s: %s" % (name, run.get("arch", "?"))
    if val.get("hand_rmse") is not None:
        t += ", validation hand RMSE %.1f mm, least R^2 %.4f" % (
            1e3 * val["hand_rmse"], val.get("min_r2") or float("nan"))
    ax.set_title(t, fontsize=10)
    fig.tight_layout()
    return fig
