#!/usr/bin/env bash
# scripts/fuzz.sh: build one tests/fuzz/ target with clang (libFuzzer + ASan + UBSan), fuzz it for SECONDS from its
# corpus, then print the executions, what it found, and the llvm-cov line coverage of the module it targets.
#   scripts/fuzz.sh TARGET SECONDS        e.g. scripts/fuzz.sh fuzz_origin 600
# Environment:
#   CALLHOOK_FUZZ_BUILD  the libFuzzer build tree (default build-fuzz), configured here if needed
#   CALLHOOK_COV_BUILD   the coverage build tree (default build-cov); CALLHOOK_FUZZ_COVERAGE=0 skips coverage
#   CALLHOOK_FUZZ_JOBS   build parallelism (default 2)
#   CALLHOOK_FUZZ_OUT    where new inputs, crashes and the report go (default build-fuzz/fuzz-out/TARGET)
# The checked-in corpus (tests/fuzz/corpus/TARGET) is only read. New inputs land in OUT/new; keep the useful ones
# with `TARGET_BIN -merge=1 tests/fuzz/corpus/TARGET OUT/new` (docs/HACKING.md). Exit: 0 nothing found, 1 a crash,
# leak or sanitizer report (its input is in OUT/), 2 usage or build error.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD

usage() {
	echo "usage: $0 TARGET SECONDS   (TARGET: $(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' '))" >&2
	exit 2
}
[ $# -eq 2 ] || usage
target=${1%.c}
secs=$2
[ -f "tests/fuzz/$target.c" ] || usage
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || usage
for tool in clang llvm-profdata llvm-cov cmake; do
	command -v "$tool" >/dev/null || {
		echo "$tool not found: scripts/deps.sh --test installs clang and the LLVM tools" >&2
		exit 2
	}
done

# The module each target exercises, for the coverage report (files or folders). A target not listed here
# is measured over the folder of its first module header.
module_of() {
	case "$1" in
	fuzz_config) echo config ;;
	fuzz_jscan) echo policy/jscan.c ;;
	fuzz_json_validate) echo policy/json_validate.c policy/json_read.c policy/jscan.c ;;
	fuzz_origin) echo policy/origin.c ;;
	fuzz_pipeline) echo hook ;;
	fuzz_sdp) echo originator/sip_sdp.c ;;
	fuzz_sip_uri) echo common/sip_uri.c policy/sip_canon.c policy/translate.c ;;
	fuzz_token) echo policy/token.c ;;
	fuzz_xml_frame) echo originator/xml_frame.c ;;
	*) grep -m1 -oE '^#include "(common|config|policy|hook|originator|web|outbox|admin)/' "tests/fuzz/$1.c" |
		sed -E 's/.*"([a-z]+)\//\1/' ;;
	esac
}

jobs=${CALLHOOK_FUZZ_JOBS:-2}
fbuild=${CALLHOOK_FUZZ_BUILD:-build-fuzz}
cbuild=${CALLHOOK_COV_BUILD:-build-cov}
out=${CALLHOOK_FUZZ_OUT:-$fbuild/fuzz-out/$target}
corpus=tests/fuzz/corpus/$target
mkdir -p "$out/new" "$corpus"

echo "== build $fbuild/tests/libfuzzer_$target (clang, -fsanitize=fuzzer,address,undefined)"
if [ ! -f "$fbuild/CMakeCache.txt" ]; then
	cmake -S . -B "$fbuild" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCALLHOOK_FUZZ=ON \
		-DCALLHOOK_SANITIZE=address,undefined >"$out/cmake.log" 2>&1 || {
		cat "$out/cmake.log"
		exit 2
	}
fi
cmake --build "$fbuild" --target "libfuzzer_$target" -j"$jobs" >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log"
	exit 2
}

echo "== fuzz $target for $secs s (new inputs: $out/new; seeds: $corpus)"
bin=$fbuild/tests/libfuzzer_$target
rc=0
started=$(date +%s)
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	LSAN_OPTIONS=suppressions=$SRC/tests/fuzz/lsan.supp:print_suppressions=0 \
	"$bin" "$out/new" "$corpus" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/" \
	>"$out/fuzz.log" 2>&1 || rc=$?
ran=$(($(date +%s) - started)) # a finding stops the run before SECONDS
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/fuzz.log" | tail -n 1)
last=$(grep -E '^#[0-9]+' "$out/fuzz.log" | tail -n 1 || true)
crashes=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
if [ "$rc" -ne 0 ] || [ -n "$crashes" ]; then
	grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$out/fuzz.log" | head -20 || true
	echo "FINDING: libFuzzer exited $rc; inputs: ${crashes:-none saved}; full log: $out/fuzz.log"
	result=1
else
	result=0
fi
echo "execs: ${execs:-?} (${rate:-?}/s) in ${ran} s of the ${secs} asked; new inputs: $(find "$out/new" -type f | wc -l); last: ${last:-none}"

if [ "${CALLHOOK_FUZZ_COVERAGE:-1}" = "0" ]; then
	exit "$result"
fi
echo "== coverage: $target's replayer built with -fprofile-instr-generate -fcoverage-mapping, over seeds + new inputs"
if [ ! -f "$cbuild/CMakeCache.txt" ]; then
	cmake -S . -B "$cbuild" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
		-DCMAKE_EXE_LINKER_FLAGS="-fprofile-instr-generate" >"$out/cov-cmake.log" 2>&1 || {
		cat "$out/cov-cmake.log"
		exit 2
	}
fi
cmake --build "$cbuild" --target "replay_$target" -j"$jobs" >"$out/cov-build.log" 2>&1 || {
	tail -40 "$out/cov-build.log"
	exit 2
}
rbin=$cbuild/tests/replay_$target
rm -f "$out"/cov-*.profraw
for dir in "$corpus" "$out/new"; do
	if [ -n "$(ls -A "$dir")" ]; then
		LLVM_PROFILE_FILE="$out/cov-%p.profraw" LSAN_OPTIONS=detect_leaks=0 "$rbin" "$dir" >/dev/null 2>&1 || true
	fi
done
llvm-profdata merge -sparse "$out"/cov-*.profraw -o "$out/cov.profdata"
read -r -a mod <<<"$(module_of "$target")"
srcs=()
for m in "${mod[@]}"; do
	if [ -d "$m" ]; then
		while IFS= read -r f; do srcs+=("$SRC/$f"); done < <(find "$m" -name '*.c' | sort)
	else
		srcs+=("$SRC/$m")
	fi
done
llvm-cov report "$rbin" -instr-profile="$out/cov.profdata" "${srcs[@]}" >"$out/coverage.txt"
# columns: Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover Branches Missed Cover
awk -v mod="${mod[*]}" -v t="$target" '
	/^-+$/ || /^Filename/ { next }
	$1 == "TOTAL" { tot = $10; lines = $8; missed = $9; next }
	NF >= 10 { files = files sprintf("  %-40s %8s of %5s lines\n", $1, $10, $8) }
	END {
		printf "%s", files
		if (tot == "" && files != "") { print "coverage: see the file above"; exit }
		printf "coverage of %s by %s: %s of %d lines\n", mod, t, tot, lines
	}' "$out/coverage.txt" | sed "s|$SRC/||"
exit "$result"
