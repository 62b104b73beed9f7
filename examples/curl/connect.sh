#!/usr/bin/env bash
# examples/curl/connect.sh: what WCS posts when a page calls
# Flashphoner.createSession({custom: {button: "sales"}}) from an allowed origin.
# Expect 200: the body mirrored, plus the site's SIP account (sip*), and the
# secure restClientConfig.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=_post.sh
. "$(dirname "${BASH_SOURCE[0]}")/_post.sh"

post connect '{"nodeId":"Qb3rAjf3lzoy6PEl1WZkUhRG1DsTykgj@192.168.1.5","appKey":"clickToCallApp",
 "sessionId":"/192.168.1.20:52706/192.168.1.5:8443-2b9e8c1a","useWsTunnel":false,
 "useWsTunnelPacketization2":false,"useBase64BinaryEncoding":false,
 "mediaProviders":["WebRTC"],"clientVersion":"2.0","clientOSVersion":"5.0 (X11)",
 "clientBrowserVersion":"Mozilla/5.0 (X11; Linux x86_64)","msePacketizationVersion":2,
 "keepAlive":false,"custom":{"button":"sales"},"origin":"https://www.example.com"}'
