#!/bin/sh
# A real-time daemon training online from no model, recording, with memory
# locked: its memory is what the bounds in docs/tuning.md say.  Its replay
# buffer and checkpoints take exactly their computed room (replay x 1.1
# steps of 8 + 24 + 32 x 4 bytes, one 3096-float checkpoint every 100
# steps), its resident peak stays under 300 MiB (locking every mapping
# whole made it 370 MiB at start and 650 MiB after minutes) and the loop
# itself never took a page fault.  Needs mlockall (root or a large
# RLIMIT_MEMLOCK): SKIP otherwise.
set -u
TAG=memory
. tests/daemon_lib.sh

# shellcheck disable=SC2086
"$NCPD" --foreground --duration 12 $uniq --set emulator.model=none \
	--set emulator.online=true --record mem --summary json \
	>"$tmp/s.json" 2>"$tmp/d.err" || fail "ncpd exited $?"
if grep -q "cannot lock memory" "$tmp/d.err"; then
	echo "SKIP: memory cannot be locked here ($(grep -o 'cannot lock memory ([^)]*)' "$tmp/d.err"))"
	exit 77
fi
$PY - "$tmp/s.json" <<'PYEOF' || fail "memory figures"
import json, sys
d = json.load(open(sys.argv[1]))
mem, tr = d["memory"], d["training"]
cap = 300000 + 30000 + 1
want = (cap + 1) * 8 + cap * 24 + cap * 32 * 4 + (cap // 100) * 3096 * 4
got = tr["replay_mb"] * 2 ** 20
print("replay buffer and checkpoints %.2f MiB (computed %.2f), resident "
      "%.1f MiB (peak %.1f), loop page faults %d"
      % (got / 2 ** 20, want / 2 ** 20, mem["rss_mb"], mem["rss_peak_mb"],
         d["page_faults"]))
assert tr["updates"] > 0, tr
# Beyond the arrays: the dataset's struct and segment list, the list of
# checkpoints per segment (well under a MiB).
assert want <= got < want + 2 ** 20, (got, want)
assert mem["rss_peak_mb"] < 300, mem
assert d["page_faults"] == 0, d["page_faults"]
PYEOF
