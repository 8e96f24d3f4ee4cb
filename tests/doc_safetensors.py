"""Runs the two "Writing one with numpy alone" blocks of
docs/file-formats.md exactly as they stand there (Debian's python3 and
numpy only), with a stand-in for the PyTorch module whose state_dict()
holds tensors of the shapes docs/model-format.md gives for the metadata
the second block writes.

usage: doc_safetensors.py DOCS_FILE_FORMATS_MD OUT_DIR

Writes OUT_DIR/data/emulator.safetensors (the blocks' own path, relative
to OUT_DIR) and prints its metadata as JSON.
"""
import json
import os
import re
import sys

import numpy as np


class Tensor:
    """What the block calls on a torch tensor: .detach().cpu().numpy()."""

    def __init__(self, a):
        self.a = a

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.a


class Module:
    """A module's state_dict() for the metadata the block defined (read
    when the block calls it), shapes from docs/model-format.md."""

    def __init__(self, ns):
        self.ns = ns

    def state_dict(self):
        meta = self.ns["metadata"]
        rng = np.random.default_rng(0)
        n, c = int(meta["neurons"]), int(meta["stim_channels"])
        k = len(json.loads(meta["taus"]))
        s = c * k if meta["arch"] == "dense" else (n + c) * k
        sizes = [int(meta["n_in"])] + json.loads(meta["hidden"]) + [6]
        d = {"in_mean": np.zeros(s, np.float32),
             "in_scale": np.ones(s, np.float32),
             "out_mean": np.zeros(6, np.float32),
             "out_scale": np.ones(6, np.float32)}
        for i in range(len(sizes) - 1):
            bound = 1 / np.sqrt(sizes[i])
            d["layers.%d.weight" % (2 * i)] = rng.uniform(
                -bound, bound, (sizes[i + 1], sizes[i])).astype(np.float32)
            d["layers.%d.bias" % (2 * i)] = rng.uniform(
                -bound, bound, sizes[i + 1]).astype(np.float32)
        return {name: Tensor(a) for name, a in d.items()}


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    writer = [b for b in blocks if "def save_safetensors(" in b]
    usage = [b for b in blocks if "save_safetensors(\"data/" in b]
    if len(writer) != 1 or len(usage) != 1:
        sys.exit("docs: expected one writer block and one block using it, "
                 "found %d and %d" % (len(writer), len(usage)))
    os.makedirs(os.path.join(sys.argv[2], "data"), exist_ok=True)
    os.chdir(sys.argv[2])
    ns = {}
    ns["model"] = Module(ns)
    exec(compile(writer[0], "file-formats.md (writer)", "exec"), ns)
    exec(compile(usage[0], "file-formats.md (usage)", "exec"), ns)
    print(json.dumps(ns["metadata"]))


main()
