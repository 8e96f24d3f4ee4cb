#!/bin/sh
# The oracle's recovery table (docs/stimulation.md): 16 s centre-out free
# runs of ncpd, healthy, lesioned (pmc-m1, fraction 1) and lesioned with
# the oracle driving the electrodes, for E = 8, 16, 32, 64, two footprint
# spreads and both layouts.  Recovery = (1 - (L - L_healthy) / (L_lesioned
# - L_healthy)) x 100 on the mean end error L.  Prints a Markdown table.
#
# usage: sh tests/oracle_table.sh [SEED ...]     (network seeds; default 0)
# env: BUILD (default build), ELECTRODES, SPREADS, LAYOUTS, DURATION
BUILD=${BUILD:-build}
NCPD="$BUILD/ncpd"
PY=/usr/bin/python3
ELECTRODES=${ELECTRODES:-"8 16 32 64"}
SPREADS=${SPREADS:-"0.02 0.05"}
LAYOUTS=${LAYOUTS:-"topographic random"}
DURATION=${DURATION:-16}
SEEDS=${*:-0}
[ -x "$NCPD" ] || { echo "oracle_table: $NCPD missing (make first)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ncp_oracle.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
name="oracle-$$"

# L SEED [--set ...]: the run's mean end error in mm.
L() {
	seed=$1
	shift
	"$NCPD" --free-run --duration "$DURATION" --summary json \
		--set instance="$name" --set shm.name="/ncpd-$name" \
		--set control.socket="$tmp/ncpd.sock" --set data_dir="$tmp/data" \
		--set seed="$seed" "$@" 2>"$tmp/err" >"$tmp/out" ||
		{ echo "oracle_table: ncpd $*: $(cat "$tmp/err")" >&2; exit 1; }
	$PY -c 'import json,sys; print("%.2f" % (1e3 * json.load(open(sys.argv[1]))["mean_end_error"]))' "$tmp/out"
}

echo "| seed | layout | spread | E | mean end error (mm) | recovery |"
echo "| --- | --- | --- | --- | --- | --- |"
for seed in $SEEDS; do
	h=$(L "$seed") || exit 1
	l=$(L "$seed" --set lesion.kind=pmc-m1) || exit 1
	echo "| $seed | healthy | | | $h | |"
	echo "| $seed | lesioned (pmc-m1 1) | | | $l | 0% |"
	for layout in $LAYOUTS; do
		for spread in $SPREADS; do
			for e in $ELECTRODES; do
				o=$(L "$seed" --set lesion.kind=pmc-m1 \
					--set stim.source=oracle \
					--set stim.layout="$layout" \
					--set stim.spread="$spread" \
					--set stim.electrodes="$e") || exit 1
				r=$($PY -c "print('%.0f%%' % ((1 - ($o - $h) / ($l - $h)) * 100))")
				echo "| $seed | $layout | $spread | $e | $o | $r |"
			done
		done
	done
done
