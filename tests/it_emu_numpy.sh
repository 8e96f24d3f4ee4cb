#!/bin/sh
# The emulator's forward pass against tests/emu_forward.py, a numpy
# implementation written from docs/model-format.md (Debian's python3 and
# numpy): for every architecture, a default-sized model run by ncpd over
# M1-like spikes with stimulation (tests/fixture_emu_dump.c); then a model
# that ncp-train trained on a recording ncpd made, run over that
# recording.  The standardised outputs must agree within 1e-4.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
fixture="$BUILD/tests/fixture_emu_dump"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$fixture" ] || fail "missing $fixture (make builds it)"
$PY -c 'import numpy' || fail "$PY has no numpy"

for arch in ridge ridge-running mlp mlp-running dense; do
	mkdir -p "$tmp/$arch"
	"$fixture" "$arch" "$tmp/$arch" 1200 3 || fail "fixture for $arch"
	$PY tests/emu_forward.py "$tmp/$arch/model.safetensors" \
		"$tmp/$arch/spikes.npy" "$tmp/$arch/stim.npy" \
		"$tmp/$arch/pred.npy" 1e-4 || fail "$arch differs from the definition"
done

# A recording from ncpd, a model from ncp-train.
mkdir -p "$tmp/data" "$tmp/run"
"$BUILD/ncpd" --free-run --duration 4 --set task.kind=random \
	--set data_dir="$tmp/data" --record rec \
	--set shm.name=/ncpd-it-emu-$$ --set control.socket="$tmp/s.sock" \
	>/dev/null 2>"$tmp/ncpd.err" || { cat "$tmp/ncpd.err" >&2; fail "ncpd --record"; }
"$BUILD/ncp-train" --data "$tmp/data/rec" --out "$tmp/trained.safetensors" \
	--arch mlp-running --epochs 2 --block 0.5 --quiet >"$tmp/train.out" 2>&1 ||
	{ cat "$tmp/train.out" >&2; fail "ncp-train"; }
"$fixture" --run "$tmp/trained.safetensors" "$tmp/data/rec" "$tmp/run" ||
	fail "fixture --run"
$PY tests/emu_forward.py "$tmp/trained.safetensors" "$tmp/run/spikes.npy" \
	"$tmp/run/stim.npy" "$tmp/run/pred.npy" 1e-4 ||
	fail "the trained model differs from the definition"
echo "ok"
