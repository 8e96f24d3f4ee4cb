#!/bin/sh
# The Python reader written from docs/shm.md (tests/shm_reader.py, run by
# Debian's /usr/bin/python3 with numpy) against segments written by a C
# fixture (tests/fixture_shm_writer.c): the window and state it reports
# must be exactly what the fixture wrote, on a still segment and while the
# fixture writes a step every 100 us (window, state and stim blocks); a
# foreign segment is refused.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
fixture="$BUILD/tests/fixture_shm_writer"
name="/ncpd-it-py-$$"
tmp=$(mktemp -d)
fpid=""

cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	rm -rf "$tmp"
	rm -f "/dev/shm$name" "/dev/shm$name-foreign"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$fixture" ] || fail "missing $fixture (make builds it)"
$PY -c 'import numpy' || fail "$PY has no numpy"

# Start the fixture, wait for its "ready GENERATION" line.  It holds the
# segment until stop kills it (600 s only guards against a hang: 30 reads
# by a python that loads numpy each time can outlast its default 60 s).
start() {
	# The background job truncates the file only once it runs: remove the
	# previous run's "ready" line first, or its generation may be read.
	rm -f "$tmp/fixture.out"
	"$fixture" "$name" "$@" --hold 600 >"$tmp/fixture.out" &
	fpid=$!
	for _ in $(seq 100); do
		grep -q '^ready ' "$tmp/fixture.out" 2>/dev/null && break
		sleep 0.05
	done
	gen=$(sed -n 's/^ready //p' "$tmp/fixture.out")
	[ -n "$gen" ] || fail "fixture did not start"
}
stop() {
	kill "$fpid" && wait "$fpid" || fail "fixture exited with an error"
	fpid=""
	[ ! -e "/dev/shm$name" ] || fail "fixture left $name behind"
}

# The checker knows the fixture's pattern (see fixture_shm_writer.c).
check() {
	$PY - "$tmp/out.json" "$@" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
mode, steps, gen = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
first, n, head = out['window_first_step'], out['window_count'], out['head']
assert out['generation'] == gen, (out['generation'], gen)
assert out['daemon_state'] == 'running' and out['m1_neurons'] == 1000
assert out['dt'] == 0.001 and out['abi'][0] == 1
assert n == min(100, steps) or mode == 'live', n
assert out['window_steps'] == list(range(first, first + n))
assert first + n == head
if mode == 'still':
    assert head == steps, (head, steps)
for i, k in enumerate(out['window_steps']):
    want = sorted((k * 37 + j * 101) % 1000 for j in range(k % 17))
    assert out['window_spikes'][i] == want, (k, out['window_spikes'][i], want)
    assert out['window_stim'][i] == [k + 0.5 * c for c in range(k % 4)], k
st = out['state']
if steps == 0:
    assert st is None and n == 0 and head == 0 and out['stim'] is None
    print(f"{mode}: empty segment, no state yet")
    sys.exit(0)
if mode == 'still':
    assert st['step'] == steps - 1, st['step']
assert st['step'] >= head - 1
k = st['step']
assert st['t'] == k * 0.001 and st['q'] == [k / 1000, -k / 1000], st
assert st['hand'] == [0.1, 0.2] and st['target'] == [0.3, 0.4]
assert st['task_kind'] == 'centre-out' and st['task_period'] == 2.0
assert st['m1_spikes'] == k % 17 and st['paused'] == 0
sb = out['stim']
assert out['abi'][1] >= 3 and sb is not None
assert sb['step'] >= head - 1
k = sb['step']
assert sb['electrodes'] == 5 and sb['source'] == 'noise', sb
assert sb['lesion_kind'] == 'pmc-m1' and sb['lesion_neurons'] == 500, sb
assert sb['lesion_fraction'] == 0.5 and sb['max'] == 2.0, sb
assert sb['theta'] == [(k % 64) / 64 * (e + 1) for e in range(5)], sb
assert sb['alpha'] == [-(k % 32) / 32 * (e + 1) for e in range(5)], sb
assert sb['theta_max_abs'] == (k % 64) / 64 * 5, sb
assert sb['alpha_max_abs'] == (k % 32) / 32 * 5, sb
print(f"{mode}: window [{first}, {first + n}) of {head} steps matches")
EOF
}

# A still segment: empty, partial, wrapped around the 256-slot ring.
for steps in 0 37 1000 100003; do
	start "$steps"
	$PY tests/shm_reader.py "$name" >"$tmp/out.json" || fail "reader failed"
	check still "$steps" "$gen" || fail "still segment, $steps steps"
	stop
done

# A segment being written: 30 reads while the fixture writes.
start 500 --live
for i in $(seq 30); do
	$PY tests/shm_reader.py "$name" >"$tmp/out.json" || fail "reader failed"
	check live 500 "$gen" >/dev/null || fail "live segment, read $i"
done
echo "live: 30 windows matched"
stop

# The snippet in docs/shm.md works as printed.
start 1234
awk '/^```python/ { on = 1; next } /^```/ { on = 0 } on' docs/shm.md |
	sed "s|/dev/shm/ncpd'|/dev/shm${name}'|" >"$tmp/doc.py"
cat >>"$tmp/doc.py" <<'EOF'
for k, row in zip(ks.tolist(), spikes):
    want = sorted((k * 37 + j * 101) % 1000 for j in range(k % 17))
    assert np.flatnonzero(row).tolist() == want, k
assert head == 1234 and len(ks) == 100
print("docs/shm.md snippet: window", int(ks[0]), "..", int(ks[-1]), "matches")
EOF
$PY "$tmp/doc.py" || fail "the docs/shm.md snippet failed"
stop

# A foreign segment and a missing one: a message and exit status 1.
head -c 4096 /dev/urandom >"/dev/shm$name-foreign"
if $PY tests/shm_reader.py "$name-foreign" 2>"$tmp/err"; then
	fail "reader accepted a foreign segment"
fi
grep -q "not an ncpd segment" "$tmp/err" || fail "no message: $(cat "$tmp/err")"
if $PY tests/shm_reader.py "$name-missing" 2>"$tmp/err"; then
	fail "reader accepted a missing segment"
fi
echo "foreign and missing segments refused"
