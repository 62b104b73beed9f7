#!/usr/bin/env bash
# Quick start: install dependencies, build, and run callhook in the foreground
# on examples/callhook.conf (127.0.0.1:8081). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${CALLHOOK_SKIP_DEPS:-0}" = 1 ] || ./scripts/deps.sh
BUILD="${CALLHOOK_BUILD_DIR:-build}"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target callhook
exec "$BUILD/callhook" -c examples/callhook.conf
