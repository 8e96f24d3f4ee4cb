#!/bin/sh
# Runs every test: the Check suites, the stress tests (and their
# ThreadSanitizer builds listed in TSAN_STRESS), the fuzz corpora replays
# and the integration scripts (tests/it_*.sh).  Prints one line per test
# and a total; exits non-zero if any failed.
BUILD=${BUILD:-build}
export BUILD
failed=""
count=0
run() {
	name=$1; shift
	count=$((count + 1))
	start=$(date +%s)
	log="$BUILD/test-logs/$name.log"
	mkdir -p "$BUILD/test-logs"
	if "$@" >"$log" 2>&1; then
		echo "PASS $name ($(($(date +%s) - start)) s)"
	else
		echo "FAIL $name ($(($(date +%s) - start)) s), log $log:"
		tail -n 40 "$log" | sed 's/^/    /'
		failed="$failed $name"
	fi
}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
done
for t in "$BUILD"/tests/fuzz_*-replay; do
	[ -x "$t" ] || continue
	name=$(basename "$t" -replay)
	run "$name-corpus" "$t" "tests/corpus/${name#fuzz_}"
done
for t in "$BUILD"/tests/stress_*; do
	[ -x "$t" ] && run "$(basename "$t")" "$t"
done
# The stress tests' ThreadSanitizer builds (make test lists them).
# Any report fails the test.
for t in ${TSAN_STRESS:-}; do
	run "$(basename "$t")-tsan" env TSAN_OPTIONS="halt_on_error=1 exitcode=66" "$t"
done
for t in tests/it_*.sh; do
	[ -f "$t" ] && run "$(basename "$t" .sh)" sh "$t"
done
if [ -n "$failed" ]; then
	echo "FAILED:$failed"
	exit 1
fi
echo "all $count tests passed"
