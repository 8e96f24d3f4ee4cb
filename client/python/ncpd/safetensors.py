"""The safetensors container (docs/file-formats.md) with json and struct:
read every file the format allows (for the dtypes numpy holds), write as
ncpd writes (header padded to 8 bytes, largest element size first,
atomically).
"""
import json
import os
import struct

import numpy as np

__all__ = ["read", "write", "SafetensorsError", "DTYPES"]

# The format's dtypes numpy can hold.  (BF16 and the F8 kinds have no
# numpy type: such tensors are refused by name.)
DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2",
          "F16": "<f2", "I32": "<i4", "U32": "<u4", "F32": "<f4", "F64": "<f8",
          "I64": "<i8", "U64": "<u8", "C64": "<c8"}
OTHER_DTYPES = ("BF16", "F8_E5M2", "F8_E4M3", "F8_E8M0")
NAMES = {np.dtype(v).str: k for k, v in DTYPES.items()}
HEADER_MAX = 100 * 1000 * 1000


class SafetensorsError(ValueError):
    """A file that breaks the format: the message names the file, the
    tensor and the fault."""


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError("duplicate name %r" % sorted(dup)[0])
    return dict(pairs)


def read(path, copy=False):
    """(tensors, metadata) of the file at `path`: tensors maps each name to
    a read-only numpy array (a view of the file's bytes unless copy=True),
    in the header's order; metadata is the __metadata__ dict (str to str,
    {} when absent).  Raises SafetensorsError naming the fault."""
    with open(path, "rb") as f:
        blob = f.read()
    return parse(blob, str(path), copy)


def parse(blob, where="<bytes>", copy=False):
    """read() from bytes."""
    def bad(msg):
        return SafetensorsError("%s: %s" % (where, msg))
    if len(blob) < 8:
        raise bad("%d bytes: too short for a safetensors file" % len(blob))
    (n,) = struct.unpack("<Q", blob[:8])
    if n > HEADER_MAX:
        raise bad("header of %d bytes, more than %d" % (n, HEADER_MAX))
    if 8 + n > len(blob):
        raise bad("header of %d bytes runs past the end of the file (%d bytes)"
                  % (n, len(blob)))
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"),
                            object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise bad("header is not valid JSON: %s" % e) from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise bad("__metadata__ must map strings to strings")
    spans, tensors = [], {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise bad("tensor %r: want exactly dtype, shape and data_offsets "
                      "(got %r)" % (name, info))
        dt = info["dtype"]
        if dt in OTHER_DTYPES:
            raise bad("tensor %r: dtype %s has no numpy type" % (name, dt))
        if dt not in DTYPES:
            raise bad("tensor %r: unknown dtype %r" % (name, dt))
        dt = np.dtype(DTYPES[dt])
        shape, offs = info["shape"], info["data_offsets"]
        if (not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise bad("tensor %r: shape %r is not a list of sizes" % (name, shape))
        if (not isinstance(offs, list) or len(offs) != 2 or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise bad("tensor %r: data_offsets %r is not [begin, end]" % (name, offs))
        b, e = offs
        if not 0 <= b <= e <= len(data):
            raise bad("tensor %r: data_offsets [%d, %d] outside the data (%d bytes)"
                      % (name, b, e, len(data)))
        size = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if e - b != size:
            raise bad("tensor %r: shape %r of %s is %d bytes, data_offsets span %d"
                      % (name, shape, info["dtype"], size, e - b))
        spans.append((b, e, name))
        a = np.frombuffer(data[b:e], dtype=dt).reshape(shape)
        tensors[name] = a.copy() if copy else a
    at = 0
    for b, e, name in sorted(spans):
        if b != at:
            raise bad("tensor %r: %s at byte %d of the data (want %d)"
                      % (name, "overlap" if b < at else "gap", b, at))
        at = max(at, e)
    if at != len(data):
        raise bad("%d bytes of data belong to no tensor" % (len(data) - at))
    return tensors, meta


def dumps(tensors, metadata=None, pad=True):
    """The file's bytes: tensors laid out largest element size first (then
    by name), the header padded with spaces so the data is 8-byte aligned
    (unless pad=False)."""
    arrs = {}
    for k, a in tensors.items():
        a = np.asarray(a)
        if a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and
                                        np.little_endian is False):
            a = a.astype(a.dtype.newbyteorder("<"))
        if a.dtype.str not in NAMES:
            raise SafetensorsError("tensor %r: dtype %s has no safetensors name"
                                   % (k, a.dtype))
        arrs[k] = a if a.flags["C_CONTIGUOUS"] else a.copy(order="C")  # 0-d stays 0-d
    order = sorted(arrs, key=lambda k: (-arrs[k].dtype.itemsize, k))
    header = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError("metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    off = 0
    for k in order:
        a = arrs[k]
        header[k] = {"dtype": NAMES[a.dtype.str], "shape": list(a.shape),
                     "data_offsets": [off, off + a.nbytes]}
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad:
        h += b" " * (-(8 + len(h)) % 8)
    return b"".join([struct.pack("<Q", len(h)), h] + [arrs[k].tobytes() for k in order])


def write(path, tensors, metadata=None, pad=True):
    """Write tensors (name to array) and metadata (str to str) to `path`
    atomically: the file under its name is complete or absent."""
    blob = dumps(tensors, metadata, pad)
    path = os.fspath(path)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
