#!/usr/bin/env bash
# bench/originator.sh: sustained two-leg REFER click-to-call load through
# callhook's XML port, against SIPp phones, on 127.0.0.1 only.
#
#   bench/originator.sh [RATE [SECONDS [BUILD_DIR]]]      (defaults: 1000 50)
#
# 1. Starts PEERS (default 2) SIPp UAS phones running bench/sipp_uas_refer.xml
#    (answer at once, accept our REFER with 202, NOTIFY sipfrag 200, take our
#    BYE). On the REFER path the destination is dialled by the initiator's
#    phone, so no destination peer is needed.
# 2. Writes an originator config in a temp dir (XML listener, limits far
#    above the offered load, one translation per phone) and starts callhook
#    from BUILD_DIR (default: build it, Release, in ../build-bench).
# 3. Runs bench/originator_load.py: RATE requests/s for SECONDS over CONNS
#    (default 4) persistent TCP connections; each call is followed to its
#    final document (Leg="Destination" 2xx = transferred, Code >= 300 =
#    failed); callhook's VmRSS is sampled every second.
# Prints offered rate, calls/s completed, failures, peak and final RSS.
# Exit 0 only when every call was transferred. Every process started here is
# stopped on exit.
#
# Knobs (environment): PEERS (2), CONNS (4), TRANSPORT (udp | tcp: the SIP
# transport between callhook and the phones), RSS_TRACE (1: print RSS per s),
# TAIL_S (seconds to wait after the run before reading RSS once more).
#
# FLOW=anchored: the anchored flow (RFC 3725 flow I) through the JSON API
# instead. PEERS initiator phones (bench/sipp_uas_anchor_init.xml: answer the
# INVITE, answer the re-INVITE that carries the destination's offer, take
# callhook's BYE) and PEERS destination phones (bench/sipp_uas_anchor_dest.xml:
# answer the offerless INVITE with an offer, take the delayed ACK, BYE after
# HOLD_MS, default 1000); callhook gets an HTTP listener (Digest, a random
# password in the temp dir) and a call record file; bench/originator_json_load.py
# POSTs /v1/calls {"anchor":true} at RATE/s over CONNS (default 8) keep-alive
# connections and reads each call's outcome from the call records. Exit 0 only
# when every call was connected (both legs) and ended by the destination's BYE.
# CDR_COPY=FILE keeps the call records.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=bench/lib.sh
. "$here/lib.sh" # build_callhook
RATE=${1:-1000}
SECONDS_RUN=${2:-50}
BUILD_DIR=${3:-}
PEERS=${PEERS:-2}
FLOW=${FLOW:-refer}
TRANSPORT=${TRANSPORT:-udp}
HOLD_MS=${HOLD_MS:-1000}
case $FLOW in
refer) CONNS=${CONNS:-4} ; nphones=$PEERS ;;
anchored) CONNS=${CONNS:-8} ; nphones=$((2 * PEERS)) ;;
*) echo "originator.sh: FAIL: FLOW must be refer or anchored" >&2 ; exit 1 ;;
esac

die() {
	echo "originator.sh: FAIL: $*" >&2
	exit 1
}

for tool in sipp python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
case $TRANSPORT in
udp) sipp_t=u1 ; uri_param="" ;;
tcp) sipp_t=t1 ; uri_param=";transport=tcp" ;;
*) die "TRANSPORT must be udp or tcp" ;;
esac

if [ -z "$BUILD_DIR" ]; then
	BUILD_DIR=$(dirname "$repo")/build-bench
	build_callhook "$BUILD_DIR" release || die "no callhook build"
fi
bin=$BUILD_DIR/callhook
[ -x "$bin" ] || die "no callhook binary at $bin"

tmp=$(mktemp -d /tmp/originator-bench.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		# bounded wait, then force
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free 127.0.0.1 ports (UDP and TCP both free), one per line.
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
n = int(sys.argv[1]); out = []; keep = []
while len(out) < n:
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(('127.0.0.1', 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(('127.0.0.1', p))
    except OSError:
        t.close(); continue
    keep += [t, u]; out.append(p)
print('\n'.join(map(str, out)))
EOF
}
mapfile -t ports < <(free_ports $((nphones + 2)))
sip_port=${ports[0]}
xml_port=${ports[1]} # FLOW=anchored: the HTTP listener's

# ---- SIPp phones --------------------------------------------------------------
translations=""
initiators=()
[ "$FLOW" = refer ] && for ((i = 0; i < PEERS; i++)); do
	p=${ports[$((i + 2))]}
	timeout $((SECONDS_RUN + ${TAIL_S:-0} + 120)) sipp -sf "$here/sipp_uas_refer.xml" -i 127.0.0.1 -p "$p" -t "$sipp_t" \
		-nostdin -rtcheck loose -trace_err -error_file "$tmp/sipp$i.errors" -recv_timeout 20000 -max_recv_loops 100000 -buff_size 8388608 \
		-watchdog_minor_maxtriggers 1000000 -watchdog_major_maxtriggers 1000000 \
		>"$tmp/sipp$i.out" 2>"$tmp/sipp$i.err" &
	pids+=($!)
	translations+="    { pattern = \"^phone$i\$\"; output = \"sip:alice@127.0.0.1:$p$uri_param\"; },"$'\n'
	initiators+=("phone$i")
done
# FLOW=anchored: phones 0..PEERS-1 are initiators, PEERS..2*PEERS-1 destinations; SIPp writes its counters
# (-trace_stat, every second) so that its own failures can be shown.
pairs=()
[ "$FLOW" = anchored ] && for ((i = 0; i < nphones; i++)); do
	p=${ports[$((i + 2))]}
	if ((i < PEERS)); then
		sf=$here/sipp_uas_anchor_init.xml name=phone$i user=alice
		pairs+=("phone$i:dphone$i")
	else
		sf=$here/sipp_uas_anchor_dest.xml name=dphone$((i - PEERS)) user=bob
	fi
	timeout $((SECONDS_RUN + ${TAIL_S:-0} + 120)) sipp -sf "$sf" -i 127.0.0.1 -p "$p" -t "$sipp_t" -d "$HOLD_MS" \
		-nostdin -rtcheck loose -trace_err -error_file "$tmp/sipp$i.errors" -recv_timeout 20000 -max_recv_loops 100000 -buff_size 8388608 \
		-watchdog_minor_maxtriggers 1000000 -watchdog_major_maxtriggers 1000000 -trace_stat -stf "$tmp/sipp$i.stat" -fd 1 \
		>"$tmp/sipp$i.out" 2>"$tmp/sipp$i.err" &
	pids+=($!)
	translations+="    { pattern = \"^$name\$\"; output = \"sip:$user@127.0.0.1:$p$uri_param\"; },"$'\n'
done

# ---- callhook -----------------------------------------------------------------
if [ "$FLOW" = refer ]; then
cat >"$tmp/originator-bench.conf" <<EOF
log = { level = "warn"; };
originator = {
  identity = "sip:c2c@127.0.0.1";
  listen = "sip:127.0.0.1:$sip_port";
  translations = (
$translations    { pattern = "^(\\\\d{10})\$"; output = "sip:\$1@127.0.0.1"; }
  );
  limits = { concurrent_calls = 1000000; calls_per_minute = 10000000; calls_per_minute_per_initiator = 1000000;
             calls_per_hour_per_destination = 0; distinct_destinations_per_hour_per_initiator = 0; };
  xml = { listen = [ "127.0.0.1:$xml_port" ]; allow_from = [ "127.0.0.0/8" ]; max_connections = 64; };
  keep_ended_s = 10;
};
EOF
else
translations=${translations%,$'\n'}$'\n' # libconfig: no comma after the last
# Ring and re-INVITE timers and the longest call well inside the load client's 30 s grace, so that a call a
# phone dropped still ends with a record.
(umask 077 && python3 -c "import secrets; print(secrets.token_hex(16))" >"$tmp/http.pass")
cat >"$tmp/originator-bench.conf" <<EOF
log = { level = "warn"; };
originator = {
  identity = "sip:c2c@127.0.0.1";
  listen = "sip:127.0.0.1:$sip_port";
  translations = (
$translations  );
  timers = { ring_timeout_s = 10; reinvite_timeout_s = 10; max_call_s = 15; };
  limits = { concurrent_calls = 1000000; calls_per_minute = 10000000; calls_per_minute_per_initiator = 1000000;
             calls_per_hour_per_destination = 0; distinct_destinations_per_hour_per_initiator = 0; };
  http = { listen = [ "127.0.0.1:$xml_port" ]; user = "bench"; password_file = "$tmp/http.pass"; };
  cdr = { file = "$tmp/calls.jsonl"; };
  keep_ended_s = 10;
};
EOF
fi
timeout $((SECONDS_RUN + ${TAIL_S:-0} + 120)) "$bin" -c "$tmp/originator-bench.conf" >"$tmp/callhook.out" 2>"$tmp/callhook.err" &
chpid=$!
pids+=($chpid)
# The binary runs under timeout(1): sample the daemon, not the wrapper.
for _ in $(seq 1 50); do
	d=$(pgrep -P "$chpid" | head -n1 || true)
	if [ -n "$d" ] && python3 -c "import socket; socket.create_connection(('127.0.0.1', $xml_port), 0.2).close()" 2>/dev/null; then
		break
	fi
	kill -0 "$chpid" 2>/dev/null || { cat "$tmp/callhook.err" >&2; die "callhook exited"; }
	sleep 0.1
done
[ -n "${d:-}" ] || die "callhook did not start"
for ((i = 0; i < nphones; i++)); do
	kill -0 "${pids[$i]}" 2>/dev/null || { cat "$tmp/sipp$i.err" >&2; die "sipp $i exited"; }
done

echo "machine           $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$FLOW" = refer ]; then
echo "setup             $PEERS SIPp phones over $TRANSPORT (ports ${ports[*]:2}; callhook SIP $sip_port), callhook $bin (RSS before load $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$d/status))"
else
echo "setup             anchored flow, JSON API; $PEERS initiator SIPp phones (ports ${ports[*]:2:$PEERS}) and $PEERS destination phones (ports ${ports[*]:$((2 + PEERS))}; BYE after $HOLD_MS ms) over $TRANSPORT; callhook SIP $sip_port, HTTP $xml_port, $bin (RSS before load $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$d/status))"
fi
# Kernel counters around the run: UDP buffer overflows (a full receive buffer drops datagrams, a full send
# buffer fails sendto) and ICMP port unreachable, the usual sources of SIP retransmissions and local 503s.
net_counters() {
	awk '/^Udp: [0-9]/ {print "udp_no_ports=" $3, "udp_in_errors=" $4, "udp_rcvbuf_errors=" $6, "udp_sndbuf_errors=" $7}
	     /^Icmp: [0-9]/ {print "icmp_in_dest_unreach=" $5}' /proc/net/snmp | tr '\n' ' '
}
net_before=$(net_counters)
# CPU seconds (user + system) of a process so far, from /proc/PID/stat.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}
sipp_pids=()
for ((i = 0; i < nphones; i++)); do
	sipp_pids+=("$(pgrep -P "${pids[$i]}" sipp | head -n1 || echo "${pids[$i]}")")
done
cpu0_ch=$(cpu_s "$d")
# CPU seconds of each of callhook's threads, "tid comm seconds" per line (FLOW=anchored prints the busiest).
thread_cpu() {
	local t
	for t in /proc/$1/task/*; do
		awk -v hz="$(getconf CLK_TCK)" -v tid="${t##*/}" -v comm="$(cat "$t/comm" 2>/dev/null)" \
			'{printf "%s %s %.2f\n", tid, comm, ($14 + $15) / hz}' "$t/stat" 2>/dev/null || true
	done
}
threads0=$(thread_cpu "$d")
cpu0_sipp=0
for p in "${sipp_pids[@]}"; do cpu0_sipp=$(echo "$cpu0_sipp + $(cpu_s "$p")" | bc); done
rc=0
if [ "$FLOW" = refer ]; then
python3 "$here/originator_load.py" 127.0.0.1 "$xml_port" "$RATE" "$SECONDS_RUN" "$CONNS" "$d" "${initiators[@]}" || rc=$?
else
python3 "$here/originator_json_load.py" 127.0.0.1 "$xml_port" "$RATE" "$SECONDS_RUN" "$CONNS" "$d" bench "$tmp/http.pass" \
	"$tmp/calls.jsonl" "${pairs[@]}" || rc=$?
	[ -z "${CDR_COPY:-}" ] || cp "$tmp/calls.jsonl" "$CDR_COPY"
fi
# Datagrams each socket dropped on a full receive buffer (/proc/net/udp's last column), read while all live.
sock_drops() {
	local port hex
	for port in "$@"; do
		hex=$(printf '%04X' "$port")
		awk -v h=":$hex" -v p="$port" '$2 ~ h"$" {printf "%s=%s ", p, $NF}' /proc/net/udp
	done
}
cpu_sipp=0
for p in "${sipp_pids[@]}"; do cpu_sipp=$(echo "$cpu_sipp + $(cpu_s "$p")" | bc); done
calls=$(echo "$RATE * $SECONDS_RUN" | bc)
echo "CPU               callhook $(echo "scale=2; ($(cpu_s "$d") - $cpu0_ch) * 1000 / $calls" | bc) s per 1000 calls, SIPp phones $(echo "scale=2; ($cpu_sipp - $cpu0_sipp) * 1000 / $calls" | bc) s per 1000 calls"
if [ "$FLOW" = anchored ]; then
	# busiest threads over the run: a SIP thread near the run's length is callhook's limit (one su_root)
	echo "callhook threads  $(thread_cpu "$d" | awk -v before="$threads0" 'BEGIN { n = split(before, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, " "); b[f[1]] = f[3] } }
		{ printf "%s %s %.1f\n", $1, $2, $3 - b[$1] }' | sort -k3 -rn | head -n 4 | awk '{ printf "%s(%s) %.1f s, ", $2, $1, $3 }')of CPU over ${SECONDS_RUN} s of load"
fi
echo "socket drops      callhook $(sock_drops "$sip_port")phones $(sock_drops "${ports[@]:2}")"
echo "kernel before     $net_before"
echo "kernel after      $(net_counters)"
# A phone that died during the run (SIPp ends itself on repeated watchdog
# trips when starved of CPU) turns every later call into ICMP "port
# unreachable", which Sofia reports as 503: say so rather than blame callhook.
for ((i = 0; i < nphones; i++)); do
	if ! kill -0 "${pids[$i]}" 2>/dev/null; then
		echo "WARNING: SIPp phone $i exited during the run:"
		tail -n 3 "$tmp/sipp$i.err"
		rc=1
	fi
done
# What the phones found wrong (SIPp's error log): its first lines, and how many calls it aborted.
# FLOW=anchored: SIPp's own counters, from its last -trace_stat line (written every second).
if [ "$FLOW" = anchored ]; then
	sleep 1.5
	for ((i = 0; i < nphones; i++)); do
		[ -s "$tmp/sipp$i.stat" ] || continue
		role=initiator
		((i >= PEERS)) && role=destination
		printf 'phone %d SIPp      %s: ' "$i" "$role"
		awk -F';' 'NR == 1 { for (k = 1; k <= NF; k++) col[$k] = k; next } { last = $0 }
			END { split(last, v, ";");
				printf "%s calls, %s successful, %s failed (unexpected message %s, recv timeout %s, max UDP retrans %s), %s retransmissions, %s dead-call messages, %s out-of-call messages\n",
					v[col["TotalCallCreated"]], v[col["SuccessfulCall(C)"]], v[col["FailedCall(C)"]],
					v[col["FailedUnexpectedMessage(C)"]], v[col["FailedTimeoutOnRecv(C)"]], v[col["FailedMaxUDPRetrans(C)"]],
					v[col["Retransmissions(C)"]], v[col["DeadCallMsgs(C)"]], v[col["OutOfCallMsgs(C)"]] }' "$tmp/sipp$i.stat"
	done
fi
for ((i = 0; i < nphones; i++)); do
	if [ -s "$tmp/sipp$i.errors" ]; then
		echo "phone $i errors    $(grep -c 'aborting call\|Aborting call' "$tmp/sipp$i.errors") calls aborted; first:"
		{ grep -m 3 -i 'abort\|unexpected\|timeout' "$tmp/sipp$i.errors" || head -n 3 "$tmp/sipp$i.errors"; } | cut -c1-300
	fi
done
if [ -s "$tmp/callhook.err" ]; then
	echo "callhook stderr (last lines):"
	tail -n 5 "$tmp/callhook.err"
fi
exit $rc
