#!/bin/sh
# The co-processor: its step against tests/cpn_forward.py, a numpy
# implementation written from docs/model-format.md (no hidden layer, one,
# two); the experiment (ncp-train --cpn) twice on a small budget, the same
# figures and the same CPN file bit for bit (all but the wall time), with
# the default training and with its variants; and
# its refusals: no lesion, another stimulation source, a bad option.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
fixture="$BUILD/tests/fixture_cpn_dump"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
[ -x "$fixture" ] || fail "missing $fixture (make builds it)"
$PY -c 'import numpy' || fail "$PY has no numpy"

for h in none 8 8,8; do
	mkdir -p "$tmp/$h"
	"$fixture" "$tmp/$h" "$h" 400 3 || fail "fixture for hidden $h"
	(cd tests && $PY cpn_forward.py "$tmp/$h/cpn.safetensors" "$tmp/$h/obs.npy" \
		"$tmp/$h/theta.npy" 1e-4) || fail "hidden $h differs from the definition"
done

small="--set lesion.kind=pmc-m1 --set lesion.fraction=1 --healthy-s 10 \
	--explore-s 10 --train-s 20 --round-s 5 --eval-s 4 --curve-every 2"
for k in 1 2; do
	"$BUILD/ncp-train" --cpn $small --out "$tmp/cpn$k.safetensors" \
		--svg "$tmp/plot$k.svg" >"$tmp/run$k.json" 2>"$tmp/run$k.err" ||
		{ cat "$tmp/run$k.err" >&2; fail "ncp-train --cpn run $k"; }
done
$PY - "$tmp/run1.json" "$tmp/run2.json" <<'PYEOF' || fail "the two runs differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for x in (a, b):
    x.pop("wall_seconds"); x.pop("wall_seconds_training")
print("it_cpn: recovery %.3f%%, oracle %.3f%%, L %.4g / %.4g / %.4g m, %d CPN epochs"
      % (a["recovery_pct"], a["oracle_recovery_pct"], a["L_healthy"],
         a["L_lesioned"], a["L_restored"], a["cpn_epochs"]))
assert a["cpn_epochs"] > 0 and a["L_lesioned"] > a["L_healthy"], a
sys.exit(0 if a == b else 1)
PYEOF
cmp "$tmp/cpn1.safetensors" "$tmp/cpn2.safetensors" || fail "the CPN files differ"
cmp "$tmp/plot1.svg" "$tmp/plot2.svg" || fail "the plots differ"
grep -q "<polyline" "$tmp/plot1.svg" || fail "the plot has no path"

# The training variants (the anchored loss, an ensemble of ENs with a
# price on disagreement, the EN reading M1): deterministic too, and a
# different run from the default's.
for k in 1 2; do
	"$BUILD/ncp-train" --cpn $small --anchor --en-ensemble 2 --en-disagree 1 \
		--en-m1 --out "$tmp/var$k.safetensors" >"$tmp/var$k.json" \
		2>"$tmp/var$k.err" || { cat "$tmp/var$k.err" >&2; fail "variant run $k"; }
done
$PY - "$tmp/var1.json" "$tmp/var2.json" "$tmp/run1.json" <<'PYEOF' || fail "the two variant runs differ"
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
for x in (a, b, c):
    x.pop("wall_seconds"); x.pop("wall_seconds_training")
print("it_cpn: variant recovery %.3f%%, %d CPN epochs" % (a["recovery_pct"], a["cpn_epochs"]))
assert a["cpn_epochs"] > 0 and a["L_restored"] != c["L_restored"], (a, c)
sys.exit(0 if a == b else 1)
PYEOF
cmp "$tmp/var1.safetensors" "$tmp/var2.safetensors" || fail "the variant CPN files differ"

# Refusals: a clear message, exit status 1 or 2, no file.
"$BUILD/ncp-train" --cpn --out "$tmp/x.safetensors" >/dev/null 2>"$tmp/e1" &&
	fail "ran without a lesion"
grep -q "needs a lesion" "$tmp/e1" || { cat "$tmp/e1"; fail "no lesion: message"; }
"$BUILD/ncp-train" --cpn --set lesion.kind=pmc-m1 --set lesion.fraction=1 \
	--set stim.source=noise >/dev/null 2>"$tmp/e2" && fail "ran with stim.source noise"
grep -q "stim.source must be none" "$tmp/e2" || { cat "$tmp/e2"; fail "source: message"; }
"$BUILD/ncp-train" --cpn --horizon 0 >/dev/null 2>"$tmp/e3" && fail "took --horizon 0"
grep -q "horizon" "$tmp/e3" || { cat "$tmp/e3"; fail "horizon: message"; }
"$BUILD/ncp-train" --cpn --en-ensemble 99 >/dev/null 2>"$tmp/e4" && fail "took --en-ensemble 99"
grep -q "en-ensemble" "$tmp/e4" || { cat "$tmp/e4"; fail "ensemble: message"; }
[ ! -e "$tmp/x.safetensors" ] || fail "a refused run wrote a file"
echo "it_cpn: ok"
