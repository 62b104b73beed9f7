/* tests/it/test_hook_sec.c: the hook's security fixes against the real daemon: callId ownership, visitor-token nbf and
 * aud, HTTP framing over raw sockets, IPv6 budget prefixes, case-insensitive member stripping. */
#include "tests/check.h"
#include "tests/support/net.h"
#include "common/common.h"
#include "harness.h"
#include "secrets.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static CURL *c;
static struct chd d;

/* ---- helpers ------------------------------------------------------------- */

static struct chr post(const char *path, const char *body)
{
	char url[256];
	const char *hdr[] = {"Content-Type: application/json;charset=UTF-8", NULL};
	struct chr r;
	int rc = th_http(c, "POST", th_url(url, sizeof(url), d.hook_port, path), hdr, body, strlen(body), &r);
	if (rc != 0)
		fprintf(stderr, "  curl error %d on %s\n", rc, path);
	return r;
}

/* a string member of o, "" when absent (so CHECK_STR never sees NULL) */
static const char *jstr(json_t *o, const char *name)
{
	const char *v = json_string_value(json_object_get(o, name));
	return v ? v : "";
}

static bool has(const struct chr *r, const char *needle)
{
	bool ok = r->body && strstr(r->body, needle) != NULL;
	if (!ok)
		fprintf(stderr, "  \"%s\" not in %ld %s\n", needle, r->status, r->body ? r->body : "(null)");
	return ok;
}

static struct chr connect_(const char *sid, const char *origin, const char *custom)
{
	char b[4096];
	snprintf(b, sizeof(b),
		 "{\"nodeId\":\"n1@192.168.1.5\",\"appKey\":\"clickToCallApp\",\"sessionId\":\"%s\","
		 "\"mediaProviders\":[\"WebRTC\"],\"custom\":%s,\"origin\":\"%s\"}",
		 sid, custom ? custom : "{}", origin);
	return post("/rest-hook/connect", b);
}

static struct chr call_(const char *call_id, const char *sid, const char *custom)
{
	char b[1024];
	snprintf(b, sizeof(b),
		 "{\"callId\":\"%s\",\"incoming\":false,\"callee\":\"+1900555\",\"sessionId\":\"%s\",\"custom\":%s}",
		 call_id, sid, custom ? custom : "{}");
	return post("/rest-hook/call", b);
}

static void call_ok(const char *call_id, const char *sid, const char *callee)
{
	char want[64];
	snprintf(want, sizeof(want), "\"callee\":\"%s\"", callee);
	struct chr r = call_(call_id, sid, NULL);
	CHECK_MSG(r.status == 200 && has(&r, want), "call %s from %s", call_id, sid);
	chr_free(&r);
}

static void event(const char *call_id, const char *sid, const char *status)
{
	char b[512];
	if (sid)
		snprintf(b, sizeof(b), "{\"callId\":\"%s\",\"sessionId\":\"%s\",\"status\":\"%s\"}", call_id, sid,
			 status);
	else
		snprintf(b, sizeof(b), "{\"callId\":\"%s\",\"status\":\"%s\"}", call_id, status);
	struct chr r = post("/rest-hook/CallStatusEvent", b);
	CHECK(r.status == 200 && r.body && strcmp(r.body, b) == 0);
	chr_free(&r);
}

/* ---- JWT minting (independent of libjwt) ----------------------------------- */

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
	static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		size_t chars = n - i >= 3 ? 4 : n - i + 1;
		for (size_t k = 0; k < chars; k++)
			out[o++] = T[(v >> (18 - 6 * k)) & 63];
	}
	out[o] = '\0';
	return o;
}

/* {"token":"<HS256 JWT of iat now, exp now+120, jti, extra claims>"} into buf */
static const char *tok_custom(char *buf, size_t cap, const char *jti, const char *extra)
{
	long long now = (long long)time(NULL);
	char pl[512], t[2048];
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\"%s}", now, now + 120, jti,
		 extra ? extra : "");
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	size_t n = b64url((const unsigned char *)hdr, strlen(hdr), t);
	t[n++] = '.';
	n += b64url((const unsigned char *)pl, strlen(pl), t + n);
	unsigned char sig[32];
	CHECK(gnutls_hmac_fast(GNUTLS_MAC_SHA256, CH_SECRET_TOKEN, strlen(CH_SECRET_TOKEN), t, n, sig) == 0);
	t[n++] = '.';
	b64url(sig, sizeof(sig), t + n);
	CHECK(ch_fmt(buf, cap, "{\"token\":\"%s\"}", t) == 0);
	return buf;
}

/* ---- raw sockets ------------------------------------------------------------ */

/* Send req, read until the server closes (true) or 3 s pass (false). */
static bool raw_exchange(int port, const char *req, char *buf, size_t cap)
{
	int rc = tn_exchange(port, req, buf, cap);
	CHECK_MSG(rc >= 0, "cannot connect to or send to port %d", port);
	return rc == 1;
}

/* The answer is exactly one 400 with the JSON reason, and the server closed. */
static void expect_framing_400(int port, const char *what, const char *req, const char *reason)
{
	char buf[8192];
	bool closed = raw_exchange(port, req, buf, sizeof(buf));
	char body[256];
	snprintf(body, sizeof(body), "\r\n\r\n{\"status\":400,\"reason\":\"%s\"}", reason);
	CHECK_MSG(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "%s: %s", what, buf);
	const char *end = strstr(buf, body);
	CHECK_MSG(end != NULL, "%s: no JSON reason \"%s\" in %s", what, reason, buf);
	/* nothing after the body: no second answer to bytes smuggled behind it */
	CHECK_MSG(end && end[strlen(body)] == '\0', "%s: more after the answer: %s", what, end ? end : "");
	CHECK_MSG(strcasestr(buf, "\r\nContent-Type: application/json") != NULL, "%s: %s", what, buf);
	CHECK_MSG(strcasestr(buf, "\r\nConnection: close") != NULL, "%s: %s", what, buf);
	CHECK_MSG(closed, "%s: connection still open", what);
}

static int admin_port(void)
{
	char *log = chd_log(&d);
	int port = 0;
	const char *p = strstr(log, "admin: listening on ");
	if (p) {
		const char *nl = strchr(p, '\n');
		const char *colon = NULL;
		for (const char *q = p + 20; *q && q != nl; q++)
			if (*q == ':')
				colon = q;
		if (colon)
			port = (int)strtol(colon + 1, NULL, 10);
	}
	free(log);
	return port;
}

/* ---- the daemon ------------------------------------------------------------- */

static int start(void)
{
	CHECK(chd_init(&d) == 0);
	CHECK(chd_write(&d, "token.key", CH_SECRET_TOKEN, 0600) == 0);
	static char conf[8192];
	const char *hi = "connects_per_minute_per_ip = 100000; calls_per_minute_per_ip = 100000; calls_per_minute = "
			 "100000;";
	snprintf(conf, sizeof(conf),
		 "log = { level = \"debug\"; };\n"
		 "hook = { listen = [ \"127.0.0.1:0\" ]; request_timeout_s = 2; };\n"
		 "admin = { listen = [ \"127.0.0.1:0\" ]; };\n"
		 "sites = (\n"
		 " { name = \"a\"; domain = \"a.test\"; sip = { login = \"51001\"; auth_name = \"51001a\"; password = "
		 "\"%s\"; outbound_proxy = \"sip.a.test\"; };\n"
		 "   callee = \"51002\"; buttons = { b = \"51003\"; };\n"
		 "   limits = { %s calls_per_session = 2; concurrent_calls = 2; }; },\n"
		 " { name = \"b\"; domain = \"b.test\"; sip = { login = \"52001\"; }; callee = \"52002\";\n"
		 "   limits = { %s calls_per_session = 100; concurrent_calls = 1; }; },\n"
		 " { name = \"tok\"; domain = \"tok.test\"; sip = { login = \"53001\"; }; callee = \"53002\";\n"
		 "   token = { secret_file = \"token.key\"; required = true; audience = \"callhook-tok\"; }; },\n"
		 " { name = \"noaud\"; domain = \"noaud.test\"; sip = { login = \"54001\"; }; callee = \"54002\";\n"
		 "   token = { secret_file = \"token.key\"; required = true; }; },\n"
		 " { name = \"v6\"; domain = \"v6.test\"; sip = { login = \"55001\"; }; callee = \"55002\";\n"
		 "   limits = { connects_per_minute_per_ip = 2; calls_per_minute_per_ip = 2; ipv6_prefix = 48; }; },\n"
		 " { name = \"v6d\"; domain = \"v6d.test\"; sip = { login = \"56001\"; }; callee = \"56002\";\n"
		 "   limits = { connects_per_minute_per_ip = 2; }; }\n"
		 ");\n",
		 CH_SECRET_SIP_ABUSE, hi, hi);
	return chd_start(&d, conf);
}

/* ---- 1. callId: retries, conflicts, ends ------------------------------------ */

/* A call without a string callId is 400 and counts nothing: the session still has all its calls after. */
TEST_CASE(call_id_missing)
{
	const char *A1 = "/10.50.0.1:1/a1";
	EXPECT_STATUS(connect_(A1, "https://a.test", NULL), 200);
	const char *bad[] = {
	    "{\"sessionId\":\"/10.50.0.1:1/a1\",\"callee\":\"x\"}",
	    "{\"callId\":7,\"sessionId\":\"/10.50.0.1:1/a1\"}",
	    "{\"callId\":null,\"sessionId\":\"/10.50.0.1:1/a1\"}",
	    "{\"callId\":\"\",\"sessionId\":\"/10.50.0.1:1/a1\"}",
	    "{\"callId\":[\"c\"],\"sessionId\":\"/10.50.0.1:1/a1\"}",
	    "{\"callId\":{\"id\":\"c\"},\"sessionId\":\"/10.50.0.1:1/a1\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_ERR(post("/rest-hook/call", bad[i]), 400, "callId is missing or invalid");

	call_ok("x-1", A1, "51002");
	call_ok("x-2", A1, "51002");
}

TEST_CASE(call_id)
{
	const char *A1 = "/10.50.0.1:1/a1", *A2 = "/10.50.0.2:1/a2", *A3 = "/10.50.0.3:1/a3";
	const char *B1 = "/10.50.1.1:1/b1", *B2 = "/10.50.1.2:1/b2";
	EXPECT_STATUS(connect_(A1, "https://a.test", NULL), 200);
	EXPECT_STATUS(connect_(A2, "https://a.test", NULL), 200);
	EXPECT_STATUS(connect_(A3, "https://a.test", NULL), 200);
	EXPECT_STATUS(connect_(B1, "https://b.test", NULL), 200);
	EXPECT_STATUS(connect_(B2, "https://b.test", NULL), 200);

	/* A1 places x-1; its callId from another session of the site, or from another site, is a conflict */
	call_ok("x-1", A1, "51002");
	EXPECT_ERR(call_("x-1", A2, NULL), 409, "callId belongs to another session");
	EXPECT_ERR(call_("x-1", B1, NULL), 409, "callId belongs to another session");
	EXPECT_ERR(call_("x-1", "/10.50.9.9:1/never", NULL), 403, "unknown session");
	/* the conflicts took nothing: site b still has its one slot, A2 its 2 calls */
	call_ok("y-1", B1, "52002");
	EXPECT_ERR(call_("y-2", B2, NULL), 429, "concurrent_calls exceeded");
	/* and did not overwrite x-1: A1's retry is still a retry */
	struct chr first = call_("x-2", A1, NULL);
	CHECK(first.status == 200 && has(&first, "\"callee\":\"51002\""));
	struct chr again = call_("x-2", A1, NULL);
	CHECK(again.status == 200 && first.body && again.body && strcmp(again.body, first.body) == 0);
	chr_free(&again);
	chr_free(&first);
	/* site a: x-1 and x-2 hold both slots */
	EXPECT_ERR(call_("x-3", A2, NULL), 429, "concurrent_calls exceeded");
	/* an end of x-1 naming another session frees nothing */
	event("x-1", A2, "FINISH");
	event("x-1", B1, "FAILED");
	EXPECT_ERR(call_("x-3", A2, NULL), 429, "concurrent_calls exceeded");
	/* the conflicting session could not take x-1 over either: still 409 */
	EXPECT_ERR(call_("x-1", A2, NULL), 409, "callId belongs to another session");
	/* its owner's end frees its slot, once */
	event("x-1", A1, "FINISH");
	event("x-1", A1, "FINISH");
	call_ok("x-3", A2, "51002");
	EXPECT_ERR(call_("x-4", A3, NULL), 429, "concurrent_calls exceeded");
	/* an ended call's callId is not a retry: it is a new call and is counted (A1 has had 2: x-1, x-2) */
	event("x-2", A1, "FINISH");
	EXPECT_ERR(call_("x-1", A1, NULL), 429, "calls_per_session exceeded");
	EXPECT_ERR(call_("x-2", A1, NULL), 429, "calls_per_session exceeded");
	/* ... and, below calls_per_session, takes a slot again */
	call_ok("x-5", A3, "51002"); /* A3: 1 call; slots: x-3, x-5 */
	event("x-5", A3, "FINISH");
	call_ok("x-5", A3, "51002"); /* A3: 2 calls, the same callId placed anew */
	EXPECT_ERR(call_("x-6", A3, NULL), 429, "calls_per_session exceeded");
	EXPECT_ERR(call_("x-9", A2, NULL), 429, "concurrent_calls exceeded");
	/* the ended call of another session is still not this session's: 409, not a fresh call */
	EXPECT_ERR(call_("x-2", A2, NULL), 409, "callId belongs to another session");

	/* a retry gets the callee it was placed with, whatever button it names now */
	event("x-3", A2, "FINISH");
	event("x-5", A3, "FINISH");
	const char *A4 = "/10.50.0.4:1/a4";
	EXPECT_STATUS(connect_(A4, "https://a.test", NULL), 200);
	call_ok("z-1", A4, "51002");
	struct chr r = call_("z-1", A4, "{\"button\":\"b\"}");
	CHECK(r.status == 200 && has(&r, "\"callee\":\"51002\"") && !strstr(r.body ? r.body : "", "51003"));
	chr_free(&r);
	/* a new callId with that button gets the button's callee (and is counted: A4's 2nd) */
	r = call_("z-2", A4, "{\"button\":\"b\"}");
	CHECK(r.status == 200 && has(&r, "\"callee\":\"51003\""));
	chr_free(&r);
	EXPECT_ERR(call_("z-3", A4, NULL), 429, "calls_per_session exceeded");

	/* a sessionId of one site cannot connect to another (it would shed the first site's counts) */
	EXPECT_ERR(connect_(A4, "https://b.test", NULL), 409, "sessionId belongs to another site");
	EXPECT_STATUS(connect_(A4, "https://a.test", NULL), 200); /* a retry of the same site is fine */
	EXPECT_ERR(call_("z-4", A4, NULL), 429, "calls_per_session exceeded");
	event("z-1", A4, "FINISH");
	event("z-2", A4, "FINISH");
	CHECK(chd_wait_log(&d, "method=call site=a verdict=callid status=409", 1000));
}

/* ---- 2. tokens: nbf and aud, end to end --------------------------------------- */

TEST_CASE(tokens)
{
	long long now = (long long)time(NULL);
	char cu[2048], ex[128];
	/* site tok: audience "callhook-tok" */
	EXPECT_STATUS(connect_("/10.51.0.1:1/t1", "https://tok.test",
			       tok_custom(cu, sizeof(cu), "t-1", ",\"aud\":\"callhook-tok\"")),
		      200);
	EXPECT_STATUS(connect_("/10.51.0.1:2/t2", "https://tok.test",
			       tok_custom(cu, sizeof(cu), "t-2", ",\"aud\":[\"crm\",\"callhook-tok\"]")),
		      200);
	EXPECT_STATUS(connect_("/10.51.0.1:3/t3", "https://tok.test", tok_custom(cu, sizeof(cu), "t-3", NULL)), 200);
	EXPECT_ERR(connect_("/10.51.0.1:4/t4", "https://tok.test",
			    tok_custom(cu, sizeof(cu), "t-4", ",\"aud\":\"callhook-other\"")),
		   403, "token audience mismatch");
	EXPECT_ERR(connect_("/10.51.0.1:5/t5", "https://tok.test",
			    tok_custom(cu, sizeof(cu), "t-5", ",\"aud\":[\"crm\",\"CALLHOOK-TOK\"]")),
		   403, "token audience mismatch");
	EXPECT_ERR(connect_("/10.51.0.1:6/t6", "https://tok.test", tok_custom(cu, sizeof(cu), "t-6", ",\"aud\":7")),
		   403, "token malformed");
	/* nbf: in the future beyond the leeway (30 s) refused, now or within the leeway accepted */
	snprintf(ex, sizeof(ex), ",\"nbf\":%lld", now + 600);
	EXPECT_ERR(connect_("/10.51.0.1:7/t7", "https://tok.test", tok_custom(cu, sizeof(cu), "t-7", ex)), 403,
		   "token not valid yet (nbf)");
	snprintf(ex, sizeof(ex), ",\"nbf\":%lld,\"aud\":\"callhook-tok\"", now + 5);
	EXPECT_STATUS(connect_("/10.51.0.1:8/t8", "https://tok.test", tok_custom(cu, sizeof(cu), "t-8", ex)), 200);
	EXPECT_ERR(connect_("/10.51.0.1:9/t9", "https://tok.test", tok_custom(cu, sizeof(cu), "t-9", ",\"nbf\":\"0\"")),
		   403, "token malformed");
	/* refused connects left no session behind */
	EXPECT_ERR(call_("t-c4", "/10.51.0.1:4/t4", NULL), 403, "unknown session");
	EXPECT_ERR(call_("t-c7", "/10.51.0.1:7/t7", NULL), 403, "unknown session");
	call_ok("t-c1", "/10.51.0.1:1/t1", "53002");
	/* site noaud: no audience configured, so any aud is refused */
	EXPECT_ERR(connect_("/10.51.1.1:1/n1", "https://noaud.test",
			    tok_custom(cu, sizeof(cu), "n-1", ",\"aud\":\"callhook-tok\"")),
		   403, "token audience mismatch");
	EXPECT_ERR(connect_("/10.51.1.1:2/n2", "https://noaud.test", tok_custom(cu, sizeof(cu), "n-2", ",\"aud\":[]")),
		   403, "token audience mismatch");
	EXPECT_STATUS(connect_("/10.51.1.1:3/n3", "https://noaud.test", tok_custom(cu, sizeof(cu), "n-3", NULL)), 200);
}

/* ---- 3. framing, over raw sockets ---------------------------------------------- */

TEST_CASE(framing)
{
	int p = d.hook_port;
	const char *E = "POST /rest-hook/CallStatusEvent HTTP/1.1\r\nHost: x\r\n";
	char req[1024];
#define REQ(hdrs, body) (snprintf(req, sizeof(req), "%s%s\r\n%s", E, hdrs, body), req)
	const char *B = "{\"a\":1}";
	expect_framing_400(p, "two equal lengths", REQ("Content-Length: 7\r\nContent-Length: 7\r\n", B),
			   "duplicate Content-Length header");
	expect_framing_400(p, "two lengths", REQ("Content-Length: 7\r\nContent-Length: 3\r\n", B),
			   "duplicate Content-Length header");
	expect_framing_400(p, "two lengths, other case", REQ("content-length: 7\r\nCONTENT-LENGTH: 7\r\n", B),
			   "duplicate Content-Length header");
	expect_framing_400(p, "space before colon", REQ("Content-Length : 7\r\n", B), "invalid header field name");
	expect_framing_400(p, "tab before colon", REQ("Content-Length\t: 7\r\n", B), "invalid header field name");
	expect_framing_400(p, "space before colon, other field",
			   REQ("X-Forwarded-For : 1.2.3.4\r\nContent-Length: 7\r\n", B), "invalid header field name");
	expect_framing_400(p, "leading space (obs-fold)", REQ("Content-Length: 7\r\n Content-Length: 3\r\n", B),
			   "invalid header field name");
	expect_framing_400(p, "chunked with a length",
			   REQ("Content-Length: 7\r\nTransfer-Encoding: chunked\r\n", "7\r\n{\"a\":1}\r\n0\r\n\r\n"),
			   "Transfer-Encoding with Content-Length");
	expect_framing_400(p, "length with chunked",
			   REQ("Transfer-Encoding: chunked\r\nContent-Length: 7\r\n", "7\r\n{\"a\":1}\r\n0\r\n\r\n"),
			   "Transfer-Encoding with Content-Length");
	expect_framing_400(p, "identity with a length", REQ("Transfer-Encoding: identity\r\nContent-Length: 7\r\n", B),
			   "Transfer-Encoding with Content-Length");
	/* a smuggled second request behind the first is never answered */
	expect_framing_400(
	    p, "pipelined smuggle",
	    REQ("Content-Length: 7\r\nContent-Length: 0\r\n", "{\"a\":1}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
	    "duplicate Content-Length header");
	/* a refused connect changed nothing: no session exists afterwards */
	snprintf(req, sizeof(req),
		 "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\nContent-Length: %zu\r\n\r\n"
		 "{\"sessionId\":\"/10.52.0.1:1/smug\",\"origin\":\"https://a.test\"}",
		 strlen("{\"sessionId\":\"/10.52.0.1:1/smug\",\"origin\":\"https://a.test\"}"),
		 strlen("{\"sessionId\":\"/10.52.0.1:1/smug\",\"origin\":\"https://a.test\"}"));
	expect_framing_400(p, "connect with two lengths", req, "duplicate Content-Length header");
	EXPECT_ERR(call_("smug-1", "/10.52.0.1:1/smug", NULL), 403, "unknown session");
	/* the admin listener refuses the same way */
	int ap = admin_port();
	CHECK(ap > 0);
	if (ap > 0)
		expect_framing_400(ap, "admin, two lengths",
				   "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
				   "duplicate Content-Length header");
	/* the control: a sound request is answered and the connection stays open for the next */
	int s = tn_tcp_connect(p, 3);
	CHECK(s >= 0);
	if (s >= 0) {
		REQ("Content-Length: 7\r\n", B);
		char buf[4096];
		for (int i = 0; i < 2; i++) {
			CHECK(send(s, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
			ssize_t k = recv(s, buf, sizeof(buf) - 1, 0);
			buf[k > 0 ? k : 0] = '\0';
			CHECK_MSG(strncmp(buf, "HTTP/1.1 200 ", 13) == 0 && strstr(buf, "\r\n\r\n{\"a\":1}"), "%s",
				  buf);
			CHECK(strcasestr(buf, "Connection: close") == NULL);
		}
		close(s);
	}
	CHECK(chd_wait_log(&d, "verdict=framing status=400", 1000));
#undef REQ
}

/* ---- 4. IPv6 budgets by prefix (the client address comes from the sessionId) ----- */

TEST_CASE(ipv6_prefix)
{
	const char *O = "https://v6.test"; /* ipv6_prefix = 48, connects 2, calls 2 per minute per IP */
	EXPECT_STATUS(connect_("/[2001:db8:aa:1::1]:1/a", O, NULL), 200);
	EXPECT_STATUS(connect_("/[2001:db8:aa:ffff::2]:1/b", O, NULL), 200);
	EXPECT_ERR(connect_("/[2001:db8:aa:2:3:4:5:6]:1/c", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_ERR(connect_("/2001:db8:aa::9:1/d", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_STATUS(connect_("/[2001:db8:ab::1]:1/e", O, NULL), 200); /* another /48 */
	/* calls count per /48 too */
	call_ok("v-1", "/[2001:db8:aa:1::1]:1/a", "55002");
	call_ok("v-2", "/[2001:db8:aa:ffff::2]:1/b", "55002");
	EXPECT_ERR(call_("v-3", "/[2001:db8:aa:ffff::2]:1/b", NULL), 429, "calls_per_minute_per_ip exceeded");
	call_ok("v-4", "/[2001:db8:ab::1]:1/e", "55002");
	/* IPv4-mapped IPv6 is its IPv4 address */
	EXPECT_STATUS(connect_("/[::ffff:10.53.0.1]:1/m1", O, NULL), 200);
	EXPECT_STATUS(connect_("/10.53.0.1:2/m2", O, NULL), 200);
	EXPECT_ERR(connect_("/::ffff:10.53.0.1:3/m3", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_STATUS(connect_("/10.53.0.2:1/m4", O, NULL), 200);
	/* the default prefix is 64: one /64 shares, the next /64 does not */
	const char *D = "https://v6d.test";
	EXPECT_STATUS(connect_("/[2001:db8:cc:1::1]:1/a", D, NULL), 200);
	EXPECT_STATUS(connect_("/[2001:db8:cc:1:ffff::1]:1/b", D, NULL), 200);
	EXPECT_ERR(connect_("/[2001:db8:cc:1::abcd]:1/c", D, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_STATUS(connect_("/[2001:db8:cc:2::1]:1/d", D, NULL), 200);
}

/* ---- 5. the connect and call answers strip browser spellings of our members ------ */

TEST_CASE(case_insensitive)
{
	const char *body =
	    "{\"sessionId\":\"/10.54.0.1:1/ci\",\"origin\":\"https://a.test\",\"SIPLogin\":\"evil-login\","
	    "\"SipPassword\":\"evil-pw\",\"sIpAuthenticationName\":\"evil-auth\",\"SIPOUTBOUNDPROXY\":\"evil.proxy\","
	    "\"sipDomain\":\"evil.domain\",\"Sipport\":\"6666\",\"RestClientConfig\":{\"call\":{\"restPolicy\":"
	    "\"NOTIFY\"}},"
	    "\"restclientconfig\":{},\"appKey\":\"clickToCallApp\"}";
	struct chr r = post("/rest-hook/connect", body);
	CHECK_MSG(r.status == 200, "got %ld %s", r.status, r.body);
	CHECK(r.body && !strstr(r.body, "evil") && !strstr(r.body, "6666") && !strstr(r.body, "NOTIFY\"}}"));
	json_t *o = r.body ? json_loads(r.body, JSON_REJECT_DUPLICATES, NULL) : NULL;
	CHECK(json_is_object(o));
	/* every sip* and restClientConfig member is ours, spelled as WCS expects, once */
	const char *key;
	json_t *v;
	int sip = 0, rcc = 0;
	json_object_foreach(o, key, v)
	{
		if (strncasecmp(key, "sip", 3) == 0) {
			sip++;
			CHECK_MSG(strncmp(key, "sip", 3) == 0, "browser member %s kept", key);
		}
		if (strcasecmp(key, "restClientConfig") == 0) {
			rcc++;
			CHECK_STR(key, "restClientConfig");
		}
	}
	CHECK(rcc == 1);
	CHECK(sip >= 3);
	CHECK_STR(jstr(o, "sipLogin"), "51001");
	CHECK_STR(jstr(o, "sipAuthenticationName"), "51001a");
	CHECK_STR(jstr(o, "sipOutboundProxy"), "sip.a.test");
	CHECK_STR(jstr(o, "appKey"), "clickToCallApp");
	json_decref(o);
	chr_free(&r);

	/* the call answer: another spelling of callee / inviteParameters is dropped, ours is set */
	const char *cb = "{\"callId\":\"ci-1\",\"sessionId\":\"/10.54.0.1:1/ci\",\"Callee\":\"+1900evil\","
			 "\"CALLEE\":\"+1900evil2\",\"INVITEPARAMETERS\":{\"X-Evil\":\"1\"},"
			 "\"InviteParameters\":{\"X-Evil\":\"2\"},\"visibleName\":\"V\"}";
	r = post("/rest-hook/call", cb);
	CHECK_MSG(r.status == 200, "got %ld %s", r.status, r.body);
	CHECK(r.body && !strstr(r.body, "evil") && !strstr(r.body, "Evil"));
	o = r.body ? json_loads(r.body, JSON_REJECT_DUPLICATES, NULL) : NULL;
	CHECK(json_is_object(o));
	int callees = 0, ips = 0;
	json_object_foreach(o, key, v)
	{
		callees += strcasecmp(key, "callee") == 0;
		ips += strcasecmp(key, "inviteParameters") == 0;
	}
	CHECK(callees == 1 && ips == 1);
	CHECK_STR(jstr(o, "callee"), "51002");
	CHECK(json_is_object(json_object_get(o, "inviteParameters")) &&
	      json_object_size(json_object_get(o, "inviteParameters")) == 0);
	CHECK_STR(jstr(o, "visibleName"), "V");
	json_decref(o);
	chr_free(&r);
}

/* ---- the --check summary shows the new keys ------------------------------------- */

TEST_CASE(check_summary)
{
	char conf[2048];
	snprintf(conf, sizeof(conf),
		 "hook = { listen = [ \"127.0.0.1:0\" ]; };\n"
		 "sites = ( { name = \"s\"; domain = \"s.test\"; sip = { login = \"1\"; }; callee = \"2\";\n"
		 "  token = { secret_file = \"token.key\"; audience = \"callhook-s\"; };\n"
		 "  limits = { ipv6_prefix = 56; }; } );\n");
	const char *args[] = {"--check", "-c", d.conf, NULL};
	char *out = NULL;
	int rc = chd_run(&d, conf, args, &out);
	CHECK_MSG(rc == 0, "--check exited %d: %s", rc, out ? out : "");
	CHECK_MSG(out && strstr(out, "audience callhook-s"), "%s", out ? out : "");
	CHECK_MSG(out && strstr(out, "ipv6_prefix /56"), "%s", out ? out : "");
	free(out);
}

/* Every case gets its own daemon (two sites, tokens, the admin listener) and a keep-alive libcurl handle. */
int test_setup(const char *name)
{
	(void)name;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	return start();
}

void test_teardown(void)
{
	if (d.pid > 0)
		CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}
