#!/usr/bin/env bash
# examples/curl/event.sh: an event hook (CallStatusEvent ESTABLISHED, the SIP
# side answered). Nothing to refuse: expect 200 and the body mirrored byte for
# byte (0.1 and the 20-digit integer come back exactly as sent; run with RAW=1
# to see the bytes rather than python's pretty print).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=_post.sh
. "$(dirname "${BASH_SOURCE[0]}")/_post.sh"

post CallStatusEvent '{"nodeId":"Qb3rAjf3lzoy6PEl1WZkUhRG1DsTykgj@192.168.1.5","appKey":"clickToCallApp","sessionId":"/192.168.1.20:52706/192.168.1.5:8443-2b9e8c1a","callId":"7d3f1a90-5c2e-11ee-8c99-0242ac120002","incoming":false,"hasVideo":false,"hasAudio":true,"status":"ESTABLISHED","sipStatus":200,"info":"OK","mediaProvider":"WebRTC","caller":"10001","callee":"10002","visibleName":"Click to Call","jitter":0.1,"seq":12345678901234567890}'
