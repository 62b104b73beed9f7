# bench/lib.sh: shell helpers shared by the bench/ scripts (sourced, not run).
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
# build_callhook DIR release|asan: configure and build the callhook binary in DIR (Release; or Debug with ASan +
# UBSan), reusing the checkout's patched Sofia-SIP (build/third_party/sofia-sip) when it is there. Messages on
# stderr; non-zero when cmake fails.
build_callhook() {
	local dir=$1 kind=$2 repo_dir opts=()
	repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	case $kind in
	release) opts=(-DCMAKE_BUILD_TYPE=Release) ;;
	asan) opts=(-DCMAKE_BUILD_TYPE=Debug -DCALLHOOK_SANITIZE=address,undefined) ;;
	*) echo "build_callhook: kind must be release or asan, not $kind" >&2 ; return 2 ;;
	esac
	[ -f "$repo_dir/build/third_party/sofia-sip/prefix/lib/libsofia-sip-ua.a" ] &&
		opts+=(-DCALLHOOK_SOFIA_DIR="$repo_dir/build/third_party/sofia-sip")
	echo "building callhook ($kind) in $dir ..." >&2
	cmake -S "$repo_dir" -B "$dir" "${opts[@]}" >/dev/null || { echo "cmake configure failed" >&2 ; return 1 ; }
	cmake --build "$dir" -j"$(nproc)" --target callhook >/dev/null || { echo "cmake build failed" >&2 ; return 1 ; }
}
