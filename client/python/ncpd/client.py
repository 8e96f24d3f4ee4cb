"""The control socket (docs/protocol.md): one method per command.

    c = ncpd.Client()                  # the socket ncpctl would use
    c.target(0.15, 1.42)               # {'ok': True, 'target': {...}, 'task': {...}}
    c.status()["arm"]["hand"]          # [0.012, 1.251]
    try:
        c.target(3, 3)
    except ncpd.ProtocolError as e:
        e.code, e.message              # 'ERANGE', 'target (3, 3) is outside ...'

Replies are parsed into the shape ncpctl --json prints (each pair a.b=v at
reply["a"]["b"], numbers as numbers, comma-separated numbers as lists,
true/false as bools, nan/inf as None, anything else a string; text replies
at reply["text"]).
"""
import os
import re
import socket as _socket
import time

__all__ = ["Client", "ProtocolError", "ConnectionFailed", "default_socket",
           "parse_reply"]

LINE_MAX = 1024


class ProtocolError(Exception):
    """The daemon answered err CODE message: .code ('EINVAL', ...), .message,
    .request (the line sent)."""

    def __init__(self, code, message, request=None):
        super().__init__("%s (%s)" % (message, code) if message else code)
        self.code, self.message, self.request = code, message, request


class ConnectionFailed(OSError):
    """No answer: the socket cannot be reached, the connection closed or
    the reply did not come in time (the message names the socket)."""


def default_socket():
    """The socket a user's daemon listens on by default (docs/protocol.md):
    /run/ncpd/ncpd.sock for root, else $XDG_RUNTIME_DIR/ncpd/ncpd.sock
    when that is an absolute path, else /tmp/ncpd-$UID/ncpd.sock."""
    if os.geteuid() == 0:
        return "/run/ncpd/ncpd.sock"
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "ncpd", "ncpd.sock")
    return "/tmp/ncpd-%d/ncpd.sock" % os.geteuid()


# --- the reply grammar, read as ncpctl --json reads it ------------------------

_KEY = re.compile(r"[A-Za-z0-9_.\-]+\Z")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_NULLS = ("nan", "inf", "-inf", "+inf")


def _pairs(payload):
    """[(key, value)] when the payload is 'k=v k=v ...' (single spaces),
    else None (a text reply)."""
    out = []
    for word in payload.split(" "):
        k, eq, v = word.partition("=")
        if not eq or not _KEY.match(k):
            return None
        out.append((k, v))
    return out or None


def _scalar_like(s):
    return bool(_NUMBER.match(s)) or s in ("true", "false") or s in _NULLS


def _scalar(s):
    if s in _NULLS:
        return None
    if s in ("true", "false"):
        return s == "true"
    if len(s) >= 64:
        return s            # too long to be meant as a number
    if _INT.match(s):
        return int(s)
    v = float(s)
    return v if v not in (float("inf"), float("-inf")) else None


def _value(v):
    if "," in v:
        parts = v.split(",")
        if all(_scalar_like(p) for p in parts):
            return [_scalar(p) for p in parts]
        return v
    return _scalar(v) if _scalar_like(v) else v


def parse_reply(line):
    """One reply line (without its newline) as a dict in ncpctl --json's
    shape: {'ok': True, ...pairs...}, {'ok': True, 'text': ...} or
    {'ok': False, 'code': ..., 'message': ...}.  ValueError when the line is
    not a reply."""
    if line == "ok":
        return {"ok": True}
    if line.startswith("ok "):
        pairs = _pairs(line[3:])
        if pairs is None:
            return {"ok": True, "text": line[3:]}
        out = {"ok": True}
        # A key's section is its text before the first '.' (none when that
        # is empty).  A key is taken once; a key without a section named
        # "ok" or like a section is left out, as is a section named "ok".
        sections = {k.split(".", 1)[0] for k, _ in pairs} - {""}
        sections = {s for s in sections if any(k.startswith(s + ".") for k, _ in pairs)}
        seen = set()
        for k, v in pairs:
            if k in seen:
                continue
            seen.add(k)
            sec, dot, rest = k.partition(".")
            if dot and sec:
                if sec != "ok":
                    out.setdefault(sec, {})[rest] = _value(v)
            elif k != "ok" and k not in sections:
                out[k] = _value(v)
        return out
    m = re.match(r"err (E[A-Z0-9]*)( (.*))?\Z", line, re.S)
    if m:
        return {"ok": False, "code": m.group(1), "message": m.group(3) or ""}
    raise ValueError("not a reply line: %r" % line[:200])


def _num(x, what):
    """A number in the protocol's decimal notation."""
    if isinstance(x, bool):
        raise TypeError("%s must be a number, not a bool" % what)
    try:
        f = float(x)
    except (TypeError, ValueError):
        raise TypeError("%s must be a number (got %r)" % (what, x)) from None
    if f == f and abs(f) < 1e15 and f.is_integer():
        return str(int(f))
    return repr(f)          # nan and inf too: the daemon refuses them


def _name(n, what="NAME"):
    n = os.fspath(n)
    if not isinstance(n, str) or not n or any(c.isspace() for c in n):
        raise ValueError("%s must be one word (got %r)" % (what, n))
    return n


class Client:
    """A connection to ncpd's control socket (default: default_socket()).

    Each method sends one request and returns the parsed reply (a dict, see
    parse_reply); an `err` reply raises ProtocolError(code, message).  A
    connection that cannot be made, closes or does not answer within
    `timeout` seconds raises ConnectionFailed.  The connection opens at the
    first request and is kept; close() or a with block ends it.
    """

    def __init__(self, socket=None, timeout=5.0):
        self.socket = os.fspath(socket) if socket else default_socket()
        self.timeout = timeout
        self._sock = None
        self._buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "Client(%r)" % self.socket

    def close(self):
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buf = b""

    def _connect(self):
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.socket)
        except OSError as e:
            s.close()
            raise ConnectionFailed(e.errno, "cannot connect to %s: %s (is ncpd "
                                   "running?)" % (self.socket, e.strerror)) from None
        self._sock = s

    def _readline(self):
        while b"\n" not in self._buf:
            try:
                chunk = self._sock.recv(4096)
            except _socket.timeout:
                self.close()
                raise ConnectionFailed("no reply from %s within %g s"
                                       % (self.socket, self.timeout)) from None
            except OSError as e:
                self.close()
                raise ConnectionFailed(e.errno, "%s: %s" % (self.socket, e.strerror)) from None
            if not chunk:
                self.close()
                raise ConnectionFailed("%s closed the connection" % self.socket)
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def raw(self, line):
        """Send one request line as it is; return the reply line."""
        if "\n" in line:
            raise ValueError("a request is one line")
        data = (line + "\n").encode("utf-8")
        if len(data) > LINE_MAX:
            raise ValueError("request of %d bytes; the limit is %d with its "
                             "newline" % (len(data), LINE_MAX))
        if self._sock is None:
            self._connect()
        try:
            self._sock.sendall(data)
        except OSError:
            # A refused connection (EACCES, EBUSY) is closed right after
            # its reply: read it.
            pass
        return self._readline()

    def request(self, *words):
        """Send the words joined by spaces; the parsed reply, or
        ProtocolError."""
        line = " ".join(str(w) for w in words)
        reply = parse_reply(self.raw(line))
        if not reply["ok"]:
            raise ProtocolError(reply["code"], reply["message"], line)
        return reply

    def wait(self, timeout=30.0, process=None):
        """Wait until the daemon answers (it is starting): its status.
        ConnectionFailed after `timeout` seconds, or as soon as `process`
        (a subprocess.Popen of the daemon) has exited."""
        end = time.monotonic() + timeout
        while True:
            try:
                return self.status()
            except ConnectionFailed as e:
                if process is not None and process.poll() is not None:
                    raise ConnectionFailed("the daemon exited (status %s) before "
                                           "answering on %s" % (process.returncode,
                                                                self.socket)) from None
                if time.monotonic() > end:
                    raise ConnectionFailed("%s (waited %g s)" % (e, timeout)) from None
                time.sleep(0.05)

    def record(self, name, seconds, timeout=None):
        """Record for `seconds` of simulated time and wait until the files
        are complete (TimeoutError after `timeout` s, default 10 + 4 x
        seconds).  Returns status's record section (name, steps, ...); the
        recording is data_dir/NAME."""
        self.record_start(name, seconds)
        wait = timeout if timeout is not None else 10 + 4 * seconds
        end = time.monotonic() + wait
        while True:
            rec = self.status()["record"]
            if not rec.get("active") and rec.get("name") == name:
                return rec
            if time.monotonic() > end:
                raise TimeoutError("recording %s still active after %g s"
                                   % (name, wait))
            time.sleep(0.05)

    # --- commands (docs/protocol.md) --------------------------------------------

    def target(self, x, y):
        return self.request("target", _num(x, "x"), _num(y, "y"))

    def task(self, kind, period=None):
        """kind: 'centre-out', 'random' or 'manual' (no period)."""
        if period is None:
            return self.request("task", _name(kind, "kind"))
        return self.request("task", _name(kind, "kind"), _num(period, "period"))

    def pause(self):
        return self.request("pause")

    def resume(self):
        return self.request("resume")

    def reset(self):
        return self.request("reset")

    def status(self):
        return self.request("status")

    def config_get(self, key):
        """The value of one config key (reply[section][name])."""
        return self.request("config", "get", _name(key, "key"))

    def shutdown(self):
        r = self.request("shutdown")
        self.close()
        return r

    def help(self, command=None):
        """The help text (a str)."""
        r = self.request("help") if command is None else self.request(
            "help", _name(command, "command"))
        return r.get("text", "")

    def record_start(self, name, seconds=None):
        if seconds is None:
            return self.request("record", "start", _name(name))
        return self.request("record", "start", _name(name), _num(seconds, "seconds"))

    def record_stop(self):
        return self.request("record", "stop")

    def save(self, name):
        return self.request("save", _name(name))

    def load(self, name):
        return self.request("load", _name(name))

    def train_on(self):
        return self.request("train", "on")

    def train_off(self):
        return self.request("train", "off")

    def train_status(self):
        return self.request("train", "status")

    def lesion(self, kind, fraction):
        """kind: 'pmc-m1' or 'm1-silence'; fraction 0..1."""
        return self.request("lesion", _name(kind, "kind"), _num(fraction, "fraction"))

    def lesion_off(self):
        return self.request("lesion", "off")

    def stim_set(self, theta):
        """theta: stim.electrodes numbers."""
        return self.request("stim", "set", *(_num(v, "theta[%d]" % i)
                                             for i, v in enumerate(theta)))

    def stim_off(self):
        return self.request("stim", "off")
