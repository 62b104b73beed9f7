# bench/lib.sh: shell helpers shared by bench/hook.sh, bench/redis.sh and bench/hook_soak.sh (sourced, not run).
# field NAME "k=v k=v...": the value of NAME in a RESULT line of run_wrk.
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
# median: the median of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ms MICROSECONDS: "1.23 ms".
ms() { awk -v us="$1" 'BEGIN { printf "%.2f ms", us / 1000 }'; }
# stop_pids PID...: SIGTERM to each, then wait for each (empty arguments are skipped).
stop_pids() {
	local p
	for p in "$@"; do
		[ -z "$p" ] || kill -TERM "$p" 2>/dev/null || true
	done
	for p in "$@"; do
		[ -z "$p" ] || wait "$p" 2>/dev/null || true
	done
}
