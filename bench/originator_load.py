#!/usr/bin/env python3
"""bench/originator_load.py: XML click-to-call load client for bench/originator.sh.

Sends <ClickToCall> requests at a fixed rate, spread round-robin over a few
persistent TCP connections to callhook's XML port, and follows every call to
its final document: Result Code >= 300 is a failure, Leg="Destination" with a
2xx code is a success (REFER path: "Connected to destination"). Each request
carries a unique 10-digit destination so that its documents can be matched.
Samples VmRSS of a pid every second. Prints one summary line per metric and
exits 0 only when every call succeeded.

usage: originator_load.py HOST PORT RATE SECONDS CONNS PID INITIATOR...
"""
import os
import re
import selectors
import socket
import sys
import time

GRACE_S = 20.0  # after the last request, wait this long for final results

RESULT = re.compile(rb'<Result Code="(\d+)"(?: Leg="(\w+)")?>')
DEST = re.compile(rb'<Destination>(\d+)</Destination>')
END = b'</ClickToCall>'


def rss_kb(pid):
    try:
        with open(f'/proc/{pid}/status', 'rb') as f:
            for line in f:
                if line.startswith(b'VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    rate, secs, nconn = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    pid = int(sys.argv[6])
    initiators = sys.argv[7:]
    total = int(rate * secs)

    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(nconn):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = {'sock': s, 'in': bytearray(), 'out': bytearray()}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)

    pending = {}  # destination -> send time
    ok = fail = 0
    codes = {}
    first_fail = {}  # code -> (seconds into the run, the document): what a failure said
    lat = []
    sent = 0
    peak_rss = 0
    rss_samples = []
    t0 = time.monotonic()
    next_sample = t0
    done_sending_at = None

    def handle_doc(doc):
        nonlocal ok, fail
        m = DEST.search(doc)
        r = RESULT.search(doc)
        if not m or not r:
            return
        dest = m.group(1)
        code = int(r.group(1))
        leg = r.group(2)
        final = code >= 300 or (leg == b'Destination' and 200 <= code < 300)
        if not final or dest not in pending:
            return
        t = pending.pop(dest)
        lat.append(time.monotonic() - t)
        if code >= 300:
            fail += 1
            codes[code] = codes.get(code, 0) + 1
            first_fail.setdefault(code, (time.monotonic() - t0, doc.decode(errors='replace')))
        else:
            ok += 1

    while True:
        now = time.monotonic()
        if now >= next_sample:
            kb = rss_kb(pid)
            rss_samples.append(kb)
            peak_rss = max(peak_rss, kb)
            next_sample += 1.0
        due = min(total, int((now - t0) * rate))
        while sent < due:
            c = conns[sent % nconn]
            dest = b'%010d' % (9000000000 + sent)
            ini = initiators[sent % len(initiators)].encode()
            c['out'] += (b'<ClickToCall><Request><Initiator>' + ini +
                         b'</Initiator><Destination>' + dest +
                         b'</Destination><AnchorCall>false</AnchorCall></Request></ClickToCall>\n')
            pending[dest] = now
            sent += 1
        for c in conns:
            if c['out']:
                try:
                    n = c['sock'].send(c['out'])
                    del c['out'][:n]
                except BlockingIOError:
                    pass
        if sent >= total and done_sending_at is None:
            done_sending_at = now
        if done_sending_at is not None and (not pending or now - done_sending_at > GRACE_S):
            break
        for key, _ in sel.select(timeout=0.002):
            c = key.data
            try:
                data = c['sock'].recv(262144)
            except BlockingIOError:
                continue
            if not data:
                print('originator_load: connection closed by callhook', file=sys.stderr)
                sel.unregister(c['sock'])
                continue
            buf = c['in']
            buf += data
            while True:
                i = buf.find(END)
                if i < 0:
                    break
                handle_doc(bytes(buf[:i]))
                del buf[:i + len(END)]

    elapsed_send = (done_sending_at or time.monotonic()) - t0
    lat.sort()
    p50 = lat[len(lat) // 2] * 1000 if lat else 0
    p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else 0
    end_rss = rss_kb(pid)
    print(f'offered rate      {rate:.0f} calls/s for {secs:.0f} s ({total} calls over {nconn} connections)')
    print(f'completed         {ok} transferred, {ok / max(elapsed_send, 1e-9):.0f} calls/s '
          f'(p50 {p50:.0f} ms, p99 {p99:.0f} ms from request to final result)')
    print(f'failed            {fail} {dict(sorted(codes.items())) if codes else ""}')
    for code, (at, doc) in sorted(first_fail.items()):
        print(f'first {code}         at {at:.1f} s: ' + ' '.join(doc.split()))
    print(f'no final result   {len(pending)} (after {GRACE_S:.0f} s grace)')
    print(f'callhook RSS      peak {peak_rss / 1024:.1f} MB, at end {end_rss / 1024:.1f} MB')
    tail = float(os.environ.get('TAIL_S', '0'))
    if tail > 0:
        time.sleep(tail)
        print(f'callhook RSS      {rss_kb(pid) / 1024:.1f} MB after {tail:.0f} s more without load')
    if os.environ.get('RSS_TRACE'):
        print('RSS per second (MB): ' + ' '.join(f'{k / 1024:.0f}' for k in rss_samples))
    return 0 if fail == 0 and not pending and ok == total else 1


if __name__ == '__main__':
    sys.exit(main())
