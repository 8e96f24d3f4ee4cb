"""The Python side of tests/test_safetensors.c (run with /usr/bin/python3).

Reads and writes safetensors files with ncpd.safetensors (the tree's
package: struct, json and numpy, from the format's definition), the way a
PyTorch user's tools would see them.

  safetensors_check.py check FILE META_JSON  validate FILE and compare every
      tensor with the pattern of test_safetensors.c and the metadata with
      META_JSON; prints one line per tensor
  safetensors_check.py make DIR              write reference files into DIR
"""
import json
import os
import struct
import sys

import numpy as np

from ref_pattern import ref

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
from ncpd import safetensors  # noqa: E402  (the tree's package)


def read(path):
    """The file's tensors and metadata (ncpd.safetensors checks the
    format), and what ncpd's writer promises beyond it: data 8-byte
    aligned, each tensor aligned for its type."""
    tensors, meta = safetensors.read(path)
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    assert (8 + n) % 8 == 0, "data not 8-byte aligned: header %d" % n
    for name, a in tensors.items():
        b = header[name]["data_offsets"][0]
        assert b % a.dtype.itemsize == 0, "%s misaligned" % name
    return tensors, meta


def check(path, want_meta):
    tensors, meta = read(path)
    bad = 0
    for name, a in tensors.items():
        ok = np.array_equal(a, ref(a.shape, a.dtype))
        print("%s: %s %s %s" % (name, "ok" if ok else "MISMATCH", a.dtype.str, a.shape))
        bad += not ok
    if meta != want_meta:
        print("metadata %r, want %r" % (meta, want_meta))
        bad += 1
    else:
        print("metadata: ok", meta)
    return bad


def write(path, tensors, meta, pad):
    """Largest element first, as the format's own writer does; the header
    padded to 8 bytes only if asked."""
    safetensors.write(path, tensors, meta, pad=pad)


def make(d):
    os.makedirs(d, exist_ok=True)
    t = {"layer.0.weight": ref((4, 3), "<f4"), "layer.0.bias": ref((4,), "<f4"),
         "count": ref((), "<i8"), "flags": ref((5,), "|b1"),
         "idx": ref((2, 2), "<i4"), "half": ref((3,), "<u2")}
    meta = {"format": "ncpd-emulator", "arch": "py", "n_in": "3"}
    write(os.path.join(d, "padded.safetensors"), t, meta, True)
    # An unpadded header leaves the data at an odd file offset.
    write(os.path.join(d, "unpadded.safetensors"), t, {}, False)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        sys.exit(1 if check(sys.argv[2], json.loads(sys.argv[3])) else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
        sys.exit(0)
    sys.exit(__doc__)
