"""ncpd.Recording on recordings the daemon made, and on ones it refuses."""
import json
import os
import shutil

import numpy as np
import pytest

import ncpd
from ncpd import models
from conftest import prog, run


def test_free_run_recording(trained):
    rec = ncpd.Recording(trained[0])
    assert rec.complete and rec.steps == 8000 == rec.meta["steps"] and rec.first_step == 0
    assert set(rec.files) == {"m1", "arm", "target", "stim", "lesion", "pred",
                              "rec", "alpha"}
    assert isinstance(rec.m1, np.memmap) and rec.m1.shape == (8000, 1000)
    assert rec.arm.shape == (8000, 6) and rec.target.shape == (8000, 2)
    assert rec.stim.shape == (8000, rec.meta["stim_electrodes"])
    assert rec.lesion.shape == (8000, 2) and rec.pred.shape == (8000, 6)
    R = rec.meta["rec_electrodes"]
    assert rec.rec.shape == (8000, R) and rec.alpha.shape == rec.stim.shape
    # The electrodes fire (Hz) once reaches start; nothing stimulated.
    assert np.isfinite(rec.rec).all() and rec.rec[1000:].mean() > 1
    assert (rec.alpha == 0).all()
    obs = rec.cpn_obs
    assert obs.shape == (8000, R + 6) and np.array_equal(obs[:, R:], rec.arm)
    assert rec.time[1] == pytest.approx(0.001) and len(rec) == 8000
    assert np.array_equal(rec.hand, rec.arm[:, 4:6]) and not rec.dropped.any()
    # No model ran: no prediction.
    assert np.isnan(rec.pred).all()
    u = rec.stim_input(32)
    assert u.shape == (8000, 32) and (u[:, rec.stim.shape[1]:] == 0).all()
    with pytest.raises(ncpd.RecordingError, match="electrodes, the model takes 2"):
        rec.stim_input(2)


def test_realtime_recording_has_predictions(daemon):
    c = daemon.client
    r = c.record("rt", 1)
    assert r["steps"] == 1000
    rec = ncpd.Recording(os.path.join(daemon.data_dir, "rt"))
    assert rec.steps == 1000 and rec.first_step > 0
    # Every step predicted (a step the emulator skipped would be NaN).
    ok = np.isfinite(rec.pred).all(axis=1)
    assert ok.sum() >= 990, ok.sum()
    # Predicted and real hand agree roughly (the model is a weak one).
    assert np.nanmedian(np.abs(rec.pred[:, 4:6] - rec.hand)) < 0.5


def test_refusals(tmp_path, trained):
    with pytest.raises(ncpd.RecordingError, match="no meta.json"):
        ncpd.Recording(str(tmp_path))
    d = tmp_path / "r"
    shutil.copytree(trained[0], d)
    meta = json.loads((d / "meta.json").read_text())
    # Unfinished: refused unless partial, which takes the .partial files
    # cut to their common rows.
    meta["complete"] = False
    del meta["steps"]
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ncpd.RecordingError, match="not complete"):
        ncpd.Recording(str(d))
    m1 = np.load(d / "m1.npy")
    np.save(d / "m1.npy.partial.npy", m1[:500])
    os.rename(d / "m1.npy.partial.npy", d / "m1.npy.partial")
    rec = ncpd.Recording(str(d), partial=True)
    assert rec.steps == 500 and all(len(a) == 500 for a in rec.files.values())
    # A file that does not match its meta.
    meta["complete"], meta["steps"] = True, 8000
    (d / "meta.json").write_text(json.dumps(meta))
    np.save(d / "arm.npy", np.zeros((8000, 5), np.float32))
    with pytest.raises(ncpd.RecordingError, match="arm.npy: 5 columns, want 6"):
        ncpd.Recording(str(d))
    np.save(d / "arm.npy", np.zeros((7999, 6), np.float32))
    with pytest.raises(ncpd.RecordingError, match="arm.npy holds 7999 rows, meta.json says 8000"):
        ncpd.Recording(str(d))
    np.save(d / "arm.npy", np.zeros((8000, 6), np.float32))
    # rec.npy and alpha.npy against meta.json.
    np.save(d / "rec.npy", np.zeros((8000, meta["rec_electrodes"] + 1), np.float32))
    with pytest.raises(ncpd.RecordingError, match="rec has %d columns, meta.json says %d"
                       % (meta["rec_electrodes"] + 1, meta["rec_electrodes"])):
        ncpd.Recording(str(d))
    np.save(d / "rec.npy", np.zeros((8000, meta["rec_electrodes"]), np.float32))
    np.save(d / "alpha.npy", np.zeros((8000, 3), np.float32))
    with pytest.raises(ncpd.RecordingError, match="alpha has 3 columns"):
        ncpd.Recording(str(d))
    np.save(d / "alpha.npy", np.zeros((8000, meta["stim_electrodes"]), np.float32))
    # An older recording: no rec.npy, no cpn_obs.
    os.remove(d / "rec.npy")
    del meta["files"]["rec"]
    del meta["rec_electrodes"]
    (d / "meta.json").write_text(json.dumps(meta))
    rec = ncpd.Recording(str(d))
    assert rec.rec is None
    with pytest.raises(ncpd.RecordingError, match="no rec.npy"):
        rec.cpn_obs
    meta["format"] = "other"
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ncpd.RecordingError, match="not 'ncpd-recording'"):
        ncpd.Recording(str(d))


def test_free_run_predictions_from_the_first_step(scratch, trained):
    """Free-run with a model: every step predicted (lockstep), and from
    the run's first step the definition gives pred.npy exactly."""
    d = os.path.join(scratch, "lockstep")
    run([prog("ncpd"), "--free-run", "--duration", "2", "--set", "task.kind=random",
         "--set", "stim.source=noise", "--set", "stim.noise=0.1",
         "--set", "emulator.model=" + trained[1],
         "--set", "shm.name=/ncpd-pytest-lockstep-%d" % os.getpid(),
         "--set", "control.socket=" + os.path.join(d, "s.sock"),
         "--set", "data_dir=" + d, "--record", "rec"])
    rec = ncpd.Recording(os.path.join(d, "rec"))
    assert rec.first_step == 0 and rec.steps == 2000
    assert np.isfinite(rec.pred).all()
    m = models.load(trained[1])
    y = m.predict(rec.m1, rec.stim_input(m.stim_channels))
    assert np.abs(y - rec.pred).max() <= 1e-4, np.abs(y - rec.pred).max()


def test_probes(scratch):
    """Probes of a free run: listed by TARGET.KIND, M1's spikes probe is
    m1.npy itself, a value probe has its columns; a probe file that does
    not match meta.json is refused."""
    d = os.path.join(scratch, "probes")
    os.makedirs(d)
    run([prog("ncpd"), "--free-run", "--duration", "1",
         "--set", "shm.name=/ncpd-pytest-probe-%d" % os.getpid(),
         "--set", "control.socket=" + os.path.join(d, "s.sock"),
         "--set", "data_dir=" + d,
         "--set", "record.probes=m1:spikes,cb:value:0.01", "--record", "p"])
    rec = ncpd.Recording(os.path.join(d, "p"))
    assert set(rec.probes) == {"m1.spikes", "cb.value"}
    assert np.array_equal(rec.probes["m1.spikes"], rec.m1)
    v = rec.probes["cb.value"]
    assert v.dtype == np.float32 and v.shape[0] == rec.steps
    assert v.shape[1] == rec.probe_meta["cb.value"]["columns"] and np.isfinite(v).all()
    f = os.path.join(d, "p", rec.probe_meta["cb.value"]["file"])
    np.save(f + ".npy", np.zeros((rec.steps - 1, v.shape[1]), np.float32))
    os.rename(f + ".npy", f)
    with pytest.raises(ncpd.RecordingError, match="holds %d rows" % (rec.steps - 1)):
        ncpd.Recording(os.path.join(d, "p"))
