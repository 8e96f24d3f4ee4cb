"""ncpd's shared-memory segment (docs/shm.md), read-only, as numpy arrays.

    shm = ncpd.Shm("/ncpd")
    snap = shm.snapshot()          # window, state, predicted, stats, stim, arm, ncp
    for s in shm.follow():         # every new step, s.missed says how many
        ...                        # steps went by unseen before it

Every block is copied by the segment's own rules (the ring rule, the
seqlock rule): a copy is whole and of one moment, or the call retries, and
after a bounded number of tries raises ShmBusy.  Plain loads in program
order, as numpy makes them, are enough on x86-64.
"""
import mmap
import os
import time

import numpy as np

__all__ = ["Shm", "ShmError", "ShmBusy", "Window", "Step",
           "STATES", "TASK_KINDS", "MODES", "STIM_SOURCES", "LESION_KINDS"]

STATES = {0: "none", 1: "starting", 2: "running", 3: "stopped"}
TASK_KINDS = {0: "centre-out", 1: "random", 2: "manual", 3: "line",
              4: "circle", 5: "path", 6: "steps"}
MODES = {0: "realtime", 1: "free-run"}
STIM_SOURCES = {0: "none", 1: "noise", 2: "oracle", 3: "file", 4: "cpn"}
NCP_PHASES = {0: "cpn", 1: "perturbed", 2: "noise"}
LESION_KINDS = {0: "none", 1: "pmc-m1", 2: "m1-silence"}

ABI_MAJOR = 1
ABI_MAJOR_3J = 2            # a 3-joint arm's segment (ABI 1.5: same layout)
WINDOW_MARGIN = 16          # window slots a reader leaves to the writer
B_WINDOW, B_STATE, B_PREDICTED, B_ARM, B_STATS, B_TRAIN, B_STIM, B_NCP = range(8)
BLOCK_NAMES = ("window", "state", "predicted", "arm", "stats", "train", "stim",
               "ncp")
# Bytes of each fixed-size seqlock block this reader knows.
SEQLOCK_SIZES = {B_STATE: 192, B_PREDICTED: 256, B_STATS: 448}
NCP_BYTES = 256
# Bytes of each ring's slot this reader reads (slots may grow).
SLOT_SIZES = {B_ARM: 64, B_TRAIN: 64}
TRIES = 1000


class ShmError(OSError):
    """The segment is missing, foreign, of another major version or
    truncated (the message says which and names the segment)."""


class ShmBusy(ShmError):
    """A copy kept failing: the writer lapped the reader or held a seqlock
    for the whole of the bounded retries.  Try again later."""


def _name(v):
    return lambda k: v.get(int(k), int(k))


_state_name, _task_name, _mode_name = _name(STATES), _name(TASK_KINDS), _name(MODES)
_source_name, _lesion_name = _name(STIM_SOURCES), _name(LESION_KINDS)
_phase_name = _name(NCP_PHASES)


class Window:
    """Consecutive steps of the M1 window ring, oldest first.

    steps      (n,) uint64: the simulation step of each row
    spikes     (n, m1_neurons) uint8: 1 where the neuron spiked (m1.npy's rows)
    spike_count, stim_count (n,) uint32
    t_ns       (n,) uint64: CLOCK_MONOTONIC ns the loop published the step
    stim       (n, stim_channels) float32: theta applied (first stim_count)
    missed     steps before steps[0] that were asked for but are gone
    obs        (ABI 1.4; None from older writers) each step's observation,
               a dict of float32 arrays: rec (n, R) the recording
               electrodes (Hz), arm (n, 6) the S1 arm state, target (n, 2),
               alpha (n, E) every electrode's current after the step
    """
    __slots__ = ("steps", "spikes", "spike_count", "stim_count", "t_ns",
                 "stim", "missed", "obs")

    def __init__(self, steps, spikes, spike_count, stim_count, t_ns, stim,
                 missed=0, obs=None):
        self.steps, self.spikes = steps, spikes
        self.spike_count, self.stim_count = spike_count, stim_count
        self.t_ns, self.stim, self.missed = t_ns, stim, missed
        self.obs = obs

    def __len__(self):
        return len(self.steps)

    @property
    def first(self):
        """The first step held (None when empty)."""
        return int(self.steps[0]) if len(self.steps) else None

    def __repr__(self):
        if not len(self):
            return "Window(empty, missed=%d)" % self.missed
        return "Window(steps %d..%d, %d neurons, %d spikes, missed=%d)" % (
            self.steps[0], self.steps[-1], self.spikes.shape[1],
            int(self.spike_count.sum()), self.missed)


class Step:
    """One simulation step as follow() yields it.

    step, t_ns, spike_count   integers
    spikes   (m1_neurons,) uint8, 1 where the neuron spiked
    stim     (stim_count,) float32, the theta applied
    missed   steps that went by unseen between the previous step yielded
             and this one (0 when none was missed)
    """
    __slots__ = ("step", "t_ns", "spike_count", "spikes", "stim", "missed")

    def __init__(self, step, t_ns, spike_count, spikes, stim, missed):
        self.step, self.t_ns, self.spike_count = step, t_ns, spike_count
        self.spikes, self.stim, self.missed = spikes, stim, missed

    @property
    def neurons(self):
        """Indices of the neurons that spiked."""
        return np.flatnonzero(self.spikes)

    def __repr__(self):
        return "Step(%d, %d spikes, missed=%d)" % (
            self.step, self.spike_count, self.missed)


class Shm:
    """The segment NAME (default "/ncpd"), mapped read-only.

    Raises ShmError when it is missing, not an ncpd segment, of an ABI
    major version other than 1 (2-joint arm) or 2 (3-joint arm), or
    truncated.  The header's constants are attributes: generation, pid,
    created_ns, dt, m1_neurons, m1_words, window_len, window_slots,
    stim_channels, stim_electrodes, joints (the arm's, 2 or 3; 1.5),
    arm_links (a length per link: 2, or 3 with 3 joints), abi (major,
    minor), size, blocks ([(offset, size)] by index), obs_offset and
    rec_electrodes (1.4; 0 from older writers).
    """

    def __init__(self, name="/ncpd"):
        if (not isinstance(name, str) or "/" in name.lstrip("/") or "\0" in name
                or name.strip("/") in ("", ".", "..")):
            raise ShmError("%r: a segment name is '/' and one path component, "
                           "e.g. /ncpd" % (name,))
        self.name = "/" + name.lstrip("/")
        self.path = "/dev/shm" + self.name
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise ShmError(e.errno, "%s: cannot open %s: %s (is ncpd running "
                           "with shm.name %s?)" % (self.name, self.path,
                                                   e.strerror, self.name)) from None
        try:
            st = os.fstat(fd)
            if st.st_size < 512:
                raise ShmError("%s: %d bytes, too short for an ncpd segment"
                               % (self.name, st.st_size))
            self._mm = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        self._ino = (st.st_dev, st.st_ino)
        seg = np.frombuffer(self._mm, np.uint8)
        self._seg = seg
        self._u64 = seg[:len(seg) // 8 * 8].view("<u8")
        self._u32 = seg[:len(seg) // 4 * 4].view("<u4")
        if bytes(seg[:8]) != b"NCPDSHM\0":
            raise ShmError("%s: not an ncpd segment (magic %r)"
                           % (self.name, bytes(seg[:8])))
        major, minor = (int(v) for v in seg[8:12].view("<u2"))
        if major not in (ABI_MAJOR, ABI_MAJOR_3J):
            raise ShmError("%s: ABI version %d.%d; this reader reads %d.x "
                           "(2-joint arm) and %d.x (3-joint arm)"
                           % (self.name, major, minor, ABI_MAJOR, ABI_MAJOR_3J))
        self.abi = (major, minor)
        self.header_size = int(self._u32[3])
        self.size = int(self._u64[2])
        if self.size > len(seg):
            raise ShmError("%s: truncated: the header says %d bytes, the "
                           "object has %d" % (self.name, self.size, len(seg)))
        self.generation = int(self._u64[3])
        self.created_ns = int(self._u64[5])
        self.dt = float(seg[64:72].view("<f8")[0])
        (self.m1_neurons, self.m1_words, self.window_len, self.window_slots,
         self.window_slot_size, self.stim_channels, self.arm_slots,
         self.train_slots, self.block_count,
         self.stim_electrodes) = (int(v) for v in self._u32[18:28])
        self.joints = int(self._u32[98]) or 2
        if self.joints != (3 if major == ABI_MAJOR_3J else 2):
            raise ShmError("%s: ABI %d.%d with an arm of %d joints"
                           % (self.name, major, minor, self.joints))
        self.arm_links = seg[112:128].view("<f8").copy()
        if self.joints == 3:
            self.arm_links = np.append(self.arm_links,
                                       seg[400:408].view("<f8"))
        if self.abi[1] >= 4:
            self.obs_offset, self.rec_electrodes = (int(v) for v in self._u32[96:98])
        else:
            self.obs_offset = self.rec_electrodes = 0
        self.blocks = []
        for i in range(min(self.block_count, 16)):
            off, size = int(self._u64[16 + 2 * i]), int(self._u64[17 + 2 * i])
            if size and (off % 64 or off < self.header_size
                         or off + size > self.size):
                raise ShmError("%s: block %d (%s) at %d, %d bytes, lies "
                               "outside the segment of %d bytes"
                               % (self.name, i, BLOCK_NAMES[i] if i < 8 else "?",
                                  off, size, self.size))
            self.blocks.append((off, size))
        for i in (B_WINDOW, B_STATE, B_PREDICTED, B_ARM, B_STATS, B_TRAIN):
            if i >= len(self.blocks) or not self.blocks[i][1]:
                raise ShmError("%s: no %s block" % (self.name, BLOCK_NAMES[i]))
        for i, size in SEQLOCK_SIZES.items():
            if self.blocks[i][1] < size:
                raise ShmError("%s: %s block of %d bytes, want %d"
                               % (self.name, BLOCK_NAMES[i], self.blocks[i][1], size))
        self._rings = {}
        for i, slots in ((B_WINDOW, self.window_slots), (B_ARM, self.arm_slots),
                         (B_TRAIN, self.train_slots)):
            off, size = self.blocks[i]
            count, slot_size = int(self._u32[off // 4 + 2]), int(self._u32[off // 4 + 3])
            need = SLOT_SIZES.get(i, 192 + 8 * self.m1_words)
            if i == B_WINDOW and self.obs_offset:
                if self.obs_offset < need:
                    raise ShmError("%s: obs_offset %d lies inside the spikes "
                                   "(they end at byte %d)"
                                   % (self.name, self.obs_offset, need))
                need = self.obs_offset + 4 * (self.rec_electrodes +
                                              2 * self.joints + 4 +
                                              self.stim_electrodes)
            if (count != slots or count & (count - 1) or slot_size % 64
                    or slot_size < need or 64 + count * slot_size > size):
                raise ShmError("%s: %s ring of %d slots of %d bytes does not "
                               "fit its block (%d bytes, header says %d slots)"
                               % (self.name, BLOCK_NAMES[i], count, slot_size,
                                  size, slots))
            slots_view = seg[off + 64:off + 64 + count * slot_size].reshape(
                count, slot_size)
            self._rings[i] = (off // 8, count, slots_view)
        self._stim_bytes = 0
        if (self.abi[1] >= 3 and len(self.blocks) > B_STIM
                and self.blocks[B_STIM][1]):
            self._stim_bytes = 128 + 8 * self.stim_electrodes
            if self.blocks[B_STIM][1] < self._stim_bytes:
                raise ShmError("%s: stim block of %d bytes, too small for %d "
                               "electrodes" % (self.name, self.blocks[B_STIM][1],
                                               self.stim_electrodes))
        self._ncp = (self.abi[1] >= 4 and len(self.blocks) > B_NCP
                     and self.blocks[B_NCP][1] >= NCP_BYTES)

    # --- the header's live words --------------------------------------------

    @property
    def pid(self):
        return int(self._seg[32:36].view("<i4")[0])

    @property
    def state(self):
        """The daemon's state: none, starting, running or stopped."""
        return _state_name(self._u32[9])

    @property
    def head(self):
        """Steps the loop has published (the window ring's head)."""
        return int(self._u64[self._rings[B_WINDOW][0]])

    def liveness(self):
        """'running' (or 'starting'), 'stopped' (a clean exit), 'died'
        (its process is gone without stopping) or 'replaced' (the name now
        holds another daemon's segment, or none: attach again)."""
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) != self._ino:
                return "replaced"
        except FileNotFoundError:
            return "replaced" if self.state != "stopped" else "stopped"
        state = self.state
        if state == "stopped":
            return state
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return "died"
        except PermissionError:
            pass
        return state

    def close(self):
        self._seg = self._u64 = self._u32 = None
        self._rings = {}
        try:
            self._mm.close()
        except BufferError:
            pass        # arrays still look at it; it goes with them

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "Shm(%r: ABI %d.%d, generation %d, pid %d, %s, %d steps)" % (
            self.name, self.abi[0], self.abi[1], self.generation, self.pid,
            self.state, self.head)

    # --- copies ----------------------------------------------------------------

    def _seqlock(self, i, size):
        """A consistent copy of seqlock block i (its first size bytes), or
        None when it was never written."""
        off = self.blocks[i][0]
        w = off // 8
        for _ in range(TRIES):
            s0 = int(self._u64[w])
            if s0 == 0:
                return None
            if s0 % 2:
                time.sleep(0)
                continue
            blk = self._seg[off:off + size].copy()
            if int(self._u64[w]) == s0:
                return blk
        raise ShmBusy("%s: the %s block stayed busy for %d tries"
                      % (self.name, BLOCK_NAMES[i], TRIES))

    def _ring(self, i, n=None, since=None, limit=None):
        """(first, copy) of ring i: the newest n entries, or those from
        `since` on (at most `limit`, the oldest first); copy is (count,
        slot_size) uint8, entry first + j in row j.  first > since when
        entries since `since` are gone."""
        hw, count, slots = self._rings[i]
        cap = count - WINDOW_MARGIN if i == B_WINDOW else count
        limit = cap if limit is None else max(0, min(limit, cap))
        for _ in range(16):
            head = int(self._u64[hw])
            if since is None:
                want = limit if n is None else max(0, min(n, limit))
                first = max(head - want, 0)
                last = head
            else:
                first = max(since, head - cap, 0)
                last = min(head, first + limit)
            if last <= first:
                return first, slots[:0].copy()
            ks = np.arange(first, last, dtype=np.uint64)
            rows = (ks % np.uint64(count)).astype(np.intp)
            before = slots[rows, :8].copy().view("<u8").ravel()
            copy = slots[rows].copy()
            after = slots[rows, :8].copy().view("<u8").ravel()
            good = 2 * ks + 2
            if (before == good).all() and (after == good).all():
                return first, copy
            time.sleep(0)
        raise ShmBusy("%s: lapped by the writer of the %s ring 16 times"
                      % (self.name, BLOCK_NAMES[i]))

    def _window_from(self, first, copy, missed=0):
        n = len(copy)
        u4 = copy[:, :64].copy().view("<u4")
        bits = copy[:, 192:192 + 8 * self.m1_words]
        spikes = np.unpackbits(bits, axis=1, bitorder="little")[:, :self.m1_neurons]
        obs = None
        if self.obs_offset:
            R, E, o = self.rec_electrodes, self.stim_electrodes, self.obs_offset
            A = 2 * self.joints + 2     # q, dq of each joint, hand x, y
            f = copy[:, o:o + 4 * (R + A + 2 + E)].copy().view("<f4").reshape(
                n, R + A + 2 + E)
            obs = {"rec": f[:, :R], "arm": f[:, R:R + A],
                   "target": f[:, R + A:R + A + 2], "alpha": f[:, R + A + 2:]}
        return Window(obs=obs,
                      steps=copy[:, 8:16].copy().view("<u8").reshape(n),
                      spikes=np.ascontiguousarray(spikes),
                      spike_count=u4[:, 4].copy(), stim_count=u4[:, 5].copy(),
                      t_ns=copy[:, 24:32].copy().view("<u8").reshape(n),
                      stim=copy[:, 64:64 + 4 * self.stim_channels].copy()
                      .view("<f4"), missed=missed)

    def window(self, n=None, since=None):
        """The newest n steps of the M1 window (default: the emulator's
        window_len), or the steps from step `since` on; at most
        window_slots - 16 of them.  A Window; its `missed` counts the steps
        from `since` that are gone from the ring."""
        if n is None and since is None:
            n = self.window_len
        first, copy = self._ring(B_WINDOW, n=n, since=since)
        missed = first - since if since is not None and first > since else 0
        return self._window_from(first, copy, missed)

    def state_block(self):
        """The state block: a dict (step, t, q, dq, u (one per joint), hand,
        target as numpy arrays, task_period, task_kind by name, paused,
        m1_spikes), or None before the first step."""
        b = self._seqlock(B_STATE, 192)
        if b is None:
            return None
        f8, u4 = b.view("<f8"), b.view("<u4")
        q, dq, u = f8[3:5].copy(), f8[5:7].copy(), f8[11:13].copy()
        if self.joints == 3:    # the wrist at 128, 136, 144 (1.5)
            q, dq, u = (np.append(q, f8[16]), np.append(dq, f8[17]),
                        np.append(u, f8[18]))
        return {"step": int(b[8:16].view("<u8")[0]), "t": float(f8[2]),
                "q": q, "dq": dq,
                "hand": f8[7:9].copy(), "target": f8[9:11].copy(),
                "u": u, "task_period": float(f8[13]),
                "task_kind": _task_name(u4[28]), "paused": bool(u4[29]),
                "m1_spikes": int(u4[30])}

    def predicted(self):
        """The emulator's newest prediction: a dict (step, x (2 J + 2,: q,
        dq of each joint, hand, the emulator's order), q, dq, hand,
        hand_fk, latency_us, hand_rmse, q_rmse, dq_rmse, skipped_steps,
        model_loaded, model), or None before the first."""
        b = self._seqlock(B_PREDICTED, 256)
        if b is None:
            return None
        f8, u4 = b.view("<f8"), b.view("<u4")
        q, dq, hand = f8[2:4].copy(), f8[4:6].copy(), f8[6:8].copy()
        if self.joints == 3:    # the wrist's in x_wrist at 160 (1.5)
            q, dq = np.append(q, f8[20]), np.append(dq, f8[21])
        x = np.concatenate([q, dq, hand])
        model = bytes(b[128:160]).split(b"\0", 1)[0].decode("utf-8", "replace")
        return {"step": int(b[8:16].view("<u8")[0]), "x": x, "q": q,
                "dq": dq, "hand": hand, "hand_fk": f8[8:10].copy(),
                "latency_us": float(f8[10]), "hand_rmse": float(f8[11]),
                "q_rmse": float(f8[12]), "dq_rmse": float(f8[13]),
                "skipped_steps": int(b[112:120].view("<u8")[0]),
                "model_loaded": bool(u4[30]), "model": model}

    def stats(self):
        """The loop's statistics (every 250 ticks): a dict (steps, overruns,
        slips, jitter_*_us, cost_*_us, wall_s, rtf, mode by name,
        jitter_hist (32,) uint64), or None before the first."""
        b = self._seqlock(B_STATS, 448)
        if b is None:
            return None
        f8, u8, u4 = b.view("<f8"), b.view("<u8"), b.view("<u4")
        out = {"steps": int(u8[1]), "overruns": int(u8[2]), "slips": int(u8[3])}
        for j, k in enumerate(("jitter_p50_us", "jitter_p99_us", "jitter_p999_us",
                               "jitter_max_us", "cost_p50_us", "cost_p99_us",
                               "cost_max_us", "wall_s", "rtf")):
            out[k] = float(f8[4 + j])
        out["mode"] = _mode_name(u4[26])
        bins = int(u4[27]) or 32
        out["jitter_hist"] = u8[14:14 + min(bins, 32)].copy()
        return out

    def stim(self):
        """The stimulation block (ABI 1.3): a dict (step, electrodes,
        source and lesion_kind by name, lesion_neurons, lesion_fraction,
        max, theta_max_abs, alpha_max_abs, theta and alpha (E,) float32),
        or None when the daemon publishes none or has not yet."""
        if not self._stim_bytes:
            return None
        b = self._seqlock(B_STIM, self._stim_bytes)
        if b is None:
            return None
        u4, f8 = b[:128].view("<u4"), b[:128].view("<f8")
        E = self.stim_electrodes
        v = b[128:128 + 8 * E].view("<f4")
        return {"step": int(b[8:16].view("<u8")[0]), "electrodes": int(u4[4]),
                "source": _source_name(u4[5]), "lesion_kind": _lesion_name(u4[6]),
                "lesion_neurons": int(u4[7]), "lesion_fraction": float(f8[4]),
                "max": float(f8[5]), "theta_max_abs": float(f8[6]),
                "alpha_max_abs": float(f8[7]), "theta": v[:E].copy(),
                "alpha": v[E:].copy()}

    def ncp(self):
        """The co-processor block (ABI 1.4): a dict (step, loaded, on,
        train, phase by name, latency_us, latency_p99_us, thetas, skipped,
        updates, rollbacks, l_healthy, l_lesioned, l_restored (m),
        recovery (%), reaches (healthy, lesioned, restored), model,
        task_loss, en_loss), or None when the daemon has none or has not
        written it yet."""
        if not self._ncp:
            return None
        b = self._seqlock(B_NCP, NCP_BYTES)
        if b is None:
            return None
        u4, u8, f8 = b.view("<u4"), b.view("<u8"), b.view("<f8")
        return {"step": int(u8[1]), "loaded": bool(u4[4]), "on": bool(u4[5]),
                "train": bool(u4[6]), "phase": _phase_name(u4[7]),
                "latency_us": float(f8[4]), "latency_p99_us": float(f8[5]),
                "thetas": int(u8[6]), "skipped": int(u8[7]),
                "updates": int(u8[8]), "rollbacks": int(u8[9]),
                "l_healthy": float(f8[10]), "l_lesioned": float(f8[11]),
                "l_restored": float(f8[12]), "recovery": float(f8[13]),
                "reaches": tuple(int(v) for v in u4[28:31]),
                "model": bytes(b[128:160]).split(b"\0", 1)[0].decode("utf-8", "replace"),
                "task_loss": float(f8[20]), "en_loss": float(f8[21])}

    def arm(self, n=None, since=None):
        """The arm history (up to arm_slots steps, oldest first), newest n
        entries (default all) or from step `since`: a dict of arrays step
        (n,), q, dq (n, J), hand, target, pred_hand (n, 2) float32
        (pred_hand is the newest prediction when the entry was written; NaN
        before the first)."""
        first, c = self._ring(B_ARM, n=n, since=since)
        m = len(c)
        f4 = c[:, :64].copy().view("<f4")
        q, dq = f4[:, 4:6].copy(), f4[:, 12:14].copy()
        if self.joints == 3:    # the wrist at 56, 60 (1.5)
            q, dq = np.hstack([q, f4[:, 14:15]]), np.hstack([dq, f4[:, 15:16]])
        return {"step": c[:, 8:16].copy().view("<u8").reshape(m),
                "q": q, "hand": f4[:, 6:8].copy(),
                "target": f4[:, 8:10].copy(), "pred_hand": f4[:, 10:12].copy(),
                "dq": dq}

    def train(self, n=None, since=None):
        """Online training's history (up to train_slots updates): a dict of
        arrays step, update (n,) uint64 and t, loss, val_loss (n,) float64
        (val_loss NaN where there was no validation)."""
        first, c = self._ring(B_TRAIN, n=n, since=since)
        m = len(c)
        u8, f8 = c[:, :64].copy().view("<u8"), c[:, :64].copy().view("<f8")
        return {"step": u8[:, 1].reshape(m).copy(), "t": f8[:, 2].copy(),
                "loss": f8[:, 3].copy(), "val_loss": f8[:, 4].copy(),
                "update": u8[:, 5].copy()}

    def snapshot(self, window=None, arm=None):
        """Every block at once, each a consistent copy: a dict with
        'window' (the newest `window` steps, default window_len), 'state',
        'predicted', 'stats', 'stim', 'arm' (the newest `arm` entries,
        default window_len), 'ncp', 'head' and 'daemon' (liveness())."""
        return {"head": self.head, "daemon": self.liveness(),
                "window": self.window(n=window or self.window_len),
                "state": self.state_block(), "predicted": self.predicted(),
                "stats": self.stats(), "stim": self.stim(),
                "arm": self.arm(n=arm or self.window_len), "ncp": self.ncp()}

    # --- following ---------------------------------------------------------------

    def follow(self, since=None, timeout=None, chunks=False, poll=None):
        """Yield every step the loop publishes from now on (or from step
        `since`), each a Step, in order; a Step's `missed` counts the steps
        that were gone from the ring before it could be read (0 when the
        reader kept up).  With chunks=True, yield a Window for each batch
        of new steps instead (its `missed` likewise).

        Ends when the daemon stops or dies (after the steps it published);
        raises TimeoutError when `timeout` seconds pass without a new step
        (None: wait for ever; a paused daemon publishes no steps).  `poll`
        is the sleep between looks (default dt / 2)."""
        nxt = self.head if since is None else int(since)
        poll = self.dt / 2 if poll is None else poll
        last_new = time.monotonic()
        while True:
            first, copy = self._ring(B_WINDOW, since=nxt)
            if len(copy):
                missed = first - nxt
                w = self._window_from(first, copy, missed)
                nxt = first + len(copy)
                last_new = time.monotonic()
                if chunks:
                    yield w
                    continue
                for j in range(len(w)):
                    yield Step(int(w.steps[j]), int(w.t_ns[j]),
                               int(w.spike_count[j]), w.spikes[j],
                               w.stim[j, :min(int(w.stim_count[j]),
                                              self.stim_channels)],
                               missed if j == 0 else 0)
                continue
            live = self.liveness()
            if live in ("stopped", "died", "replaced"):
                if self.head <= nxt:
                    return
                continue
            if timeout is not None and time.monotonic() - last_new > timeout:
                raise TimeoutError("%s: no new step for %g s (step %d next)"
                                   % (self.name, timeout, nxt))
            time.sleep(poll)
