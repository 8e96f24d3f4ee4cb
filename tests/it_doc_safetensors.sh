#!/bin/sh
# docs/file-formats.md's safetensors writer, as the page shows it, writes
# a model that ncpd loads and runs: tests/doc_safetensors.py runs the
# page's two blocks (numpy only) and ncpd runs the file in lockstep.
set -u
TAG=docst
. tests/daemon_lib.sh

$PY tests/doc_safetensors.py docs/file-formats.md "$tmp/w" >"$tmp/meta.json" 2>"$tmp/py.err" ||
	fail "the page's writer: $(cat "$tmp/py.err")"
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 0.3 --set emulator.model="$tmp/w/data/emulator.safetensors" \
	--summary json >"$tmp/s.json" 2>"$tmp/d.err" || fail "ncpd refused the model"
$PY - "$tmp/s.json" "$tmp/meta.json" <<'PYEOF' || fail "the model did not run"
import json, math, sys
e = json.load(open(sys.argv[1]))["emulator"]
meta = json.load(open(sys.argv[2]))
assert e["model"] == "emulator" and e["arch"] == meta["arch"], e
assert e["predictions"] == 300 and e["skipped_steps"] == 0, e
assert math.isfinite(e["hand_rmse"]), e
print("the page's writer: %s, %d predictions" % (e["arch"], e["predictions"]))
PYEOF
echo ok
