#!/bin/sh
# tests/install/test_install.sh: cmake --install into a temporary prefix and into a DESTDIR; checks every file and the unit's paths.
# usage: test_install.sh CMAKE BUILD_DIR SOURCE_DIR
set -u
CMAKE=$1
BUILD=$2
SRC=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callhook-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# 1. a private prefix, as a user would: cmake --install BUILD --prefix DIR
p="$tmp/prefix"
if ! "$CMAKE" --install "$BUILD" --prefix "$p" >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	echo "FAIL: cmake --install $BUILD --prefix $p"
	exit 1
fi
for f in sbin/callhook share/man/man8/callhook.8 share/man/man5/callhook.conf.5 share/doc/callhook/README.md \
	share/doc/callhook/examples/callhook.conf share/doc/callhook/examples/callhook-full.conf share/doc/callhook/examples/rest_client_config.json \
	lib/systemd/system/callhook.service; do
	[ -f "$p/$f" ] || fail "missing <prefix>/$f"
done
[ -x "$p/sbin/callhook" ] || fail "<prefix>/sbin/callhook is not executable"
for f in callhook.conf callhook-full.conf rest_client_config.json; do
	cmp -s "$SRC/examples/$f" "$p/share/doc/callhook/examples/$f" || fail "installed examples/$f differs from the source"
done
out=$("$p/sbin/callhook" --version 2>&1) || fail "installed callhook --version exits $?"
case "$out" in
"callhook "*) ;;
*) fail "installed callhook --version printed: $out" ;;
esac
# the example configuration as installed is valid as it stands
if ! "$p/sbin/callhook" --check -c "$p/share/doc/callhook/examples/callhook.conf" >"$tmp/check" 2>&1; then
	cat "$tmp/check"
	fail "callhook --check refuses the installed example configuration"
fi
unit="$p/lib/systemd/system/callhook.service"
if [ -f "$unit" ]; then
	grep -qxF "ExecStart=$p/sbin/callhook -c $p/etc/callhook/callhook.conf" "$unit" ||
		fail "installed unit: ExecStart does not follow the prefix: $(grep '^ExecStart=' "$unit")"
	grep -qxF 'ExecReload=/bin/kill -HUP $MAINPID' "$unit" || fail "installed unit: ExecReload changed"
fi

# 2. a package build: DESTDIR staging with prefix /usr; paths inside name the final places
d="$tmp/destdir"
if ! DESTDIR="$d" "$CMAKE" --install "$BUILD" --prefix /usr >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	echo "FAIL: DESTDIR=$d cmake --install $BUILD --prefix /usr"
	exit 1
fi
for f in usr/sbin/callhook usr/share/man/man8/callhook.8 usr/share/doc/callhook/examples/callhook.conf \
	usr/share/doc/callhook/examples/rest_client_config.json usr/lib/systemd/system/callhook.service; do
	[ -f "$d/$f" ] || fail "missing DESTDIR/$f"
done
if [ -f "$d/usr/lib/systemd/system/callhook.service" ]; then
	cmp -s "$SRC/examples/systemd/callhook.service" "$d/usr/lib/systemd/system/callhook.service" ||
		fail "with prefix /usr the installed unit must be examples/systemd/callhook.service unchanged"
fi
[ -e "$d/etc" ] && fail "install wrote under /etc: configuration is the operator's (examples go to share/doc)"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "install: all files in place"
