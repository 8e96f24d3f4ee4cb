"""What the browser view costs the daemon (tests/bench_web.sh): in one
daemon run, alternating segments with no page open and with ncp-web's
page open in headless Chromium, the loop's wake-up p99 of each segment
(from the deltas of its wake-up histogram in shared memory) and the
lateness p99 of the steps' publication (from the window's t_ns); medians
over the segments and their ratio, open / closed.  One JSON line.

    bench_web.py URL SHM SECONDS PAIRS RATE
"""
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "client", "python"))
import ncpd  # noqa: E402
from web_browser import Browser  # noqa: E402

url, name, seconds, pairs, rate = sys.argv[1:6]
seconds, pairs = float(seconds), int(pairs)


def hist_p99(hist):
    """p99 of a log2 wake-up histogram (docs/shm.md), us, interpolated
    log-linearly inside its bin."""
    n = int(hist.sum())
    if not n:
        return None
    want = 0.99 * n
    cum = 0
    for b, c in enumerate(hist):
        c = int(c)
        if c and cum + c >= want:
            f = (want - cum) / c
            if b == 0:
                return f
            lo = 2.0 ** (b - 1)
            return lo * 2.0 ** f
        cum += c
    return None


class Follow:
    """Steps' publication times over a segment, read 20 times a second."""

    def __init__(self, shm):
        self.shm = shm
        self.next = shm.head
        self.steps, self.t_ns = [], []
        self.on = False

    async def run(self):
        while True:
            w = self.shm.window(since=self.next)
            if len(w):
                self.next = int(w.steps[-1]) + 1
                if self.on:
                    self.steps.append(w.steps.astype(np.int64))
                    self.t_ns.append(w.t_ns.astype(np.int64))
            await asyncio.sleep(0.05)

    def start(self):
        self.steps, self.t_ns, self.on = [], [], True

    def stop_p99(self):
        """Lateness p99 (us) of the segment's publications against the
        least late one, on the loop's period grid."""
        self.on = False
        if not self.steps:
            return None
        steps, t = np.concatenate(self.steps), np.concatenate(self.t_ns)
        period = int(round(self.shm.dt * 1e9))
        off = t - steps * period
        late = (off - off.min()) / 1e3
        return float(np.percentile(late, 99))


async def segment(shm, follow, page_open, b, page):
    s0 = shm.stats()
    follow.start()
    f0 = await page.eval("window.ncp ? ncp.frames : 0") if page_open else 0
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    f1 = await page.eval("window.ncp ? ncp.frames : 0") if page_open else 0
    el = time.monotonic() - t0
    pub = follow.stop_p99()
    await asyncio.sleep(0.3)   # the statistics come every 250 steps
    s1 = shm.stats()
    d = s1["jitter_hist"].astype(np.int64) - s0["jitter_hist"].astype(np.int64)
    return {"wakeup_p99_us": round(hist_p99(d), 1),
            "publish_p99_us": round(pub, 1) if pub is not None else None,
            "overruns": s1["overruns"] - s0["overruns"], "slips": s1["slips"] - s0["slips"],
            "wakeups": int(d.sum()),
            "page_frames_per_s": round((f1 - f0) / el, 1) if page_open else 0}


async def main():
    shm = ncpd.Shm(name)
    follow = Follow(shm)
    task = asyncio.create_task(follow.run())
    out = {"closed": [], "open": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with Browser(tmp) as b:
            page = await b.open("about:blank")
            await asyncio.sleep(2)
            for k in range(pairs):
                print("bench_web: pair %d of %d: no page, %g s..." % (k + 1, pairs, seconds),
                      file=sys.stderr)
                out["closed"].append(await segment(shm, follow, False, b, page))
                await page.call("Page.navigate", url=url)
                await page.wait("window.ncp && ncp.frames > 5", timeout=30)
                print("bench_web: pair %d of %d: page open, %g s..." % (k + 1, pairs, seconds),
                      file=sys.stderr)
                out["open"].append(await segment(shm, follow, True, b, page))
                await page.call("Page.navigate", url="about:blank")
                await asyncio.sleep(0.5)
    task.cancel()
    st = shm.stats()
    med = {c: {k: statistics.median(s[k] for s in out[c])
               for k in ("wakeup_p99_us", "publish_p99_us")} for c in out}

    def ratio(k):
        a, b = med["open"][k], med["closed"][k]
        return round(a / b, 3) if a is not None and b else None

    print(json.dumps({
        "bench": "web_view_cost", "seconds_per_segment": seconds, "pairs": pairs,
        "rate_hz": float(rate), "segments": out,
        "median": med,
        "ratio_wakeup_p99": ratio("wakeup_p99_us"),
        "ratio_publish_p99": ratio("publish_p99_us"),
        "run": {"steps": st["steps"], "overruns": st["overruns"], "slips": st["slips"],
                "jitter_p99_us": round(st["jitter_p99_us"], 1), "mode": st["mode"]}}))


asyncio.run(main())
