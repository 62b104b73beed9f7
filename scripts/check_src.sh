#!/usr/bin/env bash
# Source checks run by .ci/run (docs/HACKING.md): banned functions, first-line comments, include rules, and the size
# limits (800 lines a file, 80 a function). Prints each violation as file:line: message; exit 1 if any.
#   scripts/check_src.sh            the files git tracks (and untracked ones it does not ignore)
set -uo pipefail
cd "$(dirname "$0")/.."
max_file=800
max_fn=80
bad=0
say() {
	printf '%s\n' "$*"
	bad=1
}
mapfile -t srcs < <(git ls-files --cached --others --exclude-standard -- '*.c' '*.h' | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done)

for f in "${srcs[@]}"; do
	# banned calls, in code only (comments and strings stripped by the preprocessor's comment pass)
	gcc -fpreprocessed -dD -E -P -x c "$f" 2>/dev/null |
		grep -nE '(^|[^A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|gets|alloca)[[:space:]]*\(' |
		while IFS= read -r l; do echo "$f: banned function: $l"; done | grep . && bad=1

	# the first line says what the file is for: /* <path or name>: ...
	base=$(basename "$f")
	first=$(head -n 1 "$f")
	case "$first" in
	"/* $f: "* | "/* $base: "*) ;;
	*) say "$f:1: the first line must be '/* $f: <what it is for> */' (is: ${first:0:60})" ;;
	esac

	# include rules
	dir=${f%%/*}
	while IFS=: read -r ln inc; do
		hdr=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$inc")
		case "$hdr" in
		sofia-sip/*)
			case "$f" in originator/sip_*.c | originator/sip_*.h | tests/*) ;; *) say "$f:$ln: only the SIP engine (originator/sip_*) may include Sofia-SIP: $hdr" ;; esac ;;
		libconfig.h)
			case "$f" in config/*.c | tests/*) ;; *) say "$f:$ln: only config/*.c may include libconfig.h" ;; esac ;;
		jansson.h | microhttpd.h | expat.h)
			case "$f" in originator/sip_*) say "$f:$ln: the SIP engine may not include $hdr" ;; esac
			case "$f" in common/*) say "$f:$ln: common/ may not include $hdr" ;; esac ;;
		*_int.h)
			hdir=${hdr%/*}
			[ "$hdir" = "$hdr" ] && hdir=$(dirname "$f")
			case "$f" in "$hdir"/* | tests/*) ;; *) say "$f:$ln: private header $hdr included from outside $hdir/" ;; esac ;;
		esac
		if [ "$dir" = common ] && [[ "$hdr" =~ ^(config|policy|hook|originator|web|outbox|admin|store)/ ]]; then
			say "$f:$ln: common/ may not include module header $hdr"
		fi
		# store/ is the Redis client only: the decisions (hook/, originator/) include it, never the reverse
		if [ "$dir" = store ] && [[ "$hdr" =~ ^(policy|hook|originator|web|outbox|admin)/ ]]; then
			say "$f:$ln: store/ may not include module header $hdr"
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f")

	# sizes
	n=$(wc -l <"$f")
	[ "$n" -le "$max_file" ] || say "$f: $n lines (at most $max_file)"
	# a function opens with '{' and closes with '}' at column 0 (the house format); a table marked
	# '/* check_src: table */' on the line before it is data, not a function
	awk -v max="$max_fn" -v file="$f" '
		/^\{/ { if (prev !~ /check_src: table/) { start = FNR; name = sig }; next }
		/^\}/ { if (start && FNR - start - 1 > max) printf "%s:%d: function %s has %d lines (at most %d)\n", file, start, name, FNR - start - 1, max; start = 0; next }
		{ if (!start && $0 ~ /^[A-Za-z_]/ && $0 ~ /\(/) { sig = $0; if (sig ~ /^TEST_CASE\(/) { sub(/^TEST_CASE\(/, "", sig); sub(/\).*/, "", sig) } else { sub(/\(.*/, "", sig); sub(/.*[ *]/, "", sig) } }; if ($0 !~ /^[ \t]*$/) prev = $0 }
	' "$f" | grep . && bad=1
done

# nothing in the repository reads or names the team's folder beside the checkout (the pattern is built, so
# that this file does not name it either)
desk="../"'shared'
if git grep -n -F "$desk" -- . | grep .; then
	echo "the repository must stand alone: the lines above name the folder beside the checkout"
	bad=1
fi
exit $bad
