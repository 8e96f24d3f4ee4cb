#!/usr/bin/python3
"""Checks ncp-plot's pictures against the data they come from.

    plot_check.py data REC MODEL HISTORY SUMMARY
        The figures of ncpd.plot, drawn from the recording REC (a
        centre-out run) with MODEL's predictions and from ncp-train's
        HISTORY, hold the recording's, the model's and the history's
        numbers, line for line, and the reach end errors of the run's
        summary (ncpd --summary json, SUMMARY); the predictions computed in chunks equal
        the model run over the whole recording; REC's pred.npy, the
        daemon's predictions, are the same model's.
    plot_check.py svg DIR NAME REACHES PRED
        ncp-plot's SVG pictures NAME-*.svg in DIR carry REACHES reach
        paths, every joint, the raster, the errors; the predicted lines
        exactly when PRED is 1.
    plot_check.py png DIR NAME PRED
        The PNG pictures have the real arm's colour in them, and the
        prediction's exactly when PRED is 1.

Exits 1 with the first difference; prints what it checked.
"""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
import ncpd                      # noqa: E402
import ncpd.plot as plot         # noqa: E402


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def lines_by_gid(fig):
    out = {}
    for ax in fig.axes:
        for ln in ax.lines:
            if ln.get_gid():
                out[ln.get_gid()] = ln
    return out


def same(a, b, what, tol=0.0):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        fail("%s: shape %s, want %s" % (what, a.shape, b.shape))
    both = np.isnan(a) == np.isnan(b)
    if not both.all():
        fail("%s: NaN in different places (%d)" % (what, (~both).sum()))
    d = np.abs(np.nan_to_num(a) - np.nan_to_num(b))
    if d.size and d.max() > tol:
        i = np.unravel_index(np.argmax(d), d.shape)
        fail("%s: differs by %g at %s (%g vs %g)" % (what, d.max(), i, a[i], b[i]))


def check_data(rec_dir, model_path, history_path, summary_path):
    import matplotlib.pyplot as plt
    rec = ncpd.Recording(rec_dir)
    model = ncpd.models.load(model_path)
    T, W, H = rec.steps, model.window, model.horizon
    hand = np.asarray(rec.hand, np.float64)
    tg = np.asarray(rec.target, np.float64)
    arm = np.asarray(rec.arm, np.float64)

    # The reaches: centre-out with task.period 0.5 s from step 0 changes
    # the target every 500 steps.
    rs = plot.reaches(rec)
    period = int(round(rec.meta["config"]["task"]["period"] / rec.dt))
    want = [(s, min(s + period, T)) for s in range(0, T, period)]
    if rs != want:
        fail("reaches %s, want %s (a new target every %d steps)" % (rs, want, period))
    print("reaches: %d, a new target every %d steps" % (len(rs), period))

    # Predictions: in chunks (several here) as over the whole recording.
    whole = model.predict(rec.m1, rec.stim_input(model.stim_channels))
    pred = plot.predictions(rec, model, chunk=700)
    want = np.full((T, 6), np.nan)
    want[W - 1 + H:] = whole[W - 1:T - H]
    ok = np.isfinite(want)
    scale = np.abs(want[ok]).max()
    same(pred, want, "predictions in chunks of 700 rows against the whole run",
         tol=1e-9 * scale)
    print("predictions in %d chunks = the whole run (max |diff| %.2g, values up to %.2g)"
          % (-(-T // 700), np.nanmax(np.abs(pred - want)), scale))
    # Only the chunk that holds the rows asked for (1400..2099 for row 1500).
    part = plot.predictions(rec, model, chunk=700, rows=[1500 + H])
    have = np.flatnonzero(np.isfinite(part).all(axis=1))
    if len(have) != 700 or have[0] != 1400 + H:
        fail("predictions(rows=[1500]) filled rows %s..%s, want the chunk 1400..2099"
             % (have[:1], have[-1:]))
    same(part[have], pred[have], "the predictions of one chunk")
    if rec.files.get("pred") is None:
        fail("%s has no pred.npy: the daemon ran the model" % rec_dir)
    daemon = plot.predictions(rec)
    same(np.isfinite(daemon[W - 1 + H:]), np.ones((T - W + 1 - H, 6)),
         "pred.npy has a prediction for every step after the first window")
    t = np.arange(600, T)          # after the filters forgot the start
    d = np.abs(daemon[t] - pred[t]).max()
    if not d <= 1e-4:
        fail("pred.npy differs from the model run over the recording by %g" % d)
    print("pred.npy = the model over the recording to %.2g" % d)

    # Hand paths: each panel's lines are the reach's rows.
    fig = plot.hand_paths(rec, pred, first=1, count=6)
    g = lines_by_gid(fig)
    for k in range(1, 7):
        s, e = rs[k]
        same(g["real-hand-%d" % k].get_xydata(), hand[s:e], "real hand, reach %d" % k)
        same(g["pred-hand-%d" % k].get_xydata(), pred[s:e, 4:6], "predicted hand, reach %d" % k)
        same(g["target-%d" % k].get_xydata(), tg[s:s + 1], "target of reach %d" % k)
        same(g["start-%d" % k].get_xydata(), hand[s:s + 1], "start of reach %d" % k)
        title = fig.axes[k - 1].get_title()
        err = 1e3 * np.hypot(*(hand[e - 1] - tg[s]))
        if "reach %d " % k not in title or "end error %.1f mm" % err not in title:
            fail("reach %d's title %r, want its end error %.1f mm" % (k, title, err))
    if "reach-hand-7" in g or "real-hand-0" in g:
        fail("hand_paths(first=1, count=6) drew other reaches: %s" % sorted(g))
    plt.close(fig)
    print("hand paths: reaches 1-6, real, predicted, start and target")

    # Joints over 1.2 .. 3.7 s.
    a, b = 1200, 3700
    fig = plot.joints(rec, pred, 1.2, 3.7)
    g = lines_by_gid(fig)
    for name, c, _ in plot.JOINTS:
        same(g["real-" + name].get_xdata(), rec.time[a:b], "time of " + name)
        same(g["real-" + name].get_ydata(), arm[a:b, c], "real " + name)
        same(g["pred-" + name].get_ydata(), pred[a:b, c], "predicted " + name)
    plt.close(fig)
    print("joints: q0 q1 dq0 dq1 over rows %d..%d" % (a, b))

    # Raster: 2.5 s of steps, binned by 2 into at most 1250 columns.
    a, b = 500, 3000
    fig = plot.raster(rec, 0.5, 3.0, max_columns=1250)
    img = [im for ax in fig.axes for im in ax.images if im.get_gid() == "m1-raster"][0]
    m1 = np.asarray(rec.m1[a:b], np.int64)
    counts = m1.reshape(1250, 2, -1).sum(axis=1).T
    same(img.get_array(), counts, "the raster's spike counts")
    if img.get_array().sum() != m1.sum() or m1.sum() == 0:
        fail("the raster holds %d spikes, the rows %d" % (img.get_array().sum(), m1.sum()))
    # The rates: a filled step per neuron, from 0 to its rate.
    fill = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "m1-rate"][0]
    v = np.concatenate([p.vertices for p in fill.get_paths()])
    rate = m1.sum(axis=0) / ((b - a) * rec.dt)
    for n in (int(np.argmax(rate)), int(np.argmin(rate)), m1.shape[1] // 2):
        # neuron n's step spans n - 0.5 .. n + 0.5 at its rate
        for y in (n - 0.5, n + 0.5):
            if 0 < y < m1.shape[1] - 1 and not (
                    (np.abs(v[:, 1] - y) < 1e-9) & (np.abs(v[:, 0] - rate[n]) < 1e-9)).any():
                fail("the rate of neuron %d (%g Hz) is not drawn at %g" % (n, rate[n], y))
    same(np.unique(v[v[:, 0] > 0, 0]), np.unique(rate[rate > 0]), "the rates drawn",
         tol=1e-9)
    plt.close(fig)
    print("raster: %d spikes of %d neurons in %d columns; rates" % (m1.sum(), m1.shape[1], 1250))

    # End errors: every reach but the last (the recording ends it).
    fig = plot.end_errors(rec, pred)
    g = lines_by_gid(fig)
    ends = np.array([e - 1 for _, e in rs[:-1]])
    starts = np.array([s for s, _ in rs[:-1]])
    real = 1e3 * np.hypot(*(hand[ends] - tg[starts]).T)
    perr = 1e3 * np.hypot(*(pred[ends, 4:6] - hand[ends]).T)
    same(g["real-end-error"].get_ydata(), real, "the real end errors")
    same(g["pred-end-error"].get_ydata(), perr, "the predicted end errors")
    # Reaches to one target share its column; centre-out returns to the
    # centre, so one column holds several reaches.
    x = np.round(g["real-end-error"].get_xdata())     # less the jitter
    keys = [tuple(np.round(tg[s] * 1000).astype(int)) for s in starts]
    for i in range(len(keys)):
        for j in range(len(keys)):
            if (keys[i] == keys[j]) != (x[i] == x[j]):
                fail("reaches %d and %d: targets %s %s, columns %g %g"
                     % (i, j, keys[i], keys[j], x[i], x[j]))
    # ... which are the daemon's own (its summary; it counts the last,
    # cut, reach too), to float32 rounding.
    summary = json.load(open(summary_path))["reaches"]
    if len(summary) != len(rs):
        fail("the summary has %d reaches, the figure's recording %d" % (len(summary), len(rs)))
    same(real, [1e3 * r["end_error"] for r in summary[:-1]],
         "the end errors against the daemon's summary (mm)", tol=1e-4)
    for (s, _), r in zip(rs, summary):
        same(tg[s], r["target"], "the target of a reach against the summary", tol=1e-6)
    means = g["real-end-error-mean"]
    for col, m in zip(means.get_xdata(), means.get_ydata()):
        same(m, real[x == col].mean() if (x == col).any() else np.nan,
             "the mean end error of column %g" % col, tol=1e-9)
    ntargets = len(set(keys))
    if ntargets >= len(keys):
        fail("every reach has its own target (%d): the grouping is not tested" % ntargets)
    plt.close(fig)
    print("end errors: %d reaches to %d targets, as the daemon's summary has them"
          % (len(keys), ntargets))

    # Learning curves: the history's losses per epoch, the best epoch.
    hist = plot.read_history(history_path)
    fig = plot.learning_curves(hist)
    g = lines_by_gid(fig)
    epochs = hist[1]
    same(g["train-loss"].get_xdata(), [e["epoch"] for e in epochs], "the epochs")
    same(g["train-loss"].get_ydata(), [e["train_loss"] for e in epochs], "the training loss")
    same(g["val-loss"].get_ydata(), [e["val_loss"] for e in epochs], "the validation loss")
    best = [ln for ax in fig.axes for ln in ax.lines if ln.get_label().startswith("best epoch")]
    if len(best) != 1 or best[0].get_xdata()[0] != hist[2]["best_epoch"]:
        fail("the best epoch is not marked at %d" % hist[2]["best_epoch"])
    plt.close(fig)
    print("learning curves: %d epochs, best %d" % (len(epochs), hist[2]["best_epoch"]))


def svg_ids(path):
    root = ET.parse(path).getroot()
    ids = {el.get("id") for el in root.iter() if el.get("id")}
    text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    return ids, text


def check_svg(d, name, reaches, pred):
    pred = pred == "1"
    reaches = int(reaches)
    ids, text = svg_ids(os.path.join(d, name + "-paths.svg"))
    real = sorted(i for i in ids if re.fullmatch(r"real-hand-\d+", i))
    if real != sorted("real-hand-%d" % k for k in range(reaches)):
        fail("%s-paths.svg: %s, want reaches 0..%d" % (name, real, reaches - 1))
    npred = len([i for i in ids if re.fullmatch(r"pred-hand-\d+", i)])
    if npred != (reaches if pred else 0):
        fail("%s-paths.svg: %d predicted paths, want %d" % (name, npred, reaches if pred else 0))
    if "reach 0" not in text or "end error" not in text:
        fail("%s-paths.svg: no reach titles in its text" % name)
    ids, _ = svg_ids(os.path.join(d, name + "-joints.svg"))
    for j in ("q0", "q1", "dq0", "dq1"):
        if "real-" + j not in ids or (("pred-" + j) in ids) != pred:
            fail("%s-joints.svg: %s real/predicted missing or extra (ids %s)"
                 % (name, j, sorted(ids)[:20]))
    ids, text = svg_ids(os.path.join(d, name + "-raster.svg"))
    if "m1-raster" not in ids or "m1-rate" not in ids or "rate (Hz)" not in text:
        fail("%s-raster.svg: no raster or no rates" % name)
    ids, _ = svg_ids(os.path.join(d, name + "-errors.svg"))
    if "real-end-error" not in ids or ("pred-end-error" in ids) != pred:
        fail("%s-errors.svg: end errors missing or extra" % name)
    print("%s: SVG pictures with %d reaches, predictions %s" % (name, reaches, pred))


def colour_pixels(img, rgb, tol=0.06):
    return int((np.abs(img[:, :, :3] - np.array(rgb) / 255.0) < tol).all(axis=2).sum())


def check_png(d, name, pred):
    import matplotlib.image as mpimg
    pred = pred == "1"
    for what, fig_px in (("paths", None), ("joints", (880, 1100))):
        img = mpimg.imread(os.path.join(d, "%s-%s.png" % (name, what)))
        if fig_px and img.shape[:2] != fig_px:
            fail("%s-%s.png is %s pixels, want %s" % (name, what, img.shape[:2], fig_px))
        real = colour_pixels(img, (0x22, 0x22, 0x22))
        orange = colour_pixels(img, (0xe6, 0x61, 0x00))
        if real < 500:
            fail("%s-%s.png: %d pixels of the real arm's colour" % (name, what, real))
        if pred and orange < 500 or not pred and orange > 0:
            fail("%s-%s.png: %d pixels of the prediction's colour (predictions %s)"
                 % (name, what, orange, pred))
        print("%s-%s.png: %d real-arm pixels, %d prediction pixels" % (name, what, real, orange))


if __name__ == "__main__":
    cmds = {"data": (check_data, 4), "svg": (check_svg, 4), "png": (check_png, 3)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != cmds[sys.argv[1]][1] + 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]][0](*sys.argv[2:])
