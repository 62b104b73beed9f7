#!/usr/bin/env bash
# Install dependencies, build everything, and run the whole test suite
# (unit, http, sip, fuzz replay, install). Exit status is ctest's.
#   CALLHOOK_BUILD_DIR   build folder (default: build)
#   CALLHOOK_CMAKE_ARGS  extra cmake arguments (CI adds the sanitizers)
#   CALLHOOK_SKIP_DEPS=1 do not run apt-get
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${CALLHOOK_SKIP_DEPS:-0}" = 1 ] || ./scripts/deps.sh --test
BUILD="${CALLHOOK_BUILD_DIR:-build}"
# shellcheck disable=SC2086
cmake -S . -B "$BUILD" -DCALLHOOK_WERROR=ON ${CALLHOOK_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
cd "$BUILD"
ctest --output-on-failure --timeout 300 -j"$(nproc)" ${CALLHOOK_CTEST_ARGS:-}
