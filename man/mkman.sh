#!/bin/sh
# Writes one manual page from the program it documents:
#
#   sh man/mkman.sh OUT PROGRAM
#
# OUT is the page (build/man/ncpd.8): its name picks the section and the
# extra sections in man/NAME.SECTION.h2m (or, for ncpd.yaml.5, the
# template man/ncpd.yaml.5.in).  Program pages are help2man's rendering of
# PROGRAM --help; ncpd.yaml(5) is PROGRAM --help-config's table (PROGRAM
# is then ncpd).  The environment gives VERSION, SYSCONFDIR and DOCDIR;
# SOURCE_DATE_EPOCH, when set, dates the page.
set -eu
out=$1
prog=$2
dir=$(dirname "$0")
page=$(basename "$out")
: "${VERSION:?}" "${SYSCONFDIR:?}" "${DOCDIR:?}"
command -v help2man >/dev/null 2>&1 || {
	echo "mkman.sh: help2man is missing (apt-get install help2man; make deps installs it)" >&2
	exit 1
}
subst() { sed -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" -e "s|@DOCDIR@|$DOCDIR|g" "$@"; }
mkdir -p "$(dirname "$out")"
rm -f "$out.tmp" "$out.h2m"
case $page in
ncpd.yaml.5)
	"$prog" --help-config >"$out.table"
	python3 "$dir/config_man.py" "$dir/ncpd.yaml.5.in" "ncpd $VERSION" \
		<"$out.table" >"$out.h2m"
	subst "$out.h2m" >"$out.tmp"
	rm -f "$out.table" "$out.h2m"
	;;
*)
	section=${page##*.}
	subst "$dir/$page.h2m" >"$out.h2m"
	# help2man runs PROGRAM --help; the version is given (not every
	# program has --version).
	help2man --no-info --section="$section" --include="$out.h2m" \
		--version-string="$VERSION" --output="$out.tmp" "$prog"
	rm -f "$out.h2m"
	;;
esac
mv "$out.tmp" "$out"
