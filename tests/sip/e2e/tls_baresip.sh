#!/usr/bin/env bash
# tests/sip/e2e/tls_baresip.sh: the originator places its first leg over SIP/TLS to a real baresip phone,
# verifying the phone's certificate; with a CA that does not know the phone, the call never reaches it.
#   tls_baresip.sh CALLHOOK_BIN BARESIP_BIN BARESIP_MODULE_DIR
set -euo pipefail
callhook=$1 baresip=$2 moddir=$3
for t in "$callhook" "$baresip" openssl curl python3; do
  command -v "$t" >/dev/null || { echo "skipped: $t is not installed (scripts/deps.sh --test)"; exit 77; }
done
dir=$(mktemp -d /tmp/callhook-tls-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$dir"/*.log; do echo "---- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }
# a free TCP port p such that p+1 is free too (baresip listens TLS on its SIP port + 1)
free_pair() {
  python3 -c 'import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    try:
        b = socket.socket(); b.bind(("127.0.0.1", p + 1)); b.close(); a.close(); print(p); break
    except OSError:
        a.close()'
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# a test CA, and certificates from it for callhook (agent.pem) and the phone
cd "$dir"
mkdir -p good other phone
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=callhook-test-ca -keyout ca.key -out good/cafile.pem -days 1 >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=unrelated-ca -keyout other.key -out other/cafile.pem -days 1 >/dev/null 2>&1
for n in agent phone; do
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout $n.key -out $n.csr >/dev/null 2>&1
  openssl x509 -req -in $n.csr -CA good/cafile.pem -CAkey ca.key -CAcreateserial -copy_extensions copy \
    -out $n.crt -days 1 >/dev/null 2>&1
done
cat agent.key agent.crt > good/agent.pem
cp good/agent.pem other/agent.pem
cat phone.crt phone.key > phone/cert.pem
chmod 600 good/agent.pem other/agent.pem phone/cert.pem

sip=$(free_pair)
rtp=$(free_port)
cat > phone/config <<CONF
poll_method		epoll
net_interface		127.0.0.1
sip_listen		127.0.0.1:$sip
sip_certificate		$dir/phone/cert.pem
audio_player		aubridge,nil
audio_alert		aubridge,nil
audio_source		ausine,440
ausrc_srate		48000
ausrc_channels		2
audio_level		no
rtp_ports		$rtp-$((rtp + 20))
module_path		$moddir
module			g711.so
module			ausine.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
statmode_default	off
CONF
echo "<sip:1001@127.0.0.1;transport=tls>;regint=0;answermode=auto;audio_codecs=PCMU" > phone/accounts
timeout 100 "$baresip" -f "$dir/phone" > phone.log 2>&1 &
pids+=("$!")
for _ in $(seq 100); do grep -q "baresip is ready" phone.log && break; sleep 0.1; done
grep -q "baresip is ready" phone.log || fail "baresip did not start"

# run callhook with a certificate directory, place one call, wait for the initiator leg's verdict
run_call() { # certdir want_status max_wait_s
  local certdir=$1 want=$2 wait_s=$3 http sipp
  http=$(free_port) sipp=$(free_pair)
  cat > callhook.conf <<CONF
log = { level = "debug"; };
originator = {
  identity = "sip:c2c@127.0.0.1";
  listen = "sip:127.0.0.1:$sipp";
  tls_listen = "sips:127.0.0.1:$((sipp + 1))";
  tls_certificate_dir = "$dir/$certdir";
  translations = ( { pattern = "^(1001)\$"; output = "sip:\$1@127.0.0.1:$((sip + 1));transport=tls"; },
                   { pattern = "^(9\\\\d+)\$"; output = "sip:\$1@127.0.0.1:9"; } );
  http = { listen = [ "127.0.0.1:$http" ]; password = "tls-test-pw"; };
};
CONF
  timeout 90 "$callhook" -c callhook.conf > "callhook-$certdir.log" 2>&1 &
  local ch=$!
  pids+=("$ch")
  for _ in $(seq 100); do grep -q "callhook ready" "callhook-$certdir.log" && break; sleep 0.1; done
  grep -q "callhook ready" "callhook-$certdir.log" || fail "callhook did not start"
  curl -sf --digest -u admin:tls-test-pw -H 'Content-Type: application/json' \
    -d '{"initiator":"1001","destination":"9555","anchor":false}' "http://127.0.0.1:$http/v1/calls" > /dev/null \
    || fail "POST /v1/calls refused"
  local got=""
  for _ in $(seq $((wait_s * 10))); do
    got=$(curl -sf --digest -u admin:tls-test-pw "http://127.0.0.1:$http/v1/calls/1" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["legs"]["initiator"]["status"])')
    # a final status: 180 Ringing comes first
    [ "$got" != "None" ] && [ "$got" -ge 200 ] && break
    sleep 0.1
  done
  kill "$ch"
  wait "$ch" 2>/dev/null || true
  [ "$got" = "$want" ] || fail "$certdir: initiator leg status $got, want $want"
  echo "ok: $certdir CA: initiator leg status $got"
}

run_call good 200 15
grep -q "answering call on line 1 from sip:c2c@127.0.0.1" phone.log || fail "the phone saw no call"
# the phone's certificate is not from the configured CA: refused before any SIP reaches it (408 after Timer B)
calls_before=$(grep -c "answering call" phone.log || true)
run_call other 408 45
calls_after=$(grep -c "answering call" phone.log || true)
[ "$calls_before" = "$calls_after" ] || fail "the unverified phone received the call"
echo "2 passed, 0 failed"
