#!/usr/bin/env python3
"""bench/originator_json_load.py: anchored click-to-call load client for FLOW=anchored bench/originator.sh.

Sends POST /v1/calls {"initiator","destination","anchor":true} at a fixed rate over a few persistent HTTP/1.1
keep-alive connections to callhook's originator HTTP listener (HTTP Digest, SHA-256: one nonce per connection,
nc counted up, a stale nonce is answered by the new challenge). One request in flight per connection; requests
that are due while every connection is busy wait in a queue, and every time below counts from the moment a
request was due, so a slow client or listener shows up in the figures.

Each call's outcome comes from the originator's call record file (originator.cdr, JSON lines, one per call when
it ends), read as it grows: a record with destination_answered_at (set when the initiator answered the re-INVITE
that carries the destination's offer, i.e. both legs connected) is a connected call; result "failed" is a
failure, counted by result_code. The time to both legs connected is the record's established_at minus the time
the request was due (one clock: callhook's call_at is wall-clock time plus the call's monotonic age).
Samples VmRSS of a pid every second. Prints one summary line per metric; exits 0 only when every call was
accepted, connected and ended by the destination's BYE.

usage: originator_json_load.py HOST PORT RATE SECONDS CONNS PID USER PASSWORD_FILE CDR_FILE INITIATOR:DESTINATION...
"""
import collections
import datetime
import hashlib
import json
import os
import re
import selectors
import socket
import sys
import time

from originator_load import rss_kb  # the REFER load client's VmRSS sampler (same folder)

GRACE_S = 30.0  # after the last request, wait this long for the last call records

CHALLENGE_KV = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')


def iso_s(t):
    """ISO 8601 UTC with milliseconds ('2026-05-04T09:12:01.123Z') -> POSIX seconds."""
    return datetime.datetime.fromisoformat(t.replace('Z', '+00:00')).timestamp()


def pct(v, q):
    return v[min(len(v) - 1, int(len(v) * q))] if v else 0


class Conn:
    def __init__(self, host, port):
        self.addr = (host, port)
        self.s = None
        self.req = None  # the request in flight: (seq, initiator, destination, due_mono)
        self.sent_at = 0.0
        self.chal = None  # the digest challenge's fields
        self.nc = 0
        self.connect()

    def connect(self):
        """A fresh connection (the first, or after callhook closed one); the digest nonce stays."""
        if self.s:
            self.s.close()
        self.s = socket.create_connection(self.addr)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.setblocking(False)
        self.inb = bytearray()
        self.out = bytearray()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    rate, secs, nconn = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    pid = int(sys.argv[6])
    user = sys.argv[7]
    with open(sys.argv[8]) as f:
        password = f.read().strip()
    cdr_path = sys.argv[9]
    pairs = [p.split(':', 1) for p in sys.argv[10:]]
    total = int(rate * secs)
    uri = '/v1/calls'

    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(nconn):
        c = Conn(host, port)
        conns.append(c)
        sel.register(c.s, selectors.EVENT_READ, c)
    idle = collections.deque(conns)
    queue = collections.deque()

    t0 = time.monotonic()
    wall0 = time.time() - t0  # wall clock = wall0 + monotonic
    placed = {}  # call id -> due time (monotonic)
    records = {}  # call id -> record (arrived before or after its 202)
    http_codes = collections.Counter()  # non-202 answers
    first_http = {}
    http_lat = []  # request due -> its answer
    http_srv = []  # request sent (the last time) -> its answer
    auth_rounds = 0
    reconnects = 0
    sent = 0
    answered = 0
    peak_rss = 0
    rss_samples = []
    next_sample = t0
    next_cdr = t0
    cdr_f = None
    cdr_part = b''
    done_sending_at = None

    nc_of = collections.Counter()  # nonce -> the last nc sent with it, over all connections

    def auth_header(c, method):
        ch = c.chal
        # libmicrohttpd 0.9.75 derives a nonce from the second it was made (and the method, URI and realm), so
        # connections challenged in one second get the same nonce and share its nc window: count nc per nonce.
        nc_of[ch['nonce']] += 1
        c.nc = nc_of[ch['nonce']]
        algo = ch.get('algorithm', 'MD5')
        hf = hashlib.sha256 if algo.upper().startswith('SHA-256') else hashlib.md5
        h = lambda s: hf(s.encode()).hexdigest()
        ha1 = h(f'{user}:{ch["realm"]}:{password}')
        ha2 = h(f'{method}:{uri}')
        nc = f'{c.nc:08x}'
        cnonce = os.urandom(8).hex()
        resp = h(f'{ha1}:{ch["nonce"]}:{nc}:{cnonce}:auth:{ha2}')
        return (f'Authorization: Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", '
                f'uri="{uri}", algorithm={algo}, response="{resp}", opaque="{ch.get("opaque", "")}", '
                f'qop=auth, nc={nc}, cnonce="{cnonce}"\r\n')

    def send_req(c, r):
        _, ini, dst, _ = r
        body = json.dumps({'initiator': ini, 'destination': dst, 'anchor': True}).encode()
        head = (f'POST {uri} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n'
                f'Content-Length: {len(body)}\r\n' + (auth_header(c, 'POST') if c.chal else '') + '\r\n')
        c.out += head.encode() + body
        c.req = r
        c.sent_at = time.monotonic()

    def reconnect(c):
        nonlocal reconnects
        reconnects += 1
        sel.unregister(c.s)
        c.connect()
        sel.register(c.s, selectors.EVENT_READ, c)

    def on_response(c, status, headers, body):
        nonlocal auth_rounds, answered
        r = c.req
        c.req = None
        if headers.get('connection', '').lower() == 'close':
            # libmicrohttpd closes the connection after answering a POST before reading its body (the 401)
            reconnect(c)
        if status == 401:
            m = headers.get('www-authenticate', '')
            c.chal = {k.lower(): a or b for k, a, b in CHALLENGE_KV.findall(m)}
            c.nc = 0
            auth_rounds += 1
            if auth_rounds > 10 * nconn + 100:
                raise SystemExit('originator_json_load: digest authentication keeps failing')
            send_req(c, r)  # the same request again, now with credentials
            return
        now = time.monotonic()
        http_lat.append(now - r[3])
        http_srv.append(now - c.sent_at)
        answered += 1
        if status == 202:
            placed[json.loads(body)['id']] = r[3]
        else:
            http_codes[status] += 1
            first_http.setdefault(status, (now - t0, body.decode(errors='replace')))
        idle.append(c)

    def read_cdr():
        nonlocal cdr_f, cdr_part
        if cdr_f is None:
            try:
                cdr_f = open(cdr_path, 'rb')
            except FileNotFoundError:
                return
        data = cdr_f.read()
        if not data:
            return
        data = cdr_part + data
        lines = data.split(b'\n')
        cdr_part = lines.pop()
        for line in lines:
            if line:
                rec = json.loads(line)
                if rec.get('record') == 'originator':
                    records[rec['call_id']] = rec

    while True:
        now = time.monotonic()
        if now >= next_sample:
            kb = rss_kb(pid)
            rss_samples.append(kb)
            peak_rss = max(peak_rss, kb)
            next_sample += 1.0
        if now >= next_cdr:
            read_cdr()
            next_cdr = now + 0.2
        due = min(total, int((now - t0) * rate) + 1)  # request k is due at t0 + k / rate
        while sent < due:
            ini, dst = pairs[sent % len(pairs)]
            queue.append((sent, ini, dst, t0 + sent / rate))
            sent += 1
        while queue and idle:
            send_req(idle.popleft(), queue.popleft())
        for c in conns:
            if c.out:
                try:
                    n = c.s.send(c.out)
                    del c.out[:n]
                except BlockingIOError:
                    pass
        if sent >= total and answered >= total and done_sending_at is None:
            done_sending_at = now
        if done_sending_at is not None:
            if all(i in records for i in placed) or now - done_sending_at > GRACE_S:
                break
        elif sent >= total and now - (t0 + secs) > GRACE_S:
            break  # requests still unanswered long after the last was due
        for key, _ in sel.select(timeout=0.002):
            c = key.data
            try:
                data = c.s.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                # closed by callhook: once more on a new connection, the request in flight included
                reconnect(c)
                if reconnects > 10 * nconn + 1000:
                    raise SystemExit('originator_json_load: callhook keeps closing the connections')
                if c.req:
                    send_req(c, c.req)
                continue
            c.inb += data
            while True:
                i = c.inb.find(b'\r\n\r\n')
                if i < 0:
                    break
                lines = bytes(c.inb[:i]).decode('latin-1').split('\r\n')
                headers = {}
                for h in lines[1:]:
                    k, _, v = h.partition(':')
                    headers[k.strip().lower()] = v.strip()
                clen = int(headers.get('content-length', '0'))
                if len(c.inb) < i + 4 + clen:
                    break
                body = bytes(c.inb[i + 4:i + 4 + clen])
                del c.inb[:i + 4 + clen]
                on_response(c, int(lines[0].split()[1]), headers, body)
    read_cdr()

    elapsed_send = (done_sending_at or time.monotonic()) - t0
    connected = ended_by_dest = 0
    other_end = collections.Counter()
    failed = collections.Counter()
    first_fail = {}
    setup = []  # request due -> both legs connected (s)
    setup_engine = []  # the record's setup_ms: call placed -> connected (s)
    for cid, due in placed.items():
        rec = records.get(cid)
        if rec is None:
            continue
        if rec.get('established_at'):
            connected += 1
            setup.append(iso_s(rec['established_at']) - (wall0 + due))
            setup_engine.append(rec['setup_ms'] / 1000.0)
            if rec['ended_by'] == 'destination':
                ended_by_dest += 1
            else:
                other_end[rec['ended_by']] += 1
        else:
            code = rec['result_code']
            failed[code] += 1
            first_fail.setdefault(code, (iso_s(rec['call_at']) - (wall0 + t0), line_of(rec)))
    missing = sum(1 for cid in placed if cid not in records)
    setup.sort()
    setup_engine.sort()
    http_lat.sort()
    http_srv.sort()
    end_rss = rss_kb(pid)
    refused = sum(http_codes.values())
    print(f'offered rate      {rate:.0f} calls/s for {secs:.0f} s ({total} POST /v1/calls, anchor=true, '
          f'over {nconn} keep-alive HTTP/1.1 connections)')
    print(f'accepted          {len(placed)} x 202, {refused} refused {dict(sorted(http_codes.items())) if refused else ""}'
          f' (p50 {pct(http_lat, 0.5) * 1000:.0f} ms, p99 {pct(http_lat, 0.99) * 1000:.0f} ms from request due to '
          f'HTTP answer, p99 {pct(http_srv, 0.99) * 1000:.0f} ms from sent; {answered} answered of {total}; {auth_rounds} digest challenges, {reconnects} reconnections)')
    for code, (at, body) in sorted(first_http.items()):
        print(f'first HTTP {code}    at {at:.1f} s: {body.strip()}')
    print(f'connected         {connected} both legs answered, {connected / max(elapsed_send, 1e-9):.0f} calls/s '
          f'(p50 {pct(setup, 0.5) * 1000:.0f} ms, p99 {pct(setup, 0.99) * 1000:.0f} ms from request due to both legs '
          f'connected; record setup_ms p99 {pct(setup_engine, 0.99) * 1000:.0f} ms)')
    print(f'ended             {ended_by_dest} by the destination\'s BYE'
          + (f', others {dict(other_end)}' if other_end else ''))
    print(f'failed            {sum(failed.values())} {dict(sorted(failed.items())) if failed else ""}')
    for code, (at, line) in sorted(first_fail.items()):
        print(f'first {code}         at {at:.1f} s: {line}')
    print(f'no final result   {missing} (no call record {GRACE_S:.0f} s after the last answer)')
    ct = os.times()
    print(f'load client CPU   {(ct.user + ct.system) * 1000 / max(total, 1):.2f} s per 1000 calls')
    print(f'callhook RSS      peak {peak_rss / 1024:.1f} MB, at end {end_rss / 1024:.1f} MB')
    tail = float(os.environ.get('TAIL_S', '0'))
    if tail > 0:
        time.sleep(tail)
        print(f'callhook RSS      {rss_kb(pid) / 1024:.1f} MB after {tail:.0f} s more without load')
    if os.environ.get('RSS_TRACE'):
        print('RSS per second (MB): ' + ' '.join(f'{k / 1024:.0f}' for k in rss_samples))
    ok = len(placed) == total and ended_by_dest == total
    return 0 if ok else 1


def line_of(rec):
    keys = ('call_id', 'result', 'result_code', 'result_reason', 'result_leg', 'ended_by', 'initiator_status',
            'destination_status', 'setup_ms', 'duration_ms')
    return ' '.join(f'{k}={rec.get(k)}' for k in keys)


if __name__ == '__main__':
    sys.exit(main())
