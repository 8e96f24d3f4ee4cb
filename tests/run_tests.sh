#!/bin/sh
# Runs every test: the Check suites, the stress tests (and their
# ThreadSanitizer builds listed in TSAN_STRESS), the fuzz corpora replays
# and the integration scripts (tests/it_*.sh).  Prints one line per test,
# then the totals alone on the last line, "N passed, N failed, N skipped";
# exits non-zero if any failed.
#
# A test that cannot run here (or a part of it) exits 77 with its reason on
# a line "SKIP: reason" (the last such line counts): it is reported as
# "SKIP name: reason" and counted as skipped, never as passed.
#
# In sanitizer builds (make test SANITIZER=...) every process a test starts
# writes its AddressSanitizer/UBSan reports to $BUILD/test-logs/NAME.san/,
# so a report fails the test even from a daemon whose exit status the test
# does not look at.
BUILD=${BUILD:-build}
export BUILD
# Check's own time-out for a test case that sets none is 4 s, which a
# loaded 2-core machine can exceed on a test of a few milliseconds (seen:
# test_base's rng tests at load average 25).  It is a hang guard, not a
# speed figure: 60 s unless the environment says otherwise.
CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-60}
export CK_DEFAULT_TIMEOUT
# Sanitizer builds (make test passes SANITIZER) run several times slower:
# the Check suites' time-outs, hang guards, stretch with them.
if [ -n "${SANITIZER:-}" ]; then
	CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-5}
	export CK_TIMEOUT_MULTIPLIER
fi
# A hang guard for each test: one that hangs fails after this many seconds
# instead of holding the whole run (NCP_TEST_TIMEOUT; longer under the
# sanitizers).
limit=${NCP_TEST_TIMEOUT:-1800}
[ -z "${SANITIZER:-}" ] || limit=$((limit * 3))
failed=""
passed=0
nfailed=0
skipped=0
run() {
	name=$1; shift
	start=$(date +%s)
	log="$BUILD/test-logs/$name.log"
	san="$BUILD/test-logs/$name.san"
	rm -rf "$san"
	mkdir -p "$san"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san/report" \
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san/report:print_stacktrace=1" \
		timeout -k 10 "$limit" "$@" >"$log" 2>&1
	rc=$?
	[ $rc -ne 124 ] || echo "ran past the hang guard of $limit s" >>"$log"
	secs=$(($(date +%s) - start))
	if [ -n "$(ls "$san")" ]; then
		echo "FAIL $name ($secs s, exit $rc): sanitizer reports in $san:"
		cat "$san"/* | head -n 60 | sed 's/^/    /'
		failed="$failed $name"
		nfailed=$((nfailed + 1))
	elif [ $rc -eq 0 ]; then
		echo "PASS $name ($secs s)"
		passed=$((passed + 1))
	elif [ $rc -eq 77 ]; then
		why=$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)
		echo "SKIP $name: ${why:-no reason given (log $log)}"
		skipped=$((skipped + 1))
	else
		echo "FAIL $name ($secs s, exit $rc), log $log:"
		tail -n 40 "$log" | sed 's/^/    /'
		failed="$failed $name"
		nfailed=$((nfailed + 1))
	fi
	rmdir "$san" 2>/dev/null
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
[ -n "$failed" ] && echo "FAILED:$failed"
[ $((passed + nfailed + skipped)) -gt 0 ] || echo "no tests found in $BUILD/tests"
echo "$passed passed, $nfailed failed, $skipped skipped"
[ $nfailed -eq 0 ] && [ $((passed + skipped)) -gt 0 ]
