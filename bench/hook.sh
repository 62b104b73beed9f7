#!/usr/bin/env bash
# bench/hook.sh: callhook against nginx, in one run, with wrk.
#
#   bench/hook.sh [CALLHOOK_BINARY]
#
# Without an argument callhook is built (Release) in $BUILD_DIR (default: the
# directory build-bench next to the repository). The script then:
#   1. starts callhook on bench/callhook-bench.conf (log level warn, budgets
#      raised) and its own nginx (daemon off, master_process on, as many
#      workers as callhook has threads, access_log off, `return 200` of a fixed
#      JSON: callhook's own connect answer, byte for byte, so both send the same
#      size), each on its own 127.0.0.1 port, from a temp dir;
#   2. checks with curl that connect, call and an event answer 200 with the
#      expected JSON (and a hostile origin 403);
#   3. runs `wrk -t2 -c64 -d10s` POSTing the WCS connect body to nginx, then to
#      callhook (ROUNDS times, alternating; medians reported), then the call
#      body and the event body to callhook alone;
#   4. prints requests/s, p50/p99 latency and the ratio callhook/nginx.
# Any non-2xx response or socket error reported by wrk fails the run (exit 1).
# Every process it started is stopped on exit.
#
# Knobs (environment): DURATION (10s), THREADS (2), CONNECTIONS (64),
# ROUNDS (3), WARMUP (2s; "0" to skip), CALLHOOK_PORT (18081),
# NGINX_PORT (18082), BUILD_DIR, TARGET (0.9), BENCH_STRICT (1: exit 3 when
# the ratio is below TARGET).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh" # build_callhook, field, median, ms, stop_pids
repo=$(dirname "$here")
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
CALLHOOK_PORT=${CALLHOOK_PORT:-18081}
NGINX_PORT=${NGINX_PORT:-18082}
BUILD_DIR=${BUILD_DIR:-$(dirname "$repo")/build-bench}
TARGET=${TARGET:-0.9}
BENCH_STRICT=${BENCH_STRICT:-0}

die() {
	echo "hook.sh: FAIL: $*" >&2
	exit 1
}

for tool in wrk nginx curl awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

# ---- the binary --------------------------------------------------------------
if [ $# -ge 1 ]; then
	bin=$1
else
	build_callhook "$BUILD_DIR" release || die "no callhook build"
	bin=$BUILD_DIR/callhook
fi
[ -x "$bin" ] || die "$bin is not an executable"

# ---- temp dir, cleanup ---------------------------------------------------------
tmp=$(mktemp -d /tmp/callhook-bench.XXXXXX)
callhook_pid=""
nginx_pid=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pids "$callhook_pid" "$nginx_pid"
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
wait_port() { # port pid name
	local _
	for _ in $(seq 1 100); do
		port_busy "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
port_busy "$CALLHOOK_PORT" && die "127.0.0.1:$CALLHOOK_PORT is in use (set CALLHOOK_PORT)"
port_busy "$NGINX_PORT" && die "127.0.0.1:$NGINX_PORT is in use (set NGINX_PORT)"

# ---- callhook -----------------------------------------------------------------
# bench/callhook-bench.conf with its port replaced and the rest_client_config
# path made absolute (the copy lives in the temp dir).
sed -e "s|\"127.0.0.1:18081\"|\"127.0.0.1:$CALLHOOK_PORT\"|" \
	-e "s|\"../examples/rest_client_config.json\"|\"$repo/examples/rest_client_config.json\"|" \
	"$here/callhook-bench.conf" >"$tmp/callhook.conf"
"$bin" --check -c "$tmp/callhook.conf" >"$tmp/check.out" 2>&1 ||
	{ cat "$tmp/check.out" >&2; die "callhook --check refused the bench config"; }
threads=$(awk '/^[[:space:]]*threads[[:space:]]*=/ { gsub(/[^0-9]/, "", $3); print $3; exit }' "$tmp/callhook.conf")
if [ -z "$threads" ] || [ "$threads" = 0 ]; then
	threads=$(getconf _NPROCESSORS_ONLN) # hook.threads = 0 means one per CPU
fi
"$bin" -c "$tmp/callhook.conf" 2>"$tmp/callhook.log" &
callhook_pid=$!
wait_port "$CALLHOOK_PORT" "$callhook_pid" ||
	{ cat "$tmp/callhook.log" >&2; die "callhook did not start"; }
chook=http://127.0.0.1:$CALLHOOK_PORT/rest-hook

# ---- preflight: every bench body gets 200 and the JSON we expect ----------------
post() { # url body-file out-file -> prints the status code
	curl -sS -o "$3" -w '%{http_code} %{content_type}' \
		-H 'Content-Type: application/json;charset=UTF-8' \
		--data-binary "@$2" "$1"
}
expect() { # name url body-file status needle
	local got
	got=$(post "$2" "$3" "$tmp/$1.out")
	case "$got" in
	"$4 application/json"*) ;;
	*) die "preflight $1: expected $4 application/json, got '$got': $(head -c 300 "$tmp/$1.out")" ;;
	esac
	grep -qF -- "$5" "$tmp/$1.out" || die "preflight $1: answer lacks $5: $(head -c 300 "$tmp/$1.out")"
}
expect connect "$chook/connect" "$here/connect.json" 200 '"sipLogin":"10001"'
expect call "$chook/call" "$here/call.json" 200 '"callee":"10002"'
expect event "$chook/CallStatusEvent" "$here/event.json" 200 '"status":"ESTABLISHED"'
cmp -s "$tmp/event.out" "$here/event.json" || die "preflight event: the mirror is not byte for byte"
sed 's|"origin":"https://www.example.com"|"origin":"https://www.example.com.evil.net"|' \
	"$here/connect.json" >"$tmp/hostile.json"
expect hostile "$chook/connect" "$tmp/hostile.json" 403 '"status":403'

# ---- nginx: the same answer bytes, from `return 200` ------------------------------
# nginx reads a config token of at most ~4 KB and callhook's connect answer is
# larger (the restClientConfig is most of it), so the fixed JSON is written as
# two halves in two `map` defaults and `return 200 "$a1$a2"` joins them: the
# same bytes as callhook's answer (checked with cmp below).
answer=$(cat "$tmp/connect.out")
for f in connect call event; do
	if grep -q "[\$']" "$tmp/$f.out"; then
		die "the $f answer holds a quote or a dollar: it cannot go into an nginx string"
	fi
done
# one half of an answer as an nginx string: a backslash doubled, a newline as \n
nhalf() { # file 1|2
	perl -0777 -ne '$h = int(length($_) / 2); $_ = '"$2"' == 1 ? substr($_, 0, $h) : substr($_, $h);
		s/\\/\\\\/g; s/\n/\\n/g; print' "$1"
}
mkdir -p "$tmp/nginx/logs"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $threads;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    map "" \$c1 { default '$(nhalf "$tmp/connect.out" 1)'; }
    map "" \$c2 { default '$(nhalf "$tmp/connect.out" 2)'; }
    map "" \$k1 { default '$(nhalf "$tmp/call.out" 1)'; }
    map "" \$k2 { default '$(nhalf "$tmp/call.out" 2)'; }
    map "" \$e1 { default '$(nhalf "$tmp/event.out" 1)'; }
    map "" \$e2 { default '$(nhalf "$tmp/event.out" 2)'; }
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 65s;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        default_type application/json;
        location = /rest-hook/connect { return 200 "\$c1\$c2"; }
        location = /rest-hook/call { return 200 "\$k1\$k2"; }
        location = /rest-hook/CallStatusEvent { return 200 "\$e1\$e2"; }
    }
}
EOF
nginx -t -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" >"$tmp/nginx-t.out" 2>&1 ||
	{ cat "$tmp/nginx-t.out" >&2; die "nginx -t refused the config"; }
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" 2>"$tmp/nginx/stderr.log" &
nginx_pid=$!
wait_port "$NGINX_PORT" "$nginx_pid" ||
	{ cat "$tmp/nginx/logs/error.log" "$tmp/nginx/stderr.log" >&2; die "nginx did not start"; }
ngx=http://127.0.0.1:$NGINX_PORT/rest-hook
path_of() { case $1 in connect) echo connect ;; call) echo call ;; event) echo CallStatusEvent ;; esac; }
for f in connect call event; do
	got=$(post "$ngx/$(path_of $f)" "$here/$f.json" "$tmp/nginx-$f.out")
	[ "$got" = "200 application/json" ] || die "preflight nginx $f: got '$got'"
	cmp -s "$tmp/nginx-$f.out" "$tmp/$f.out" || die "preflight nginx $f: answer differs from callhook's"
done

# ---- wrk -------------------------------------------------------------------
# CPU time (user + system, clock ticks) of the server answering: callhook's
# process (every thread), or nginx's master and workers. Throughput on this
# shared machine swings with the other jobs; the CPU each request costs the
# server moves much less, so it is reported beside it.
cpu_ticks() { # nginx|callhook
	local pids=$callhook_pid
	[ "$1" = nginx ] && pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
	local t=0 p
	for p in $pids; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}
hz=$(getconf CLK_TCK)
run_wrk() { # label url body-file duration -> prints the RESULT fields (and cpu_us, the server's CPU per request)
	local out=$tmp/wrk-$1.txt
	local server=${1#warmup-} t0
	server=${server%%-*}
	t0=$(cpu_ticks "$server")
	BODY_FILE=$3 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$4" --latency -s "$here/post.lua" "$2" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "wrk failed ($1)"; }
	local res
	res=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "no RESULT line from wrk ($1)"; }
	local non2xx sock
	non2xx=$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$res")
	sock=$(sed -n 's/.* sock_errors=\([0-9]*\).*/\1/p' <<<"$res")
	if [ "$non2xx" != 0 ] || [ "$sock" != 0 ]; then
		cat "$out" >&2
		echo "--- callhook log (tail):" >&2
		tail -n 20 "$tmp/callhook.log" >&2
		die "$1: $non2xx non-2xx responses and $sock socket errors (a 429 means a budget was hit)"
	fi
	kill -0 "$callhook_pid" 2>/dev/null || die "callhook died during $1"
	local t1 n
	t1=$(cpu_ticks "$server")
	n=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$res")
	echo "$res cpu_us=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.2f", n ? t * 1e6 / hz / n : 0 }')"
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "callhook: $bin, $threads threads (hook.threads = 0: one per CPU), log level warn"
echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'), worker_processes $threads, access_log off, return 200 of a ${#answer}-byte JSON"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo "wrk: -t$THREADS -c$CONNECTIONS -d$DURATION, keep-alive, POST via bench/post.lua; ROUNDS=$ROUNDS"
echo

if [ "$WARMUP" != 0 ]; then
	run_wrk warmup-nginx "$ngx/connect" "$here/connect.json" "$WARMUP" >/dev/null
	run_wrk warmup-callhook "$chook/connect" "$here/connect.json" "$WARMUP" >/dev/null
fi

: >"$tmp/rows"
for r in $(seq 1 "$ROUNDS"); do
	for f in connect call event; do
		echo "$f nginx $(run_wrk "nginx-$f-$r" "$ngx/$(path_of $f)" "$here/$f.json" "$DURATION")" >>"$tmp/rows"
		echo "$f callhook $(run_wrk "callhook-$f-$r" "$chook/$(path_of $f)" "$here/$f.json" "$DURATION")" >>"$tmp/rows"
	done
done

med() { # body server field
	grep "^$1 $2 " "$tmp/rows" | while read -r line; do field "$3" "$line"; done | median
}
printf '%-9s %-9s %12s %10s %10s %9s %8s %8s\n' body server "requests/s" p50 p99 requests "CPU/req" ratio
row() { # body server
	printf '%-9s %-9s %12.0f %10s %10s %9s %8s' "$1" "$2" "$(med "$1" "$2" rps)" "$(ms "$(med "$1" "$2" p50_us)")" \
		"$(ms "$(med "$1" "$2" p99_us)")" "$(med "$1" "$2" requests)" "$(med "$1" "$2" cpu_us) us"
}
verdict=meets
for f in connect call event; do
	t=$TARGET
	[ $f = event ] && t=${TARGET_EVENT:-0.95}
	row $f nginx
	echo
	row $f callhook
	ratio=$(awk -v c="$(med $f callhook rps)" -v n="$(med $f nginx rps)" 'BEGIN { printf "%.3f", c / n }')
	v=$(awk -v r="$ratio" -v t="$t" 'BEGIN { print (r >= t) ? "meets" : "BELOW" }')
	[ "$v" = BELOW ] && verdict=BELOW
	cpu=$(awk -v c="$(med $f callhook cpu_us)" -v n="$(med $f nginx cpu_us)" 'BEGIN { printf "%.3f", c ? n / c : 0 }')
	p99=$(awk -v c="$(med $f callhook p99_us)" -v n="$(med $f nginx p99_us)" 'BEGIN { printf "%.2f", n ? c / n : 0 }')
	echo " $ratio ($v $t; CPU ratio $cpu, p99 ${p99}x)"
done
echo "(ratio: callhook/nginx requests/s; CPU ratio: nginx's CPU per request / callhook's, what the"
echo " ratio would be if both had the same CPU; p99: callhook's p99 / nginx's)"
echo "(medians of $ROUNDS rounds; per round callhook/nginx req/s:"
for f in connect call event; do
	echo "  $f: $(paste -d/ <(grep "^$f callhook " "$tmp/rows" | while read -r l; do field rps "$l"; done) \
		<(grep "^$f nginx " "$tmp/rows" | while read -r l; do field rps "$l"; done) | tr '\n' ' ')"
done
echo ")"
if [ -s "$tmp/callhook.log" ]; then
	echo "callhook wrote to its log (warn level) during the run:"
	tail -n 5 "$tmp/callhook.log"
fi
if [ "$verdict" = BELOW ] && [ "$BENCH_STRICT" = 1 ]; then
	exit 3
fi
