"""ncpd.Shm on a real daemon's segment, and on segments that are not."""
import math
import os

import numpy as np
import pytest

import ncpd
from conftest import until


def test_header_matches_status(daemon):
    shm = ncpd.Shm(daemon.shm_name)
    st = daemon.client.status()
    assert shm.generation == st["shm"]["generation"]
    assert shm.window_len == st["shm"]["window"] == 100
    assert shm.pid == daemon.proc.pid and shm.state == "running"
    assert shm.liveness() == "running" and shm.abi[0] == 1
    assert shm.m1_neurons == 1000 and shm.dt == 0.001
    assert shm.stim_electrodes == st["stim"]["electrodes"]


def test_snapshot(daemon):
    c = daemon.client
    c.target(-0.2, 1.3)
    shm = ncpd.Shm(daemon.shm_name)
    until(lambda: shm.state_block()["task_kind"] == "manual", "the manual task")
    until(lambda: shm.head >= 300 and shm.predicted() is not None, "300 steps")
    snap = shm.snapshot()
    w = snap["window"]
    assert len(w) == 100 and w.spikes.shape == (100, 1000) and w.spikes.dtype == np.uint8
    assert (np.diff(w.steps.astype(np.int64)) == 1).all()
    assert (w.spikes.sum(axis=1) == w.spike_count).all()
    st = snap["state"]
    assert st["step"] >= w.steps[-1] and st["task_kind"] == "manual"
    assert np.allclose(st["target"], [-0.2, 1.3])
    l0, l1 = shm.arm_links
    q0, q1 = st["q"]
    fk = [l0 * math.cos(q0) + l1 * math.cos(q0 + q1),
          l0 * math.sin(q0) + l1 * math.sin(q0 + q1)]
    assert np.allclose(fk, st["hand"], atol=1e-9)
    p = snap["predicted"]
    assert p["model_loaded"] and p["model"] == "emulator" and p["step"] > 0
    assert np.isfinite(p["x"]).all() and p["hand"].shape == (2,)
    assert snap["stats"]["mode"] == "realtime" and snap["stats"]["jitter_hist"].shape == (32,)
    assert snap["stim"]["source"] == "none" and snap["stim"]["lesion_kind"] == "none"
    assert snap["stim"]["theta"].shape == (shm.stim_electrodes,)
    arm = snap["arm"]
    assert len(arm["step"]) == 100 and (np.diff(arm["step"].astype(np.int64)) == 1).all()
    assert np.allclose(arm["target"][-1], [-0.2, 1.3], atol=1e-6)
    assert snap["daemon"] == "running"


def test_lesion_and_stim_by_name(daemon):
    c = daemon.client
    shm = ncpd.Shm(daemon.shm_name)
    c.lesion("m1-silence", 0.25)
    until(lambda: shm.stim()["lesion_kind"] == "m1-silence", "the lesion")
    assert shm.stim()["lesion_neurons"] == 250
    E = shm.stim_electrodes
    c.stim_set([0.5] + [0.0] * (E - 1))
    until(lambda: shm.stim()["theta"][0] == 0.5, "theta")
    # alpha = d alpha + theta: theta at its first step, then beyond it.
    until(lambda: shm.stim()["alpha"][0] > 0.5, "alpha to build up")
    s = shm.stim()
    assert s["theta"][0] == 0.5 and (s["theta"][1:] == 0).all()
    assert (s["alpha"][1:] == 0).all()
    until(lambda: shm.window(n=1).stim[0, 0] == 0.5, "theta in the window")
    c.stim_off()
    c.lesion_off()


def test_follow_counts_missed_steps(daemon):
    shm = ncpd.Shm(daemon.shm_name)
    steps = []
    for s in shm.follow(timeout=10):
        assert s.spikes.shape == (1000,) and s.spikes.sum() == s.spike_count
        steps.append((s.step, s.missed))
        if len(steps) == 300:
            break
    got = [k for k, _ in steps]
    assert got == list(range(got[0], got[0] + 300))
    # From a step long gone: told how many went by.
    since = shm.head - 2000
    first = next(shm.follow(since=since, timeout=10))
    assert first.missed == first.step - since and first.missed >= 2000 - 256
    # Chunks: consecutive windows, missed 0 when keeping up.
    n, last = 0, None
    for w in shm.follow(timeout=10, chunks=True):
        assert last is None or w.steps[0] == last + 1
        last = int(w.steps[-1])
        n += len(w)
        if n >= 100:
            break


def test_follow_times_out_while_paused(daemon):
    shm = ncpd.Shm(daemon.shm_name)
    daemon.client.pause()
    until(lambda: shm.state_block()["paused"], "the pause")
    with pytest.raises(TimeoutError, match="no new step"):
        for _ in shm.follow(timeout=0.3):
            pass
    daemon.client.resume()


def test_bad_segments(tmp_path):
    with pytest.raises(ncpd.ShmError, match="cannot open /dev/shm/ncpd-pytest-none"):
        ncpd.Shm("/ncpd-pytest-none-%d" % os.getpid())
    with pytest.raises(ncpd.ShmError, match="one path component"):
        ncpd.Shm("/a/b")
    name = "/ncpd-pytest-foreign-%d" % os.getpid()
    try:
        with open("/dev/shm" + name, "wb") as f:
            f.write(os.urandom(4096))
        with pytest.raises(ncpd.ShmError, match="not an ncpd segment"):
            ncpd.Shm(name)
        with open("/dev/shm" + name, "wb") as f:
            f.write(b"NCPDSHM\0" + bytes([3, 0, 0, 0]) + bytes(4084))
        with pytest.raises(ncpd.ShmError, match="ABI version 3.0"):
            ncpd.Shm(name)
        # A 3-joint arm's major (2) on a header that says 2 joints.
        with open("/dev/shm" + name, "wb") as f:
            f.write(b"NCPDSHM\0" + bytes([2, 0, 5, 0]) + bytes(4084))
        with pytest.raises(ncpd.ShmError, match="with an arm of 2 joints"):
            ncpd.Shm(name)
        with open("/dev/shm" + name, "wb") as f:
            hdr = bytearray(4096)
            hdr[:8] = b"NCPDSHM\0"
            hdr[8:10] = (1).to_bytes(2, "little")
            hdr[16:24] = (8192).to_bytes(8, "little")
            f.write(hdr)
        with pytest.raises(ncpd.ShmError, match="truncated"):
            ncpd.Shm(name)
    finally:
        os.unlink("/dev/shm" + name)


def test_stopped_daemon(scratch):
    import tempfile
    from conftest import Daemon
    d = Daemon(tempfile.mkdtemp(dir=scratch))
    shm = ncpd.Shm(d.shm_name)
    it = shm.follow(timeout=30)
    next(it)
    d.stop()
    assert shm.liveness() == "stopped" and shm.state == "stopped"
    rest = list(it)         # the steps published before it stopped, then the end
    assert all(s.missed == 0 for s in rest[1:])
