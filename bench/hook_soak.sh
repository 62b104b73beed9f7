#!/usr/bin/env bash
# bench/hook_soak.sh: the hook under ASan + UBSan for REQUESTS mixed requests on keep-alive connections (issue 15).
#
#   bench/hook_soak.sh [REQUESTS [BUILD_DIR]]        (defaults: 1000000, ../build-asan next to the checkout's build)
#
# 1. Builds callhook with -DCALLHOOK_SANITIZE=address,undefined (Debug) in BUILD_DIR unless it holds one.
# 2. Starts it on bench/callhook-bench.conf with session_ttl_s = 60 (so the sessions that uconnect creates
#    expire during the run and the table's memory is reused) on a free port.
# 3. Runs wrk (CONNS, default 16, keep-alive) with bench/soak.lua: connect, a connect with a new session, call,
#    a CallStatusEvent, a hostile origin (403), malformed JSON (400) and a GET (405), in turn, until REQUESTS
#    answers; callhook's VmRSS is sampled every 5 s.
# 4. Stops callhook with SIGTERM: LeakSanitizer runs at its exit.
# Passes (exit 0) when: every answer has its kind's status (each of 200, 400, 403 and 405 equals what was sent of
# its kinds, give or take the requests in flight when wrk stopped), no other status and no socket error, the RSS
# at the end is within RSS_SLACK_MB (default 8) of the RSS half-way (the sessions of the first minute have expired
# by then and ASan's quarantine, capped at 32 MB here, is full), and callhook's stderr holds no sanitizer report.
# A run shorter than about 150 s (REQUESTS below ~800000 under ASan here) does not reach that steady state. Every process started here is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh" # build_callhook, stop_pids
REQUESTS=${1:-1000000}
BUILD_DIR=${2:-$(dirname "$repo")/build-asan}
CONNS=${CONNS:-16}
RSS_SLACK_MB=${RSS_SLACK_MB:-8}

die() {
	echo "hook_soak.sh: FAIL: $*" >&2
	exit 1
}
for tool in wrk curl python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
if [ ! -x "$BUILD_DIR/callhook" ]; then
	build_callhook "$BUILD_DIR" asan || die "no callhook build"
fi
bin=$BUILD_DIR/callhook

tmp=$(mktemp -d /tmp/hook-soak.XXXXXX)
pid=""
sampler=""
cleanup() {
	stop_pids "$sampler" "$pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|\"127.0.0.1:18081\"|\"127.0.0.1:$port\"|" \
	-e "s|\"../examples/rest_client_config.json\"|\"$repo/examples/rest_client_config.json\"|" \
	-e 's|session_ttl_s = 86400;|session_ttl_s = 60;|' "$here/callhook-bench.conf" >"$tmp/callhook.conf"
grep -q 'session_ttl_s = 60;' "$tmp/callhook.conf" || die "could not set session_ttl_s in the bench config"
ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:quarantine_size_mb=32 UBSAN_OPTIONS=print_stacktrace=1 \
	LSAN_OPTIONS="suppressions=$repo/tests/lsan.supp:print_suppressions=0" \
	"$bin" -c "$tmp/callhook.conf" 2>"$tmp/callhook.err" &
pid=$!
for _ in $(seq 1 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/callhook.err" >&2; die "callhook exited"; }
	sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" || die "callhook did not answer /healthz"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
echo "setup      callhook $bin (ASan + UBSan) on 127.0.0.1:$port, RSS $(($(rss_kb) / 1024)) MB; wrk $CONNS connections"

# The rate under ASan decides the duration: a 5-s probe, then one run long enough for REQUESTS.
probe=$(BENCH_DIR=$here wrk -t2 -c"$CONNS" -d5s -s "$here/soak.lua" "http://127.0.0.1:$port" | sed -n 's/^RESULT .*rps=\([0-9.]*\).*/\1/p')
[ -n "$probe" ] || die "the wrk probe printed no result"
secs=$(python3 -c "import math; print(max(10, math.ceil($REQUESTS / $probe * 1.05)))")
echo "probe      $probe requests/s; soak $secs s"
(while kill -0 "$pid" 2>/dev/null; do echo "$(date +%s) $(rss_kb)"; sleep 5; done) >"$tmp/rss.txt" &
sampler=$!
# answers so far: the SOAK lines' got_* fields, over every round
answered() { grep '^SOAK ' "$tmp/wrk.out" | grep -oE 'got_[a-z0-9]+=[0-9]+' | awk -F= '{ n += $2 } END { print n + 0 }'; }
: >"$tmp/wrk.out"
# a machine busier than during the probe makes the run short: more rounds until REQUESTS were answered
for round in 1 2 3 4 5; do
	BENCH_DIR=$here wrk -t2 -c"$CONNS" -d"${secs}s" --timeout 10s -s "$here/soak.lua" "http://127.0.0.1:$port" >>"$tmp/wrk.out"
	left=$((REQUESTS - $(answered)))
	[ "$left" -gt 0 ] || break
	secs=$(python3 -c "import math; print(max(10, math.ceil($left / $probe * 1.2)))")
	echo "round $round $(answered) answers; one more round of $secs s"
done
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=""
rss_end=$(rss_kb)
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""

rc_check=0
python3 - "$tmp/wrk.out" "$tmp/rss.txt" "$rss_end" "$REQUESTS" "$CONNS" "$RSS_SLACK_MB" <<'PY' || rc_check=1
import re, sys
wrk, rss, rss_end, want, conns, slack = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
tot = {}
res = {}
for line in open(wrk):
    if line.startswith('SOAK '):
        for k, v in re.findall(r'(\w+)=(\d+)', line):
            tot[k] = tot.get(k, 0) + int(v)
    elif line.startswith('RESULT '):
        r = {k: float(v) for k, v in re.findall(r'(\w+)=([0-9.]+)', line)}
        r['sock_errors'] += res.get('sock_errors', 0)  # every round's; the rate and latencies are the last round's
        res = r
bad = []
answers = sum(tot.get(k, 0) for k in ('got_200', 'got_400', 'got_403', 'got_405', 'got_other'))
sent = lambda *ks: sum(tot.get('sent_' + k, 0) for k in ks)
exp = {'got_200': sent('connect', 'uconnect', 'call', 'event'), 'got_400': sent('malformed'),
       'got_403': sent('hostile'), 'got_405': sent('get')}
print('requests   %d answered at %.0f/s, p50 %.2f ms, p99 %.2f ms, socket errors %d' % (
    answers, res.get('rps', 0), res.get('p50_us', 0) / 1000, res.get('p99_us', 0) / 1000, res.get('sock_errors', -1)))
for k, e in exp.items():
    print('status     %s: %d answers, %d sent' % (k[4:], tot.get(k, 0), e))
    if not 0 <= e - tot.get(k, 0) <= conns:
        bad.append('%s: %d answers for %d sent' % (k, tot.get(k, 0), e))
if tot.get('got_other', 0):
    bad.append('%d answers with another status' % tot['got_other'])
if res.get('sock_errors', 1):
    bad.append('socket errors: %d' % res.get('sock_errors', -1))
if answers < want:
    bad.append('only %d answers of the %d asked' % (answers, want))
samples = [int(l.split()[1]) for l in open(rss) if len(l.split()) == 2]
if len(samples) >= 5:
    ref = samples[len(samples) // 2]
    print('RSS        start %.1f MB, half-way %.1f MB, peak %.1f MB, end %.1f MB (%d samples)' % (
        samples[0] / 1024, ref / 1024, max(samples) / 1024, rss_end / 1024, len(samples)))
    print('RSS MB/20s ' + ' '.join('%.0f' % (v / 1024) for v in samples[::4]))
    if (rss_end - ref) / 1024 > slack:
        bad.append('RSS grew %.1f MB in the second half (slack %.0f MB)' % ((rss_end - ref) / 1024, slack))
else:
    bad.append('too few RSS samples')
for b in bad:
    print('FAIL       ' + b)
sys.exit(1 if bad else 0)
PY
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/callhook.err"; then
	echo "FAIL       callhook's stderr holds a sanitizer report:"
	grep -m 20 -E 'ERROR|SUMMARY|runtime error' "$tmp/callhook.err"
	rc_check=1
fi
echo "exit       callhook exited $rc after SIGTERM; sanitizer reports: $(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/callhook.err" || true)"
[ "$rc" -eq 0 ] || rc_check=1
[ "$rc_check" -eq 0 ] && echo "PASS" || echo "FAIL"
exit "$rc_check"
