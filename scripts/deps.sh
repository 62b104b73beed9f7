#!/usr/bin/env bash
# Install the Debian 12 packages callhook needs.
#   scripts/deps.sh          to build and run callhook
#   scripts/deps.sh --package  also the Debian packaging tools (scripts/package.sh)
#   scripts/deps.sh --test   also the packaging tools and the test and benchmark peers (SIPp, Kamailio,
#                            baresip, nginx, wrk, clang, systemd tools, redis-server, prometheus
#                            for promtool, chromium, nodejs and npm...)
# Each also builds the patched Sofia-SIP (third_party/sofia-sip/build.sh) into
# ${CALLHOOK_BUILD_DIR:-build}/third_party/sofia-sip, unless it is up to date there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(build-essential cmake pkg-config ca-certificates curl
  libmicrohttpd-dev libjansson-dev libpcre2-dev libconfig-dev libcurl4-openssl-dev
  libjwt-dev libexpat1-dev libgnutls28-dev libicu-dev libhiredis-dev
  dpkg-dev autoconf automake libtool libssl-dev patch)
# the package build (scripts/package.sh, the package ctest): debhelper, lintian; fakeroot for dpkg-buildpackage
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--package" ]; then
  pkgs+=(debhelper devscripts lintian fakeroot)
fi
if [ "${1:-}" = "--test" ]; then
  pkgs+=(git clang-format sip-tester wrk nginx-light python3 python3-prometheus-client
    clang libclang-rt-14-dev openssl systemd man-db groff-base kamailio baresip-core redis-server
    prometheus python3-yaml chromium nodejs)
  # npm for the browser test's pinned Web SDK; a Node.js from elsewhere (NodeSource) brings its own npm and
  # conflicts with Debian's package
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi
# The patched Sofia-SIP is built from Debian's own source package: apt-get source needs a deb-src entry.
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
			$SUDO tee /etc/apt/sources.list.d/callhook-deb-src.sources >/dev/null
	else
		sed -nE 's/^deb (.*)/deb-src \1/p' /etc/apt/sources.list | $SUDO tee /etc/apt/sources.list.d/callhook-deb-src.list >/dev/null
	fi
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
cd "$(dirname "$0")/.."
./third_party/sofia-sip/build.sh "${CALLHOOK_BUILD_DIR:-build}/third_party/sofia-sip"
