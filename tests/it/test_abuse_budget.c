/* tests/it/test_abuse_budget.c: the abuse suite, how much: budgets cut exactly, floods, slow and huge bodies, against
 * the real daemon. */
#include "tests/check.h"
#include "tests/support/net.h"
#include "abuse.h"
#include "harness.h"
#include "secrets.h"
#include "tests/support/jwt.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct chd bd; /* the budget daemon, shared with the flood */

static int start_budget_daemon(void)
{
	CHECK(chd_write(&bd, "token.key", CH_SECRET_TOKEN, 0600) == 0);
	static char conf[16384];
	char l[8][512];
	snprintf(
	    conf, sizeof(conf),
	    "log = { level = \"debug\"; };\n"
	    "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 4096; request_timeout_s = 2; };\n"
	    "sites = (\n"
	    " { name = \"conn\"; domain = \"conn.test\"; sip = { login = \"41001\"; password = \"%s\"; }; callee = "
	    "\"41002\";\n"
	    "   buttons = { b = \"41003\"; }; token = { secret_file = \"token.key\"; required = false; }; %s },\n"
	    " { name = \"sess\"; domain = \"sess.test\"; sip = { login = \"42001\"; }; callee = \"42002\"; buttons = { "
	    "b = \"42003\"; }; %s },\n"
	    " { name = \"calls\"; domain = \"calls.test\"; sip = { login = \"43001\"; }; callee = \"43002\"; buttons = "
	    "{ b = \"43003\"; }; %s },\n"
	    " { name = \"conc\"; domain = \"conc.test\"; sip = { login = \"44001\"; }; callee = \"44002\"; %s },\n"
	    " { name = \"floodc\"; domain = \"floodc.test\"; sip = { login = \"45001\"; }; callee = \"45002\"; %s },\n"
	    " { name = \"floodk\"; domain = \"floodk.test\"; sip = { login = \"46001\"; }; callee = \"46002\"; %s },\n"
	    " { name = \"floodx\"; domain = \"floodx.test\"; sip = { login = \"47001\"; }; callee = \"47002\"; %s }\n"
	    ");\n",
	    CH_SECRET_SIP_ABUSE, limits(l[0], sizeof(l[0]), "connects_per_minute_per_ip = 3;"),
	    limits(l[1], sizeof(l[1]), "calls_per_session = 2;"),
	    limits(l[2], sizeof(l[2]), "calls_per_minute_per_ip = 3; calls_per_minute = 4;"),
	    limits(l[3], sizeof(l[3]), "concurrent_calls = 2;"),
	    limits(l[4], sizeof(l[4]), "connects_per_minute_per_ip = 8;"),
	    limits(l[5], sizeof(l[5]), "calls_per_minute = 12;"), limits(l[6], sizeof(l[6]), "concurrent_calls = 5;"));
	return chd_start(&bd, conf);
}

TEST_CASE(connect_budget)
{
	int p = bd.hook_port;
	const char *O = "https://conn.test";
	long long now = (long long)time(NULL);
	char t[1024], cu[1200];
	/* refusals first: none of them may take a connect token */
	for (int i = 0; i < 3; i++) {
		char sid[64];
		snprintf(sid, sizeof(sid), "/10.20.0.1:%d/bad", 100 + i);
		EXPECT_ERR(do_connect(p, NULL, sid, O, "{\"token\":\"x.y.z\"}"), 403, "token malformed");
		EXPECT_ERR(do_connect(p, NULL, sid, O, "{\"button\":\"premium\"}"), 403, "unknown button");
		EXPECT_ERR(do_connect(p, NULL, sid, "https://conn.test.evil.net", NULL), 403, "origin not allowed");
		EXPECT_ERR(do_connect(p, NULL, sid, "https://evil.conn.test@x.net", NULL), 403,
			   "origin is not a valid origin");
		EXPECT_ERR(
		    do_connect(p, NULL, sid, O,
			       tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now - 999, now - 900, "old", NULL), NULL)),
		    403, "token expired");
	}
	EXPECT_ERR(post(p, "/rest-hook/connect", NULL, "{\"sessionId\":\"/10.20.0.1:1/x\",\"origin\":"), 400,
		   "malformed JSON");
	/* exactly 3 distinct sessions per IP; a retry is not counted, before or after the cut */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:1/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:1/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:2/b", O, NULL), 200);
	/* a valid token on the third: token checks pass, the budget still counts it once */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:3/c", O,
				 tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now, now + 100, "conn-jti", NULL), NULL)),
		      200);
	EXPECT_ERR(do_connect(p, NULL, "/10.20.0.1:4/d", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_ERR(do_connect(p, NULL, "/10.20.0.1:5/e", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:1/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:3/c", O,
				 tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now, now + 100, "conn-jti", NULL), NULL)),
		      200);
	/* a cut connect left no session behind */
	EXPECT_ERR(do_call(p, "cb-1", "/10.20.0.1:4/d", NULL), 403, "unknown session");
	/* another IP has its own budget */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.2:1/a", O, NULL), 200);
	/* IPv6 client addresses, with and without brackets, are one IP */
	EXPECT_STATUS(do_connect(p, NULL, "/[2001:db8::7]:5000/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/2001:db8::7:5001/b", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/[2001:db8::7]:5002/c", O, NULL), 200);
	EXPECT_ERR(do_connect(p, NULL, "/2001:db8::7:5003/d", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	/* limits.ipv6_prefix 64 (the default): another address in the same /64 shares the budget */
	EXPECT_ERR(do_connect(p, NULL, "/[2001:db8::8]:5000/a", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_ERR(do_connect(p, NULL, "/[2001:db8::ffff:ffff:ffff:ffff]:1/a", O, NULL), 429,
		   "connects_per_minute_per_ip exceeded");
	EXPECT_STATUS(do_connect(p, NULL, "/[2001:db8:0:1::8]:5000/a", O, NULL), 200);
	/* the budget is per site: the same IP on another site is not affected */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:9/s", "https://sess.test", NULL), 200);
}

static void call_ok(int port, const char *call_id, const char *sid, const char *callee)
{
	char want[64];
	snprintf(want, sizeof(want), "\"callee\":\"%s\"", callee);
	struct chr r = do_call(port, call_id, sid, NULL);
	CHECK_MSG(r.status == 200 && has(&r, want), "call %s", call_id);
	chr_free(&r);
}

TEST_CASE(call_budgets)
{
	int p = bd.hook_port;
	/* calls_per_session = 2 */
	EXPECT_STATUS(do_connect(p, NULL, "/10.21.0.1:1/s1", "https://sess.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.21.0.1:2/s2", "https://sess.test", NULL), 200);
	EXPECT_ERR(do_call(p, "s-0", "/10.21.0.1:1/s1", "{\"button\":\"premium\"}"), 403, "unknown button");
	struct chr first = do_call(p, "s-1", "/10.21.0.1:1/s1", NULL);
	CHECK(first.status == 200 && has(&first, "\"callee\":\"42002\""));
	struct chr again = do_call(p, "s-1", "/10.21.0.1:1/s1", NULL);
	CHECK(again.status == 200 && strcmp(again.body, first.body) == 0);
	chr_free(&again);
	call_ok(p, "s-2", "/10.21.0.1:1/s1", "42002");
	EXPECT_ERR(do_call(p, "s-3", "/10.21.0.1:1/s1", NULL), 429, "calls_per_session exceeded");
	EXPECT_ERR(do_call(p, "s-3", "/10.21.0.1:1/s1", NULL), 429, "calls_per_session exceeded");
	again = do_call(p, "s-1", "/10.21.0.1:1/s1", NULL);
	CHECK(again.status == 200 && strcmp(again.body, first.body) == 0);
	chr_free(&again);
	chr_free(&first);
	call_ok(p, "s-4", "/10.21.0.1:2/s2", "42002"); /* per session: the other session has its own */
	/* a retried callId answers as before even from the button it was placed with */
	EXPECT_STATUS(do_call(p, "s-5", "/10.21.0.1:2/s2", "{\"button\":\"b\"}"), 200);

	/* calls_per_minute_per_ip = 3, calls_per_minute = 4: a per-IP refusal takes no site token */
	const char *A1 = "/10.22.0.1:1/a1", *A2 = "/10.22.0.1:2/a2", *B = "/10.22.0.2:1/b", *C = "/10.22.0.3:1/c";
	EXPECT_STATUS(do_connect(p, NULL, A1, "https://calls.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, A2, "https://calls.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, B, "https://calls.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, C, "https://calls.test", NULL), 200);
	for (int i = 0; i < 3; i++)
		EXPECT_ERR(do_call(p, "k-bad", A1, "{\"button\":\"premium\"}"), 403, "unknown button");
	EXPECT_ERR(do_call(p, "k-x", "/10.22.0.9:1/never", NULL), 403, "unknown session");
	call_ok(p, "k-1", A1, "43002");
	call_ok(p, "k-2", A2, "43002");
	call_ok(p, "k-1", A1, "43002"); /* retry: not counted */
	call_ok(p, "k-3", A1, "43002");
	EXPECT_ERR(do_call(p, "k-4", A2, NULL), 429, "calls_per_minute_per_ip exceeded");
	call_ok(p, "k-5", B, "43002"); /* the site's 4th */
	EXPECT_ERR(do_call(p, "k-6", C, NULL), 429, "calls_per_minute exceeded");
	EXPECT_ERR(do_call(p, "k-7", B, NULL), 429, "calls_per_minute exceeded");
	call_ok(p, "k-2", A2, "43002"); /* retries still answered after the cut */
	CHECK(log_has(&bd, "method=call site=calls verdict=budget status=429"));
}

/* A CallStatusEvent of call_id in session sid (NULL: the event names no session). */
static void event(int port, const char *call_id, const char *sid, const char *status)
{
	char b[512];
	if (sid)
		snprintf(b, sizeof(b), "{\"callId\":\"%s\",\"sessionId\":\"%s\",\"status\":\"%s\",\"sipStatus\":200}",
			 call_id, sid, status);
	else
		snprintf(b, sizeof(b), "{\"callId\":\"%s\",\"status\":\"%s\",\"sipStatus\":200}", call_id, status);
	struct chr r = post(port, "/rest-hook/CallStatusEvent", NULL, b);
	CHECK(r.status == 200 && strcmp(r.body, b) == 0);
	chr_free(&r);
}

TEST_CASE(concurrent_budget)
{
	int p = bd.hook_port;
	const char *Q1 = "/10.23.0.1:1/q", *Q2 = "/10.23.0.2:1/q", *Q3 = "/10.23.0.3:1/q";
	EXPECT_STATUS(do_connect(p, NULL, Q1, "https://conc.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, Q2, "https://conc.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, Q3, "https://conc.test", NULL), 200);
	call_ok(p, "q-1", Q1, "44002");
	call_ok(p, "q-2", Q2, "44002");
	EXPECT_ERR(do_call(p, "q-3", Q3, NULL), 429, "concurrent_calls exceeded");
	/* events that do not end a call free nothing */
	event(p, "q-1", Q1, "RING");
	event(p, "q-1", Q1, "ESTABLISHED");
	event(p, "q-1", Q1, "HOLD");
	event(p, "nope", Q1, "FINISH");
	/* nor does an end of q-1 that names another session */
	event(p, "q-1", Q2, "FINISH");
	event(p, "q-1", "/10.23.0.9:1/other", "FINISH");
	EXPECT_ERR(do_call(p, "q-3", Q3, NULL), 429, "concurrent_calls exceeded");
	/* FINISH frees one slot, and its WCS retry frees no second one */
	event(p, "q-1", Q1, "FINISH");
	event(p, "q-1", Q1, "FINISH");
	call_ok(p, "q-3", Q3, "44002");
	EXPECT_ERR(do_call(p, "q-4", Q1, NULL), 429, "concurrent_calls exceeded");
	/* the finished callId again is a new call, counted: no slot is free */
	EXPECT_ERR(do_call(p, "q-1", Q1, NULL), 429, "concurrent_calls exceeded");
	EXPECT_ERR(do_call(p, "q-4", Q1, NULL), 429, "concurrent_calls exceeded");
	/* an end without sessionId ends the call of that callId */
	event(p, "q-2", NULL, "FAILED");
	call_ok(p, "q-4", Q1, "44002");
	EXPECT_ERR(do_call(p, "q-5", Q2, NULL), 429, "concurrent_calls exceeded");
	event(p, "q-3", Q3, "BUSY");
	call_ok(p, "q-5", Q2, "44002");
	EXPECT_ERR(do_call(p, "q-6", Q3, NULL), 429, "concurrent_calls exceeded");
}

/* ---- concurrent clients -------------------------------------------------------------- */

#define FLOOD_THREADS  4
#define FLOOD_MS       1500
#define FLOOD_MAX_ITER 5000

struct flood {
	int idx;
	int port;
	int conn_ok, call_ok, conc_ok; /* 200s */
	int wrong;                     /* anything but 200 or the exact 429 */
	int reqs;
	int retry_mismatch;
	char conc_call[64]; /* one floodx call that got 200 */
	char conc_sid[64];  /* and its session */
	bool setup_failed;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_429(const struct chr *r, const char *reason)
{
	char want[128];
	snprintf(want, sizeof(want), "{\"status\":429,\"reason\":\"%s\"}", reason);
	return r->status == 429 && strcmp(r->body, want) == 0;
}

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	CURL *h = curl_easy_init();
	char b[2048], sid_k[64], sid_x[64];
	snprintf(sid_k, sizeof(sid_k), "/10.31.%d.1:1/k", f->idx);
	snprintf(sid_x, sizeof(sid_x), "/10.32.%d.1:1/x", f->idx);
	struct chr r = post_h(h, f->port, "/rest-hook/connect", NULL,
			      connect_body(b, sizeof(b), sid_k, "https://floodk.test", NULL));
	f->setup_failed |= r.status != 200;
	chr_free(&r);
	r = post_h(h, f->port, "/rest-hook/connect", NULL,
		   connect_body(b, sizeof(b), sid_x, "https://floodx.test", NULL));
	f->setup_failed |= r.status != 200;
	chr_free(&r);
	int64_t end = mono_ms() + FLOOD_MS;
	long last_k = 0;
	for (int i = 0; i < FLOOD_MAX_ITER && mono_ms() < end; i++) {
		char sid[64], id[64];
		/* every thread connects from the same client IP */
		snprintf(sid, sizeof(sid), "/10.30.0.1:%d/f%d", 1000 + i, f->idx);
		r = post_h(h, f->port, "/rest-hook/connect", NULL,
			   connect_body(b, sizeof(b), sid, "https://floodc.test", NULL));
		f->reqs += 3;
		if (r.status == 200)
			f->conn_ok++;
		else if (!is_429(&r, "connects_per_minute_per_ip exceeded"))
			f->wrong++;
		chr_free(&r);

		snprintf(id, sizeof(id), "fk-%d-%d", f->idx, i);
		r = post_h(h, f->port, "/rest-hook/call", NULL, call_body(b, sizeof(b), id, sid_k, NULL));
		if (r.status == 200)
			f->call_ok++;
		else if (!is_429(&r, "calls_per_minute exceeded"))
			f->wrong++;
		long st = r.status;
		chr_free(&r);
		if (i > 0 && i % 4 == 0) {
			/* a WCS retry of the previous call: same answer, not counted */
			snprintf(id, sizeof(id), "fk-%d-%d", f->idx, i - 1);
			r = post_h(h, f->port, "/rest-hook/call", NULL, call_body(b, sizeof(b), id, sid_k, NULL));
			if (r.status != last_k)
				f->retry_mismatch++;
			chr_free(&r);
		}
		last_k = st;

		snprintf(id, sizeof(id), "fx-%d-%d", f->idx, i);
		r = post_h(h, f->port, "/rest-hook/call", NULL, call_body(b, sizeof(b), id, sid_x, NULL));
		if (r.status == 200) {
			f->conc_ok++;
			snprintf(f->conc_call, sizeof(f->conc_call), "%s", id);
			snprintf(f->conc_sid, sizeof(f->conc_sid), "%s", sid_x);
		} else if (!is_429(&r, "concurrent_calls exceeded")) {
			f->wrong++;
		}
		chr_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

TEST_CASE(flood)
{
	struct flood f[FLOOD_THREADS];
	pthread_t th[FLOOD_THREADS];
	memset(f, 0, sizeof(f));
	int64_t start = mono_ms();
	for (int i = 0; i < FLOOD_THREADS; i++) {
		f[i].idx = i;
		f[i].port = bd.hook_port;
		CHECK(pthread_create(&th[i], NULL, flood_thread, &f[i]) == 0);
	}
	for (int i = 0; i < FLOOD_THREADS; i++)
		pthread_join(th[i], NULL);
	int64_t elapsed = mono_ms() - start;
	int conn = 0, calls = 0, conc = 0, wrong = 0, mism = 0, reqs = 0;
	const char *one_conc = NULL, *one_sid = NULL;
	for (int i = 0; i < FLOOD_THREADS; i++) {
		CHECK(!f[i].setup_failed);
		conn += f[i].conn_ok;
		calls += f[i].call_ok;
		conc += f[i].conc_ok;
		wrong += f[i].wrong;
		mism += f[i].retry_mismatch;
		reqs += f[i].reqs;
		if (f[i].conc_call[0]) {
			one_conc = f[i].conc_call;
			one_sid = f[i].conc_sid;
		}
	}
	/* a bucket refills value/60 per second: allow what the elapsed time could add back */
	int conn_max = 8 + (int)(elapsed * 8 / 60000), calls_max = 12 + (int)(elapsed * 12 / 60000);
	printf("flood: %d threads, %d requests in %lld ms, connects ok %d (budget 8), calls ok %d (budget 12), "
	       "concurrent ok %d (budget 5)\n",
	       FLOOD_THREADS, reqs, (long long)elapsed, conn, calls, conc);
	CHECK_MSG(conn >= 8 && conn <= conn_max, "connects ok %d, budget 8 (max %d)", conn, conn_max);
	CHECK_MSG(calls >= 12 && calls <= calls_max, "calls ok %d, budget 12 (max %d)", calls, calls_max);
	CHECK_MSG(conc == 5, "concurrent ok %d, budget 5", conc);
	CHECK_MSG(wrong == 0, "%d answers were neither 200 nor the exact 429", wrong);
	CHECK_MSG(mism == 0, "%d retries answered differently", mism);
	/* the slots are all held: one end frees exactly one */
	int p = bd.hook_port;
	EXPECT_ERR(do_call(p, "fx-after-1", "/10.32.0.1:1/x", NULL), 429, "concurrent_calls exceeded");
	CHECK(one_conc != NULL);
	if (one_conc)
		event(p, one_conc, one_sid, "FINISH");
	call_ok(p, "fx-after-1", "/10.32.0.1:1/x", "47002");
	EXPECT_ERR(do_call(p, "fx-after-2", "/10.32.0.1:1/x", NULL), 429, "concurrent_calls exceeded");
}

/* ---- hostile transport: huge bodies, trickled bodies ---------------------------------- */

/* Read what the server sends until it closes or 3 s pass. */
static size_t raw_read(int s, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t k = recv(s, buf + n, cap - 1 - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
		if (strstr(buf, "\r\n\r\n") && strchr(strstr(buf, "\r\n\r\n"), '}'))
			break;
	}
	buf[n] = '\0';
	return n;
}

TEST_CASE(oversize)
{
	int p = bd.hook_port;
	char url[256];
	th_url(url, sizeof(url), p, "/rest-hook/CallStatusEvent");
	/* max_body_bytes = 4096: 4096 is served, 4097 is not */
	char *b = malloc(70001);
	memset(b, ' ', 70000);
	b[0] = '{';
	b[4095] = '}';
	struct chr r = req_url(c, "POST", url, NULL, b, 4096);
	CHECK(r.status == 200 && r.len == 4096);
	chr_free(&r);
	b[4095] = ' ';
	b[4096] = '}';
	EXPECT_ERR(req_url(c, "POST", url, NULL, b, 4097), 413, "body larger than max_body_bytes");
	b[69999] = '}';
	EXPECT_ERR(req_url(c, "POST", url, NULL, b, 70000), 413, "body larger than max_body_bytes");
	/* chunked, no length: cut while reading */
	const char *hdr[] = {"Transfer-Encoding: chunked", NULL};
	th_http(c, "POST", url, hdr, b, 70000, &r);
	CHECK(th_is_error(&r, 413, "body larger than max_body_bytes"));
	chr_free(&r);
	free(b);
	/* a huge Content-Length is answered at once, before any body byte */
	int s = tn_tcp_connect(p, 3);
	CHECK(s >= 0);
	if (s >= 0) {
		const char *h = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n";
		CHECK(write(s, h, strlen(h)) == (ssize_t)strlen(h));
		char buf[4096];
		raw_read(s, buf, sizeof(buf));
		CHECK_MSG(strncmp(buf, "HTTP/1.1 413", 12) == 0, "%s", buf);
		CHECK(strstr(buf, "{\"status\":413,\"reason\":\"body larger than max_body_bytes\"}") != NULL);
		close(s);
	}
	/* a Content-Length past 64 bits is refused, not wrapped */
	s = tn_tcp_connect(p, 3);
	CHECK(s >= 0);
	if (s >= 0) {
		const char *h = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: "
				"999999999999999999999999999\r\n\r\n{}";
		CHECK(write(s, h, strlen(h)) == (ssize_t)strlen(h));
		char buf[4096];
		raw_read(s, buf, sizeof(buf));
		CHECK_MSG(strncmp(buf, "HTTP/1.1 4", 10) == 0, "%s", buf);
		close(s);
	}
}

struct trickle {
	int port;
	bool closed;
	long secs;
};

static void *trickle_thread(void *arg)
{
	struct trickle *t = arg;
	int s = tn_tcp_connect(t->port, 3);
	if (s < 0)
		return NULL;
	const char *head = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{";
	if (write(s, head, strlen(head)) < 0) {
		close(s);
		return NULL;
	}
	int64_t start = mono_ms();
	for (int i = 0; i < 20 && !t->closed; i++) {
		struct timespec ts = {0, 250 * 1000000L};
		nanosleep(&ts, NULL);
		if (send(s, " ", 1, MSG_NOSIGNAL) < 0)
			t->closed = true;
		char buf[256];
		struct timeval tv = {0, 1000};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recv(s, buf, sizeof(buf), 0) == 0)
			t->closed = true;
	}
	t->secs = (long)((mono_ms() - start) / 1000);
	close(s);
	return NULL;
}

TEST_CASE(trickle)
{
	/* three slow clients at once (request_timeout_s = 2); meanwhile normal requests are answered */
	struct trickle t[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		t[i] = (struct trickle){.port = bd.hook_port};
		CHECK(pthread_create(&th[i], NULL, trickle_thread, &t[i]) == 0);
	}
	int64_t start = mono_ms();
	int ok = 0, n = 0;
	while (mono_ms() - start < 1500) {
		struct chr r = post(bd.hook_port, "/rest-hook/CallStatusEvent", NULL, "{\"a\":1}");
		ok += r.status == 200;
		n++;
		chr_free(&r);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	CHECK_MSG(ok == n && n > 5, "%d of %d normal requests answered during the trickle", ok, n);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		CHECK_MSG(t[i].closed, "trickling client %d still connected after %ld s", i, t[i].secs);
		CHECK(t[i].secs <= 4);
	}
	CHECK(log_has(&bd, "request not complete within request_timeout_s, closing"));
}

/* ---- and afterwards, the daemon still serves normal traffic --------------------------- */

/* After each case, whatever it threw at the daemon: it still serves a connect, a call and an event, and never
 * logged a secret. */
static void still_serving(void)
{
	int p = bd.hook_port;
	struct chr r = do_connect(p, NULL, "/10.40.0.1:1/fine", "https://sess.test", "{\"button\":\"b\"}");
	CHECK(r.status == 200 && has(&r, "\"sipLogin\":\"42001\"") && has(&r, "\"restClientConfig\":{"));
	CHECK(strstr(r.body, "browser-pw") == NULL);
	chr_free(&r);
	call_ok(p, "fine-1", "/10.40.0.1:1/fine", "42003");
	const char *ev = "{\"sessionId\":\"/10.40.0.1:1/fine\",\"status\":\"DISCONNECTED\",\"n\":1.50}";
	r = post(p, "/rest-hook/ConnectionStatusEvent", NULL, ev);
	CHECK(r.status == 200 && strcmp(r.body, ev) == 0);
	chr_free(&r);
	char url[256];
	r = req_url(c, "GET", th_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0);
	CHECK(r.status == 200 && strcmp(r.body, "{\"status\":\"ok\"}") == 0);
	chr_free(&r);
	/* and the daemon never logged a secret */
	char *log = chd_log(&bd);
	const char *secrets[] = CH_TEST_SECRETS;
	for (size_t i = 0; secrets[i]; i++)
		CHECK_MSG(strstr(log, secrets[i]) == NULL, "secret %zu in the log", i);
	free(log);
}

/* Every case gets its own budget daemon (one site per budget under test) and a keep-alive libcurl handle. */
int test_setup(const char *name)
{
	(void)name;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	return start_budget_daemon();
}

void test_teardown(void)
{
	if (bd.pid > 0) {
		still_serving();
		CHECK(chd_stop(&bd) == 0);
	}
	chd_cleanup(&bd);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}
