#!/usr/bin/python3
"""Read ncpd's shared-memory segment with ncpd.Shm (the tree's package,
written from docs/shm.md); print JSON.

usage: shm_reader.py [NAME [WINDOW]]   (NAME defaults to /ncpd)

Prints generation, pid, state, head (steps written), the newest WINDOW
steps of the M1 window (first step, spike indices and stimulation per
step), the state block, (ABI 1.3) the stim block: electrodes, theta,
alpha and the lesion, and (ABI 1.4) each step's observation (recording
electrodes, arm, target, alpha) and the co-processor block.  Exits 1
with a message for a missing, foreign or truncated segment.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "client", "python"))
import ncpd  # noqa: E402  (the tree's package)


def plain(d):
    """numpy values as JSON's."""
    if d is None:
        return None
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in d.items()}


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else '/ncpd'
    try:
        shm = ncpd.Shm(name)
        want = int(sys.argv[2]) if len(sys.argv) > 2 else shm.window_len
        head = shm.head
        w = shm.window(n=want)
        st, stim, ncp = shm.state_block(), shm.stim(), shm.ncp()
    except ncpd.ShmError as e:
        sys.exit(str(e))
    print(json.dumps({
        'name': name, 'abi': list(shm.abi), 'generation': shm.generation,
        'pid': shm.pid, 'daemon_state': shm.state, 'm1_neurons': shm.m1_neurons,
        'dt': shm.dt, 'head': int(w.steps[-1]) + 1 if len(w) else head,
        'arm_links': shm.arm_links.tolist(),
        'window_first_step': w.first if len(w) else head,
        'window_count': len(w),
        'window_steps': w.steps.tolist(),
        'window_spikes': [np.flatnonzero(r).tolist() for r in w.spikes],
        'window_stim': [s[:n].tolist() for s, n in zip(w.stim, w.stim_count)],
        'state': plain(st), 'stim': plain(stim),
        'window_obs': None if w.obs is None else [
            {k: w.obs[k][j].tolist() for k in ('rec', 'arm', 'target', 'alpha')}
            for j in range(len(w))],
        'ncp': plain(ncp)}, default=float))


if __name__ == '__main__':
    main()
