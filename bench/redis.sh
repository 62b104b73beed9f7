#!/usr/bin/env bash
# bench/redis.sh: callhook with store.backend = "redis" beside the memory backend, in one run, with wrk.
#
#   bench/redis.sh [CALLHOOK_BINARY]
#
# Without an argument callhook is built (Release) in $BUILD_DIR (default: the
# directory build-bench next to the repository). The script then:
#   1. starts its own redis-server (127.0.0.1:$REDIS_PORT, no persistence, from
#      a temp dir) and two callhooks on bench/callhook-bench.conf: one as it is
#      (memory), one with a store block for that Redis (fail_closed);
#   2. checks with curl that connect and call answer 200 on both;
#   3. runs `wrk -t2 -c64 -d10s` POSTing the connect body, then the call body,
#      to the memory instance then to the Redis one, ROUNDS times (alternating;
#      medians reported); before each Redis run it resets Redis's command
#      statistics and after it counts the FCALLs Redis received;
#   4. prints requests/s, p50/p99, the ratio redis/memory, the p99 Redis adds,
#      and the Redis round trips per request.
# Any non-2xx response or socket error reported by wrk fails the run (exit 1).
# Every process it started is stopped on exit.
#
# Knobs (environment): DURATION (10s), THREADS (2), CONNECTIONS (64),
# ROUNDS (3), WARMUP (2s; "0" to skip), MEMORY_PORT (18181), REDIS_HOOK_PORT
# (18184), REDIS_PORT (18183), REDIS_UNIX (1: callhook reaches Redis over its
# unix socket instead of TCP), BUILD_DIR, TARGET (0.6: redis/memory req/s),
# TARGET_P99_MS (1.0: p99 added), BENCH_STRICT (1: exit 3 below a target).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh" # build_callhook, field, median, ms
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
MEMORY_PORT=${MEMORY_PORT:-18181}
REDIS_HOOK_PORT=${REDIS_HOOK_PORT:-18184}
REDIS_PORT=${REDIS_PORT:-18183}
REDIS_UNIX=${REDIS_UNIX:-0}
BUILD_DIR=${BUILD_DIR:-$(dirname "$repo")/build-bench}
TARGET=${TARGET:-0.6}
TARGET_P99_MS=${TARGET_P99_MS:-1.0}
BENCH_STRICT=${BENCH_STRICT:-0}

die() {
	echo "redis.sh: FAIL: $*" >&2
	exit 1
}

for tool in wrk curl awk redis-server redis-cli; do
	command -v "$tool" >/dev/null || die "$tool is not installed (scripts/deps.sh --test installs redis)"
done

if [ $# -ge 1 ]; then
	bin=$1
else
	build_callhook "$BUILD_DIR" release || die "no callhook build"
	bin=$BUILD_DIR/callhook
fi
[ -x "$bin" ] || die "$bin is not an executable"

tmp=$(mktemp -d /tmp/callhook-bench-redis.XXXXXX)
pids=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in $pids; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in $pids; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
wait_port() { # port pid
	local _
	for _ in $(seq 1 100); do
		port_busy "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
for p in "$MEMORY_PORT" "$REDIS_HOOK_PORT" "$REDIS_PORT"; do
	port_busy "$p" && die "127.0.0.1:$p is in use (see the *_PORT knobs)"
done

# ---- redis-server -----------------------------------------------------------------
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
	--unixsocket "$tmp/redis.sock" --logfile "$tmp/redis.log" &
redis_pid=$!
pids="$pids $redis_pid"
wait_port "$REDIS_PORT" "$redis_pid" || die "redis-server did not start"
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# ---- the two callhooks ----------------------------------------------------------------
conf() { # port store-block out
	sed -e "s|\"127.0.0.1:18081\"|\"127.0.0.1:$1\"|" \
		-e "s|\"../examples/rest_client_config.json\"|\"$repo/examples/rest_client_config.json\"|" \
		"$here/callhook-bench.conf" >"$3"
	printf '%s\n' "$2" >>"$3"
	"$bin" --check -c "$3" >"$3.check" 2>&1 || { cat "$3.check" >&2; die "callhook --check refused $3"; }
}
conf "$MEMORY_PORT" "" "$tmp/memory.conf"
where="address = \"127.0.0.1:$REDIS_PORT\";"
[ "$REDIS_UNIX" = 1 ] && where="unix = \"$tmp/redis.sock\";"
conf "$REDIS_HOOK_PORT" "store = { backend = \"redis\"; redis = { $where }; };" "$tmp/redis.conf"
"$bin" -c "$tmp/memory.conf" 2>"$tmp/memory.log" &
mem_pid=$!
pids="$pids $mem_pid"
"$bin" -c "$tmp/redis.conf" 2>"$tmp/redis-hook.log" &
red_pid=$!
pids="$pids $red_pid"
wait_port "$MEMORY_PORT" "$mem_pid" || { cat "$tmp/memory.log" >&2; die "callhook (memory) did not start"; }
wait_port "$REDIS_HOOK_PORT" "$red_pid" || { cat "$tmp/redis-hook.log" >&2; die "callhook (redis) did not start"; }

post() { # url body-file out-file -> prints the status code
	curl -sS -o "$3" -w '%{http_code}' -H 'Content-Type: application/json;charset=UTF-8' --data-binary "@$2" "$1"
}
for port in "$MEMORY_PORT" "$REDIS_HOOK_PORT"; do
	for f in connect call; do
		got=$(post "http://127.0.0.1:$port/rest-hook/$f" "$here/$f.json" "$tmp/pre-$f-$port.out")
		[ "$got" = 200 ] || die "preflight $f on $port: got $got: $(head -c 300 "$tmp/pre-$f-$port.out")"
	done
	cmp -s "$tmp/pre-call-$port.out" "$tmp/pre-call-$MEMORY_PORT.out" || die "preflight: the call answers differ"
done

# ---- wrk -------------------------------------------------------------------------
run_wrk() { # label url body-file duration -> prints the RESULT fields
	local out=$tmp/wrk-$1.txt
	BODY_FILE=$3 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$4" --latency -s "$here/post.lua" "$2" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "wrk failed ($1)"; }
	local res non2xx sock
	res=$(grep '^RESULT ' "$out") || { cat "$out" >&2; die "no RESULT line from wrk ($1)"; }
	non2xx=$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$res")
	sock=$(sed -n 's/.* sock_errors=\([0-9]*\).*/\1/p' <<<"$res")
	if [ "$non2xx" != 0 ] || [ "$sock" != 0 ]; then
		cat "$out" >&2
		tail -n 20 "$tmp/redis-hook.log" >&2
		die "$1: $non2xx non-2xx responses and $sock socket errors"
	fi
	echo "$res"
}
fcalls() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_fcall:calls=\([0-9]*\),.*/\1/p'; }

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "callhook: $bin (bench/callhook-bench.conf; the redis instance adds store.backend = \"redis\")"
echo "redis: $(redis-server --version | cut -d' ' -f3), no persistence; callhook reaches it by $where"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo "wrk: -t$THREADS -c$CONNECTIONS -d$DURATION, keep-alive, POST via bench/post.lua; ROUNDS=$ROUNDS"
echo

if [ "$WARMUP" != 0 ]; then
	run_wrk warmup-memory "http://127.0.0.1:$MEMORY_PORT/rest-hook/connect" "$here/connect.json" "$WARMUP" >/dev/null
	run_wrk warmup-redis "http://127.0.0.1:$REDIS_HOOK_PORT/rest-hook/connect" "$here/connect.json" "$WARMUP" >/dev/null
fi

: >"$tmp/rows"
for r in $(seq 1 "$ROUNDS"); do
	for f in connect call; do
		echo "$f memory $(run_wrk "memory-$f-$r" "http://127.0.0.1:$MEMORY_PORT/rest-hook/$f" "$here/$f.json" \
			"$DURATION")" >>"$tmp/rows"
		rcli CONFIG RESETSTAT >/dev/null
		res=$(run_wrk "redis-$f-$r" "http://127.0.0.1:$REDIS_HOOK_PORT/rest-hook/$f" "$here/$f.json" "$DURATION")
		n=$(fcalls)
		trips=$(awk -v n="${n:-0}" -v r="$(field requests "$res")" 'BEGIN { printf "%.3f", n / r }')
		echo "$f redis $res trips=$trips" >>"$tmp/rows"
	done
done

med() { # body server field
	grep "^$1 $2 " "$tmp/rows" | while read -r line; do field "$3" "$line"; done | median
}
printf '%-9s %-8s %12s %10s %10s %9s %8s %8s\n' body store "requests/s" p50 p99 requests ratio "FCALL/req"
verdict=meets
for f in connect call; do
	printf '%-9s %-8s %12.0f %10s %10s %9s\n' "$f" memory "$(med $f memory rps)" "$(ms "$(med $f memory p50_us)")" \
		"$(ms "$(med $f memory p99_us)")" "$(med $f memory requests)"
	ratio=$(awk -v c="$(med $f redis rps)" -v n="$(med $f memory rps)" 'BEGIN { printf "%.3f", c / n }')
	added=$(awk -v a="$(med $f redis p99_us)" -v b="$(med $f memory p99_us)" 'BEGIN { printf "%.2f", (a - b) / 1000 }')
	printf '%-9s %-8s %12.0f %10s %10s %9s %8s %8s\n' "$f" redis "$(med $f redis rps)" \
		"$(ms "$(med $f redis p50_us)")" "$(ms "$(med $f redis p99_us)")" "$(med $f redis requests)" "$ratio" \
		"$(med $f redis trips)"
	v=$(awk -v r="$ratio" -v t="$TARGET" -v a="$added" -v p="$TARGET_P99_MS" \
		'BEGIN { print (r >= t && a <= p) ? "meets" : "BELOW" }')
	[ "$v" = BELOW ] && verdict=BELOW
	echo "          p99 added by redis: $added ms; $v (ratio >= $TARGET, p99 added <= $TARGET_P99_MS ms)"
done
echo "(medians of $ROUNDS rounds; per round redis/memory req/s:"
for f in connect call; do
	echo "  $f: $(paste -d/ <(grep "^$f redis " "$tmp/rows" | while read -r l; do field rps "$l"; done) \
		<(grep "^$f memory " "$tmp/rows" | while read -r l; do field rps "$l"; done) | tr '\n' ' ')"
done
echo ")"
for l in memory redis-hook; do
	if [ -s "$tmp/$l.log" ]; then
		echo "callhook ($l) wrote to its log (warn level) during the run:"
		tail -n 5 "$tmp/$l.log"
	fi
done
if [ "$verdict" = BELOW ] && [ "$BENCH_STRICT" = 1 ]; then
	exit 3
fi
