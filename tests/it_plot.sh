#!/bin/sh
# ncp-plot on recordings ncpd makes: a model trained by ncp-train (its
# history too), a centre-out run with that model as the emulator; every
# picture, PNG and SVG, with the model's predictions, the daemon's
# (pred.npy) and without any, and
# the figures' data checked against the recording, the model and the
# history (tests/plot_check.py); bad inputs refused, naming them.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
PLOT=client/ncp-plot
tmp=$(mktemp -d /tmp/ncpd-it-plot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
$PY -c 'import matplotlib, numpy' 2>"$tmp/err" || fail "$PY lacks matplotlib or numpy: $(cat "$tmp/err")"
names() { echo "--set instance=it-plot-$$-$1 --set shm.name=/ncpd-it-plot-$$-$1
--set control.socket=$tmp/$1.sock --set data_dir=$tmp/data --set cache.dir=$tmp/cache"; }

# A model and its history, from 6 s of the random task.
# shellcheck disable=SC2046
"$BUILD/ncpd" --free-run --duration 6 --set task.kind=random --set emulator.model=none \
	$(names train) --record train >/dev/null 2>"$tmp/ncpd.err" ||
	{ cat "$tmp/ncpd.err"; fail "ncpd --record train"; }
"$BUILD/ncp-train" --data "$tmp/data/train" --out "$tmp/m.safetensors" --epochs 4 \
	--block 1 --hidden 32,16 --quiet >"$tmp/train.out" 2>&1 ||
	{ cat "$tmp/train.out"; fail "ncp-train"; }
# 5 s of centre-out, a new target every 0.5 s, the model predicting.
# shellcheck disable=SC2046
"$BUILD/ncpd" --free-run --duration 5 --set task.period=0.5 \
	--set emulator.model="$tmp/m.safetensors" $(names co) --record co --summary json \
	>"$tmp/co.json" 2>"$tmp/ncpd.err" ||
	{ cat "$tmp/ncpd.err"; fail "ncpd --record co"; }

# The figures' data.
$PY tests/plot_check.py data "$tmp/data/co" "$tmp/m.safetensors" "$tmp/m.history.jsonl" \
	"$tmp/co.json" ||
	fail "the figures do not hold the recording's data"

# The command line: with the model's predictions, SVG and PNG.
"$PLOT" "$tmp/data/co" --model "$tmp/m.safetensors" --reaches 6 --format svg \
	--out "$tmp/svg" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "ncp-plot --format svg"; }
[ "$(wc -l <"$tmp/out")" -eq 4 ] || fail "ncp-plot did not name its 4 pictures: $(cat "$tmp/out")"
$PY tests/plot_check.py svg "$tmp/svg" co 6 1 || fail "the SVG pictures"
"$PLOT" "$tmp/data/co" --model "$tmp/m.safetensors" --out "$tmp/png" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out"; fail "ncp-plot"; }
$PY tests/plot_check.py png "$tmp/png" co 1 || fail "the PNG pictures"
# Without predictions (the training run has no pred.npy from a model):
# no predicted line anywhere.
"$PLOT" "$tmp/data/train" --reaches 3 --format svg --out "$tmp/svg" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out"; fail "ncp-plot without predictions"; }
$PY tests/plot_check.py svg "$tmp/svg" train 3 0 || fail "the SVG pictures without predictions"
"$PLOT" "$tmp/data/train" --out "$tmp/png" >"$tmp/out" 2>&1 || { cat "$tmp/out"; fail "ncp-plot"; }
$PY tests/plot_check.py png "$tmp/png" train 0 || fail "the PNG pictures without predictions"
# The learning curves, from the history or from the model beside it.
"$PLOT" --history "$tmp/m.safetensors" --out "$tmp/png" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out"; fail "ncp-plot --history"; }
grep -qx "$tmp/png/m-history.png" "$tmp/out" || fail "ncp-plot --history wrote $(cat "$tmp/out")"

# Refusals: each says what is wrong, with the exit status --help gives.
expect() { # status, message, args...
	st=$1 want=$2; shift 2
	"$PLOT" "$@" >"$tmp/out" 2>&1
	rc=$?
	[ $rc -eq "$st" ] || fail "ncp-plot $*: exit $rc, want $st ($(cat "$tmp/out"))"
	grep -qF -- "$want" "$tmp/out" || fail "ncp-plot $*: '$(cat "$tmp/out")' lacks '$want'"
}
expect 1 "$tmp/none: no meta.json" "$tmp/none" --out "$tmp/x"
expect 1 "not an ncp-train history" --history "$tmp/data/co/meta.json" --out "$tmp/x"
expect 1 "the span 60..70 s holds no step" "$tmp/data/co" --plots joints --from 60 --out "$tmp/x"
expect 1 "co/meta.json: header of" "$tmp/data/co" --model "$tmp/data/co/meta.json" --out "$tmp/x"
expect 2 "'bogus': choose from paths,joints,raster,errors" "$tmp/data/co" --plots bogus
expect 2 "give a RECORDING or --history FILE" --out "$tmp/x"
[ ! -e "$tmp/x" ] || [ -z "$(ls "$tmp/x")" ] || fail "a refused run left pictures: $(ls "$tmp/x")"

# The daemon's own predictions (pred.npy), drawn without --model.
[ -f "$tmp/data/co/pred.npy" ] || fail "ncpd ran a model but recorded no pred.npy"
"$PLOT" "$tmp/data/co" --reaches 6 --format svg --out "$tmp/pred" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out"; fail "ncp-plot with pred.npy"; }
$PY tests/plot_check.py svg "$tmp/pred" co 6 1 || fail "the SVG pictures from pred.npy"
echo ok
