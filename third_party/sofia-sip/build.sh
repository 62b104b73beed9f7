#!/usr/bin/env bash
# third_party/sofia-sip/build.sh OUT: Debian 12's sofia-sip source at the pinned version, with our patches
# (third_party/sofia-sip/*.patch, applied in name order), built as a static PIC libsofia-sip-ua into OUT/prefix.
# Does nothing when OUT/prefix holds a build from the same version, patches and script (OUT/prefix/.stamp).
# Needs a deb-src entry and the build tools, which scripts/deps.sh installs (it runs this script too);
# CMake runs it for a build folder that has no up-to-date copy (cmake/sofia.cmake).
set -euo pipefail
VERSION="1.12.11+20110422.1+1e14eea~dfsg-6"
SRCDIR="sofia-sip-1.12.11+20110422.1+1e14eea~dfsg"
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || {
	echo "usage: $0 OUT" >&2
	exit 2
}
out=$(realpath -m "$1")
key=$({
	echo "$VERSION"
	cat "$here"/*.patch "$here/build.sh"
} | sha256sum | cut -d' ' -f1)
if [ -f "$out/prefix/lib/libsofia-sip-ua.a" ] && [ "$(cat "$out/prefix/.stamp" 2>/dev/null)" = "$key" ]; then
	echo "sofia-sip: the patched build in $out/prefix is up to date"
	exit 0
fi
for tool in dpkg-source autoreconf libtoolize make patch; do
	command -v "$tool" >/dev/null || {
		echo "sofia-sip: $tool is missing: run scripts/deps.sh (as root) first" >&2
		exit 1
	}
done
start=$(date +%s)
rm -rf "$out/src" "$out/obj" "$out/prefix"
mkdir -p "$out/src" "$out/obj"
log="$out/build.log"
: >"$log"
echo "sofia-sip: fetching the Debian source $VERSION"
if ! (cd "$out/src" && apt-get source -qq "sofia-sip=$VERSION") >>"$log" 2>&1; then
	echo "sofia-sip: 'apt-get source sofia-sip=$VERSION' failed (see $log): scripts/deps.sh adds the deb-src entry it needs" >&2
	exit 1
fi
for p in "$here"/*.patch; do
	if ! patch -d "$out/src/$SRCDIR" -p1 --dry-run -s <"$p" >>"$log" 2>&1; then
		echo "sofia-sip: $(basename "$p") no longer applies to sofia-sip $VERSION (see $log): update the patch" >&2
		exit 1
	fi
	patch -d "$out/src/$SRCDIR" -p1 -s <"$p"
	echo "sofia-sip: applied $(basename "$p")"
done
echo "sofia-sip: building libsofia-sip-ua (static, PIC) into $out/prefix (log: $log)"
(
	cd "$out/src/$SRCDIR" && autoreconf -fi
	cd "$out/obj" && "$out/src/$SRCDIR/configure" --prefix="$out/prefix" --disable-shared --enable-static --with-pic \
		--without-glib --without-doxygen CFLAGS="-O2 -g"
	make -C libsofia-sip-ua -j"$(nproc)"
	make -C libsofia-sip-ua install
	make -C packages install
) >>"$log" 2>&1 || {
	echo "sofia-sip: the build failed; the end of $log:" >&2
	tail -n 20 "$log" >&2
	exit 1
}
echo "$key" >"$out/prefix/.stamp"
rm -rf "$out/obj"
echo "sofia-sip: built in $(($(date +%s) - start)) s"
