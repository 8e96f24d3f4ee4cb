#!/bin/sh
# The ring's threads stress (a writer thread and 4 reader threads on one
# mapping) under ThreadSanitizer: any report fails the test.
BUILD=${BUILD:-build}
bin="$BUILD/tests/tsan/stress_ring"
if [ ! -x "$bin" ]; then
	echo "missing $bin: build it with make" >&2
	exit 1
fi
TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" exec "$bin" --threads
