"""The numpy side of tests/test_npy.c (run with /usr/bin/python3).

  npy_check.py make DIR    write reference files with numpy into DIR
  npy_check.py check DIR   load the files test_npy wrote into DIR with numpy
                           and check every value; prints one line per file

The values follow ref_pattern.py (ncp_ck_fill on the C side); exit status 0
when all match.
"""
import json
import os
import sys

import numpy as np

from ref_pattern import ref


def make(d):
    os.makedirs(d, exist_ok=True)
    fmt = np.lib.format
    # Version 1.0 files as np.save writes them, one per dtype we read.
    for name, dt, shape in [
        ("v1_f4", "<f4", (3, 4)), ("v1_f8", "<f8", (5,)), ("v1_u1", "|u1", (2, 3, 4)),
        ("v1_b1", "|b1", (7,)), ("v1_i4", "<i4", (4, 2)), ("v1_i8", "<i8", (3,)),
        ("v1_u2", "<u2", (6,)), ("v1_u4", "<u4", (2, 2)), ("v1_scalar", "<f8", ()),
        ("v1_empty", "<f4", (0, 6)),
    ]:
        np.save(os.path.join(d, name + ".npy"), ref(shape, dt))
    for ver in [(2, 0), (3, 0)]:
        with open(os.path.join(d, "v%d_f4.npy" % ver[0]), "wb") as f:
            fmt.write_array(f, ref((3, 5), "<f4"), version=ver)
    # Things we must refuse.
    np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(ref((3, 4), "<f4")))
    np.save(os.path.join(d, "bigendian.npy"), ref((3,), ">f4"))
    np.save(os.path.join(d, "complex.npy"), np.zeros(3, np.complex64))
    np.save(os.path.join(d, "structured.npy"),
            np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))


def check(d):
    bad = 0
    meta = None
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name == "meta.json":
            with open(path) as f:
                meta = json.load(f)
            print("meta.json: ok", json.dumps(meta)[:60])
            continue
        if not (name.endswith(".npy") or name.endswith(".npy.partial")):
            continue
        a = np.load(path)
        with open(path, "rb") as f:
            head = f.read(12)
        version = (head[6], head[7])
        hlen = head[8] | head[9] << 8
        offset = 10 + hlen
        # name: DTYPE_ROWS... e.g. "rt_f4_3x4.npy", "stream_u1_rows1000.npy"
        base = name.split(".")[0]
        parts = base.split("_")
        want_dt = {"b1": "|b1", "u1": "|u1", "i1": "|i1", "u2": "<u2",
                   "i2": "<i2", "u4": "<u4", "i4": "<i4", "u8": "<u8",
                   "i8": "<i8", "f4": "<f4", "f8": "<f8"}[parts[1]]
        if parts[2] == "scalar":
            shape = ()
        else:
            shape = tuple(int(x) for x in parts[2].split("x"))
        want = ref(shape, want_dt)
        ok = (a.dtype == np.dtype(want_dt) and a.shape == want.shape
              and np.array_equal(a, want) and a.flags["C_CONTIGUOUS"]
              and version == (1, 0) and offset % 64 == 0)
        print("%s: %s dtype=%s shape=%s version=%s offset=%d" %
              (name, "ok" if ok else "MISMATCH", a.dtype.str, a.shape,
               version, offset))
        bad += not ok
    if meta is not None:
        need = {"format": "ncpd-recording", "complete": True, "steps": 250,
                "first_step": 17, "dt": 0.001, "window": 100,
                "m1_neurons": 1000, "seed": 9223372036854775807,
                "task_seed": 3, "config": {"seed": 5, "task": {"kind": "random"}}}
        for k, v in need.items():
            if meta.get(k) != v:
                print("meta.json: %s is %r, want %r" % (k, meta.get(k), v))
                bad += 1
    return bad


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(1 if check(sys.argv[2]) else 0)
