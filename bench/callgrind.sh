#!/usr/bin/env bash
# bench/callgrind.sh: instructions per request of callhook for each bench body (connect, call, CallStatusEvent), under callgrind.
#
#   bench/callgrind.sh [CALLHOOK_BINARY]     # default: ../build-bench/callhook
#
# Starts the binary under `valgrind --tool=callgrind` on callhook-bench.conf
# (port CALLGRIND_PORT, 18095), zeroes the counters once it answers
# /healthz (callgrind_control -z: start-up, ~20M instructions, is left out),
# runs `wrk -t1 -c4 -d$DURATION` (4s) with one body, dumps (callgrind_control
# -d) and stops it, and prints the whole process's instructions (every
# thread) over the requests wrk completed. The profiles ($OUT/<body>.out.1)
# stay in $OUT (a temp dir) for `callgrind_annotate --threshold=100`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=${1:-$repo/../build-bench/callhook}
port=${CALLGRIND_PORT:-18095}
DURATION=${DURATION:-4s}
OUT=${OUT:-$(mktemp -d /tmp/callhook-callgrind.XXXXXX)}
for tool in valgrind callgrind_annotate callgrind_control wrk curl; do
	command -v "$tool" >/dev/null || { echo "callgrind.sh: needs $tool" >&2; exit 2; }
done
sed -e "s|\"127.0.0.1:18081\"|\"127.0.0.1:$port\"|" \
	-e "s|\"../examples/rest_client_config.json\"|\"$repo/examples/rest_client_config.json\"|" \
	"$here/callhook-bench.conf" >"$OUT/callhook.conf"
vpid=
trap '[ -n "$vpid" ] && kill "$vpid" 2>/dev/null || true' EXIT
printf '%-9s %10s %14s %12s\n' body requests instructions "instr/req"
for pair in connect:connect call:call event:CallStatusEvent; do
	body=${pair%%:*}
	path=${pair#*:}
	valgrind --tool=callgrind --callgrind-out-file="$OUT/$body.out" "$bin" -c "$OUT/callhook.conf" 2>"$OUT/$body.log" &
	vpid=$!
	for _ in $(seq 1 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
		sleep 0.2
	done
	callgrind_control -z "$vpid" >/dev/null 2>&1
	res=$(BODY_FILE=$here/$body.json wrk -t1 -c4 -d"$DURATION" -s "$here/post.lua" \
		"http://127.0.0.1:$port/rest-hook/$path" | grep '^RESULT ')
	callgrind_control -d "$vpid" >/dev/null 2>&1
	kill -TERM "$vpid"
	wait "$vpid" || true
	vpid=
	n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$res")
	ir=$(callgrind_annotate "$OUT/$body.out.1" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
	printf '%-9s %10s %14s %12s\n' "$body" "$n" "$ir" "$((ir / n))"
done
echo "(profiles in $OUT)"
