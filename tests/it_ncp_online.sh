#!/bin/sh
# Online training of the co-processor continues from the CPN in use: a CPN
# trained online, then `ncp train off`, `ncp load` of another CPN and `ncp
# train on` again: the weights the trainer offers from then on are the
# loaded CPN's, trained, never those it had before the load (checked on
# the files `ncp save` writes: the newest is near the loaded CPN and far
# from the one trained before, and not equal to the loaded one).
set -u
TAG=ncponline
. tests/daemon_lib.sh
fix="$BUILD/tests/fixture_cpn_file"
[ -x "$fix" ] || fail "missing $fix (make builds it)"
mkdir -p "$tmp/data"
"$fix" "$tmp/data/a.safetensors" 16 16 3 || fail "fixture a"
# b: far from a (its weights a's times 300), so that what the trainer
# offers tells which of the two it started from.
PYTHONPATH=client/python $PY - "$tmp/data" <<'PYEOF' || fail "fixture b"
import sys
from ncpd import cpn
c = cpn.load(sys.argv[1] + "/a.safetensors")
for k in c.tensors:
    if k.startswith("layers."):
        c.tensors[k] = c.tensors[k] * 300
c.save(sys.argv[1] + "/b.safetensors")
PYEOF

# shellcheck disable=SC2086
"$NCPD" $uniq --set emulator.model=none --set ncp.model=none \
	--set task.kind=random --set ncp.reference=3 --set ncp.warmup=2 \
	--set ncp.round=1 --set ncp.epochs=2 --set ncp.batches=16 \
	--foreground 2>"$tmp/d.err" &
dpid=$!
wait_up
# st EXPR: true when the Python expression holds for the status (d).
st() {
	ctl --json status | $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}
updates() { key ncp updates; }
wait_for 30 "the healthy samples of the reference" st 'd["loop"]["step"] > 3500'
ctl lesion pmc-m1 1 >/dev/null || fail "lesion"
ctl ncp load a >/dev/null || fail "ncp load a"
ctl ncp train on >/dev/null || fail "ncp train on"
wait_for 60 "two offers of weights trained from a" st 'd["ncp"]["updates"] >= 2'
ctl ncp train off >/dev/null || fail "ncp train off"
ctl ncp save t1 >/dev/null || fail "ncp save t1"
ctl ncp load b >/dev/null || fail "ncp load b"
ctl ncp train on >/dev/null || fail "ncp train on after ncp load b"
u1=$(updates)
r1=$(key ncp train_rounds)
# The guard offers weights only once they beat b's on the same samples,
# which can take some rounds from b's saturated electrodes (a loaded
# machine gives each round fewer minibatches): wait for the first offer,
# and at least three rounds.
wait_for 90 "three rounds after ncp load b" st "d['ncp']['train_rounds'] >= $r1 + 3"
wait_for 120 "weights offered after ncp load b (none offered yet: the guard refused them)" \
	st "d['ncp']['updates'] > $u1"
ctl ncp train off >/dev/null || fail "ncp train off"
ctl ncp save t2 >/dev/null || fail "ncp save t2"
kill "$dpid"; wait "$dpid"; rc=$?
dpid=""
[ $rc -eq 0 ] || fail "ncpd exited $rc"
PYTHONPATH=client/python $PY - "$tmp/data" <<'PYEOF' || fail "the weights after ncp load b"
import sys
import numpy as np
from ncpd import cpn
d = sys.argv[1]
m = {k: cpn.load("%s/%s.safetensors" % (d, k)) for k in ("a", "b", "t1", "t2")}
def w(c):
    return np.concatenate([v.ravel() for k, v in sorted(c.tensors.items())
                           if k.startswith("layers.")])
def dist(x, y):
    return float(np.linalg.norm(w(m[x]) - w(m[y])))
print("|t2 - b| %.4g, |t2 - t1| %.4g, |t1 - a| %.4g, |a - b| %.4g"
      % (dist("t2", "b"), dist("t2", "t1"), dist("t1", "a"), dist("a", "b")))
assert dist("t2", "b") > 0, "the loaded CPN was not trained"
assert dist("t2", "b") < 0.5 * dist("t2", "t1"), \
    "after ncp load b the trainer offered weights that are not b's"
PYEOF
echo "online training continued from the CPN loaded after ncp train off"
finish
