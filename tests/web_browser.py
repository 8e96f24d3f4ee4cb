"""Headless Chromium driven over the DevTools protocol, for ncp-web's tests
and bench: open a page, evaluate JavaScript in it, take screenshots.

    async with Browser(tmpdir) as b:
        page = await b.open("http://127.0.0.1:8090/")
        await page.wait("ncp.frames > 10", timeout=20)
        png = await page.screenshot()

Debian's chromium; aiohttp (python3-aiohttp) for the protocol's HTTP and
WebSocket.  Run as root it needs --no-sandbox, which it gets.
"""
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import time

import aiohttp

WIDTH, HEIGHT = 1320, 900


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.replies = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            m = json.loads(msg.data)
            fut = self.replies.pop(m.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(m)

    async def call(self, method, timeout=30, **params):
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.replies[self.next_id] = fut
        await self.ws.send_str(json.dumps({"id": self.next_id, "method": method,
                                           "params": params}))
        m = await asyncio.wait_for(fut, timeout)
        if "error" in m:
            raise RuntimeError("%s: %s" % (method, m["error"]))
        return m["result"]

    async def eval(self, expr):
        """The value of a JavaScript expression (JSON-able)."""
        r = await self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"].get("text")))
        return r["result"].get("value")

    async def wait(self, expr, timeout=30, every=0.1):
        """Wait until the expression is true; its last value otherwise
        raises TimeoutError."""
        end = time.monotonic() + timeout
        while True:
            try:
                v = await self.eval(expr)
            except RuntimeError:
                v = None
            if v:
                return v
            if time.monotonic() > end:
                raise TimeoutError("%s still false after %g s" % (expr, timeout))
            await asyncio.sleep(every)

    async def screenshot(self):
        r = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(r["data"])

    async def key(self, key):
        """Type one printable key."""
        for t in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=t, key=key, text=key)


class Browser:
    def __init__(self, tmpdir):
        self.dir = os.path.join(tmpdir, "chromium")
        self.proc = None
        self.http = None

    async def __aenter__(self):
        exe = chromium_path()
        if exe is None:
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        os.makedirs(self.dir, exist_ok=True)
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-port=0", "--user-data-dir=" + self.dir,
             "--window-size=%d,%d" % (WIDTH, HEIGHT), "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        port_file = os.path.join(self.dir, "DevToolsActivePort")
        end = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError("chromium did not start: see %s" % self.log.name)
            await asyncio.sleep(0.1)
        self.port = int(open(port_file).read().split()[0])
        self.http = aiohttp.ClientSession()
        return self

    async def open(self, url):
        async with self.http.get("http://127.0.0.1:%d/json/list" % self.port) as r:
            targets = await r.json(content_type=None)
        page = [t for t in targets if t.get("type") == "page"][0]
        ws = await self.http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        p = Page(ws)
        await p.call("Page.enable")
        await p.call("Emulation.setDeviceMetricsOverride", width=WIDTH,
                     height=HEIGHT, deviceScaleFactor=1, mobile=False)
        await p.call("Page.navigate", url=url)
        await p.wait("document.readyState === 'complete'", timeout=30)
        self.page = p
        return p

    async def close_page(self):
        """Navigate away: the page's WebSocket closes."""
        await self.page.call("Page.navigate", url="about:blank")

    async def __aexit__(self, *exc):
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
