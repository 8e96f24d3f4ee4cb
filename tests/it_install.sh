#!/bin/sh
# make install into a staging root (DESTDIR), and which configuration the
# installed ncpd reads: the installed /etc/ncpd/ncpd.yaml (below the same
# root), not the source tree's; the compiled-in defaults when that file is
# missing; the tree's when run from the tree's build/.
set -u
BUILD=${BUILD:-build}
# build/address+undefined is SANITIZER=address,undefined.
san=${BUILD#build}
san=$(echo "${san#/}" | tr + ,)
tmp=$(mktemp -d /tmp/ncpd-it-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
root="$tmp/root"

make --no-print-directory SANITIZER="$san" install DESTDIR="$root" PREFIX=/usr \
	>"$tmp/make.log" 2>&1 || { tail -20 "$tmp/make.log"; fail "make install"; }
ncpd="$root/usr/bin/ncpd"
conf="$root/etc/ncpd/ncpd.yaml"
[ -x "$ncpd" ] && [ -f "$conf" ] || fail "make install did not install ncpd and its configuration"
grep -qx "ExecStart=/usr/bin/ncpd --foreground --config /etc/ncpd/ncpd.yaml" \
	"$root/lib/systemd/system/ncpd.service" || fail "ncpd.service names the wrong paths"

# ncp-web and its page: the installed script serves the installed page.
web="$root/usr/bin/ncp-web"
[ -x "$web" ] || fail "make install did not install ncp-web"
grep -qx 'WEB_DIR = "/usr/share/ncpd/web"' "$web" || fail "ncp-web does not name the installed page's directory"
[ -f "$root/usr/share/ncpd/web/index.html" ] || fail "make install did not install ncp-web's page"
/usr/bin/python3 "$web" --help >"$tmp/web.help" || fail "installed ncp-web --help exited $?"
grep -q -- "--address" "$tmp/web.help" || fail "installed ncp-web --help: $(cat "$tmp/web.help")"

# ncp-plot, a Python program, is installed as it is.
cmp -s "$root/usr/bin/ncp-plot" client/ncp-plot || fail "make install did not install ncp-plot"
"$root/usr/bin/ncp-plot" --help | grep -q '^Usage: ncp-plot' || fail "the installed ncp-plot --help"

# The manual pages, made for the installed paths.
for page in man8/ncpd.8 man5/ncpd.yaml.5 man1/ncpctl.1 man1/ncp-monitor.1 man1/ncp-train.1 \
	man1/ncp-plot.1 man1/ncp-web.1; do
	cmp -s "$root/usr/share/man/$page" "$BUILD/man/${page#*/}" ||
		fail "make install did not install $BUILD/man/${page#*/} as /usr/share/man/$page"
done
grep -q '^\.I /etc/ncpd/ncpd.yaml$' "$root/usr/share/man/man8/ncpd.8" &&
	grep -q '/usr/share/doc/ncpd' "$root/usr/share/man/man8/ncpd.8" ||
	fail "the installed ncpd(8) does not name /etc/ncpd/ncpd.yaml and /usr/share/doc/ncpd"
MANPATH="$root/usr/share/man" man -w ncpd.yaml >/dev/null 2>&1 ||
	fail "man does not find ncpd.yaml(5) below $root/usr/share/man"

# The installed binary reads the installed configuration.
out=$("$ncpd" --check-config 2>&1) || fail "installed ncpd --check-config: $out"
[ "$out" = "$conf: configuration ok" ] || fail "installed ncpd read '$out', want $conf"
# ... really: a broken one is refused, naming it.
printf 'task:\n  period: soon\n' >"$conf"
"$ncpd" --check-config >"$tmp/out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "installed ncpd accepted a broken $conf (exit $rc)"
grep -qF "$conf:2:11: key 'task.period'" "$tmp/out" || fail "broken installed config: $(cat "$tmp/out")"
# Missing: the compiled-in defaults, and it says which file it looked for.
rm "$conf"
out=$("$ncpd" --check-config 2>&1) || fail "installed ncpd without its configuration: $out"
[ "$out" = "compiled-in defaults (no $conf): configuration ok" ] || fail "without $conf: '$out'"

# The Python package, where Debian's python3 finds it below the root, whole.
pydir="$root/usr/lib/python3/dist-packages"
for f in client/python/ncpd/*.py; do
	cmp -s "$f" "$pydir/ncpd/$(basename "$f")" || fail "make install did not install $f into $pydir/ncpd"
done
out=$(cd / && PYTHONPATH="$pydir" /usr/bin/python3 -c 'import ncpd, ncpd.models; print(ncpd.__file__)' 2>&1) ||
	fail "the installed package does not import: $out"
[ "$out" = "$pydir/ncpd/__init__.py" ] || fail "python3 imported ncpd from $out, want $pydir"
# ... and the installed ncp-plot uses it (and its plot module).
out=$(cd / && PYTHONPATH="$pydir" "$root/usr/bin/ncp-plot" --history /nonexistent.jsonl 2>&1)
case $out in
"ncp-plot: /nonexistent.jsonl: No such file or directory") ;;
*) fail "the installed ncp-plot with the installed package: $out" ;;
esac
# With PREFIX=/usr/local: the versioned local dist-packages Debian's
# python3 has on its path.
want=$(/usr/bin/python3 -c 'import sys; print("/usr/local/lib/python%d.%d/dist-packages" % sys.version_info[:2])')
/usr/bin/python3 -c 'import sys; sys.exit(sys.argv[1] not in sys.path)' "$want" ||
	fail "$want is not on python3's path"
make --no-print-directory -n install DESTDIR=/x PREFIX=/usr/local | grep -q "install -d /x$want/ncpd" ||
	fail "make install PREFIX=/usr/local does not install the package into $want"
echo "the ncpd package installs into $pydir and imports from there"
# The installed ncp-web runs on the installed package (none waiting: it
# serves, then says it waits for a segment).
(cd / && PYTHONPATH="$pydir" exec /usr/bin/python3 "$web" --shm "/ncpd-it-install-none-$$" --port 0) \
	>"$tmp/web.out" 2>"$tmp/web.err" &
wpid=$!
i=0
until grep -q "serving" "$tmp/web.out"; do
	i=$((i + 1))
	[ $i -le 100 ] && kill -0 $wpid 2>/dev/null ||
		{ kill $wpid 2>/dev/null; fail "installed ncp-web did not serve: $(cat "$tmp/web.err")"; }
	sleep 0.1
done
kill -TERM $wpid
wait $wpid || fail "installed ncp-web exited $? on SIGTERM"
echo "installed ncp-web serves from the installed package"

# Run from the tree, the tree's configuration.
out=$("$BUILD/ncpd" --check-config 2>&1) || fail "tree ncpd --check-config: $out"
[ "$out" = "$(pwd)/config/ncpd.yaml: configuration ok" ] || fail "tree ncpd read '$out'"
echo "installed ncpd reads $conf; from the tree, config/ncpd.yaml"
echo ok
