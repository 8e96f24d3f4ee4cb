"""ncpd.Client against a real daemon, and its reply parser against
ncpctl --json on the same lines."""
import json
import os
import socket
import subprocess
import threading

import pytest

import ncpd
from ncpd.client import parse_reply
from conftest import prog, until

# Lines of every shape docs/protocol.md gives, and the grammar's corners.
LINES = [
    "ok",
    "ok loop.step=12000 loop.sim_time=12 loop.mode=realtime arm.hand=0.012,1.251 "
    "loop.paused=false emulator.hand_rmse=nan shm.generation=18446744073709551557",
    "ok target.xy=0.15,1.42 task.kind=manual task.previous=centre-out",
    "ok task.period=2",
    "ok seed=0",
    "ok record.name=run1 record.steps=2000",
    "ok save.path=/var/lib/ncpd/x.safetensors save.params=774 save.checksum=9f3c2a61d04b7e18",
    "ok save.checksum=0123456789012345 a.b=-0 a.c=1e999 a.d=+2 a.e=.5 a.f=1.5e-3",
    "ok commands: target task pause; 'help COMMAND' describes one",
    "ok a.v=1,x,2 a.w=inf,-inf,1 a.x= a.y=true,false a.z=1,,2",
    "ok a.b=1 a.b=2 a=3 ok=4 ok.x=5 b=6 .c=7 d.=8",
    "ok a=1  b=2",
    "err EACCES '..' is refused: NAME stays inside the data directory (got '../x')",
    "err EINVAL",
]


class FakeServer:
    """A socket answering each request with the next canned line."""

    def __init__(self, path, lines):
        self.lines = list(lines)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.lines:
            conn, _ = self.srv.accept()
            with conn:
                f = conn.makefile("rwb")
                while self.lines and f.readline():
                    f.write(self.lines.pop(0).encode() + b"\n")
                    f.flush()


def test_replies_have_ncpctl_json_shape(tmp_path):
    path = str(tmp_path / "fake.sock")
    FakeServer(path, LINES)
    out = subprocess.run([prog("ncpctl"), "--socket", path, "--json", "--raw"],
                         input="".join("r%d\n" % i for i in range(len(LINES))),
                         stdout=subprocess.PIPE, text=True, timeout=30).stdout
    got = out.splitlines()
    assert len(got) == len(LINES), out
    for line, js in zip(LINES, got):
        assert parse_reply(line) == json.loads(js), line
    # Numbers keep their kind: an int stays an int.
    r = parse_reply(LINES[1])
    assert r["shm"]["generation"] == 18446744073709551557
    assert r["loop"]["step"] == 12000 and isinstance(r["loop"]["step"], int)
    assert r["emulator"]["hand_rmse"] is None and r["loop"]["paused"] is False


def test_not_a_reply():
    for line in ("", "ok\tx", "error x", "err x", "err EX\x01y"):
        with pytest.raises(ValueError):
            parse_reply(line)


def test_default_socket(monkeypatch):
    if os.geteuid() == 0:
        assert ncpd.default_socket() == "/run/ncpd/ncpd.sock"
        return
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/7")
    assert ncpd.default_socket() == "/run/user/7/ncpd/ncpd.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative")
    assert ncpd.default_socket() == "/tmp/ncpd-%d/ncpd.sock" % os.geteuid()


def test_no_daemon(tmp_path):
    c = ncpd.Client(str(tmp_path / "none.sock"), timeout=1)
    with pytest.raises(ncpd.ConnectionFailed, match="cannot connect to .*none.sock"):
        c.status()
    with pytest.raises(ncpd.ConnectionFailed, match="waited"):
        c.wait(timeout=0.2)


def test_every_command(daemon):
    c = daemon.client
    st = c.status()
    assert st["ok"] is True and st["loop"]["mode"] == "realtime"
    assert st["shm"]["name"] == daemon.shm_name and st["emulator"]["loaded"] is True
    r = c.target(0.15, 1.42)
    assert r["target"]["xy"] == [0.15, 1.42] and r["task"]["kind"] == "manual"
    assert c.task("random", 2.5) == {"ok": True}
    assert c.config_get("task.period")["task"]["period"] == 1
    assert c.task("manual") == {"ok": True}
    c.pause()           # applied at the next step boundary
    until(lambda: c.status()["loop"]["paused"] is True, "the pause")
    c.resume()
    until(lambda: c.status()["loop"]["paused"] is False, "the resume")
    assert c.reset() == {"ok": True}
    assert "record" in c.help() and c.help("record").startswith("record start")
    assert isinstance(c.config_get("seed")["seed"], int)
    r = c.record_start("cmd", 5)
    assert r["record"]["name"] == "cmd"
    r = c.record_stop()
    assert r["record"]["name"] == "cmd" and r["record"]["steps"] > 0
    assert os.path.exists(os.path.join(daemon.data_dir, "cmd", "meta.json"))
    s = c.save("copy")
    assert s["save"]["path"] == os.path.join(daemon.data_dir, "copy.safetensors")
    assert s["save"]["checksum"] == c.status()["emulator"]["checksum"]
    assert c.load("copy")["emulator"]["model"] == "copy"
    t = c.train_status()["train"]
    assert t["online"] is False and isinstance(t["updates"], int)
    c.lesion("pmc-m1", 0.5)
    c.lesion_off()
    E = c.status()["stim"]["electrodes"]
    assert c.stim_set([0.0] * (E - 1) + [0.25])["stim"]["electrodes"] == E
    c.stim_off()


def test_errors_carry_code_and_message(daemon):
    c = daemon.client
    with pytest.raises(ncpd.ProtocolError) as e:
        c.target(3, 3)
    assert e.value.code == "ERANGE" and "outside the reachable workspace" in e.value.message
    assert e.value.request == "target 3 3"
    with pytest.raises(ncpd.ProtocolError) as e:
        c.save("../x")
    assert e.value.code == "EACCES" and "'..' is refused" in e.value.message
    with pytest.raises(ncpd.ProtocolError) as e:
        c.record_stop()
    assert e.value.code == "ENOENT"
    with pytest.raises(ncpd.ProtocolError) as e:
        c.task("manual", 3)
    assert e.value.code == "EINVAL" and e.value.message == "task manual takes no PERIOD"
    with pytest.raises(ncpd.ProtocolError) as e:
        c.stim_set([0.3])
    assert e.value.code == "EINVAL" and "theta has 1 values" in e.value.message
    with pytest.raises(ncpd.ProtocolError) as e:
        c.target(float("nan"), 1)
    assert e.value.code in ("EINVAL", "ERANGE")
    # The connection stays usable after errors.
    assert c.status()["ok"] is True


def test_version_is_ncpds():
    from conftest import ROOT
    import re
    with open(os.path.join(ROOT, "models", "base", "ncp_base.h")) as f:
        v = re.search(r'#define NCP_VERSION "([^"]+)"', f.read()).group(1)
    assert ncpd.__version__ == v
