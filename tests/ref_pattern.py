"""The value pattern the file-format tests share with their C side
(ncp_ck_fill in tests/ncp_check.h), imported by npy_check.py and
safetensors_check.py."""
import numpy as np


def ref(shape, dtype):
    """Element k (C order): k * 0.25 - 3 for floats, k % 251 for unsigned,
    k % 200 - 100 for signed, k % 3 == 0 for bool."""
    n = int(np.prod(shape, dtype=np.int64))
    k = np.arange(n, dtype=np.int64)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        v = k * 0.25 - 3
    elif dt.kind == "u":
        v = k % 251
    elif dt.kind == "i":
        v = k % 200 - 100
    else:
        v = k % 3 == 0
    return v.astype(dt).reshape(shape)
