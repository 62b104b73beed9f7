#!/bin/sh
# tests/install/test_package.sh: the Debian package end to end: build, lintian, apt-get install, --check, /healthz, systemd-analyze verify, purge.
# usage: test_package.sh version SOURCE_DIR VERSION       debian/changelog's version is the CMake project's
#        test_package.sh deb SOURCE_DIR VERSION SOFIA_DIR  the whole round trip (root: it installs and purges)
# SOFIA_DIR: the build tree's patched Sofia-SIP (reused when built, else the package build makes its own); "-": none.
# Every change to the machine is undone on exit, failure or not (the package purged, the daemon stopped); a
# package left by a run that was killed is recognised by its stamp and purged first. Exit 77: not root, or a
# packaging tool missing (scripts/deps.sh --test installs them).
set -u
MODE=$1
SRC=$2
VERSION=$3

changelog_version() {
	dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version
}
if [ "$MODE" = version ]; then
	command -v dpkg-parsechangelog >/dev/null 2>&1 || {
		echo "SKIP: dpkg-parsechangelog not found (Debian package dpkg-dev)"
		exit 77
	}
	v=$(changelog_version) || exit 1
	[ "$v" = "$VERSION" ] || {
		echo "FAIL: debian/changelog's version is $v, CMakeLists.txt's project(callhook VERSION) is $VERSION: dch -v $VERSION"
		exit 1
	}
	echo "debian/changelog: $v, as CMakeLists.txt"
	exit 0
fi
SOFIA=$4

[ "$(id -u)" -eq 0 ] || {
	echo "SKIP: the package test installs and purges a package: run it as root"
	exit 77
}
for tool in dpkg-buildpackage dh lintian fakeroot apt-get systemd-analyze man curl setpriv flock; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "SKIP: $tool not found: scripts/deps.sh --test installs it"
		exit 77
	}
done

CONF=/etc/callhook/callhook.conf
BIN=/usr/sbin/callhook
UNIT=/lib/systemd/system/callhook.service
STAMP=/var/lib/callhook-package-test.stamp
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callhook-package.XXXXXX") || exit 1
chmod 0755 "$tmp" # apt's _apt user reads the .deb from here
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		sleep 1
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [ -f "$STAMP" ]; then
		if dpkg-query -W -f='${db:Status-Status}' callhook 2>/dev/null | grep -qv '^not-installed$'; then
			dpkg --purge callhook >"$tmp/cleanup.log" 2>&1 || cat "$tmp/cleanup.log"
		fi
		rm -f "$STAMP"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
die() {
	echo "FAIL: $*"
	exit 1
}

# one run at a time on this machine, whichever build tree it comes from
exec 9>/run/lock/callhook-package-test.lock
flock -w 900 9 || die "another package test holds /run/lock/callhook-package-test.lock"

# 0. the machine: the package is not installed, or only by a killed run of this test (its stamp)
status=$(dpkg-query -W -f='${db:Status-Status}' callhook 2>/dev/null)
if [ -n "$status" ] && [ "$status" != not-installed ]; then
	if [ -f "$STAMP" ]; then
		echo "note: purging the callhook package a killed run of this test left ($STAMP)"
		dpkg --purge callhook >"$tmp/log" 2>&1 || {
			cat "$tmp/log"
			die "dpkg --purge callhook"
		}
		rm -f "$STAMP"
	else
		die "the callhook package is installed here ($status) and not by this test: it would be replaced and purged; remove it first (dpkg --purge callhook)"
	fi
fi
[ -e "$BIN" ] && die "$BIN exists though the package is not installed: this test would overwrite it"

# 1. the package, as scripts/package.sh builds it (dpkg-buildpackage in a copy of the tree, lintian after it)
start=$(date +%s)
if [ "$SOFIA" != - ] && [ -f "$SOFIA/prefix/.stamp" ]; then
	CALLHOOK_SOFIA_DIR=$SOFIA
	export CALLHOOK_SOFIA_DIR
else
	echo "note: no patched Sofia-SIP build in '$SOFIA': the package build makes its own (needs deb.debian.org)"
	unset CALLHOOK_SOFIA_DIR
fi
# the unit tests run in this suite already
DEB_BUILD_OPTIONS=nocheck CALLHOOK_SKIP_DEPS=1 "$SRC/scripts/package.sh" "$tmp/dist" >"$tmp/package.log" 2>&1 || {
	cat "$tmp/package.log"
	die "scripts/package.sh (the build log's end and lintian's output are above)"
}
arch=$(dpkg --print-architecture)
deb="$tmp/dist/callhook_${VERSION}_${arch}.deb"
[ -f "$deb" ] || {
	ls -l "$tmp/dist"
	die "scripts/package.sh made no callhook_${VERSION}_${arch}.deb"
}
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes) in $(($(date +%s) - start)) s; lintian:"
sed 's/^/  /' "$tmp/dist/lintian.txt"
grep -q '^E:' "$tmp/dist/lintian.txt" && fail "lintian reports errors"

# only stock Debian libraries: no shared Sofia-SIP (it is linked in statically)
depends=$(dpkg-deb -f "$deb" Depends)
case "$depends" in
*sofia*) fail "Depends names Sofia-SIP: $depends" ;;
esac
echo "Depends: $depends"

# 2. apt-get install ./callhook_*.deb; nothing else may come with it (the purge would not take it away)
apt-get install -s "$deb" >"$tmp/sim" 2>&1 || {
	cat "$tmp/sim"
	die "apt-get install -s $deb"
}
others=$(sed -nE 's/^Inst ([^ ]+).*/\1/p' "$tmp/sim" | grep -vx callhook | tr '\n' ' ')
[ -z "$others" ] || die "installing the package would also install: $others (the test must leave the machine as it was: install them first)"
: >"$STAMP"
if ! apt-get install -y -q -o DPkg::Lock::Timeout=300 "$deb" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	die "apt-get install $deb"
fi
dpkg -L callhook >"$tmp/files" || die "dpkg -L callhook"
dpkg-query -W -f='${Conffiles}\n' callhook >"$tmp/conffiles"
for f in "$BIN" "$UNIT" "$CONF" /etc/callhook/rest_client_config.json /usr/share/man/man8/callhook.8.gz \
	/usr/share/man/man5/callhook.conf.5.gz /usr/share/doc/callhook/copyright \
	/usr/share/doc/callhook/examples/callhook-full.conf /usr/share/doc/callhook/examples/monitoring/callhook.rules.yml \
	/usr/share/doc/callhook/examples/monitoring/grafana-dashboard.json /usr/share/doc/callhook/examples/web/index.html; do
	grep -qxF "$f" "$tmp/files" || fail "the package does not install $f"
done
# docs over 4 kB are gzipped (dh_compress), examples never
for f in README.md packaging.md operations.md security.md monitoring.md; do
	grep -qxE "/usr/share/doc/callhook/$f(\.gz)?" "$tmp/files" || fail "the package does not install /usr/share/doc/callhook/$f"
done
for f in "$CONF" /etc/callhook/rest_client_config.json; do
	grep -q " $f " "$tmp/conffiles" || fail "$f is not a conffile"
	# read by the unit's dynamic user: world-readable, owned by root, never writable by others
	[ "$(stat -c '%a %U' "$f")" = "644 root" ] || fail "$f: mode and owner $(stat -c '%a %U' "$f"), not 644 root"
done
out=$("$BIN" --version 2>&1)
[ "$out" = "callhook $VERSION" ] || fail "installed callhook --version: '$out', not 'callhook $VERSION'"
ldd "$BIN" | grep -qi sofia && fail "the installed binary loads a shared Sofia-SIP: $(ldd "$BIN" | grep -i sofia)"
[ "$(man -w 8 callhook 2>/dev/null)" = /usr/share/man/man8/callhook.8.gz ] || fail "man -w 8 callhook: $(man -w 8 callhook 2>&1)"
[ "$(man -w 5 callhook.conf 2>/dev/null)" = /usr/share/man/man5/callhook.conf.5.gz ] || fail "man -w 5 callhook.conf"

# 3. callhook --check on the installed configuration; it binds loopback only and holds no secret
if ! "$BIN" --check -c "$CONF" >"$tmp/check" 2>&1; then
	cat "$tmp/check"
	die "callhook --check -c $CONF refuses the installed configuration"
fi
listens=$(awk '$1 ~ /(^|\.)listen$|tls_listen$/ && $2 != "-" && $2 != "[]" { $1 = ""; print }' "$tmp/check" | tr ',' ' ')
for a in $listens; do
	case "$a" in
	127.0.0.1:* | "[::1]:"*) ;;
	*) fail "the installed configuration listens on $a (it must bind loopback only)" ;;
	esac
done
# --check shows every secret that has a value (inline or from a file) as ***
grep -qE ' \*\*\*$' "$tmp/check" && fail "the installed configuration sets a secret: $(grep -E ' \*\*\*$' "$tmp/check" | tr '\n' ' ')"
# the commented site template is valid once uncommented, with its secret files created as the comments say
mkdir "$tmp/etc"
sed -E '/^  # Bind/!s/^  # ?//; s#/etc/callhook/#'"$tmp"'/etc/#g' "$CONF" >"$tmp/etc/callhook.conf"
cp /etc/callhook/rest_client_config.json "$tmp/etc/"
printf '%s\n' 'not-a-real-password' >"$tmp/etc/sip.pass"
printf '%s\n' 'not-a-real-wcs-key' >"$tmp/etc/wcs_hmac.key"
chmod 0600 "$tmp/etc/sip.pass" "$tmp/etc/wcs_hmac.key"
if ! "$BIN" --check -c "$tmp/etc/callhook.conf" >"$tmp/check2" 2>&1; then
	cat "$tmp/check2"
	fail "the site template of $CONF, uncommented, does not pass --check"
fi

# 4. the installed binary on the installed configuration, as an unprivileged user (the unit's is dynamic):
# /healthz is on admin.listen when set, else on the first hook.listen
hz=$(awk '$1 == "admin.listen" && $2 != "-" && $2 != "[]" { print $2; exit }' "$tmp/check" | cut -d, -f1)
[ -n "$hz" ] || hz=$(awk '$1 == "hook.listen" { print $2; exit }' "$tmp/check" | cut -d, -f1)
[ -n "$hz" ] || die "no hook.listen nor admin.listen in the --check summary"
for a in $listens; do
	curl -s -o /dev/null --max-time 2 "http://$a/" 2>/dev/null
	[ $? -eq 7 ] || die "$a, which the installed configuration listens on, is taken on this machine ($(ss -Hltnp "sport = :${a##*:}" 2>/dev/null)): stop what listens there and run again"
done
setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" -c "$CONF" >"$tmp/daemon.log" 2>&1 &
pid=$!
code=000
i=0
while [ $i -lt 100 ]; do
	kill -0 "$pid" 2>/dev/null || break
	code=$(curl -s -o "$tmp/healthz" -w '%{http_code}' --max-time 2 "http://$hz/healthz" 2>/dev/null)
	[ "$code" = 200 ] && break
	sleep 0.1
	i=$((i + 1))
done
if [ "$code" = 200 ]; then
	echo "GET http://$hz/healthz: 200 $(cat "$tmp/healthz")"
else
	cat "$tmp/daemon.log"
	fail "GET http://$hz/healthz from the installed callhook: $code"
fi
if kill -0 "$pid" 2>/dev/null; then
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "callhook did not stop within 15 s of SIGTERM"
	else
		wait "$pid"
		rc=$?
		[ "$rc" -eq 0 ] || fail "callhook exited $rc after SIGTERM"
		pid=""
	fi
else
	wait "$pid"
	cat "$tmp/daemon.log"
	fail "the installed callhook exited $? on its own"
	pid=""
fi

# 5. the installed unit, where systemd finds it, with its man page installed
systemd-analyze verify "$UNIT" >"$tmp/verify" 2>&1
rc=$?
if [ "$rc" -ne 0 ] || [ -s "$tmp/verify" ]; then
	cat "$tmp/verify"
	fail "systemd-analyze verify $UNIT: exit $rc"
fi
grep -qxF "ExecStart=$BIN -c $CONF" "$UNIT" || fail "$UNIT: ExecStart is not '$BIN -c $CONF'"
grep -qxF 'DynamicUser=yes' "$UNIT" || fail "$UNIT: not DynamicUser=yes (the package creates no user)"
for l in /etc/systemd/system/*.wants/callhook.service; do
	[ -e "$l" ] && fail "the package enabled the unit ($l): it must wait for the operator's configuration"
done

# 6. purge: nothing the package installed is left
if ! apt-get purge -y -q -o DPkg::Lock::Timeout=300 callhook >"$tmp/purge.log" 2>&1; then
	cat "$tmp/purge.log"
	die "apt-get purge callhook"
fi
rm -f "$STAMP"
status=$(dpkg-query -W -f='${db:Status-Status}' callhook 2>/dev/null)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "after the purge dpkg says callhook is '$status'"
left=0
while IFS= read -r f; do
	[ "$f" = /. ] && continue
	# a directory (or, with merged /usr, a symlink to one such as /lib) may stay if another package owns it
	if [ -d "$f" ]; then
		dpkg-query -S "$f" >/dev/null 2>&1 && continue
		fail "left after the purge: the directory $f"
		left=$((left + 1))
	elif [ -e "$f" ] || [ -L "$f" ]; then
		fail "left after the purge: $f"
		left=$((left + 1))
	fi
done <"$tmp/files"
for f in /var/lib/systemd/deb-systemd-helper-enabled/callhook.service.dsh-also \
	/var/lib/systemd/deb-systemd-helper-masked/callhook.service /var/log/callhook; do
	[ -e "$f" ] && fail "left after the purge: $f"
done
echo "purged: none of the $(wc -l <"$tmp/files") paths of dpkg -L is left ($left left)"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "package: $(basename "$deb") built, installed, checked, served /healthz, verified and purged in $(($(date +%s) - start)) s"
