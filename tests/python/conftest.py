"""Shared by the ncpd package's tests (tests/it_python.sh runs them with
Debian's python3 and pytest): the tree's package, the build's programs,
and daemons of their own (segment, socket and data directory unique to
the run), stopped and cleaned up afterwards."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "client", "python"))
import ncpd  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))


def prog(name):
    """A program of the build (make builds it)."""
    p = os.path.join(BUILD, name)
    if not os.access(p, os.X_OK):
        pytest.fail("missing %s (make builds it)" % p)
    return p


def run(args, **kw):
    """Run a program; fail the test with its output when it fails."""
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, **kw)
    if r.returncode:
        pytest.fail("%s exited %d:\n%s" % (" ".join(args), r.returncode, r.stdout[-3000:]))
    return r.stdout


def until(cond, what, timeout=30):
    """Wait until cond() holds (a hang guard, not a speed limit)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            pytest.fail("timed out after %g s waiting for %s" % (timeout, what))
        time.sleep(0.02)


class Daemon:
    """ncpd --foreground with names of its own; .client, .shm_name,
    .data_dir, .log (its stderr)."""
    count = 0

    def __init__(self, tmp, data_dir=None, args=()):
        Daemon.count += 1
        self.tmp = tmp
        self.shm_name = "/ncpd-pytest-%d-%d" % (os.getpid(), Daemon.count)
        self.socket = os.path.join(tmp, "ctl.sock")
        self.data_dir = data_dir or os.path.join(tmp, "data")
        self.log = os.path.join(tmp, "d.err")
        cmd = [prog("ncpd"), "--foreground", "--set", "shm.name=" + self.shm_name,
               "--set", "control.socket=" + self.socket,
               "--set", "data_dir=" + self.data_dir] + list(args)
        with open(self.log, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        self.client = ncpd.Client(self.socket, timeout=10)
        try:
            self.client.wait(timeout=60, process=self.proc)
        except Exception:
            self.stop()
            raise

    def tail(self):
        with open(self.log) as f:
            return "".join(f.readlines()[-10:])

    def stop(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.client.shutdown()
                except OSError:
                    self.proc.terminate()
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self.client.close()
            try:
                os.unlink("/dev/shm" + self.shm_name)
            except FileNotFoundError:
                pass


@pytest.fixture(scope="session")
def scratch():
    d = tempfile.mkdtemp(prefix="ncpd-pytest-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def trained(scratch):
    """A recording ncpd made (8 s of random reaches, free-run) and the
    model ncp-train trained on it (mlp-running, 2 epochs: it need not be
    good, only ncp-train's): (recording dir, model path)."""
    d = os.path.join(scratch, "trained")
    os.makedirs(d)
    run([prog("ncpd"), "--free-run", "--duration", "8", "--set", "task.kind=random",
         "--set", "shm.name=/ncpd-pytest-train-%d" % os.getpid(),
         "--set", "control.socket=" + os.path.join(d, "s.sock"),
         "--set", "data_dir=" + d, "--record", "train1"])
    model = os.path.join(d, "emulator.safetensors")
    run([prog("ncp-train"), "--data", os.path.join(d, "train1"), "--out", model,
         "--arch", "mlp-running", "--epochs", "2", "--block", "1", "--quiet"])
    return os.path.join(d, "train1"), model


@pytest.fixture(scope="module")
def daemon(scratch, trained):
    """A real-time daemon running ncp-train's model (data_dir's
    emulator.safetensors, emulator.model auto)."""
    tmp = tempfile.mkdtemp(dir=scratch)
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    shutil.copy(trained[1], os.path.join(data, "emulator.safetensors"))
    d = Daemon(tmp, data)
    yield d
    d.stop()
