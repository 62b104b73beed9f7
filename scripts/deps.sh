#!/usr/bin/env bash
# Install every Debian 12 package callhook needs to build, run and test.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config ca-certificates curl git clang-format \
  libmicrohttpd-dev libjansson-dev libpcre2-dev libconfig-dev libcurl4-openssl-dev \
  libsofia-sip-ua-dev libjwt-dev libexpat1-dev libgnutls28-dev \
  sip-tester wrk nginx-light python3 python3-prometheus-client clang libclang-rt-14-dev \
  openssl systemd man-db groff-base kamailio baresip-core >/dev/null
