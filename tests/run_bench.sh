#!/bin/sh
# make bench: every benchmark program prints JSON lines on stdout; progress
# and diagnostics go to stderr.
BUILD=${BUILD:-build}
export BUILD
status=0
done=""
# The model's free-run speed comes first.
for b in "$BUILD"/tests/bench_reach "$BUILD"/tests/bench_*; do
	[ -x "$b" ] || continue
	case " $done " in *" $b "*) continue ;; esac
	done="$done $b"
	"$b" || { echo "bench $(basename "$b") failed" >&2; status=1; }
done
for b in tests/bench_*.sh; do
	[ -f "$b" ] || continue
	sh "$b" || { echo "bench $(basename "$b" .sh) failed" >&2; status=1; }
done
exit $status
