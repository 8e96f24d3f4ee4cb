#!/bin/sh
# The ncpd Python package's tests (tests/python/, Debian's python3 and
# pytest), against real daemons of their own: the client on every
# command, shared memory, recordings, models in numpy and torch, and the
# session of docs/python.md.  A test pytest skips (no torch, say) makes
# the whole script a skip, with pytest's reasons.
set -u
BUILD=${BUILD:-build}
export BUILD
PY=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
$PY -c 'import numpy' 2>/dev/null || fail "$PY has no numpy (apt-get install python3-numpy)"
$PY -c 'import pytest' 2>/dev/null || fail "$PY has no pytest (apt-get install python3-pytest)"
tmp=$(mktemp -d /tmp/ncpd-it-python.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# -p no:cacheprovider: nothing written into the tree.
$PY -m pytest -p no:cacheprovider -q -rs tests/python >"$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
[ $rc -eq 0 ] || fail "pytest exited $rc"
grep -q '^[0-9]* passed' "$tmp/out" || fail "pytest ran no test"
why=$(sed -n 's/^SKIPPED \[[0-9]*\] [^:]*:[0-9]*: //p' "$tmp/out" | sort -u | tr '\n' ';')
if [ -n "$why" ]; then
	echo "SKIP: ${why%;}"
	exit 77
fi
echo ok
