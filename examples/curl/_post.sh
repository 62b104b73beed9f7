# shellcheck shell=bash
# examples/curl/_post.sh: sourced by the other scripts; not run on its own.
# post METHOD JSON: POST JSON to $CALLHOOK_URL/METHOD the way WCS does, print
# the HTTP status and the answer (pretty-printed when python3 is present;
# RAW=1 prints the bytes exactly as callhook sent them).
# Returns 0 whatever the status: the scripts show answers, they do not judge.
CALLHOOK_URL=${CALLHOOK_URL:-http://127.0.0.1:8081/rest-hook}

post() {
	local method=$1 body=$2 out status
	out=$(mktemp)
	status=$(curl -sS -o "$out" -w '%{http_code}' \
		-H 'Content-Type: application/json;charset=UTF-8' \
		-H 'Accept: application/json, application/*+json' \
		--data-binary "$body" "$CALLHOOK_URL/$method") || {
		rm -f "$out"
		echo "curl could not reach $CALLHOOK_URL (is callhook running?)" >&2
		return 1
	}
	echo "POST $CALLHOOK_URL/$method -> HTTP $status"
	if [ "${RAW:-0}" != 1 ] && command -v python3 >/dev/null && python3 -m json.tool "$out" 2>/dev/null; then
		:
	else
		cat "$out"
		echo
	fi
	rm -f "$out"
}
