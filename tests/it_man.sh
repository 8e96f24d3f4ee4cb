#!/bin/sh
# The manual pages say what the programs say: each page in $BUILD/man
# against its program's --help (ncpd.yaml(5) against ncpd --help-config),
# word for word and option for option (tests/man_check.py); groff renders
# every page without a warning; and the check catches a page made from an
# older --help (a dropped option, a changed description, a changed
# default), so it can fail.
set -u
BUILD=${BUILD:-build}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/ncpd-it-man.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for t in help2man man groff; do
	command -v $t >/dev/null || fail "$t is missing (make deps installs it)"
done

pages="ncpd.8 ncpctl.1 ncp-monitor.1 ncp-train.1 ncp-plot.1 ncp-web.1"
for page in $pages ncpd.yaml.5; do
	[ -f "$BUILD/man/$page" ] || fail "$BUILD/man/$page was not made"
	LC_ALL=C groff -man -Tascii -ww -z "$BUILD/man/$page" 2>"$tmp/warn"
	[ ! -s "$tmp/warn" ] || fail "groff warns on $page: $(cat "$tmp/warn")"
done
prog_of() { # page -> the program that makes it
	case $1 in
	ncp-plot.1) echo client/ncp-plot ;;
	ncp-web.1) echo client/web/ncp-web ;;
	*) echo "$BUILD/${1%.*}" ;;
	esac
}
for page in $pages; do
	"$(prog_of "$page")" --help >"$tmp/help" || fail "$(prog_of "$page") --help"
	$PY tests/man_check.py help "$tmp/help" "$BUILD/man/$page" || fail "$page differs from --help"
done
"$BUILD/ncpd" --help-config >"$tmp/table" || fail "ncpd --help-config"
$PY tests/man_check.py config "$tmp/table" "$BUILD/man/ncpd.yaml.5" || fail "ncpd.yaml.5 differs from --help-config"

# A page made (as make does) from an older ncp-train, one without --seed
# and with another word for --floor, must be reported on both counts.
mkdir -p "$tmp/old"
cat >"$tmp/old/ncp-train" <<EOT
#!/bin/sh
"$(pwd)/$BUILD/ncp-train" --help | sed -e '/^  --seed /d' -e 's/input scale floor/input floor/'
EOT
chmod +x "$tmp/old/ncp-train"
"$BUILD/ncp-train" --help >"$tmp/help"
grep -q '^  --seed ' "$tmp/help" && grep -q 'input scale floor' "$tmp/help" ||
	fail "ncp-train --help no longer has the lines this test changes"
VERSION=9.9.9 SYSCONFDIR=/etc DOCDIR=/doc sh man/mkman.sh "$tmp/old/ncp-train.1" "$tmp/old/ncp-train" ||
	fail "man/mkman.sh on the older ncp-train"
$PY tests/man_check.py help "$tmp/help" "$tmp/old/ncp-train.1" >"$tmp/out" &&
	fail "the page of an older ncp-train passed: $(cat "$tmp/out")"
grep -q "option --seed is in --help but not a tagged paragraph" "$tmp/out" ||
	fail "the dropped --seed was not reported: $(cat "$tmp/out")"
grep -q "'scale'; the page does not" "$tmp/out" ||
	fail "the changed --floor text was not reported: $(cat "$tmp/out")"
# ... and an ncpd.yaml(5) from an ncpd whose task.period defaulted to 2.
cat >"$tmp/old/ncpd" <<EOT
#!/bin/sh
"$(pwd)/$BUILD/ncpd" --help-config | sed 's/^| \`task.period\` | number | \`1.0\` |/| \`task.period\` | number | \`2.0\` |/'
EOT
chmod +x "$tmp/old/ncpd"
"$tmp/old/ncpd" | grep -q '`task.period` | number | `2.0`' ||
	fail "ncpd --help-config no longer has the line this test changes"
VERSION=9.9.9 SYSCONFDIR=/etc DOCDIR=/doc sh man/mkman.sh "$tmp/old/ncpd.yaml.5" "$tmp/old/ncpd" ||
	fail "man/mkman.sh on the older ncpd"
$PY tests/man_check.py config "$tmp/table" "$tmp/old/ncpd.yaml.5" >"$tmp/out" &&
	fail "the ncpd.yaml(5) of an older ncpd passed: $(cat "$tmp/out")"
grep -q "task.period: the table says 'default 1.0'" "$tmp/out" ||
	fail "the changed default was not reported: $(cat "$tmp/out")"
echo "every page agrees with its program; older pages are caught"
echo ok
