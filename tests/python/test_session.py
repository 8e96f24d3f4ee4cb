"""The session of docs/python.md, run as it stands there: start a daemon,
move the target, follow 1000 steps from shared memory with none missed,
record, load the recording, reproduce the daemon's predictions with
ncp-train's model as a torch module (<= 1e-4), and run a model written
from PyTorch in the daemon.

The page's shell steps (a recording, ncp-train) are the `trained`
fixture, shorter; the blocks run with the build's ncpd and names of
their own in place of "ncpd", /tmp/demo and /ncpd-demo."""
import os
import re
import shutil

import numpy as np
import pytest

from conftest import ROOT, prog

pytest.importorskip("torch")


def session_blocks():
    text = open(os.path.join(ROOT, "docs", "python.md"), encoding="utf-8").read()
    part = text.split("## A session", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", part, re.S)
    assert len(blocks) >= 5, "docs/python.md: the session's blocks are missing"
    return blocks


def test_session(scratch, trained):
    base = os.path.join(scratch, "demo")
    os.makedirs(os.path.join(base, "data"))
    shutil.copy(trained[1], os.path.join(base, "data", "emulator.safetensors"))
    name = "/ncpd-pytest-demo-%d" % os.getpid()
    ns = {}
    try:
        for i, block in enumerate(session_blocks()):
            code = (block.replace('["ncpd", ', '[%r, ' % prog("ncpd"))
                    .replace("/tmp/demo", base).replace("/ncpd-demo", name))
            exec(compile(code, "docs/python.md session block %d" % (i + 1), "exec"), ns)
    finally:
        d = ns.get("daemon")
        if d is not None and d.poll() is None:
            d.kill()
            d.wait()
        if os.path.exists("/dev/shm" + name):
            os.unlink("/dev/shm" + name)
    assert ns["status"]["emulator"]["arch"] == "mlp-running"
    assert ns["reply"]["task"]["kind"] == "manual"
    # 1000 steps followed, consecutive, none missed.
    steps = ns["steps"]
    print("followed %d steps %d..%d, %d missed" % (len(steps), steps[0], steps[-1], ns["missed"]))
    assert ns["missed"] == 0 and steps == list(range(steps[0], steps[0] + 1000))
    assert np.allclose(ns["state"]["target"], [0.15, 1.42])
    # The recording and the predictions the daemon made.
    rec = ns["rec"]
    assert rec.steps == 3000 and rec.pred is not None
    print("ncp-train's model in torch vs pred.npy: max difference %.3g over %d steps"
          % (ns["diff"], ns["ok"].sum()))
    assert ns["ok"].sum() >= 0.95 * 2000, ns["ok"].sum()
    assert ns["diff"] <= 1e-4
    # The model written from PyTorch ran in the daemon, as torch predicts.
    print("the PyTorch model in ncpd vs torch: max difference %.3g over %d steps"
          % (ns["diff2"], ns["ok2"].sum()))
    assert ns["rec2"].steps == 2000 and ns["ok2"].sum() >= 0.95 * 1000
    assert ns["diff2"] <= 1e-4
    assert np.nanstd(ns["rec2"].pred[1000:, 4]) > 1e-3, "its outputs do not vary"
    assert ns["daemon"].returncode == 0
