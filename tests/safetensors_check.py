"""The Python side of tests/test_safetensors.c (run with /usr/bin/python3).

Reads safetensors files with nothing but struct, json and numpy, from the
format's definition, the way a PyTorch user's tools would see them.

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

DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2",
          "F16": "<f2", "I32": "<i4", "U32": "<u4", "F32": "<f4", "F64": "<f8",
          "I64": "<i8", "U64": "<u8"}


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in header")
    return dict(pairs)


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    assert len(blob) >= 8, "too short"
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header past the end"
    assert (8 + n) % 8 == 0, "data not 8-byte aligned: header %d" % n
    header = json.loads(blob[8:8 + n].decode("utf-8"),
                        object_pairs_hook=no_duplicates)
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    spans = []
    tensors = {}
    for name, info in header.items():
        assert set(info) == {"dtype", "shape", "data_offsets"}, info
        dt = np.dtype(DTYPES[info["dtype"]])
        shape = tuple(info["shape"])
        b, e = info["data_offsets"]
        assert 0 <= b <= e <= len(data)
        assert e - b == int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        assert b % dt.itemsize == 0, "%s misaligned" % name
        spans.append((b, e))
        tensors[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape)
    at = 0
    for b, e in sorted(spans):
        assert b == at, "gap or overlap at %d" % b
        at = max(at, e)
    assert at == len(data), "data not covered"
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
    """Lay tensors out largest element first, as the format's own writer
    does; pad the header to 8 bytes only if asked."""
    order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    header = {"__metadata__": meta} if meta else {}
    off = 0
    inv = {v: k for k, v in DTYPES.items()}
    for k in order:
        a = tensors[k]
        header[k] = {"dtype": inv[a.dtype.str], "shape": list(a.shape),
                     "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header).encode("utf-8")
    if pad:
        h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for k in order:
            f.write(tensors[k].tobytes())


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
