#!/usr/bin/env bash
# examples/curl/refused.sh: connects from hostile origins. The PHP script of the
# Flashphoner article let every one of them in (strpos substring test);
# callhook answers each with 403 and {"status":403,"reason":"..."}, the reason
# WCS shows to the browser.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=_post.sh
. "$(dirname "${BASH_SOURCE[0]}")/_post.sh"

for origin in "https://www.example.com.evil.net" "https://evilexample.com" \
	"https://www.example.com@evil.net" "http://www.example.com/"; do
	echo "origin: $origin"
	post connect '{"nodeId":"Qb3rAjf3lzoy6PEl1WZkUhRG1DsTykgj@192.168.1.5","appKey":"clickToCallApp",
 "sessionId":"/203.0.113.66:40100/192.168.1.5:8443-6f1d0e77","mediaProviders":["WebRTC"],
 "custom":{"button":"sales"},"origin":"'"$origin"'"}'
	echo
done
