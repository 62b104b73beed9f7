#!/usr/bin/env python3
"""bench/originator_chaos.py: the originator under faults, for bench/originator_chaos.sh.

Starts callhook (an ASan + UBSan build) as an originator with a JSON API, an XML port, an admin listener and a
call record file, against SIPp phones that misbehave on purpose and a few sockets that never answer, all on
127.0.0.1. Then, for SECONDS, places RATE calls a second, a mix of the JSON API (some DELETEd while they run) and
the XML port (some clients hang up right after the 100), REFER and anchored, each to a unique 10-digit
destination whose first digit picks the destination phone. Meanwhile the phones marked "vanish" are SIGKILLed
and restarted every 15-25 s (UDP: the phone is gone mid-call; TCP: the connection is cut mid-dialog).

At the end it checks, and exits 0 only if all hold:
- GET /v1/calls lists no call (within 90 s of the last request);
- callhook_originator_calls_active, _sip_calls and _xml_connections are 0 (the XML clients closed);
- RSS: at the end of the load and again idle after the drain, within RSS_SLACK_MB (8) of the reading after the
  warm-up (the first 25% of the run, by when ASan's quarantine, capped at 32 MB, is full);
- every call callhook accepted (202 / XML 100) has exactly one call record, with its front end; no refused
  request (400 / 403) has one; every record belongs to a call this driver placed;
- the outcomes that do not depend on timing (a busy phone, a good REFER phone, ...) are the expected ones;
- callhook exits 0 at SIGTERM and its stderr holds no AddressSanitizer, LeakSanitizer or UBSan report.

usage: originator_chaos.py CALLHOOK_BINARY RATE SECONDS WORKDIR
"""
import collections
import ctypes
import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCEN = os.path.join(REPO, 'tests', 'sip', 'scenarios')
RSS_SLACK_MB = float(os.environ.get('RSS_SLACK_MB', '8'))
SEED = int(os.environ.get('SEED', '1'))
HTTP_USER = 'chaos'

# Initiator phones: name -> (scenario, transport, vanish, anchor). anchor: what the calls to it ask for
# (True: the anchored flow, False: REFER). 'blackhole' / 'tcpcut' are sockets of this driver, not SIPp.
INITIATORS = {
    'ok': ('bench/sipp_uas_refer.xml', 'udp', False, False),  # answers, 202 + NOTIFY 200, takes our BYE
    'oktcp': ('bench/sipp_uas_refer.xml', 'tcp', True, False),  # the same over TCP, killed now and then
    'vanish': ('bench/sipp_uas_refer.xml', 'udp', True, False),  # the same over UDP, killed now and then
    'noans': ('uas_noanswer.xml', 'udp', False, False),  # rings until CANCELled
    'silent': ('blackhole', 'udp', False, False),  # never answers anything
    'tcpcut': ('tcpcut', 'tcp', False, False),  # accepts TCP, reads, never answers, cuts (RST) in 0.2-3 s
    'busy': ('uas_busy.xml', 'udp', False, False),  # 180 then 486
    'unavail': ('uas_busy_503.xml', 'udp', False, False),  # 180 then 503
    'rsilent': ('uas_refer_silent.xml', 'udp', False, False),  # 202 to the REFER, never a NOTIFY
    'rbye': ('uas_refer_bye_early.xml', 'udp', False, False),  # BYE in the middle of the REFER
    'r501': ('uas_refer_501.xml', 'udp', False, False),  # 501 to the REFER: the call is bridged
    'aok': ('bench/sipp_uas_anchor_init.xml', 'udp', False, True),  # anchored initiator, answers the re-INVITE
    'atcp': ('bench/sipp_uas_anchor_init.xml', 'tcp', True, True),  # the same over TCP, killed now and then
    'avanish': ('bench/sipp_uas_anchor_init.xml', 'udp', True, True),  # the same over UDP, killed now and then
    'anore': ('uas_anchor_init_noreinvite.xml', 'udp', False, True),  # never answers the re-INVITE
    'abye': ('uas_anchor_init_bye.xml', 'udp', False, True),  # hangs up right after the re-INVITE
    'abusy': ('uas_busy.xml', 'udp', False, True),  # anchored, the initiator is busy
    'asilent': ('blackhole', 'udp', False, True),  # anchored, the initiator never answers
}
# Destination phones, by the destination's first digit (the anchored flow and the REFER fallback INVITE them;
# on the REFER path the initiator's phone "dials" and callhook never sees the destination).
DESTS = {
    '1': ('bench/sipp_uas_anchor_dest.xml', 'udp', False),  # offers in its 200, BYE after 1 s
    '2': ('bench/sipp_uas_anchor_dest.xml', 'tcp', True),  # the same over TCP, killed now and then
    '3': ('uas_busy.xml', 'udp', False),  # 486
    '4': ('uas_noanswer.xml', 'udp', False),  # rings until CANCELled
    '5': ('blackhole', 'udp', False),  # never answers
    '6': ('uas_busy_503.xml', 'udp', False),  # 503
    '7': ('bench/sipp_uas_anchor_dest.xml', 'udp', True),  # answers, then vanishes (killed now and then)
}
# '8' has no translation (400 untranslatable); '9' translates to a URI the destination policy denies (403).


def pdeathsig():
    """Child processes die with this driver, whatever kills it."""
    try:
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_ports(n):
    """n 127.0.0.1 ports free for both UDP and TCP (held open until all are picked)."""
    out, keep = [], []
    while len(out) < n:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(('127.0.0.1', 0))
        p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(('127.0.0.1', p))
        except OSError:
            t.close()
            continue
        keep += [t, u]
        out.append(p)
    for s in keep:
        s.close()
    return out


def rss_kb(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Phone:
    """One SIPp UAS (or one of this driver's silent sockets) on a fixed port; kill() and start() again."""

    def __init__(self, name, scenario, transport, port, work):
        self.name, self.transport, self.port, self.work = name, transport, port, work
        self.scenario = scenario
        self.proc = None
        self.stop_ev = threading.Event()
        self.kills = 0
        self.restart_failures = 0

    def start(self):
        if self.scenario == 'blackhole':
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(('127.0.0.1', self.port))
            s.settimeout(0.5)
            threading.Thread(target=self._blackhole, args=(s,), daemon=True).start()
            return True
        if self.scenario == 'tcpcut':
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', self.port))
            s.listen(64)
            s.settimeout(0.5)
            threading.Thread(target=self._tcpcut, args=(s,), daemon=True).start()
            return True
        path = os.path.join(REPO, self.scenario) if self.scenario.startswith('bench/') else \
            os.path.join(self.work, self.scenario) if self.scenario == 'uas_busy_503.xml' else \
            os.path.join(SCEN, self.scenario)
        err = open(os.path.join(self.work, f'sipp-{self.name}.err'), 'ab')
        self.proc = subprocess.Popen(
            ['sipp', '-sf', path, '-i', '127.0.0.1', '-p', str(self.port), '-t', 'u1' if self.transport == 'udp' else 't1',
             '-nostdin', '-rtcheck', 'loose', '-recv_timeout', '40000', '-max_recv_loops', '100000',
             '-buff_size', '4194304', '-d', '1000', '-watchdog_minor_maxtriggers', '1000000',
             '-watchdog_major_maxtriggers', '1000000', '-trace_err', '-error_file',
             os.path.join(self.work, f'sipp-{self.name}.errors')],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=pdeathsig)
        err.close()
        time.sleep(0.3)
        return self.proc.poll() is None

    def _blackhole(self, s):
        while not self.stop_ev.is_set():
            try:
                s.recvfrom(65536)
            except socket.timeout:
                pass
        s.close()

    def _tcpcut(self, s):
        rnd = random.Random(SEED + 7)
        while not self.stop_ev.is_set():
            try:
                c, _ = s.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._tcpcut_conn, args=(c, rnd.uniform(0.2, 3.0)), daemon=True).start()
        s.close()

    def _tcpcut_conn(self, c, hold):
        end = time.monotonic() + hold
        c.settimeout(0.2)
        while time.monotonic() < end and not self.stop_ev.is_set():
            try:
                if not c.recv(65536):
                    break
            except socket.timeout:
                pass
            except OSError:
                break
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')  # RST
        c.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.kills += 1

    def stop(self):
        self.stop_ev.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self):
        return self.proc is None or self.proc.poll() is None


class Digest:
    """HTTP/1.1 keep-alive client with Digest (MD5, qop=auth) for callhook's originator listener."""
    nc_lock = threading.Lock()
    nc_of = collections.Counter()  # libmicrohttpd shares a nonce between connections challenged in one second

    def __init__(self, port, password):
        self.port, self.password = port, password
        self.conn = None
        self.chal = None

    def _auth(self, method, path):
        ch = self.chal
        with Digest.nc_lock:
            Digest.nc_of[ch['nonce']] += 1
            nc = Digest.nc_of[ch['nonce']]
        h = lambda s: hashlib.md5(s.encode()).hexdigest()
        cnonce = os.urandom(8).hex()
        ha1 = h(f'{HTTP_USER}:{ch["realm"]}:{self.password}')
        ha2 = h(f'{method}:{path}')
        resp = h(f'{ha1}:{ch["nonce"]}:{nc:08x}:{cnonce}:auth:{ha2}')
        v = (f'Digest username="{HTTP_USER}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", uri="{path}", '
             f'algorithm=MD5, response="{resp}", qop=auth, nc={nc:08x}, cnonce="{cnonce}"')
        if 'opaque' in ch:
            v += f', opaque="{ch["opaque"]}"'
        return v

    def request(self, method, path, body=None):
        """(status, parsed JSON or None). Retries a 401 (new or stale nonce) and one broken connection."""
        data = json.dumps(body).encode() if body is not None else None
        broken = 0
        for _ in range(6):
            if self.conn is None:
                self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=20)
            hdrs = {'Content-Type': 'application/json'} if data is not None else {}
            if self.chal:
                hdrs['Authorization'] = self._auth(method, path)
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                broken += 1
                if broken > 1:
                    raise
                continue
            if r.status == 401:
                wa = r.getheader('WWW-Authenticate', '')
                self.chal = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
                             for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', wa)}
                continue
            if r.getheader('Connection', '').lower() == 'close':
                self.conn.close()
                self.conn = None
            try:
                return r.status, json.loads(raw) if raw else None
            except ValueError:
                return r.status, raw.decode(errors='replace')
        return 401, None


class Chaos:
    def __init__(self, binary, rate, seconds, work):
        self.binary, self.rate, self.seconds, self.work = binary, rate, seconds, work
        self.rnd = random.Random(SEED)
        self.lock = threading.Lock()
        self.calls = {}  # destination -> what was asked and answered
        self.errors = []  # what went wrong (the run fails if any)
        self.stop_load = threading.Event()
        self.stop_chaos = threading.Event()
        self.rss = []  # (seconds into the load, kB)
        self.gauge_trace = []
        self.seq = 0

    def err(self, msg):
        with self.lock:
            if len(self.errors) < 200:
                self.errors.append(msg)

    # ---- setup -------------------------------------------------------------------------------------------
    def setup(self):
        names = list(INITIATORS) + ['d' + k for k in DESTS]
        ports = free_ports(len(names) + 4)
        self.sip_port, self.http_port, self.xml_port, self.admin_port = ports[:4]
        with open(os.path.join(SCEN, 'uas_busy.xml')) as f:
            busy = f.read()
        with open(os.path.join(self.work, 'uas_busy_503.xml'), 'w') as f:
            f.write(busy.replace('486 Busy Here', '503 Service Unavailable'))
        self.phones = {}
        for name, port in zip(names, ports[4:]):
            scen, tr, vanish = (INITIATORS[name][:3] if name in INITIATORS else DESTS[name[1:]])
            self.phones[name] = (Phone(name, scen, tr, port, self.work), vanish)
        rules = []
        for name, (scen, tr, _, _) in INITIATORS.items():
            p = self.phones[name][0]
            rules.append(f'{{ pattern = "^{name}$"; output = "sip:alice@127.0.0.1:{p.port}'
                         f'{";transport=tcp" if tr == "tcp" else ""}"; }}')
        for d, (scen, tr, _) in DESTS.items():
            p = self.phones['d' + d][0]
            rules.append(f'{{ pattern = "^{d}(\\\\d{{9}})$"; output = "sip:{d}$1@127.0.0.1:{p.port}'
                         f'{";transport=tcp" if tr == "tcp" else ""}"; }}')
        rules.append(f'{{ pattern = "^9(\\\\d{{9}})$"; output = "sip:9$1@127.0.0.1:{self.phones["d1"][0].port}"; }}')
        self.password = os.urandom(16).hex()
        pwfile = os.path.join(self.work, 'http.pass')
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (self.password + '\n').encode())
        os.close(fd)
        self.cdr = os.path.join(self.work, 'calls.jsonl')
        self.conf = os.path.join(self.work, 'chaos.conf')
        with open(self.conf, 'w') as f:
            f.write(f'''log = {{ level = "warn"; }};
admin = {{ listen = [ "127.0.0.1:{self.admin_port}" ]; }};
originator = {{
  identity = "sip:c2c@127.0.0.1";
  listen = "sip:127.0.0.1:{self.sip_port}";
  translations = (
    {("," + chr(10) + "    ").join(rules)}
  );
  destinations = {{ deny = [ "^sip:9" ]; }};
  timers = {{ ring_timeout_s = 4; refer_notify_timeout_s = 6; reinvite_timeout_s = 3; max_call_s = 20; }};
  limits = {{ concurrent_calls = 100000; calls_per_minute = 1000000; calls_per_minute_per_initiator = 1000000;
             calls_per_hour_per_destination = 0; distinct_destinations_per_hour_per_initiator = 0; }};
  http = {{ listen = [ "127.0.0.1:{self.http_port}" ]; user = "{HTTP_USER}"; password_file = "{pwfile}";
           digest_algorithm = "MD5"; }};
  xml = {{ listen = [ "127.0.0.1:{self.xml_port}" ]; max_connections = 256; }};
  cdr = {{ file = "{self.cdr}"; }};
  keep_ended_s = 5;
}};
''')
        for name, (p, _) in self.phones.items():
            if not p.start():
                raise SystemExit(f'originator_chaos: FAIL: phone {name} ({p.scenario}) did not start')
        env = dict(os.environ)
        env['ASAN_OPTIONS'] = 'detect_leaks=1:fast_unwind_on_malloc=0:quarantine_size_mb=32'
        env['UBSAN_OPTIONS'] = 'print_stacktrace=1'
        env['LSAN_OPTIONS'] = f'suppressions={REPO}/tests/lsan.supp:print_suppressions=0'
        self.ch_err_path = os.path.join(self.work, 'callhook.err')
        self.ch = subprocess.Popen([self.binary, '-c', self.conf], stdin=subprocess.DEVNULL,
                                   stdout=open(os.path.join(self.work, 'callhook.out'), 'wb'),
                                   stderr=open(self.ch_err_path, 'wb'), env=env, preexec_fn=pdeathsig)
        for _ in range(100):
            if self.ch.poll() is not None:
                raise SystemExit('originator_chaos: FAIL: callhook exited at start:\n' + self.tail_err())
            try:
                socket.create_connection(('127.0.0.1', self.xml_port), 0.2).close()
                socket.create_connection(('127.0.0.1', self.admin_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit('originator_chaos: FAIL: callhook did not listen')
        time.sleep(0.5)
        self.rss_start = rss_kb(self.ch.pid)

    def tail_err(self, n=30):
        try:
            with open(self.ch_err_path, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return ''

    def metrics(self):
        c = http.client.HTTPConnection('127.0.0.1', self.admin_port, timeout=10)
        c.request('GET', '/metrics')
        text = c.getresponse().read().decode()
        c.close()
        out = {}
        for line in text.splitlines():
            m = re.match(r'^(callhook_originator_(?:calls_active|sip_calls|xml_connections)) (\S+)$', line)
            if m:
                out[m.group(1)] = float(m.group(2))
        return out

    # ---- the calls ---------------------------------------------------------------------------------------
    def pick(self):
        """One call: (front end, initiator, destination, anchor, expected: 'accept' | 400 | 403)."""
        r = self.rnd
        self.seq += 1
        ini = r.choice(list(INITIATORS))
        anchor = INITIATORS[ini][3]
        x = r.random()
        if x < 0.03:
            digit, expect = '8', 400
        elif x < 0.06:
            digit, expect = '9', 403
        else:
            digit, expect = r.choice('1111223456777'), 'accept'
        dest = f'{digit}{self.seq:09d}'
        y = r.random()
        fe = 'json' if y < 0.5 else 'xml' if y < 0.9 else 'xmldrop'
        return fe, ini, dest, anchor, expect

    def json_worker(self, q):
        cli = Digest(self.http_port, self.password)
        rnd = random.Random()
        while True:
            job = q.get()
            if job is None:
                return
            kind = job[0]
            try:
                if kind == 'place':
                    _, ini, dest, anchor = job
                    st, body = cli.request('POST', '/v1/calls', {'initiator': ini, 'destination': dest, 'anchor': anchor})
                    with self.lock:
                        c = self.calls[dest]
                        c['http'] = st
                        c['accepted'] = st == 202
                        if st == 202:
                            c['id'] = body.get('id')
                    if st == 202 and rnd.random() < 0.08:
                        delay = rnd.uniform(0.3, 4.0)
                        threading.Timer(delay, q.put, args=(('delete', dest, body.get('id')),)).start()
                    if st not in (202, 400, 403):
                        self.err(f'POST /v1/calls {dest}: {st} {body}')
                elif kind == 'delete':
                    _, dest, cid = job
                    st, body = cli.request('DELETE', f'/v1/calls/{cid}')
                    with self.lock:
                        self.calls[dest]['delete'] = st
                    if st not in (202, 409):
                        self.err(f'DELETE /v1/calls/{cid} ({dest}): {st} {body}')
            except Exception as e:  # noqa: BLE001 - a dead listener must show, not stop the worker
                self.err(f'{kind} {job[1:]}: {e!r}')

    def xml_request(self, ini, dest, anchor):
        return (f'<ClickToCall><Request><Initiator>{ini}</Initiator><Destination>{dest}</Destination>'
                f'<AnchorCall>{"true" if anchor else "false"}</AnchorCall></Request></ClickToCall>\n').encode()

    def xml_docs(self, dest_docs, data, buf):
        buf += data
        while True:
            i = buf.find(b'</ClickToCall>')
            if i < 0:
                return
            doc = bytes(buf[:i])
            del buf[:i + len(b'</ClickToCall>')]
            m = re.search(rb'<Destination>(\d+)</Destination>', doc)
            r = re.search(rb'<Result Code="(\d+)"(?: Leg="(\w+)")?>', doc)
            if m and r:
                dest_docs(m.group(1).decode(), int(r.group(1)), r.group(2))

    def on_xml(self, dest, code, leg):
        with self.lock:
            c = self.calls.get(dest)
            if c is None:
                self.errors.append(f'XML document for a destination never asked: {dest}')
                return
            c.setdefault('xml', []).append(code)
            if code == 100:
                c['accepted'] = True
            if code >= 300 or (leg == b'Destination' and 200 <= code < 300):
                c['final'] = code

    def xml_reader(self, s):
        buf = bytearray()
        while True:
            try:
                data = s.recv(65536)
            except OSError as e:
                if not self.stop_load.is_set():
                    self.err(f'XML connection: {e!r}')
                return
            if not data:
                if not self.stop_load.is_set():
                    self.err('XML connection closed by callhook during the run')
                return
            self.xml_docs(self.on_xml, data, buf)

    def xml_drop(self, ini, dest, anchor, rst):
        """A client that sends one request, reads the first document (the 100) and hangs up."""
        try:
            s = socket.create_connection(('127.0.0.1', self.xml_port), 5)
            s.settimeout(10)
            s.sendall(self.xml_request(ini, dest, anchor))
            buf = bytearray()
            got = []
            while not got:
                data = s.recv(65536)
                if not data:
                    break
                self.xml_docs(lambda d, code, leg: (got.append(code), self.on_xml(d, code, leg)), data, buf)
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
            s.close()
        except OSError as e:
            self.err(f'XML drop client {dest}: {e!r}')

    def chaos(self):
        """SIGKILL each vanishing phone every 15-25 s, start it again 1-3 s later."""
        rnd = random.Random(SEED + 1)
        due = {n: time.monotonic() + rnd.uniform(5, 25) for n, (_, v) in self.phones.items() if v}
        while not self.stop_chaos.is_set():
            now = time.monotonic()
            for n, t in due.items():
                if now >= t:
                    p = self.phones[n][0]
                    p.kill()
                    time.sleep(rnd.uniform(1, 3))
                    for _ in range(5):
                        if p.start():
                            break
                        p.restart_failures += 1
                        time.sleep(1)
                    else:
                        self.err(f'phone {n} did not start again')
                    due[n] = time.monotonic() + rnd.uniform(15, 25)
            self.stop_chaos.wait(0.5)

    def sampler(self):
        t0 = self.t0
        while not self.stop_load.is_set():
            self.rss.append((time.monotonic() - t0, rss_kb(self.ch.pid)))
            if len(self.rss) % 10 == 1:
                try:
                    self.gauge_trace.append((round(time.monotonic() - t0), self.metrics()))
                except OSError as e:
                    self.err(f'/metrics during the load: {e!r}')
            self.stop_load.wait(1.0)

    def run(self):
        import queue
        q = queue.Queue()
        workers = [threading.Thread(target=self.json_worker, args=(q,), daemon=True) for _ in range(6)]
        for w in workers:
            w.start()
        xml_conns = []
        for _ in range(4):
            s = socket.create_connection(('127.0.0.1', self.xml_port), 5)
            s.settimeout(None)  # the reader waits as long as calls run
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            th = threading.Thread(target=self.xml_reader, args=(s,), daemon=True)
            th.start()
            xml_conns.append((s, th, threading.Lock()))
        self.t0 = time.monotonic()
        threading.Thread(target=self.sampler, daemon=True).start()
        chaos = threading.Thread(target=self.chaos, daemon=True)
        chaos.start()
        total = int(self.rate * self.seconds)
        sent = 0
        drops = []
        while sent < total:
            now = time.monotonic()
            due = min(total, int((now - self.t0) * self.rate))
            while sent < due:
                fe, ini, dest, anchor, expect = self.pick()
                with self.lock:
                    self.calls[dest] = {'fe': fe, 'ini': ini, 'anchor': anchor, 'expect': expect, 'accepted': False,
                                        'at': now - self.t0}
                if fe == 'json':
                    q.put(('place', ini, dest, anchor))
                elif fe == 'xml':
                    s, _, lk = xml_conns[sent % len(xml_conns)]
                    with lk:
                        try:
                            s.sendall(self.xml_request(ini, dest, anchor))
                        except OSError as e:
                            self.err(f'XML send {dest}: {e!r}')
                else:
                    t = threading.Thread(target=self.xml_drop, args=(ini, dest, anchor, self.rnd.random() < 0.5),
                                         daemon=True)
                    t.start()
                    drops.append(t)
                sent += 1
            if len(drops) > 64:
                drops = [t for t in drops if t.is_alive()]
            time.sleep(0.005)
            if self.ch.poll() is not None:
                self.err(f'callhook exited during the load ({self.ch.returncode})')
                break
        self.load_s = time.monotonic() - self.t0
        self.rss_load_end = rss_kb(self.ch.pid)
        self.stop_chaos.set()
        chaos.join()
        for n, (p, v) in self.phones.items():  # every phone up again for the drain
            if v and not p.alive():
                p.start()
        for t in drops:
            t.join(15)
        # drain: the JSON workers' DELETE timers fire within 4 s of the last 202
        time.sleep(5)
        for _ in workers:
            q.put(None)
        for w in workers:
            w.join(30)
        self.drain(xml_conns)

    def drain(self, xml_conns):
        cli = Digest(self.http_port, self.password)
        t = time.monotonic()
        left = None
        while time.monotonic() - t < 90:
            st, body = cli.request('GET', '/v1/calls')
            left = body.get('calls') if st == 200 and isinstance(body, dict) else None
            if left == []:
                break
            time.sleep(1)
        self.drain_s = time.monotonic() - t
        if left != []:
            self.err(f'GET /v1/calls after {self.drain_s:.0f} s: {str(left)[:500]}')
        # let the XML clients read their last documents, then close them
        time.sleep(2)
        self.stop_load.set()
        for s, th, _ in xml_conns:
            s.shutdown(socket.SHUT_WR)
        for s, th, _ in xml_conns:
            th.join(10)
            s.close()
        t = time.monotonic()
        g = {}
        while time.monotonic() - t < 60:
            g = self.metrics()
            if len(g) == 3 and all(v == 0 for v in g.values()):
                break
            time.sleep(1)
        self.gauges_end = g
        self.gauges_s = time.monotonic() - t
        if len(g) != 3 or any(v != 0 for v in g.values()):
            self.err(f'gauges not back to 0 after {self.gauges_s:.0f} s: {g}')
        time.sleep(3)
        self.rss_idle_end = rss_kb(self.ch.pid)

    # ---- the checks --------------------------------------------------------------------------------------
    def check_records(self):
        recs = collections.defaultdict(list)
        with open(self.cdr) as f:
            for n, line in enumerate(f, 1):
                try:
                    r = json.loads(line)
                except ValueError:
                    self.err(f'call record line {n} is not JSON: {line[:200]}')
                    continue
                recs[r.get('destination')].append(r)
        self.records = sum(len(v) for v in recs.values())
        fe_of = {'json': 'json', 'xml': 'xml', 'xmldrop': 'xml'}
        outcome = collections.Counter()
        for dest, c in self.calls.items():
            rs = recs.pop(dest, [])
            if c['expect'] == 'accept':
                if not c['accepted']:
                    self.err(f'{dest} ({c}) was not accepted')
                    continue
                if len(rs) != 1:
                    self.err(f'{dest} ({c["fe"]}, {c["ini"]}): {len(rs)} call records')
                    continue
                r = rs[0]
                if r['front_end'] != fe_of[c['fe']] or r['initiator'] != c['ini'] or r['anchor'] != c['anchor']:
                    self.err(f'{dest}: record {r} does not match the request {c}')
                # on the REFER path callhook dials no destination (but on the fallback)
                dphone = 'dest' + dest[0] if c['anchor'] or r['fallback'] else ''
                key = (c['ini'], 'anchor' if c['anchor'] else 'refer', dphone, 'deleted' if c.get('delete') == 202 else '')
                outcome[key + (f'{r["result"]} {r["result_code"]} by {r["ended_by"]}',)] += 1
                self.expect_outcome(dest, c, r)
            else:
                got = c.get('http') if c['fe'] == 'json' else (c.get('xml') or [None])[0]
                if got != c['expect']:
                    self.err(f'{dest} ({c["fe"]}, {c["ini"]}): expected {c["expect"]}, got {got}')
                if rs:
                    self.err(f'{dest}: refused with {got}, yet {len(rs)} call records')
            if c['fe'] == 'xml' and c['accepted'] and 'final' not in c:
                self.err(f'{dest}: the XML client got no final document ({c.get("xml")})')
        for dest, rs in recs.items():
            self.err(f'{len(rs)} call records for {dest}, a call never placed')
        self.outcomes = outcome

    def expect_outcome(self, dest, c, r):
        """Outcomes that hold whatever the timing: phones that are not killed, calls not DELETEd."""
        if c.get('delete') == 202:
            return
        ini, d = c['ini'], dest[0]
        want = None
        if ini in ('ok', 'rbye'):  # rbye: the transferee's BYE before its NOTIFY 200 is a normal transfer
            want = ('transferred', 200)
        elif ini == 'rsilent':
            want = ('failed', 408)
        elif ini in ('busy', 'abusy'):
            want = ('failed', 486)
        elif ini == 'unavail':
            want = ('failed', 503)
        elif ini in ('noans', 'silent', 'asilent'):
            want = ('failed', 408)
        elif ini == 'aok' and d == '1':
            want = ('ended', 200)
        elif ini in ('aok', 'r501') and d == '3':
            want = ('failed', 486)
        elif ini in ('aok', 'r501') and d == '6':
            want = ('failed', 503)
        if want and (r['result'], r['result_code']) != want:
            self.err(f'{dest} ({c["fe"]}, {ini}, dest{d}): {r["result"]} {r["result_code"]} '
                     f'({r["result_reason"]}, ended by {r["ended_by"]}), expected {want[0]} {want[1]}')

    def finish(self):
        self.ch.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.ch.wait(60)
        except subprocess.TimeoutExpired:
            self.ch.kill()
            self.exit_code = self.ch.wait()
            self.err('callhook did not stop within 60 s of SIGTERM')
        if self.exit_code != 0:
            self.err(f'callhook exited {self.exit_code} at SIGTERM')
        with open(self.ch_err_path, errors='replace') as f:
            text = f.read()
        self.sanitizer = [l for l in text.splitlines()
                          if re.search(r'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: ', l)]
        if self.sanitizer:
            self.err('sanitizer reports in callhook.err: ' + ' | '.join(self.sanitizer[:5]))
        for n, (p, _) in self.phones.items():
            p.stop()

    def report(self):
        acc = sum(1 for c in self.calls.values() if c['accepted'])
        by_fe = collections.Counter(c['fe'] for c in self.calls.values() if c['accepted'])
        refused = collections.Counter(str(c['expect']) for c in self.calls.values() if c['expect'] != 'accept')
        dels = collections.Counter(c['delete'] for c in self.calls.values() if 'delete' in c)
        quarter = [k for t, k in self.rss if t >= self.load_s * 0.25]
        warm = quarter[0] if quarter else 0
        half = [k for t, k in self.rss if t >= self.load_s * 0.5]
        mb = lambda k: k / 1024
        print(f'machine           {os.cpu_count()} CPUs, load {open("/proc/loadavg").read().split()[0]}')
        print(f'load              {len(self.calls)} requests in {self.load_s:.0f} s ({len(self.calls) / self.load_s:.1f}/s): '
              f'{acc} calls accepted ({by_fe["json"]} JSON, {by_fe["xml"]} XML, {by_fe["xmldrop"]} XML whose client hung up '
              f'after the 100), refused {dict(refused)}')
        print(f'DELETE            {dict(dels)} (202 released, 409 already ended)')
        kills = {n: p.kills for n, (p, v) in self.phones.items() if v}
        print(f'phones killed     {kills} (SIGKILL, started again 1-3 s later)')
        print(f'call records      {self.records} lines for {acc} accepted calls')
        print(f'drain             GET /v1/calls empty after {self.drain_s:.1f} s; gauges {self.gauges_end} after {self.gauges_s:.1f} s more')
        print(f'RSS (MB)          idle at start {mb(self.rss_start):.1f}; after warm-up (25% of the run) {mb(warm):.1f}; '
              f'half-way {mb(half[0] if half else 0):.1f}; peak {mb(max(k for _, k in self.rss)):.1f}; end of load {mb(self.rss_load_end):.1f}; '
              f'idle after the drain {mb(self.rss_idle_end):.1f}')
        if warm and (mb(self.rss_load_end) > mb(warm) + RSS_SLACK_MB or mb(self.rss_idle_end) > mb(warm) + RSS_SLACK_MB):
            self.err(f'RSS grew more than {RSS_SLACK_MB} MB after the warm-up')
        print(f'gauges during     ' + ' '.join(f'{t}s:{int(g.get("callhook_originator_calls_active", -1))}/'
                                            f'{int(g.get("callhook_originator_sip_calls", -1))}/'
                                            f'{int(g.get("callhook_originator_xml_connections", -1))}'
                                            for t, g in self.gauge_trace[::3]) + ' (calls_active/sip_calls/xml_connections)')
        print(f'callhook exit     {self.exit_code}; sanitizer lines: {len(self.sanitizer)}')
        print('outcomes (initiator, flow, destination phone, deleted, result): count')
        for k, n in sorted(self.outcomes.items()):
            print(f'  {" ".join(x for x in k if x)}: {n}')
        if self.errors:
            print(f'FAIL: {len(self.errors)} problems; first ones:')
            for e in self.errors[:25]:
                print('  ' + e)
            return 1
        print('PASS')
        return 0


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    c = Chaos(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    try:
        c.setup()
        c.run()
        c.finish()
        c.check_records()
        return c.report()
    finally:
        if c.__dict__.get('ch') and c.ch.poll() is None:
            c.ch.kill()
        for p, _ in c.__dict__.get('phones', {}).values():
            p.stop()


if __name__ == '__main__':
    sys.exit(main())
