#!/usr/bin/python3
"""Read ncpd's shared-memory segment as docs/shm.md describes it; print JSON.

usage: shm_reader.py [NAME [WINDOW]]   (NAME defaults to /ncpd)

Prints generation, pid, state, head (steps written), the newest WINDOW
steps of the M1 window (first step, spike indices and stimulation per
step), the state block, (ABI 1.3) the stim block: electrodes, theta,
alpha and the lesion, and (ABI 1.4) each step's observation (recording
electrodes, arm, target, alpha) and the co-processor block.  Exits 1 with a message for a missing, foreign
or truncated segment.  Plain loads in program order are enough on x86-64.
"""
import json
import mmap
import sys

import numpy as np

STATES = {0: 'none', 1: 'starting', 2: 'running', 3: 'stopped'}
SOURCES = {0: 'none', 1: 'noise', 2: 'oracle', 3: 'file', 4: 'cpn'}
LESIONS = {0: 'none', 1: 'pmc-m1', 2: 'm1-silence'}


def u64(a, off):
    return int(a[off:off + 8].view('<u8')[0])


def seqlock_copy(seg, off, size):
    """A consistent copy of a seqlock block, or None (never written)."""
    for _ in range(1000):
        s0 = u64(seg, off)
        if s0 == 0:
            return None
        blk = seg[off:off + size].copy()
        if s0 % 2 == 0 and u64(seg, off) == s0:
            return blk
    sys.exit('a seqlock block stayed busy for 1000 tries')


def read_stim(seg, blocks, minor):
    """The stim block (1.3): None from older writers or before the first
    write."""
    if minor < 3 or len(blocks) < 7 or blocks[6][1] == 0:
        return None
    E = int(seg[108:112].view('<u4')[0])
    size = 128 + 8 * E
    if blocks[6][1] < size:
        sys.exit(f'stim block of {blocks[6][1]} bytes, too small for {E} electrodes')
    blk = seqlock_copy(seg, blocks[6][0], size)
    if blk is None:
        return None
    u4, f8 = blk[:128].view('<u4'), blk[:128].view('<f8')
    v = blk[128:size].view('<f4')
    return {'step': u64(blk, 8), 'electrodes': int(u4[4]),
            'source': SOURCES.get(int(u4[5]), int(u4[5])),
            'lesion_kind': LESIONS.get(int(u4[6]), int(u4[6])),
            'lesion_neurons': int(u4[7]), 'lesion_fraction': f8[4],
            'max': f8[5], 'theta_max_abs': f8[6], 'alpha_max_abs': f8[7],
            'theta': v[:E].tolist(), 'alpha': v[E:].tolist()}


def read_obs(seg, copy, minor):
    """Each copied step's observation (1.4): None from older writers."""
    off = int(seg[384:388].view('<u4')[0]) if minor >= 4 else 0
    if off == 0:
        return None
    R, E = int(seg[388:392].view('<u4')[0]), int(seg[108:112].view('<u4')[0])
    f = copy[:, off:off + 4 * (R + 8 + E)].copy().view('<f4')
    return [{'rec': o[:R].tolist(), 'arm': o[R:R + 6].tolist(),
             'target': o[R + 6:R + 8].tolist(), 'alpha': o[R + 8:].tolist()}
            for o in f]


def read_ncp(seg, blocks, minor):
    """The co-processor block (1.4): None from older writers or before
    the first write."""
    if minor < 4 or len(blocks) < 8 or blocks[7][1] == 0:
        return None
    blk = seqlock_copy(seg, blocks[7][0], 256)
    if blk is None:
        return None
    u4, f8 = blk.view('<u4'), blk.view('<f8')
    return {'step': u64(blk, 8), 'loaded': int(u4[4]), 'on': int(u4[5]),
            'train': int(u4[6]), 'phase': int(u4[7]), 'latency_us': f8[4],
            'latency_p99_us': f8[5], 'thetas': u64(blk, 48),
            'skipped': u64(blk, 56), 'updates': u64(blk, 64),
            'rollbacks': u64(blk, 72), 'l_healthy': f8[10],
            'l_lesioned': f8[11], 'l_restored': f8[12], 'recovery': f8[13],
            'reaches': u4[28:31].tolist(),
            'model': bytes(blk[128:160]).split(b'\0')[0].decode(),
            'task_loss': f8[20], 'en_loss': f8[21]}


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else '/ncpd'
    try:
        with open('/dev/shm/' + name.lstrip('/'), 'rb') as f:
            seg = np.frombuffer(mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ), np.uint8)
    except (OSError, ValueError) as e:
        sys.exit(f'{name}: {e}')
    if len(seg) < 512 or bytes(seg[:8]) != b'NCPDSHM\0':
        sys.exit(f'{name}: not an ncpd segment')
    major, minor = (int(v) for v in seg[8:12].view('<u2'))
    if major != 1:
        sys.exit(f'{name}: ABI version {major}.{minor}, this reader reads 1.x')
    if u64(seg, 16) > len(seg):
        sys.exit(f'{name}: truncated')
    pid, state = int(seg[32:36].view('<i4')[0]), int(seg[36:40].view('<u4')[0])
    neurons, words, wlen, nslots, slot_size = (int(v) for v in seg[72:92].view('<u4'))
    nblocks = int(seg[104:108].view('<u4')[0])
    blocks = [(u64(seg, 128 + 16 * i), u64(seg, 136 + 16 * i))
              for i in range(min(nblocks, 16))]
    want = int(sys.argv[2]) if len(sys.argv) > 2 else wlen

    # Window ring: copy the newest entries between two reads of their
    # sequence words; entry k is good when both read 2k+2.
    wof = blocks[0][0]
    slots = seg[wof + 64:wof + 64 + nslots * slot_size].reshape(nslots, slot_size)
    for _ in range(16):
        head = u64(seg, wof)
        ks = np.arange(max(head - want, 0), head, dtype=np.uint64)
        rows = (ks % nslots).astype(np.intp)
        before = slots[rows, :8].copy().view('<u8').ravel()
        copy = slots[rows].copy()
        after = slots[rows, :8].copy().view('<u8').ravel()
        if (before == 2 * ks + 2).all() and (after == before).all():
            break
    else:
        sys.exit(f'{name}: lapped by the writer 16 times')
    bits = np.unpackbits(copy[:, 192:192 + 8 * words], axis=1, bitorder='little')
    stim_n = copy[:, 20:24].copy().view('<u4').ravel()
    stim = copy[:, 64:192].copy().view('<f4')

    # State block (seqlock): even, non-zero sequence word, same after the copy.
    blk, st = seqlock_copy(seg, blocks[1][0], 192), None
    if blk is not None:
        f8, u4 = blk.view('<f8'), blk.view('<u4')
        st = {'step': u64(blk, 8), 't': f8[2], 'q': f8[3:5].tolist(),
              'dq': f8[5:7].tolist(), 'hand': f8[7:9].tolist(),
              'target': f8[9:11].tolist(), 'u': f8[11:13].tolist(),
              'task_period': f8[13], 'task_kind': int(u4[28]),
              'paused': int(u4[29]), 'm1_spikes': int(u4[30])}
    print(json.dumps({
        'name': name, 'abi': [major, minor], 'generation': u64(seg, 24),
        'pid': pid, 'daemon_state': STATES.get(state, state), 'm1_neurons': neurons,
        'dt': float(seg[64:72].view('<f8')[0]), 'head': head,
        'arm_links': seg[112:128].view('<f8').tolist(),
        'window_first_step': int(ks[0]) if len(ks) else head,
        'window_count': len(ks),
        'window_steps': copy[:, 8:16].copy().view('<u8').ravel().tolist(),
        'window_spikes': [np.flatnonzero(b[:neurons]).tolist() for b in bits],
        'window_stim': [s[:n].tolist() for s, n in zip(stim, stim_n)],
        'state': st, 'stim': read_stim(seg, blocks, minor),
        'window_obs': read_obs(seg, copy, minor),
        'ncp': read_ncp(seg, blocks, minor)}, default=float))


if __name__ == '__main__':
    main()
