#!/bin/sh
# tests/install/test_docs.sh: callhook.conf(5) documents every setting of the config table and every metric family, and renders cleanly.
# usage: test_docs.sh settings AWK SOURCE_DIR SCHEMA_TOOL   every table path has an item in docs/callhook.conf.5.txt
#        test_docs.sh metrics SOURCE_DIR                    every family the code declares is under METRICS
#        test_docs.sh render BUILD_DIR                      the generated callhook.conf.5 renders without warnings
set -u
what=$1
shift
tmp=$(mktemp -d "${TMPDIR:-/tmp}/callhook-docs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

case "$what" in
settings)
	AWK=$1 SRC=$2 TOOL=$3
	"$TOOL" "$tmp/schema.tsv" || {
		echo "FAIL: $TOOL exits $?"
		exit 1
	}
	[ -s "$tmp/schema.tsv" ] || {
		echo "FAIL: $TOOL printed no settings"
		exit 1
	}
	# mangen.awk's check mode names each setting without an item, and each item that names no setting
	"$AWK" -v mode=check -v schema="$tmp/schema.tsv" -f "$SRC/docs/mangen.awk" "$SRC/docs/callhook.conf.5.txt"
	;;
metrics)
	SRC=$1
	# a family is a "callhook_..." literal on a line that calls ch_metrics_* (declare, add, set, observe)
	grep -rhE 'ch_metrics_[a-z_]+\(' "$SRC/main.c" "$SRC/common" "$SRC/store" "$SRC/hook" "$SRC/originator" "$SRC/policy" \
		--include='*.c' -A1 | grep -oE '"callhook_[a-z0-9_]+"' | tr -d '"' | sort -u >"$tmp/families"
	n=$(wc -l <"$tmp/families")
	[ "$n" -gt 0 ] || {
		echo "FAIL: no metric family found in the sources (did ch_metrics_declare move?)"
		exit 1
	}
	awk '/^# / { on = ($0 == "# METRICS"); next } on && /^\* \*\*callhook_/ { t = $2; gsub(/\*/, "", t); print t }' \
		"$SRC/docs/callhook.conf.5.txt" | sort -u >"$tmp/documented"
	missing=$(comm -23 "$tmp/families" "$tmp/documented")
	if [ -n "$missing" ]; then
		echo "FAIL: metric families without an item under METRICS in docs/callhook.conf.5.txt:"
		echo "$missing"
		exit 1
	fi
	echo "metrics: all $n families are documented"
	;;
render)
	page="$1/docs/callhook.conf.5"
	[ -f "$page" ] || {
		echo "FAIL: $page not generated (target callhook_docs)"
		exit 1
	}
	if ! command -v groff >/dev/null 2>&1; then
		echo "groff not found: install groff-base"
		exit 77
	fi
	LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$page" >"$tmp/groff.err" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$tmp/groff.err" ]; then
		cat "$tmp/groff.err"
		echo "FAIL: groff -man -ww: exit $rc or warnings"
		exit 1
	fi
	LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$page" 2>/dev/null >"$tmp/page.txt"
	for s in NAME SYNOPSIS DESCRIPTION HOOK SITES ORIGINATOR ADMIN METRICS; do
		grep -qx "$s" "$tmp/page.txt" || {
			echo "FAIL: no $s section"
			exit 1
		}
	done
	grep -q 'integer, 1024 to 67108864, default 1048576' "$tmp/page.txt" || {
		echo "FAIL: the table's facts are missing (hook.max_body_bytes)"
		exit 1
	}
	echo "render: callhook.conf(5) renders cleanly"
	;;
*)
	echo "usage: $0 settings|metrics|render ..."
	exit 2
	;;
esac
