#!/bin/sh
# ncpd's command line: flags, errors and exit codes, the free-run summary,
# and that the same configuration gives the same run.
set -u
BUILD=${BUILD:-build}
NCPD=$BUILD/ncpd
# Runs of this test get their own segment and socket.
uniq="--set emulator.model=none --set shm.name=/ncpd-it-cli-$$ --set control.socket=/tmp/ncpd-it-cli-$$/s.sock"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" /tmp/ncpd-it-cli-$$' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$NCPD" --help | grep -q -- '--free-run' || fail "--help does not list --free-run"
"$NCPD" --version | grep -q '^ncpd [0-9]' || fail "--version"

expect_usage_error() { # expected-substring, args...
	want=$1; shift
	"$NCPD" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "ncpd $* exited $rc, want 2"
	grep -qF -- "$want" "$tmp/err" || fail "ncpd $*: message '$(cat "$tmp/err")' lacks '$want'"
}
expect_usage_error "unknown option '--frobnicate'" --frobnicate
expect_usage_error "--duration -3: expected seconds" --free-run --duration -3
expect_usage_error "--duration abc: expected seconds" --free-run --duration abc
expect_usage_error "--summary xml: the only format is json" --summary xml
expect_usage_error "unknown key 'task.knd' (did you mean 'task.kind'?)" --set task.knd=random
expect_usage_error "key 'dt': 5 is out of range" --set dt=5
expect_usage_error "/nonexistent.yaml: cannot open" --config /nonexistent.yaml
printf 'task:\n  kind: random\n  period: soon\n' >"$tmp/bad.yaml"
expect_usage_error "$tmp/bad.yaml:3:11: key 'task.period': expected a finite number, got 'soon'" --config "$tmp/bad.yaml"
expect_usage_error "unexpected argument 'extra'" --free-run extra

"$NCPD" --check-config >/dev/null 2>&1 || fail "--check-config on the default configuration"
# docs/config.md carries the key table as ncpd prints it.
"$NCPD" --help-config | while IFS= read -r line; do
	grep -qxF -- "$line" docs/config.md || { echo "docs/config.md lacks: $line"; exit 1; }
done || fail "docs/config.md is out of date (ncpd --help-config)"

# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 16 --summary json >"$tmp/a.json" 2>"$tmp/a.err" || fail "free run: $(cat "$tmp/a.err")"
$PY - "$tmp/a.json" <<'PYEOF' || fail "summary check"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("sim_seconds", "wall_seconds", "steps", "neurons", "m1_neurons",
          "reaches", "mean_end_error", "m1_mean_rate_hz"):
    assert k in d, "summary lacks " + k
assert d["steps"] == 16000 and abs(d["sim_seconds"] - 16) < 1e-9, d["steps"]
assert d["neurons"] == 2800 and d["m1_neurons"] == 1000
assert len(d["reaches"]) == 16
worst = max(r["end_error"] for r in d["reaches"])
assert worst < 0.05, "worst end error %g" % worst
assert d["mean_end_error"] <= 0.03, d["mean_end_error"]
assert 5 <= d["m1_mean_rate_hz"] <= 40, d["m1_mean_rate_hz"]
print("16 s centre-out: mean end error %.4f m, worst %.4f m, M1 %.2f Hz, %.0fx real time"
      % (d["mean_end_error"], worst, d["m1_mean_rate_hz"], d["sim_seconds"] / d["wall_seconds"]))
PYEOF

# Same configuration, same run: the summaries agree but for wall time.
# shellcheck disable=SC2086
"$NCPD" $uniq --free-run --duration 16 --summary json >"$tmp/b.json" 2>/dev/null
$PY - "$tmp/a.json" "$tmp/b.json" <<'PYEOF' || fail "two runs of one configuration differ"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
keys = ("sim_seconds", "steps", "neurons", "m1_neurons", "reaches",
        "mean_end_error", "m1_mean_rate_hz")
for k in keys:
    assert a[k] == b[k], k
PYEOF
echo "ok"
