#!/bin/sh
# tests/install/test_man.sh: callhook(8) renders without warnings and documents each option; callhook --help is its source's text.
# usage: test_man.sh BUILD_DIR SOURCE_DIR CALLHOOK_BINARY
set -u
BUILD=$1
SRC=$2
BIN=$3
page="$BUILD/docs/callhook.8"
usage_h="$BUILD/generated/callhook_usage.h"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callhook-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
[ -f "$page" ] || {
	echo "FAIL: $page not generated (target callhook_docs)"
	exit 1
}

# Render with every warning on; any diagnostic fails.
rendered=""
if command -v groff >/dev/null 2>&1; then
	LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" >"$tmp/groff.err" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$tmp/groff.err" ]; then
		cat "$tmp/groff.err"
		fail "groff -man -ww: exit $rc or warnings"
	fi
	rendered=groff
fi
if command -v man >/dev/null 2>&1; then
	LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings -l "$page" >"$tmp/page.txt" 2>"$tmp/man.err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$tmp/man.err" ]; then
		cat "$tmp/man.err"
		fail "man --warnings -l: exit $rc or warnings"
	fi
	rendered=man
elif [ -n "$rendered" ]; then
	LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$page" >"$tmp/page.txt" 2>/dev/null
fi
if [ -z "$rendered" ]; then
	echo "FAIL: neither man nor groff found: install 'man-db' (or 'groff-base')"
	exit 1
fi

# Sections, as rendered (backspace overstrikes and hyphenation removed).
sed -e 's/.\x08//g' -e 's/‐/-/g' "$tmp/page.txt" >"$tmp/plain.txt"
section() {
	awk -v want="$1" '/^[A-Z][A-Z ]*$/ { on = ($0 == want); next } on' "$tmp/plain.txt"
}
for s in NAME SYNOPSIS DESCRIPTION OPTIONS SIGNALS CONFIGURATION FILES "EXIT STATUS" "SEE ALSO"; do
	grep -qx "$s" "$tmp/plain.txt" || fail "no $s section"
done
section OPTIONS >"$tmp/options.txt"
for opt in '-c' '--config' '--check' '--version' '--help'; do
	grep -qE -- "(^|[ ,])$opt([ ,]|\$)" "$tmp/options.txt" || fail "OPTIONS does not mention $opt"
done
section SIGNALS >"$tmp/signals.txt"
for sig in SIGHUP SIGTERM SIGINT SIGUSR1; do
	grep -qw "$sig" "$tmp/signals.txt" || fail "SIGNALS does not mention $sig"
done
section CONFIGURATION >"$tmp/config.txt"
for g in log hook sites originator admin; do
	grep -qE "^ +$g( |\$)" "$tmp/config.txt" || fail "CONFIGURATION does not list the group $g"
done
grep -q 'README' "$tmp/config.txt" || fail "CONFIGURATION does not point to the README"
section FILES | grep -q '/etc/callhook/callhook.conf' || fail "FILES does not name /etc/callhook/callhook.conf"

# --help is the same source: the binary prints exactly the generated text.
if [ ! -f "$usage_h" ]; then
	fail "$usage_h not generated"
else
	sed -n 's/^\t"\(.*\)\\n"$/\1/p' "$usage_h" | sed -e 's/\\"/"/g' -e 's/\\\\/\\/g' >"$tmp/help.want"
	"$BIN" --help >"$tmp/help.got" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] || fail "callhook --help exits $rc"
	if ! cmp -s "$tmp/help.want" "$tmp/help.got"; then
		diff -u "$tmp/help.want" "$tmp/help.got"
		fail "callhook --help is not the text generated from docs/callhook.8.txt (main.c must print callhook_usage from callhook_usage.h)"
	fi
	for opt in '-c' '--check' '--version' '--help'; do
		grep -q -- "$opt" "$tmp/help.got" || fail "--help does not mention $opt"
	done
fi

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "man: callhook(8) renders cleanly; --help matches docs/callhook.8.txt"
