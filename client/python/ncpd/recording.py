"""An ncpd recording (docs/file-formats.md): its .npy files memory-mapped,
its meta.json.

    rec = ncpd.Recording("data/run1")
    rec.m1, rec.arm, rec.target, rec.stim, rec.lesion, rec.pred
    rec.rec, rec.alpha, rec.cpn_obs      # what the co-processor observes
    rec.meta["steps"], rec.time, rec.hand
    rec.probes["cb.spikes"], rec.probes["m1.value"]   # probes, if recorded
"""
import json
import os

import numpy as np

__all__ = ["Recording", "RecordingError", "ARM_COLUMNS", "PRED_COLUMNS",
           "arm_columns"]

ARM_COLUMNS = ("q0", "q1", "dq0", "dq1", "hand_x", "hand_y")
PRED_COLUMNS = ARM_COLUMNS


def arm_columns(links):
    """The arm state's columns for an arm of `links` links (2 or 3): q and
    dq of each joint, then the hand."""
    return (tuple("q%d" % j for j in range(links)) +
            tuple("dq%d" % j for j in range(links)) + ("hand_x", "hand_y"))


# The files a recording may hold, by key, with their dtype and columns
# (None: from meta.json; "arm": 2 arm_links + 2).
FILES = {"m1": ("|u1", None), "arm": ("<f4", "arm"), "target": ("<f4", 2),
         "stim": ("<f4", None), "lesion": ("<i4", 2), "pred": ("<f4", "arm"),
         "rec": ("<f4", None), "alpha": ("<f4", None)}


class RecordingError(ValueError):
    """A recording that cannot be read: the message names the file and
    the fault."""


class Recording:
    """The recording in directory `path`.

    Every file is an attribute, memory-mapped read-only (np.load with
    mmap_mode="r"): m1 (steps, m1_neurons) uint8, arm (steps, 2 J + 2)
    float32 (J = `links`, meta.json's arm_links, 2 when absent; columns
    `arm_columns`), target (steps, 2), stim (steps, E) float32, lesion
    (steps, 2) int32, pred (steps, 2 J + 2) float32, the daemon's
    predictions (NaN where it made none), rec (steps, R) float32, the
    recording electrodes after each step, alpha (steps, E) float32, the
    electrode currents after it; None for a file this recording lacks
    (older recordings have no stim, lesion, pred, rec or alpha).  `files`
    maps each present key to its array.
    `probes` maps "TARGET.KIND" (meta.json's probes) to its array:
    spikes (steps, neurons) uint8, values (steps, values) float32; and
    `probe_meta` to the probe's meta.json entry.

    An unfinished recording (meta "complete": false, after a crash or
    while it is written) is refused unless partial=True, which reads the
    .npy.partial files cut to the rows all of them hold.
    """

    def __init__(self, path, partial=False):
        self.path = os.fspath(path)
        meta_path = os.path.join(self.path, "meta.json")
        try:
            with open(meta_path, encoding="utf-8") as f:
                self.meta = json.load(f)
        except FileNotFoundError:
            raise RecordingError("%s: no meta.json: not a recording directory"
                                 % self.path) from None
        except (OSError, ValueError) as e:
            raise RecordingError("%s: %s" % (meta_path, e)) from None
        if not isinstance(self.meta, dict) or self.meta.get("format") != "ncpd-recording":
            raise RecordingError("%s: format is %r, not 'ncpd-recording'"
                                 % (meta_path, self.meta.get("format")
                                    if isinstance(self.meta, dict) else self.meta))
        if self.meta.get("format_version") != 1:
            raise RecordingError("%s: format_version %r; this reader reads 1"
                                 % (meta_path, self.meta.get("format_version")))
        self.complete = bool(self.meta.get("complete"))
        if not self.complete and not partial:
            raise RecordingError("%s: the recording is not complete (still "
                                 "recording, or the daemon crashed): "
                                 "Recording(path, partial=True) reads what it "
                                 "holds" % self.path)
        self.links = self.meta.get("arm_links", 2)
        if self.links not in (2, 3):
            raise RecordingError("%s: arm_links %r; ncpd records arms of 2 or "
                                 "3 links" % (meta_path, self.links))
        self.arm_columns = arm_columns(self.links)
        names = self.meta.get("files") or {}
        if not isinstance(names, dict):
            raise RecordingError("%s: files is %r, not an object" % (meta_path, names))
        names = dict(names)
        names.setdefault("m1", "m1.npy")
        names.setdefault("arm", "arm.npy")
        names.setdefault("target", "target.npy")
        for k in ("stim", "lesion", "pred", "rec", "alpha"):
            if k not in names and os.path.exists(os.path.join(self.path, k + ".npy")):
                names[k] = k + ".npy"
        self.files = {}
        for key, fname in names.items():
            if not isinstance(fname, str) or "/" in fname or fname.startswith("."):
                raise RecordingError("%s: files.%s is %r, not a file name"
                                     % (meta_path, key, fname))
            p = os.path.join(self.path, fname)
            if not self.complete:
                p = p + ".partial" if os.path.exists(p + ".partial") else p
            try:
                a = np.load(p, mmap_mode="r", allow_pickle=False)
            except FileNotFoundError:
                raise RecordingError("%s: missing (meta.json lists it)" % p) from None
            except (OSError, ValueError) as e:
                raise RecordingError("%s: %s" % (p, e)) from None
            if a.ndim != 2:
                raise RecordingError("%s: %d dimensions, want 2" % (p, a.ndim))
            want = FILES.get(key)
            if want and a.dtype != np.dtype(want[0]):
                raise RecordingError("%s: dtype %s, want %s" % (p, a.dtype.str, want[0]))
            cols = len(self.arm_columns) if want and want[1] == "arm" else \
                (want[1] if want else None)
            if cols and a.shape[1] != cols:
                raise RecordingError("%s: %d columns, want %d" % (p, a.shape[1], cols))
            self.files[key] = a
        self.probes, self.probe_meta = {}, {}
        plist = self.meta.get("probes") or []
        if not isinstance(plist, list):
            raise RecordingError("%s: probes is %r, not an array" % (meta_path, plist))
        for i, pm in enumerate(plist):
            if (not isinstance(pm, dict) or not isinstance(pm.get("file"), str)
                    or pm.get("kind") not in ("spikes", "value")
                    or not isinstance(pm.get("target"), str)):
                raise RecordingError("%s: probes[%d] is %r, not a probe "
                                     "(target, kind, file)" % (meta_path, i, pm))
            fname = pm["file"]
            if "/" in fname or fname.startswith("."):
                raise RecordingError("%s: probes[%d].file is %r, not a file name"
                                     % (meta_path, i, fname))
            p = os.path.join(self.path, fname)
            if not self.complete and os.path.exists(p + ".partial"):
                p = p + ".partial"
            try:
                a = np.load(p, mmap_mode="r", allow_pickle=False)
            except FileNotFoundError:
                raise RecordingError("%s: missing (meta.json lists it)" % p) from None
            except (OSError, ValueError) as e:
                raise RecordingError("%s: %s" % (p, e)) from None
            want = "|u1" if pm["kind"] == "spikes" else "<f4"
            if a.ndim != 2 or a.dtype != np.dtype(want):
                raise RecordingError("%s: %s %s, want 2 dimensions of %s"
                                     % (p, a.shape, a.dtype.str, want))
            if pm.get("columns") is not None and a.shape[1] != pm["columns"]:
                raise RecordingError("%s: %d columns, meta.json says %r"
                                     % (p, a.shape[1], pm["columns"]))
            key = "%s.%s" % (pm["target"], pm["kind"])
            self.probes[key] = a
            self.probe_meta[key] = pm
        rows = min(len(a) for a in list(self.files.values()) + list(self.probes.values()))
        if self.complete:
            steps = self.meta.get("steps")
            bad = [k for k, a in self.files.items() if len(a) != steps]
            if bad:
                raise RecordingError("%s: %s holds %d rows, meta.json says %r steps"
                                     % (self.path, names[bad[0]],
                                        len(self.files[bad[0]]), steps))
            bad = [k for k, a in self.probes.items() if len(a) != steps]
            if bad:
                raise RecordingError("%s: %s holds %d rows, meta.json says %r steps"
                                     % (self.path, self.probe_meta[bad[0]]["file"],
                                        len(self.probes[bad[0]]), steps))
        else:
            self.files = {k: a[:rows] for k, a in self.files.items()}
            self.probes = {k: a[:rows] for k, a in self.probes.items()}
        n = self.meta.get("m1_neurons")
        if n is not None and self.files["m1"].shape[1] != n:
            raise RecordingError("%s: m1 has %d columns, meta.json says %d neurons"
                                 % (self.path, self.files["m1"].shape[1], n))
        E = self.meta.get("stim_electrodes")
        if "stim" in self.files and E is not None and self.files["stim"].shape[1] != E:
            raise RecordingError("%s: stim has %d columns, meta.json says %d "
                                 "electrodes" % (self.path, self.files["stim"].shape[1], E))
        R = self.meta.get("rec_electrodes")
        if "rec" in self.files and R is not None and self.files["rec"].shape[1] != R:
            raise RecordingError("%s: rec has %d columns, meta.json says %d "
                                 "recording electrodes"
                                 % (self.path, self.files["rec"].shape[1], R))
        if "alpha" in self.files:
            want = E if E is not None else (self.files["stim"].shape[1]
                                            if "stim" in self.files else None)
            if want is not None and self.files["alpha"].shape[1] != want:
                raise RecordingError("%s: alpha has %d columns, meta.json says %d "
                                     "electrodes" % (self.path,
                                                     self.files["alpha"].shape[1], want))
        self.steps = rows
        try:
            self.dt = float(self.meta.get("dt", 0.001))
            self.first_step = int(self.meta.get("first_step", 0))
            self.window = int(self.meta.get("window", 100))
        except (TypeError, ValueError):
            raise RecordingError("%s: dt, first_step or window is not a number "
                                 "(%r, %r, %r)" % (meta_path, self.meta.get("dt"),
                                                   self.meta.get("first_step"),
                                                   self.meta.get("window"))) from None
        self.name = self.meta.get("name", os.path.basename(self.path.rstrip("/")))

    def __getattr__(self, key):
        if key in FILES:
            return self.__dict__.get("files", {}).get(key)
        raise AttributeError(key)

    def __getitem__(self, key):
        return self.files[key]

    def __len__(self):
        return self.steps

    def __repr__(self):
        return "Recording(%r: %d steps from step %d, %s%s)" % (
            self.path, self.steps, self.first_step, ", ".join(sorted(self.files)),
            "" if self.complete else ", partial")

    @property
    def step_numbers(self):
        """The loop step of every row (steps,) int64."""
        return self.first_step + np.arange(self.steps, dtype=np.int64)

    @property
    def time(self):
        """Simulated time of every row, s (steps,)."""
        return self.step_numbers * self.dt

    @property
    def q(self):
        return self.files["arm"][:, 0:self.links]

    @property
    def dq(self):
        return self.files["arm"][:, self.links:2 * self.links]

    @property
    def hand(self):
        return self.files["arm"][:, 2 * self.links:2 * self.links + 2]

    @property
    def dropped(self):
        """Rows the recorder filled in for dropped steps (bool, steps)."""
        return ~np.isfinite(self.files["arm"]).all(axis=1)

    @property
    def cpn_obs(self):
        """What the co-processor observes after each step, in its input's
        order (docs/coprocessor.md): the R recording electrodes, then q0,
        q1, dq0, dq1, hand_x, hand_y: (steps, R + 6) float32.  Refuses a
        recording without rec.npy (made before it was recorded)."""
        r = self.files.get("rec")
        if r is None:
            raise RecordingError("%s: no rec.npy: the recording was made "
                                 "before ncpd recorded the co-processor's "
                                 "electrodes" % self.path)
        return np.concatenate([r, self.files["arm"]], axis=1)

    def stim_input(self, channels):
        """The emulator's stimulation input: stim.npy (NaN as 0) padded
        with zero columns to `channels` (all zeros without stim.npy)
        (steps, channels) float32.  Refuses more electrodes than channels."""
        u = np.zeros((self.steps, channels), np.float32)
        s = self.files.get("stim")
        if s is not None and channels:
            if s.shape[1] > channels:
                raise RecordingError("%s: %d electrodes, the model takes %d "
                                     "stimulation channels"
                                     % (self.path, s.shape[1], channels))
            u[:, :s.shape[1]] = np.nan_to_num(s, nan=0.0)
        return u
