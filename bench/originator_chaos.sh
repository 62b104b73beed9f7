#!/usr/bin/env bash
# bench/originator_chaos.sh: the originator, built with ASan + UBSan, under faults on 127.0.0.1 (issue 15).
#
#   bench/originator_chaos.sh [RATE [SECONDS [BUILD_DIR]]]      (defaults: 18 620: 11,160 requests, about 10,500
#   accepted calls, in 10 min 20 s)
#
# bench/originator_chaos.py does the work: it starts callhook from BUILD_DIR (default: configure and build
# ../build-asan, Debug, -fsanitize=address,undefined) as an originator with a JSON API (Digest), an XML port,
# an admin listener and a call record file, and SIPp phones that misbehave on purpose:
#   initiators  never answer (ring until CANCEL; a UDP socket that swallows everything), 486, 503, accept
#               the REFER but never NOTIFY, BYE in the middle of the REFER, 501 to the REFER (bridged instead),
#               never answer the re-INVITE, hang up right after it, a TCP peer that reads and cuts (RST),
#               and good REFER and anchored phones over UDP and TCP, some of them SIGKILLed and restarted
#               every 15-25 s (a phone that vanishes mid-call; a TCP connection cut mid-dialog);
#   destinations (the anchored flow and the REFER fallback): a good one, one over TCP that is killed now and
#               then, one that answers then vanishes, 486, 503, never answers, a silent socket.
# It places RATE calls a second for SECONDS: half over POST /v1/calls (8% DELETEd 0.3-4 s later), 40% over
# four persistent XML connections, 10% over XML connections that hang up (half with a RST) after the 100;
# 3% are untranslatable (400) and 3% denied by policy (403). Short timers (ring 4 s, NOTIFY 6 s, re-INVITE
# 3 s, longest call 20 s) keep every call bounded.
# At the end: GET /v1/calls empty, the originator's three gauges at 0, RSS within RSS_SLACK_MB (8) of its
# reading after the warm-up, one call record per accepted call and none per refused request, the outcomes
# that do not depend on timing as expected, and callhook exiting 0 at SIGTERM with no ASan, LSan or UBSan
# report. Prints the figures; exit 0 only when all hold. Every process it starts is stopped on exit.
# KEEP=DIR keeps the work folder (config, call records, callhook's and SIPp's logs) there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh" # build_callhook
RATE=${1:-18}
SECONDS_RUN=${2:-620}
BUILD_DIR=${3:-}

die() {
	echo "originator_chaos.sh: FAIL: $*" >&2
	exit 1
}
for tool in sipp python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh --test)"
done
if [ -z "$BUILD_DIR" ]; then
	BUILD_DIR=$(dirname "$repo")/build-asan
	build_callhook "$BUILD_DIR" asan || die "no callhook build"
fi
bin=$BUILD_DIR/callhook
[ -x "$bin" ] || die "no callhook binary at $bin"
grep -q 'CALLHOOK_SANITIZE:STRING=address,undefined\|CALLHOOK_SANITIZE:STRING=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null ||
	echo "originator_chaos.sh: warning: $BUILD_DIR is not an ASan + UBSan build; leaks and memory errors go unseen" >&2

work=$(mktemp -d /tmp/originator-chaos.XXXXXX)
cleanup() {
	if [ -n "${KEEP:-}" ]; then
		mkdir -p "$KEEP" && cp -a "$work"/. "$KEEP"/ && echo "work folder kept in $KEEP" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
# The driver stops its own children (and they die with it: PR_SET_PDEATHSIG); the timeout bounds the whole run.
timeout --kill-after=30 $((${SECONDS_RUN%.*} + 400)) python3 "$here/originator_chaos.py" "$bin" "$RATE" "$SECONDS_RUN" "$work"
