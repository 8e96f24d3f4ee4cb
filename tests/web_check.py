"""ncp-web in headless Chromium against a running ncpd (tests/it_web.sh):
the page shows both arms, the prediction in its own line style, the
target where it is, the M1 raster; moving the target (ncpctl target)
moves it in the picture.  Checks pixels of the screenshots, which it
writes to OUT_DIR.

    web_check.py URL OUT_DIR NCPCTL SOCKET
"""
import asyncio
import io
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from web_browser import Browser  # noqa: E402

# The page's colours (client/web/index.html).
ARM = (0x1f, 0x4f, 0xd0)
PRED = (0xe0, 0x70, 0x00)
TARGET = (0xd0, 0x10, 0x10)
SPIKE = (0x11, 0x11, 0x11)

url, out_dir, ncpctl, sock = sys.argv[1:5]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ctl(*args):
    r = subprocess.run([ncpctl, "--socket", sock] + list(args),
                       capture_output=True, text=True, timeout=30)
    if r.returncode:
        fail("ncpctl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def mask(img, colour):
    return np.all(img == np.array(colour, np.uint8), axis=2)


async def stable_shot(page):
    """A screenshot with the picture's state: the view, the last frame and
    the canvases' places, the same before and after the shot."""
    js = ("JSON.stringify({view: ncp.view, last: ncp.last, frames: ncp.frames, "
          "work: document.getElementById('work').getBoundingClientRect(), "
          "raster: document.getElementById('raster').getBoundingClientRect()})")
    for _ in range(20):
        # Hold the drawing still while the shot is taken.
        await page.eval("ncp.hold = true")
        await asyncio.sleep(0.1)
        before = json.loads(await page.eval(js))
        png = await page.screenshot()
        after = json.loads(await page.eval(js))
        await page.eval("ncp.hold = false")
        if before["view"] == after["view"] and before["last"]["step"] == after["last"]["step"]:
            img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            return png, img, before
        await asyncio.sleep(0.2)
    fail("the picture kept changing under the screenshot")


def project(info, x, y):
    """Workspace metres to screenshot pixels."""
    v, r = info["view"], info["work"]
    return (r["left"] + v["w"] / 2 + (x - v["cx"]) * v["k"],
            r["top"] + v["h"] / 2 - (y - v["cy"]) * v["k"])


def region(img, info, key):
    r = info[key]
    return img[int(r["top"]):int(r["bottom"]), int(r["left"]):int(r["right"])]


def near(m, x, y, rad):
    """Whether mask m has a pixel within rad of (x, y)."""
    x, y = int(round(x)), int(round(y))
    return bool(m[max(y - rad, 0):y + rad + 1, max(x - rad, 0):x + rad + 1].any())


def within(m, x, y, rad):
    """How many pixels of mask m lie within the circle of radius rad
    around (x, y)."""
    yy, xx = np.mgrid[0:m.shape[0], 0:m.shape[1]]
    return int((m & ((xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= rad * rad)).sum())


def check_arms(img, info, label):
    f = info["last"]
    work = region(img, info, "work")
    n_arm, n_pred, n_target = (int(mask(work, c).sum()) for c in (ARM, PRED, TARGET))
    print("%s: workspace pixels: arm %d, predicted %d, target %d"
          % (label, n_arm, n_pred, n_target))
    if n_arm < 300:
        fail("%s: %d pixels of the arm's colour, want >= 300" % (label, n_arm))
    if f["pred"] is None:
        fail("%s: no prediction in the frame drawn" % label)
    if n_pred < 80:
        fail("%s: %d pixels of the prediction's colour, want >= 80" % (label, n_pred))
    if n_target < 40:
        fail("%s: %d pixels of the target's colour, want >= 40" % (label, n_target))
    arm, pred = mask(img, ARM), mask(img, PRED)
    # The real hand is a filled disc of the arm's colour (radius 10 px)
    # where its kinematics put it; the predicted hand a ring (radius 7 px)
    # where the prediction's is.  A good prediction puts its ring and its
    # dashed forearm over the hand's disc, so the disc is looked for in
    # its inner 6 px (113 pixels): a ring and a solid forearm with a pixel
    # of smoothing each side, placed as badly as can be, leave 10 of them.
    hx, hy = project(info, *f["hand"])
    px, py = project(info, *f["pred"]["hand_fk"])
    n_hand = within(arm, hx, hy, 6)
    print("%s: hand at (%.0f, %.0f): %d arm pixels within 6 px; predicted hand %.1f px away"
          % (label, hx, hy, n_hand, math.hypot(px - hx, py - hy)))
    if n_hand < 8:
        fail("%s: no arm at the hand's place (%.0f, %.0f): %d arm pixels within 6 px, want >= 8"
             % (label, hx, hy, n_hand))
    if not near(pred, px, py, 12):
        fail("%s: no prediction at the predicted hand's place (%.0f, %.0f)" % (label, px, py))
    # The predicted arm's own line style: along its forearm, dashes of its
    # colour with gaps between them.
    ex, ey = project(info, *f["pred"]["elbow"])
    r = info["work"]
    runs, inside, prev = 0, 0, False
    for t in np.linspace(0, 1, 400):
        x, y = ex + t * (px - ex), ey + t * (py - ey)
        if not (r["left"] + 2 <= x < r["right"] - 2 and r["top"] + 2 <= y < r["bottom"] - 2):
            continue
        if math.hypot(x - px, y - py) < 14 or math.hypot(x - ex, y - ey) < 14:
            continue    # the joint rings
        inside += 1
        on = near(pred, x, y, 1)
        runs += on and not prev
        prev = on
    length = math.hypot(px - ex, py - ey)
    print("%s: predicted forearm: %d dashes over %d samples (%.0f px long on screen)"
          % (label, runs, inside, length))
    if inside >= 100 and runs < 3:
        fail("%s: the predicted forearm is not dashed (%d dashes)" % (label, runs))
    # The target's circle centred on the target.
    tm = mask(img, TARGET)
    ys, xs = np.nonzero(tm)
    keep = (xs >= r["left"]) & (xs < r["right"]) & (ys >= r["top"]) & (ys < r["bottom"])
    cx, cy = xs[keep].mean() + 0.5, ys[keep].mean() + 0.5  # pixel centres
    tx, ty = project(info, *f["target"])
    print("%s: target drawn at (%.1f, %.1f), projected (%.1f, %.1f)" % (label, cx, cy, tx, ty))
    if math.hypot(cx - tx, cy - ty) > 4:
        fail("%s: the target is drawn %.1f px from its place" % (label, math.hypot(cx - tx, cy - ty)))
    # The raster has spikes.
    n_spk = int(mask(region(img, info, "raster"), SPIKE).sum())
    print("%s: raster: %d spike pixels" % (label, n_spk))
    if n_spk < 200:
        fail("%s: %d spike pixels in the raster, want >= 200" % (label, n_spk))
    return (cx, cy)


async def to_target(page, x, y):
    print(ctl("target", str(x), str(y)).strip())
    await page.wait("ncp.last && ncp.last.target && Math.abs(ncp.last.target[0] - (%g)) < 1e-3"
                    " && Math.abs(ncp.last.target[1] - (%g)) < 1e-3" % (x, y), timeout=20)
    # Let the arm get there, so the reaching workspace stops growing.
    await page.wait("ncp.last.step > 0", timeout=5)
    await asyncio.sleep(3)


async def main():
    with tempfile.TemporaryDirectory() as tmp:
        async with Browser(tmp) as b:
            page = await b.open(url)
            await page.wait("window.ncp && ncp.frames > 10 && ncp.last && ncp.last.pred", timeout=60)
            await to_target(page, 0.2, 1.4)
            png_a, img_a, info_a = await stable_shot(page)
            open(os.path.join(out_dir, "web_a.png"), "wb").write(png_a)
            ca = check_arms(img_a, info_a, "target (0.2, 1.4)")
            await to_target(page, -0.2, 1.1)
            png_b, img_b, info_b = await stable_shot(page)
            open(os.path.join(out_dir, "web_b.png"), "wb").write(png_b)
            cb = check_arms(img_b, info_b, "target (-0.2, 1.1)")
            # The target moved left and down on the screen, as far as the
            # views say it should.
            dx, dy = cb[0] - ca[0], cb[1] - ca[1]
            ax, ay = project(info_a, 0.2, 1.4)
            bx, by = project(info_b, -0.2, 1.1)
            print("target moved on screen by (%.1f, %.1f) px, expected (%.1f, %.1f)"
                  % (dx, dy, bx - ax, by - ay))
            if not (dx < -30 and dy > 30):
                fail("the target did not move left and down: (%.1f, %.1f) px" % (dx, dy))
            if math.hypot(dx - (bx - ax), dy - (by - ay)) > 6:
                fail("the target moved (%.1f, %.1f) px, expected (%.1f, %.1f)"
                     % (dx, dy, bx - ax, by - ay))
            changed = int(np.any(region(img_a, info_a, "work") != region(img_b, info_a, "work"),
                                 axis=2).sum())
            print("workspace pixels changed: %d" % changed)
            # Zoom keys: + shows 1/1.5 as much, - as much again, 0 back.
            w0 = await page.eval("ncp.view.shown[1] - ncp.view.shown[0]")
            await page.key("+")
            await asyncio.sleep(0.3)
            w1 = await page.eval("ncp.view.shown[1] - ncp.view.shown[0]")
            await page.key("0")
            print("zoom: %.3f m wide, %.3f m after +" % (w0, w1))
            if not (abs(w1 - w0 / 1.5) < 0.02 * w0):
                fail("+ did not zoom in by 1.5: %.3f -> %.3f m" % (w0, w1))
    print("web check ok")


asyncio.run(main())
