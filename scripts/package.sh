#!/usr/bin/env bash
# Build the Debian package callhook_<version>_<arch>.deb (docs/packaging.md): dpkg-buildpackage -b -uc -us in a
# copy of this tree (the checkout stays clean, nothing is written beside it), then lintian on the result.
#   scripts/package.sh [OUTDIR]   default OUTDIR: dist (the .deb, the -dbgsym .deb, .buildinfo, .changes, lintian.txt)
#   CALLHOOK_SKIP_DEPS=1          do not run scripts/deps.sh --package (apt-get)
#   CALLHOOK_SOFIA_DIR=DIR        reuse a patched Sofia-SIP built by third_party/sofia-sip/build.sh DIR (rebuilt
#                                 there when stale); default: the one deps.sh builds, ${CALLHOOK_BUILD_DIR:-build}/
#                                 third_party/sofia-sip, when it exists; else the package build makes its own
#   DEB_BUILD_OPTIONS=nocheck     skip the unit tests the package build runs
# Exit status: 0, or 1 when the build fails or lintian reports an error.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
out=$(realpath -m "${1:-dist}")
[ "${CALLHOOK_SKIP_DEPS:-0}" = 1 ] || ./scripts/deps.sh --package
for tool in dpkg-buildpackage dh lintian; do
	command -v "$tool" >/dev/null || {
		echo "package: $tool is missing: run scripts/deps.sh --package (as root)" >&2
		exit 1
	}
done
version=$(sed -nE 's/^project\(callhook VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
deb_version=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ "$version" != "$deb_version" ]; then
	echo "package: CMakeLists.txt says $version, debian/changelog $deb_version: add a changelog entry (dch -v $version)" >&2
	exit 1
fi
if [ -z "${CALLHOOK_SOFIA_DIR:-}" ] && [ -f "${CALLHOOK_BUILD_DIR:-build}/third_party/sofia-sip/prefix/.stamp" ]; then
	CALLHOOK_SOFIA_DIR="${CALLHOOK_BUILD_DIR:-build}/third_party/sofia-sip"
fi
if [ -n "${CALLHOOK_SOFIA_DIR:-}" ]; then
	CALLHOOK_SOFIA_DIR=$(realpath -m "$CALLHOOK_SOFIA_DIR")
	export CALLHOOK_SOFIA_DIR
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/callhook-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/callhook-$version"
# the files git knows (tracked, or untracked and not ignored: build trees stay out); a tree without git: all but build*
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		tar -C "$src" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$work/callhook-$version" -xf -
else
	tar -C "$src" --exclude='./build*' --exclude='./dist' --exclude='./obj-*' -cf - . | tar -C "$work/callhook-$version" -xf -
fi

echo "package: dpkg-buildpackage -b -uc -us in $work/callhook-$version"
start=$(date +%s)
jobs=$(nproc)
[ "$jobs" -le 2 ] || jobs=2
if ! (cd "$work/callhook-$version" && dpkg-buildpackage -b -uc -us -j"$jobs") >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log" >&2
	echo "package: dpkg-buildpackage failed (the end of its log is above)" >&2
	exit 1
fi
mkdir -p "$out"
for f in "$work"/callhook*_"$version"_*.deb "$work"/callhook_"$version"_*.buildinfo "$work"/callhook_"$version"_*.changes; do
	[ -e "$f" ] && cp "$f" "$out/"
done
cp "$work/build.log" "$out/build.log"
echo "package: built in $(($(date +%s) - start)) s:"
ls -l "$out"/callhook*_"$version"_*.deb

# lintian on the binary package: errors fail, warnings are printed (the ones kept are in docs/packaging.md)
deb=$(ls "$out"/callhook_"$version"_*.deb)
lintian --fail-on error --display-info "$deb" >"$out/lintian.txt" 2>&1 && rc=0 || rc=$?
cat "$out/lintian.txt"
if [ "$rc" -ne 0 ]; then
	echo "package: lintian reports errors on $deb" >&2
	exit 1
fi
echo "package: $deb"
