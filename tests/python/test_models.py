"""ncpd.models: every architecture written from Python (numpy and torch)
runs in ncpd with the predictions the definition gives, and files round
trip; bad models are refused with the fault named."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ncpd
from ncpd import models, safetensors
from conftest import ROOT, prog, run

sys.path.insert(0, os.path.join(ROOT, "tests"))
from emu_forward import difference  # noqa: E402  (ncpd's predictions against y)

ARCHS = models.ARCHS


@pytest.fixture(scope="module")
def short_rec(scratch):
    """1.5 s of ncpd with exploration stimulation, free-run."""
    d = os.path.join(scratch, "short")
    run([prog("ncpd"), "--free-run", "--duration", "1.5", "--set", "task.kind=random",
         "--set", "stim.source=noise", "--set", "stim.noise=0.1",
         "--set", "shm.name=/ncpd-pytest-short-%d" % os.getpid(),
         "--set", "control.socket=" + os.path.join(d, "s.sock"),
         "--set", "data_dir=" + d, "--record", "rec"])
    return ncpd.Recording(os.path.join(d, "rec"))


def spread(m, seed):
    """Make a fresh model's outputs vary: standardisation like a trained
    one's (features of ~20 Hz, outputs of arm-like size)."""
    rng = np.random.default_rng(seed)
    t = m.tensors
    t["in_mean"][:] = rng.uniform(0, 20, t["in_mean"].shape)
    t["in_scale"][:] = rng.uniform(5, 50, t["in_scale"].shape)
    t["out_mean"][:] = [0.5, 1.5, 0, 0, 0, 1.3]
    t["out_scale"][:] = [0.3, 0.3, 1, 1, 0.2, 0.2]
    return m


@pytest.mark.parametrize("arch", ARCHS)
def test_numpy_model_runs_in_ncpd(arch, tmp_path, short_rec):
    # Small hidden layers and (dense) a short window keep numpy quick.
    m = spread(models.new(arch, seed=3, horizon=5,
                          window=20 if arch == "dense" else 100,
                          hidden=None if arch.startswith("ridge") else [32, 16]), 1)
    path = str(tmp_path / "m.safetensors")
    m.save(path)
    back = models.load(path)
    assert back.meta == m.meta and back.horizon == 5
    assert all(np.array_equal(back.tensors[k], m.tensors[k]) for k in m.tensors)
    out = tmp_path / "run"
    out.mkdir()
    run([prog("tests/fixture_emu_dump"), "--run", path, short_rec.path, str(out)])
    pred = np.load(out / "pred.npy").astype(np.float64)
    y, v = m.forward(np.load(out / "spikes.npy"), np.load(out / "stim.npy"))
    assert np.abs(short_rec.stim).max() > 0          # the stimulation is part of it
    assert v.std() > 1e-2, "outputs that do not vary check nothing"
    diff = difference(m, pred, y).max()
    assert diff <= 1e-4, diff


@pytest.mark.parametrize("arch", ARCHS)
def test_torch_module_matches_numpy(arch, tmp_path, short_rec):
    torch = pytest.importorskip("torch")
    m = spread(models.new(arch, seed=5, window=30 if arch == "dense" else 100), 2)
    path = str(tmp_path / "m.safetensors")
    m.save(path)
    emu = models.Emulator.load(path)
    assert set(emu.state_dict()) == set(m.tensors)
    x, u = short_rec.m1, short_rec.stim_input(emu.stim_channels)
    y_np = m.predict(x, u)
    y_t = emu.predict(x, u)
    assert np.abs(y_t - y_np).max() <= 1e-4 * max(1.0, np.abs(y_np).max())
    # Gradients reach the stimulation (a co-processor trains through it).
    ut = torch.tensor(u[:300], dtype=torch.float64, requires_grad=True)
    emu(torch.from_numpy(np.array(x[:300], np.float32)), ut).sum().backward()
    assert ut.grad is not None and ut.grad.abs().sum() > 0
    # Saved from torch, the same file.
    with torch.no_grad():
        emu.layers[0].bias += 1
    emu.save(str(tmp_path / "t.safetensors"), config={"by": "test"})
    t2 = models.load(str(tmp_path / "t.safetensors"))
    assert t2.config == {"by": "test"}
    assert np.array_equal(t2.tensors["layers.0.bias"], m.tensors["layers.0.bias"] + 1)


@pytest.mark.parametrize("arch", ["mlp-running", "ridge"])
def test_arm_input_model_runs_in_ncpd(arch, tmp_path, short_rec):
    """A model with the arm-state input written from numpy: ncpd reads it
    and, fed the recording's arm after each step, predicts what numpy and
    torch do; numpy refuses to run it without the arm."""
    m = spread(models.new(arch, seed=4, arm_input=True,
                          hidden=None if arch.startswith("ridge") else [32, 16]), 3)
    m.tensors["arm_mean"][:] = [0.6, 2.1, 0.0, 0.0]
    m.tensors["arm_scale"][:] = [0.2, 0.2, 1.0, 1.0]
    assert m.arm_input and m.n_arm == 4 and m.meta["format_version"] == "3"
    path = str(tmp_path / "m.safetensors")
    m.save(path)
    back = models.load(path)
    assert back.meta == m.meta and back.arm_input
    out = tmp_path / "run"
    out.mkdir()
    run([prog("tests/fixture_emu_dump"), "--run", path, short_rec.path, str(out)])
    pred = np.load(out / "pred.npy").astype(np.float64)
    arm = short_rec.arm
    y, v = m.forward(np.load(out / "spikes.npy"), np.load(out / "stim.npy"), arm)
    assert v.std() > 1e-2
    diff = difference(m, pred, y).max()
    assert diff <= 1e-4, diff
    # The arm of the step itself (not the one before) is another answer.
    _, late = m.forward(np.load(out / "spikes.npy"), np.load(out / "stim.npy"),
                        np.concatenate([arm[1:], arm[-1:]]))
    assert np.abs(late - v).max() > 10 * max(diff, 1e-6)
    with pytest.raises(models.ModelError, match="reads the arm state"):
        m.forward(np.load(out / "spikes.npy"))
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    emu = models.Emulator.load(path)
    assert set(emu.state_dict()) == set(m.tensors)
    x, u = short_rec.m1, short_rec.stim_input(emu.stim_channels)
    y_t = emu.predict(x, u, arm)
    assert np.abs(y_t - m.predict(x, u, arm)).max() <= 1e-4 * max(1.0, np.abs(y).max())
    emu.save(str(tmp_path / "t.safetensors"))
    assert models.load(str(tmp_path / "t.safetensors")).meta["arm_input"] == m.meta["arm_input"]


def test_arm_input_refusals():
    m = models.new("mlp-running", hidden=[8], arm_input=True)
    t, meta = dict(m.tensors), dict(m.meta)
    assert json.loads(meta["arm_input"]) == ["q0", "q1", "dq0", "dq1"]
    with pytest.raises(models.ModelError, match='"arm_input" is .*the arm of 2 links'):
        models.Model(t, dict(meta, arm_input=json.dumps(list(models.arm_inputs_of(3)))))
    with pytest.raises(models.ModelError, match='"arm_input" needs format_version 3'):
        models.Model(t, dict(meta, format_version="2"))
    with pytest.raises(models.ModelError, match='format_version 3 needs the metadata "arm_input"'):
        models.Model(t, {k: v for k, v in meta.items() if k != "arm_input"})
    with pytest.raises(models.ModelError, match="'arm_scale' is missing"):
        models.Model({k: v for k, v in t.items() if k != "arm_scale"}, meta)
    bad = dict(t, arm_scale=np.array([1, 1, -1, 1], np.float32))
    with pytest.raises(models.ModelError, match="'arm_scale' holds a scale that is not positive"):
        models.Model(bad, meta)
    plain = models.new("mlp-running", hidden=[8])
    with pytest.raises(models.ModelError, match="'arm_mean' is not part of"):
        models.Model(dict(plain.tensors, arm_mean=t["arm_mean"]), plain.meta)
    with pytest.raises(models.ModelError, match="not dense"):
        models.metadata("dense", arm_input=True)
    # The 3-link arm: six inputs.
    m3 = models.new("ridge", links=3, arm_input=True)
    assert m3.n_arm == 6 and m3.n_in == (1000 + 32) * 3 + 6


def residual_model(arch, seed):
    """A made-up model in the residual form: outputs and arm input sized
    as a trained one's (the change of a step: out_scale of 1e-3)."""
    m = spread(models.new(arch, seed=seed, residual=True,
                          hidden=None if arch.startswith("ridge") else [32, 16]), seed)
    t = m.tensors
    t["arm_mean"][:] = [0.6, 2.1, 0.0, 0.0, -0.07, 1.35]
    t["arm_scale"][:] = [0.2, 0.2, 1.0, 1.0, 0.1, 0.1]
    t["out_mean"][:] = [1e-5, -1e-5, -1e-4, 0, 0, 2e-5]
    t["out_scale"][:] = [3e-4, 2e-4, 3e-3, 3e-3, 4e-4, 3e-4]
    return m


@pytest.mark.parametrize("arch", ["mlp-running", "ridge"])
def test_residual_model_runs_in_ncpd(arch, tmp_path, short_rec):
    """A model in the residual form written from numpy round-trips and
    ncpd, fed the recording's arm after each step, predicts what numpy
    and torch do; leaving out the arm of the step before (the base) is
    far off."""
    m = residual_model(arch, 7)
    assert m.residual and m.arm_input and m.n_arm == 6
    assert m.meta["format_version"] == "4" and m.meta["residual"] == "true"
    assert json.loads(m.meta["arm_input"]) == list(models.OUTPUTS)
    path = str(tmp_path / "m.safetensors")
    m.save(path)
    back = models.load(path)
    assert back.meta == m.meta and back.residual and back.n_arm == 6
    assert all(np.array_equal(back.tensors[k], m.tensors[k]) for k in m.tensors)
    out = tmp_path / "run"
    out.mkdir()
    run([prog("tests/fixture_emu_dump"), "--run", path, short_rec.path, str(out)])
    pred = np.load(out / "pred.npy")
    x, u, arm = np.load(out / "spikes.npy"), np.load(out / "stim.npy"), short_rec.arm
    y, v = m.forward(x, u, arm)
    assert v.std() > 1e-2
    diff = difference(m, pred, y).max()
    assert diff <= 1e-4, diff
    # Without the base the predictions are thousands of output deviations
    # off; with the arm of the step itself (not the one before), over one.
    nobase = y - models.arm_input(arm, 2, residual=True)
    nobase[0] = y[0] - m.tensors["arm_mean"]
    assert difference(m, pred, nobase).max() > 1e3
    late, _ = m.forward(x, u, np.concatenate([arm[1:], arm[-1:]]))
    assert difference(m, pred, late).max() > 1
    torch = pytest.importorskip("torch")
    emu = models.Emulator.load(path)
    assert emu.residual and emu.arm_mean.shape == (6,)
    xs, us = short_rec.m1, short_rec.stim_input(emu.stim_channels)
    y_t = emu.predict(xs, us, arm)
    assert difference(m, y_t, m.predict(xs, us, arm)).max() <= 1e-4
    # Gradients reach the stimulation and the weights, not the arm.
    ut = torch.tensor(us[:300], dtype=torch.float64, requires_grad=True)
    at = torch.tensor(arm[:300], requires_grad=True)
    emu(torch.from_numpy(np.array(xs[:300], np.float32)), ut, at).sum().backward()
    assert ut.grad is not None and ut.grad.abs().sum() > 0
    assert emu.layers[0].weight.grad.abs().sum() > 0
    assert at.grad is None
    emu.save(str(tmp_path / "t.safetensors"))
    assert models.load(str(tmp_path / "t.safetensors")).meta == m.meta


def test_residual_base_is_added(tmp_path, short_rec):
    """With the last layer zero and out_mean 0, a residual model predicts
    exactly the arm of the step before: arm_mean at step 0 and where
    that arm is not finite; numpy, torch and ncpd alike."""
    m = residual_model("mlp-running", 8)
    for k in ("layers.4.weight", "layers.4.bias", "out_mean"):
        m.tensors[k][:] = 0
    arm = np.array(short_rec.arm, np.float32)
    want = np.concatenate([m.tensors["arm_mean"][None], arm[:-1]]).astype(np.float64)
    x, u = short_rec.m1, short_rec.stim_input(m.stim_channels)
    assert np.array_equal(m.predict(x, u, arm), want)
    hole = arm.copy()
    hole[50, 1] = np.nan
    hole[80, 4] = np.inf
    want_hole = want.copy()
    want_hole[51, 1] = m.tensors["arm_mean"][1]
    want_hole[81, 4] = m.tensors["arm_mean"][4]
    assert np.array_equal(m.predict(x, u, hole), want_hole)
    assert not np.array_equal(want_hole, want)
    path = str(tmp_path / "z.safetensors")
    m.save(path)
    out = tmp_path / "run"
    out.mkdir()
    run([prog("tests/fixture_emu_dump"), "--run", path, short_rec.path, str(out)])
    assert np.array_equal(np.load(out / "pred.npy"), want.astype(np.float32))
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    emu = models.Emulator.load(path)
    assert np.array_equal(emu.predict(x, u, hole), want_hole.astype(np.float32))


def refused_by_ncpd(path, tmp_path):
    """ncpd's loader's message for the file at path (it must refuse it)."""
    r = subprocess.run([prog("tests/fixture_emu_dump"), "--run", path, str(tmp_path),
                        str(tmp_path)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert r.returncode != 0, "ncpd loaded %s" % path
    return r.stdout


def test_residual_refusals(tmp_path):
    """Every refusal of a version 4 file, in numpy and in ncpd, with the
    same fault named."""
    m = models.new("mlp-running", hidden=[8], residual=True)
    t, meta = dict(m.tensors), dict(m.meta)
    v3 = models.new("mlp-running", hidden=[8], arm_input=True)
    cut = {k: v for k, v in meta.items() if k != "residual"}
    cases = [
        ("no residual", t, cut,
         'format_version 4 is the residual form and needs the metadata "residual": '
         '"true", which is missing'),
        ("residual yes", t, dict(meta, residual="yes"),
         'format_version 4 is the residual form .*, not "yes"'),
        ("residual in v3", v3.tensors, dict(v3.meta, residual="true"),
         r'metadata "residual" needs format_version 4 \(the file says 3\)'),
        ("v4 without arm_input", t, {k: v for k, v in meta.items() if k != "arm_input"},
         'format_version 4 needs the metadata "arm_input"'),
        ("v4 with v3 arm_input", t,
         dict(meta, arm_input=json.dumps(list(models.arm_inputs_of(2)))),
         '"arm_input" is .*the whole state of the arm of 2 links its 6 outputs'),
        ("arm_input v4 in v3", v3.tensors,
         dict(v3.meta, arm_input=json.dumps(list(models.OUTPUTS))),
         '"arm_input" is .*the q and dq of the arm of 2 links'),
        ("v3 arm_mean", dict(t, arm_mean=v3.tensors["arm_mean"]), meta, "arm_mean"),
        ("version 5", t, dict(meta, format_version="5"), "format_version"),
    ]
    for what, tensors, md, pattern in cases:
        with pytest.raises(models.ModelError, match=pattern):
            models.Model(tensors, md)
        path = str(tmp_path / ("%s.safetensors" % what.replace(" ", "-")))
        safetensors.write(path, tensors, md)
        err = refused_by_ncpd(path, tmp_path)
        assert re.search(pattern, err), (what, err)
    # The whole file is right, and the dense architecture has no arm input.
    models.Model(t, meta)
    with pytest.raises(models.ModelError, match="not dense"):
        models.metadata("dense", residual=True)
    # The 3-link arm: eight inputs, the outputs' names.
    m3 = models.new("ridge", links=3, residual=True)
    assert m3.n_arm == 8 and m3.n_in == (1000 + 32) * 3 + 8
    assert json.loads(m3.meta["arm_input"]) == list(models.outputs_of(3))


def test_trained_model(trained):
    """ncp-train's file reads, in numpy and torch alike."""
    m = models.load(trained[1])
    assert m.arch == "mlp-running" and m.config["epochs"] == 2, m.config
    rec = ncpd.Recording(trained[0])
    y = m.predict(rec.m1[:2000], rec.stim_input(m.stim_channels)[:2000])
    assert y.shape == (2000, 6) and np.isfinite(y).all()


def test_refusals(tmp_path):
    m = models.new("ridge")
    t, meta = dict(m.tensors), dict(m.meta)
    with pytest.raises(models.ModelError, match='metadata "neurons" is missing'):
        models.Model(t, {k: v for k, v in meta.items() if k != "neurons"})
    with pytest.raises(models.ModelError, match="feature_mode 'running' disagrees with arch ridge"):
        models.Model(t, dict(meta, feature_mode="running"))
    with pytest.raises(models.ModelError, match='"n_in" is 7'):
        models.Model(t, dict(meta, n_in="7"))
    with pytest.raises(models.ModelError, match="horizon"):
        models.Model(t, dict(meta, horizon="3"))
    with pytest.raises(models.ModelError, match=r"'layers.0.weight' has shape \[6, 3\]"):
        models.Model(dict(t, **{"layers.0.weight": np.zeros((6, 3), np.float32)}), meta)
    bad = dict(t, in_scale=t["in_scale"].copy())
    bad["in_scale"][3] = 0
    with pytest.raises(models.ModelError, match="'in_scale' holds a scale that is not positive"):
        models.Model(bad, meta)
    with pytest.raises(models.ModelError, match="'extra' is not part of ridge"):
        models.Model(dict(t, extra=np.zeros(1, np.float32)), meta)
    with pytest.raises(models.ModelError, match="arch 'cnn'"):
        models.metadata("cnn")
    # The container: truncated, overlapping.
    p = tmp_path / "m.safetensors"
    m.save(str(p))
    blob = p.read_bytes()
    p.write_bytes(blob[:-4])
    with pytest.raises(safetensors.SafetensorsError, match="outside the data|belong to no"):
        models.load(str(p))
    n = int.from_bytes(blob[:8], "little")
    h = json.loads(blob[8:8 + n])
    h["out_mean"]["data_offsets"] = h["out_scale"]["data_offsets"]
    text = json.dumps(h).encode()
    p.write_bytes(len(text).to_bytes(8, "little") + text + blob[8 + n:])
    with pytest.raises(safetensors.SafetensorsError, match="overlap|gap"):
        models.load(str(p))


def test_cpn_file(tmp_path):
    """A CPN file ncpd wrote (fixture_cpn_file): read and checked by
    ncpd.cpn, saved back unchanged, the same theta from the torch module
    (when torch imports); a file of another format or with a NaN weight
    is refused.  (it_cpn checks ncpd.cpn's theta against ncpd's own.)"""
    from ncpd import cpn
    f = str(tmp_path / "c.safetensors")
    run([prog("tests/fixture_cpn_file"), f, "16", "16", "3"])
    c = cpn.load(f)
    assert (c.electrodes, c.rec_electrodes, c.n_in) == (16, 16, 22)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(50, 22)) * 20
    theta = c.run(obs)
    assert theta.shape == (50, 16) and np.abs(theta).max() > 0
    assert np.abs(theta).max() <= c.stim_max
    g = str(tmp_path / "d.safetensors")
    c.save(g)
    assert np.array_equal(cpn.load(g).run(obs), theta)
    bad = dict(c.tensors)
    bad["in_mean"] = bad["in_mean"].copy()
    bad["in_mean"][3] = np.nan
    with pytest.raises(cpn.CpnError, match="in_mean.*not finite"):
        cpn.Cpn(bad, c.meta)
    with pytest.raises(cpn.CpnError, match="not 'ncpd-cpn'"):
        cpn.Cpn(c.tensors, dict(c.meta, format="ncpd-emulator"))
    try:
        import torch
    except ImportError:
        return
    m = cpn.CpnModule.load(f)
    with torch.no_grad():
        a = m(torch.from_numpy(obs)).numpy()
    assert np.abs(a - c.target(obs)).max() < 1e-5
    h = str(tmp_path / "t.safetensors")
    m.save(h)
    assert np.abs(cpn.load(h).run(obs) - theta).max() < 1e-6
