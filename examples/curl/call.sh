#!/usr/bin/env bash
# examples/curl/call.sh: what WCS posts when the page places its call with an
# empty callee and custom.button "sales" (run connect.sh first, so the session
# is known). Expect 200 with "callee" set from the site's buttons and
# "inviteParameters": {}. The page's callee, whatever it says, is replaced.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=_post.sh
. "$(dirname "${BASH_SOURCE[0]}")/_post.sh"

post call '{"nodeId":"Qb3rAjf3lzoy6PEl1WZkUhRG1DsTykgj@192.168.1.5","appKey":"clickToCallApp",
 "sessionId":"/192.168.1.20:52706/192.168.1.5:8443-2b9e8c1a",
 "callId":"7d3f1a90-5c2e-11ee-8c99-0242ac120002","incoming":false,"hasVideo":false,
 "hasAudio":true,"status":"PENDING","mediaProvider":"WebRTC",
 "sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Kx3v\r\na=ice-pwd:b5mH0vUGBzQ3dWmC3zD7kXqe\r\na=fingerprint:sha-256 4F:9C:1B:2E:7A:55:D0:13:86:AF:39:C2:0E:71:BB:64:5D:9A:F2:08:3C:E4:17:6B:A0:52:CD:91:3F:88:E6:04\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n",
 "sipSDP":"","caller":"","callee":"","visibleName":"Click to Call",
 "custom":{"button":"sales"}}'
