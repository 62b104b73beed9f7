/* tests/it/test_hook.c: the hook end to end: real daemon on loopback, libcurl over keep-alive. */
#include "tests/check.h"
#include "harness.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *conf_two_sites =
    "log = { level = \"debug\"; };\n"
    "hook = { listen = [ \"127.0.0.1:0\" ]; max_sessions = 40; request_timeout_s = 2; max_body_bytes = 65536;\n"
    "  max_json_depth = 16;\n"
    "  rest_client_config = \"" CH_TEST_DATA "/wcs/rest_client_config.json\"; };\n"
    "sites = (\n"
    " { name = \"shop\"; origins = [ \"https://www.example.com\", \"https://*.example.com\" ];\n"
    "   sip = { login = \"10001\"; auth_name = \"10001a\"; password = \"Shop-Secret-77\"; domain = "
    "\"sip.example.com\";\n"
    "           outbound_proxy = \"proxy.example.com\"; port = 5060; register_required = true; };\n"
    "   callee = \"10002\"; buttons = { sales = \"10002\"; support = \"10003\"; };\n"
    "   limits = { connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = 1000;\n"
    "              calls_per_minute = 1000; concurrent_calls = 1000; }; },\n"
    " { name = \"clinic\"; domain = \"clinic.test\"; sip = { login = \"20001\"; password = \"Clinic-Secret-88\"; };\n"
    "   buttons = { desk = \"20002\"; }; allow_transfer = true; allow_messages = true;\n"
    "   limits = { connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = 1000;\n"
    "              calls_per_minute = 1000; concurrent_calls = 1000; }; }\n"
    ");\n";

static struct chd d;
static CURL *c;

static struct chr post(const char *path, const char *body)
{
	char url[256];
	struct chr r;
	const char *hdr[] = {"Content-Type: application/json;charset=UTF-8", NULL};
	th_http(c, "POST", th_url(url, sizeof(url), d.hook_port, path), hdr, body, strlen(body), &r);
	return r;
}

static json_t *parse(const struct chr *r)
{
	return json_loadb(r->body, r->len, JSON_DECODE_INT_AS_REAL, NULL);
}

static const char *connect_body(char *buf, size_t cap, const char *sid, const char *origin, const char *custom)
{
	snprintf(buf, cap,
		 "{\"nodeId\":\"Qb3rAjf3@192.168.1.5\",\"appKey\":\"clickToCallApp\",\"sessionId\":\"%s\","
		 "\"useWsTunnel\":false,\"mediaProviders\":[\"WebRTC\"],\"clientVersion\":\"2.0\",\"keepAlive\":false,"
		 "\"custom\":%s,\"origin\":\"%s\"}",
		 sid, custom ? custom : "{}", origin);
	return buf;
}

TEST_CASE(connect_allowed)
{
	/* members the hook does not touch come back byte for byte: floats, huge ints, {} and escapes */
	const char *body =
	    "{\"nodeId\":\"n@1.2.3.4\" , \"appKey\":\"clickToCallApp\",\"sessionId\":\"/10.0.0.1:5000/s-a\","
	    "\"f\":0.1,\"big\":123456789012345678901234567890,\"neg\":-1.5e-300,\"empty\":{},\"arr\":[],"
	    "\"u\":\"\\u00e9t\\u00e9 \xc3\xa9 /path\\/x\",\"custom\":{\"button\":\"sales\"},"
	    "\"sipPassword\":\"browser-chosen\",\"sipProxy\":\"evil.example\",\"sipLogin\":\"999\","
	    "\"restClientConfig\":{\"call\":{\"restPolicy\":\"NOTIFY\"}},"
	    "\"origin\":\"https://www.example.com\"}";
	struct chr r = post("/rest-hook/connect", body);
	CHECK(r.status == 200);
	CHECK_STR(r.ctype, "application/json");
	const char *prefix =
	    "{\"nodeId\":\"n@1.2.3.4\",\"appKey\":\"clickToCallApp\",\"sessionId\":\"/10.0.0.1:5000/s-a\","
	    "\"f\":0.1,\"big\":123456789012345678901234567890,\"neg\":-1.5e-300,\"empty\":{},\"arr\":[],"
	    "\"u\":\"\\u00e9t\\u00e9 \xc3\xa9 /path\\/x\",\"custom\":{\"button\":\"sales\"},"
	    "\"origin\":\"https://www.example.com\",\"sipLogin\":\"10001\",\"sipAuthenticationName\":\"10001a\","
	    "\"sipPassword\":\"Shop-Secret-77\",\"sipDomain\":\"sip.example.com\","
	    "\"sipOutboundProxy\":\"proxy.example.com\",\"sipPort\":\"5060\",\"sipRegisterRequired\":true,"
	    "\"restClientConfig\":{";
	CHECK_MSG(strncmp(r.body, prefix, strlen(prefix)) == 0, "answer: %s", r.body);
	CHECK(strstr(r.body, "browser-chosen") == NULL);
	CHECK(strstr(r.body, "evil.example") == NULL);
	CHECK(strstr(r.body, "\"999\"") == NULL);
	json_t *j = parse(&r);
	CHECK(j != NULL);
	json_t *rcc = json_object_get(j, "restClientConfig");
	json_t *call = json_object_get(rcc, "call");
	CHECK_STR(json_string_value(json_object_get(call, "restPolicy")), "OVERWRITE");
	CHECK_STR(json_string_value(json_object_get(call, "restOnError")), "FAIL");
	CHECK_STR(json_string_value(json_object_get(call, "restOverwrite")), "callee,inviteParameters");
	CHECK_STR(json_string_value(json_object_get(json_object_get(rcc, "transfer"), "restPolicy")), "OVERWRITE");
	CHECK_STR(json_string_value(json_object_get(json_object_get(rcc, "sendMessage"), "restOnError")), "FAIL");
	const char *excl = "sipLogin,sipAuthenticationName,sipPassword,sipDomain,sipOutboundProxy,sipPort";
	CHECK_STR(json_string_value(json_object_get(json_object_get(rcc, "ConnectionStatusEvent"), "clientExclude")),
		  excl);
	CHECK_STR(json_string_value(json_object_get(json_object_get(rcc, "RegistrationStatusEvent"), "clientExclude")),
		  excl);
	CHECK_STR(json_string_value(json_object_get(json_object_get(rcc, "connect"), "clientExclude")), excl);
	CHECK(json_object_size(rcc) == 33); /* the file's 32 methods + connect */
	json_decref(j);
	chr_free(&r);

	/* wildcard subdomain, default port, upper case: all the same origin */
	char b[1024];
	const char *ok_origins[] = {"https://shop.example.com", "https://a.b.example.com", "https://WWW.EXAMPLE.COM",
				    "https://www.example.com:443"};
	for (size_t i = 0; i < 4; i++) {
		char sid[64];
		snprintf(sid, sizeof(sid), "/10.0.0.2:%zu/ok", 6000 + i);
		r = post("/rest-hook/connect", connect_body(b, sizeof(b), sid, ok_origins[i], NULL));
		CHECK_MSG(r.status == 200, "origin %s -> %ld", ok_origins[i], r.status);
		chr_free(&r);
	}
}

TEST_CASE(connect_refused)
{
	/* the origins the PHP's substring test let in are data: tests/data/hook/origin_refused_* */
	char b[1024];
	struct chr r = post("/rest-hook/connect", "{\"sessionId\":\"/1.1.1.1:1/x\"}");
	CHECK(th_is_error(&r, 403, "origin is missing"));
	chr_free(&r);
	r = post("/rest-hook/connect", "{\"sessionId\":\"/1.1.1.1:1/x\",\"origin\":42}");
	CHECK(th_is_error(&r, 403, "origin is missing"));
	chr_free(&r);
	/* an unknown button is refused at connect */
	r = post("/rest-hook/connect",
		 connect_body(b, sizeof(b), "/10.0.0.3:2/btn", "https://www.example.com", "{\"button\":\"premium\"}"));
	CHECK(th_is_error(&r, 403, "unknown button"));
	chr_free(&r);
}

static void call_expect(const char *sid, const char *custom, const char *callee)
{
	char body[1024];
	snprintf(body, sizeof(body),
		 "{\"callId\":\"c-%s-%ld\",\"incoming\":false,\"hasVideo\":false,\"callee\":\"+44900123456\","
		 "\"sessionId\":\"%s\","
		 "\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 "
		 "1.2.3.4\\r\\n\",\"inviteParameters\":{\"X-Evil\":\"1\"},\"custom\":%s,\"f\":1.10}",
		 sid, (long)rand(), sid, custom ? custom : "{}");
	struct chr r = post("/rest-hook/call", body);
	CHECK(r.status == 200);
	char want[64];
	snprintf(want, sizeof(want), "\"callee\":\"%s\",", callee);
	CHECK_MSG(strstr(r.body, want) != NULL, "want %s in %s", want, r.body);
	CHECK(strstr(r.body, "\"inviteParameters\":{},") != NULL);
	CHECK(strstr(r.body, "X-Evil") == NULL);
	CHECK(strstr(r.body, "\"f\":1.10}") != NULL);
	CHECK(strstr(r.body, "\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 1.2.3.4\\r\\n\"") != NULL);
	chr_free(&r);
}

TEST_CASE(calls)
{
	char b[1024];
	struct chr r = post("/rest-hook/connect", connect_body(b, sizeof(b), "/10.0.1.1:1/sales",
							       "https://www.example.com", "{\"button\":\"sales\"}"));
	CHECK(r.status == 200);
	chr_free(&r);
	r = post("/rest-hook/connect",
		 connect_body(b, sizeof(b), "/10.0.1.1:2/none", "https://shop.example.com", NULL));
	CHECK(r.status == 200);
	chr_free(&r);
	r = post("/rest-hook/connect", connect_body(b, sizeof(b), "/10.0.1.1:3/clinic", "https://clinic.test", NULL));
	CHECK(r.status == 200);
	CHECK(strstr(r.body, "\"sipLogin\":\"20001\"") != NULL);
	CHECK(strstr(r.body, "\"sipPort\":\"\"") != NULL); /* not configured -> "" */
	CHECK(strstr(r.body, "\"sipRegisterRequired\":false") != NULL);
	chr_free(&r);

	call_expect("/10.0.1.1:1/sales", NULL, "10002");                       /* connect's button */
	call_expect("/10.0.1.1:1/sales", "{\"button\":\"support\"}", "10003"); /* call's button wins */
	call_expect("/10.0.1.1:2/none", NULL, "10002");                        /* the site's callee */
	call_expect("/10.0.1.1:3/clinic", "{\"button\":\"desk\"}", "20002");   /* the other site */

	/* a callee is never the browser's; an unknown button is refused */
	r = post("/rest-hook/call",
		 "{\"callId\":\"x1\",\"sessionId\":\"/10.0.1.1:1/sales\",\"custom\":{\"button\":\"premium\"}}");
	CHECK(th_is_error(&r, 403, "unknown button"));
	chr_free(&r);
	/* the clinic has buttons but no default callee */
	r = post("/rest-hook/call", "{\"callId\":\"x2\",\"sessionId\":\"/10.0.1.1:3/clinic\",\"callee\":\"666\"}");
	CHECK(th_is_error(&r, 403, "no callee configured for this site"));
	chr_free(&r);
	/* two sites: a session we never accepted is refused */
	r = post("/rest-hook/call", "{\"callId\":\"x3\",\"sessionId\":\"/10.9.9.9:1/never\",\"callee\":\"666\"}");
	CHECK(th_is_error(&r, 403, "unknown session"));
	chr_free(&r);
	/* a call without callee or inviteParameters gets both appended */
	r = post("/rest-hook/call", "{\"callId\":\"x4\",\"sessionId\":\"/10.0.1.1:2/none\"}");
	CHECK_STR(
	    r.body,
	    "{\"callId\":\"x4\",\"sessionId\":\"/10.0.1.1:2/none\",\"callee\":\"10002\",\"inviteParameters\":{}}");
	chr_free(&r);

	/* transfer and sendMessage: refused for the shop, mirrored for the clinic */
	const char *tb = "{\"sessionId\":\"/10.0.1.1:1/sales\",\"callId\":\"c\",\"target\":\"+1900555\"}";
	r = post("/rest-hook/transfer", tb);
	CHECK(th_is_error(&r, 403, "transfers are not allowed for this site"));
	chr_free(&r);
	r = post("/rest-hook/sendMessage", "{\"sessionId\":\"/10.0.1.1:1/sales\",\"to\":\"x\"}");
	CHECK(th_is_error(&r, 403, "messages are not allowed for this site"));
	chr_free(&r);
	tb = "{\"sessionId\":\"/10.0.1.1:3/clinic\",\"callId\":\"c\",\"target\":\"20003\"}";
	r = post("/rest-hook/transfer", tb);
	CHECK(r.status == 200 && strcmp(r.body, tb) == 0);
	chr_free(&r);

	/* DISCONNECTED closes the session: the next call of it is refused */
	const char *ev =
	    "{ \"nodeId\" : \"n\", \"sessionId\":\"/10.0.1.1:1/sales\",\"status\":\"DISCONNECTED\",\"info\":\"Normal "
	    "disconnect\" }";
	r = post("/rest-hook/ConnectionStatusEvent", ev);
	CHECK(r.status == 200 && strcmp(r.body, ev) == 0);
	chr_free(&r);
	r = post("/rest-hook/call", "{\"callId\":\"x5\",\"sessionId\":\"/10.0.1.1:1/sales\"}");
	CHECK(th_is_error(&r, 403, "unknown session"));
	chr_free(&r);
}

TEST_CASE(mirror_and_routing)
{
	/* events come back exactly as sent, whitespace and all */
	const char *ev = "{\n  \"nodeId\": \"n@1\",\n  \"sessionId\": \"/1.2.3.4:5/x\", \"callId\": \"c\",\n"
			 "  \"status\": \"RING\", \"sipStatus\": 180, \"v\": 1e400, \"u\": \"\xe2\x82\xac\",\n"
			 "  \"n\": 18446744073709551616123 }";
	const char *paths[] = {"/rest-hook/CallStatusEvent", "/CallStatusEvent", "/a/b/CallStatusEvent/",
			       "/rest-hook/CallStatusEvent?x=1"};
	for (size_t i = 0; i < 4; i++) {
		struct chr r = post(paths[i], ev);
		/* numbers are validated, never converted (issue 10): 1e400 and a 23-digit integer come back as sent */
		CHECK_MSG(r.status == 200 && strcmp(r.body, ev) == 0, "%s -> %ld %s", paths[i], r.status, r.body);
		chr_free(&r);
	}
	const char *ev2 = "{\n  \"nodeId\": \"n@1\",\n  \"sessionId\": \"/1.2.3.4:5/x\", \"callId\": \"c\",\n"
			  "  \"status\": \"RING\", \"sipStatus\": 180, \"v\": 1.000, \"u\": \"\xe2\x82\xac\\u20ac\",\n"
			  "  \"n\": 18446744073709551616123 }";
	for (size_t i = 0; i < 4; i++) {
		struct chr r = post(paths[i], ev2);
		CHECK_MSG(r.status == 200 && r.len == strlen(ev2) && memcmp(r.body, ev2, r.len) == 0, "%s -> %ld %s",
			  paths[i], r.status, r.body);
		CHECK_STR(r.ctype, "application/json");
		chr_free(&r);
	}
	/* the method is case-sensitive: "Connect" is not connect, so it is mirrored */
	const char *cb = "{\"origin\":\"https://evil.net\",\"sessionId\":\"/1.1.1.1:1/c\"}";
	struct chr r = post("/rest-hook/Connect", cb);
	CHECK(r.status == 200 && strcmp(r.body, cb) == 0);
	chr_free(&r);
	/* trailing slash and query string still reach connect */
	r = post("/rest-hook/connect/", cb);
	CHECK(th_is_error(&r, 403, "origin not allowed"));
	chr_free(&r);
	r = post("/rest-hook/connect?x=1", cb);
	CHECK(th_is_error(&r, 403, "origin not allowed"));
	chr_free(&r);
}

TEST_CASE(bad_inputs)
{
	/* the refused bodies are data: tests/data/hook/bad_body_* */
	char url[256];
	/* oversize: declared by Content-Length, and chunked with no length */
	size_t big = 70000;
	char *huge = malloc(big + 1);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	huge[big] = '\0';
	struct chr r;
	th_http(c, "POST", th_url(url, sizeof(url), d.hook_port, "/rest-hook/call"), NULL, huge, big, &r);
	CHECK(th_is_error(&r, 413, "body larger than max_body_bytes"));
	chr_free(&r);
	const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
	th_http(c, "POST", th_url(url, sizeof(url), d.hook_port, "/rest-hook/call"), chunked, huge, big, &r);
	CHECK(th_is_error(&r, 413, "body larger than max_body_bytes"));
	chr_free(&r);
	free(huge);
	/* request headers past the connection's 8 KiB pool: 431 (libmicrohttpd's own page) */
	size_t hl = 20000;
	char *bighdr = malloc(hl + 16);
	memcpy(bighdr, "X-Big: ", 7);
	memset(bighdr + 7, 'a', hl);
	bighdr[7 + hl] = '\0';
	const char *bh[] = {bighdr, NULL};
	th_http(c, "POST", th_url(url, sizeof(url), d.hook_port, "/rest-hook/call"), bh, "{}", 2, &r);
	CHECK(r.status == 431);
	chr_free(&r);
	free(bighdr);
	/* wrong methods */
	const char *methods[] = {"GET", "PUT", "DELETE", "PATCH", "OPTIONS"};
	for (size_t i = 0; i < 5; i++) {
		th_http(c, methods[i], th_url(url, sizeof(url), d.hook_port, "/rest-hook/connect"), NULL, NULL, 0, &r);
		CHECK_MSG(th_is_error(&r, 405, "use POST"), "%s", methods[i]);
		CHECK_STR(r.allow, "POST");
		chr_free(&r);
	}
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/healthz"), NULL, NULL, 0, &r);
	CHECK(r.status == 200 && strcmp(r.body, "{\"status\":\"ok\"}") == 0);
	chr_free(&r);
	th_http(c, "HEAD", th_url(url, sizeof(url), d.hook_port, "/healthz"), NULL, NULL, 0, &r);
	CHECK(r.status == 200 && r.len == 0);
	chr_free(&r);
	th_http(c, "DELETE", th_url(url, sizeof(url), d.hook_port, "/healthz"), NULL, NULL, 0, &r);
	CHECK(r.status == 405);
	CHECK_STR(r.allow, "GET, HEAD");
	chr_free(&r);
}

TEST_CASE(keepalive)
{
	/* WCS reuses its connection: so must we */
	char b[512];
	long conns = -1;
	for (int i = 0; i < 20; i++) {
		char sid[64];
		snprintf(sid, sizeof(sid), "/10.0.2.1:%d/ka", i);
		struct chr r =
		    post("/rest-hook/connect", connect_body(b, sizeof(b), sid, "https://www.example.com", NULL));
		CHECK(r.status == 200);
		chr_free(&r);
		long n = 0;
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n);
		if (i > 0)
			conns = conns < 0 ? n : conns + n;
		struct chr e =
		    post("/rest-hook/ConnectionStatusEvent", "{\"sessionId\":\"x\",\"status\":\"ESTABLISHED\"}");
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n);
		conns += n;
		chr_free(&e);
	}
	CHECK_MSG(conns == 0, "%ld new connections after the first", conns);
}

/* A client that trickles its body is cut at request_timeout_s (2 s here). */
TEST_CASE(trickle)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.hook_port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	CHECK(connect(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	const char *head = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
	CHECK(write(s, head, strlen(head)) > 0);
	bool closed = false;
	time_t start = time(NULL);
	for (int i = 0; i < 12 && !closed; i++) {
		struct timespec ts = {0, 500 * 1000000L};
		nanosleep(&ts, NULL);
		if (send(s, " ", 1, MSG_NOSIGNAL) < 0)
			closed = true;
		char buf[256];
		struct timeval tv = {0, 1000};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n == 0)
			closed = true;
	}
	CHECK_MSG(closed, "connection still open after %ld s", (long)(time(NULL) - start));
	CHECK(time(NULL) - start <= 5);
	close(s);
	/* and the daemon still answers */
	struct chr r = post("/rest-hook/CallStatusEvent", "{\"a\":1}");
	CHECK(r.status == 200);
	chr_free(&r);
}

/* A client that sends one header line at a time is cut too (2 x request_timeout_s). */
TEST_CASE(trickle_headers)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.hook_port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	CHECK(connect(s, (struct sockaddr *)&a, sizeof(a)) == 0);
	const char *head = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\n";
	CHECK(write(s, head, strlen(head)) > 0);
	bool closed = false;
	time_t start = time(NULL);
	for (int i = 0; i < 20 && !closed; i++) {
		struct timespec ts = {0, 500 * 1000000L};
		nanosleep(&ts, NULL);
		if (send(s, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) < 0)
			closed = true;
		char buf[256];
		struct timeval tv = {0, 1000};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recv(s, buf, sizeof(buf), 0) == 0)
			closed = true;
	}
	CHECK_MSG(closed, "header trickle still open after %ld s", (long)(time(NULL) - start));
	CHECK(time(NULL) - start <= 6);
	close(s);
	struct chr r = post("/rest-hook/CallStatusEvent", "{\"a\":2}");
	CHECK(r.status == 200);
	chr_free(&r);
}

TEST_CASE(session_table_full)
{
	/* max_sessions = 40 on a fresh daemon: 40 new sessions fit, the next new one gets 503 */
	char b[512];
	int got503 = 0, ok = 0;
	for (int i = 0; i < 60; i++) {
		char sid[64];
		snprintf(sid, sizeof(sid), "/10.0.3.1:%d/full", i);
		struct chr r =
		    post("/rest-hook/connect", connect_body(b, sizeof(b), sid, "https://www.example.com", NULL));
		if (r.status == 503) {
			got503++;
			CHECK(th_is_error(&r, 503, "session table full"));
		} else if (r.status == 200) {
			ok++;
		}
		chr_free(&r);
	}
	CHECK_MSG(ok == 40 && got503 == 20, "%d accepted, %d refused", ok, got503);
	/* a retry of an existing session is still answered */
	struct chr r =
	    post("/rest-hook/connect", connect_body(b, sizeof(b), "/10.0.3.1:0/full", "https://www.example.com", NULL));
	CHECK(r.status == 200);
	chr_free(&r);
	/* closing one makes room */
	r = post("/rest-hook/ConnectionStatusEvent", "{\"sessionId\":\"/10.0.3.1:0/full\",\"status\":\"FAILED\"}");
	chr_free(&r);
	r = post("/rest-hook/connect", connect_body(b, sizeof(b), "/10.0.3.9:1/new", "https://www.example.com", NULL));
	CHECK(r.status == 200);
	chr_free(&r);
}

TEST_CASE(log_has_no_secret)
{
	/* an allowed connect (its answer carries the SIP password) and a refused one, each logged in one line */
	char b[1024];
	struct chr r = post("/rest-hook/connect", connect_body(b, sizeof(b), "/10.0.9.1:1/log",
							       "https://www.example.com", "{\"button\":\"sales\"}"));
	CHECK(r.status == 200 && strstr(r.body, "Shop-Secret-77") != NULL);
	chr_free(&r);
	r = post("/rest-hook/connect", connect_body(b, sizeof(b), "/10.0.9.1:2/log", "https://evil.example", NULL));
	CHECK(r.status == 403);
	chr_free(&r);
	CHECK(chd_wait_log(&d, "verdict=origin status=403", 2000));
	char *log = chd_log(&d);
	CHECK(strstr(log, "Shop-Secret-77") == NULL);
	CHECK(strstr(log, "Clinic-Secret-88") == NULL);
	CHECK(strstr(log, "method=connect site=shop verdict=allow status=200") != NULL);
	CHECK(strstr(log, "verdict=origin status=403") != NULL);
	free(log);
}

/* One site: a call for a session we never saw (a restarted hook) still works. */
TEST_CASE(single_site_fallback)
{
	struct chd d1 = {0};
	CHECK(chd_start(&d1, "hook = { listen = [ \"127.0.0.1:0\" ]; };\n"
			     "sites = ( { name = \"only\"; domain = \"example.org\"; sip = { login = \"1\"; }; callee "
			     "= \"555\"; } );\n") == 0);
	char url[256];
	struct chr r;
	const char *b = "{\"callId\":\"z\",\"sessionId\":\"/10.0.0.1:1/unknown\",\"callee\":\"+1900\"}";
	th_http(c, "POST", th_url(url, sizeof(url), d1.hook_port, "/rest-hook/call"), NULL, b, strlen(b), &r);
	CHECK(r.status == 200);
	CHECK(strstr(r.body, "\"callee\":\"555\"") != NULL);
	chr_free(&r);
	CHECK(chd_stop(&d1) == 0);
	chd_cleanup(&d1);
}

/* Unique callIds with every budget off: the store stops at 4 x max_sessions entries. */
TEST_CASE(store_cap)
{
	struct chd d1 = {0};
	CHECK(chd_start(
		  &d1,
		  "hook = { listen = [ \"127.0.0.1:0\" ]; max_sessions = 10; };\n"
		  "sites = ( { name = \"only\"; domain = \"example.org\"; sip = { login = \"1\"; }; callee = \"555\";\n"
		  "  limits = { connects_per_minute_per_ip = 0; calls_per_minute_per_ip = 0; calls_per_session = 0;\n"
		  "             calls_per_minute = 0; concurrent_calls = 0; }; } );\n") == 0);
	char url[256], body[128];
	int ok = 0, full = 0, other = 0;
	for (int i = 0; i < 60; i++) {
		struct chr r;
		snprintf(body, sizeof(body), "{\"callId\":\"flood-%d\",\"sessionId\":\"/10.0.0.1:1/s\"}", i);
		th_http(c, "POST", th_url(url, sizeof(url), d1.hook_port, "/rest-hook/call"), NULL, body, strlen(body),
			&r);
		if (r.status == 200)
			ok++;
		else if (th_is_error(&r, 503, "state table full"))
			full++;
		else
			other++;
		chr_free(&r);
	}
	CHECK_MSG(ok == 40 && full == 20 && other == 0, "ok %d full %d other %d", ok, full, other);
	/* a retry of a counted call is still answered from the table */
	struct chr r;
	const char *again = "{\"callId\":\"flood-3\",\"sessionId\":\"/10.0.0.1:1/s\"}";
	th_http(c, "POST", th_url(url, sizeof(url), d1.hook_port, "/rest-hook/call"), NULL, again, strlen(again), &r);
	CHECK(r.status == 200);
	chr_free(&r);
	CHECK(chd_stop(&d1) == 0);
	chd_cleanup(&d1);
}

TEST_CASE(cli)
{
	struct chd t = {0};
	char *out = NULL;
	const char *v[] = {"--version", NULL};
	CHECK(chd_run(&t, NULL, v, &out) == 0);
	CHECK(strncmp(out, "callhook ", 9) == 0);
	free(out);
	const char *h[] = {"--help", NULL};
	CHECK(chd_run(&t, NULL, h, &out) == 0);
	CHECK(strstr(out, "--check") != NULL);
	free(out);
	const char *bad[] = {"--bogus", NULL};
	CHECK(chd_run(&t, NULL, bad, &out) == 2);
	free(out);
	char confpath[400];
	snprintf(confpath, sizeof(confpath), "%s/callhook.conf", t.dir);
	const char *chk[] = {"--check", "-c", confpath, NULL};
	CHECK(chd_run(&t, conf_two_sites, chk, &out) == 0);
	CHECK(strstr(out, "configuration OK") != NULL);
	CHECK(strstr(out, "restClientConfig: raised call.restOnError: \"LOG\" -> \"FAIL\"") != NULL);
	CHECK(strstr(out, "password ***") != NULL);
	CHECK(strstr(out, "Shop-Secret-77") == NULL);
	free(out);
	CHECK(chd_run(&t,
		      "sites = ( { name = \"s\"; origins = [ \"https//x\" ]; sip = { login = \"1\"; }; callee = \"1\"; "
		      "} );\n",
		      chk, &out) == 1);
	CHECK_MSG(strstr(out, "callhook.conf:1: sites.[0].origins.[0]: \"https//x\" is not an origin") != NULL, "%s",
		  out);
	free(out);
	CHECK(chd_run(&t, "hook = { listen = [ \"127.0.0.1:0\" ]; rest_client_config = \"missing.json\"; };\n", chk,
		      &out) == 1);
	CHECK(strstr(out, "hook.rest_client_config: cannot read") != NULL);
	free(out);
	chd_write(&t, "bad_rcc.json", "{\"call\": {\"restPolicy\": 5}}", 0644);
	CHECK(chd_run(&t, "hook = { listen = [ \"127.0.0.1:0\" ]; rest_client_config = \"bad_rcc.json\"; };\n", chk,
		      &out) == 1);
	CHECK(strstr(out, "hook.rest_client_config:") != NULL);
	free(out);
	/* a port already taken fails start-up with a message */
	const char *run[] = {"-c", confpath, NULL};
	char conf[512];
	snprintf(conf, sizeof(conf), "hook = { listen = [ \"127.0.0.1:%d\" ]; };\n", d.hook_port);
	CHECK(chd_run(&t, conf, run, &out) == 1);
	/* in the shape of every config error: file:line: path: message */
	char want[128];
	snprintf(want, sizeof(want), "callhook.conf:1: hook.listen.[0]: cannot listen on 127.0.0.1:%d", d.hook_port);
	CHECK_MSG(strstr(out, want) != NULL, "%s", out);
	free(out);
	chd_cleanup(&t);
}

/* Every case gets its own daemon on conf_two_sites and a keep-alive libcurl handle. */
/* A raw client that posts 3 MB to a 64 KiB hook: with Expect: 100-continue it
 * sends nothing more and must get the 413 at once; without, it sends the
 * whole body (no broken pipe, no reset) and then reads the 413. */
static void raw_oversize(bool expect, char *got, size_t cap)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.hook_port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	got[0] = '\0';
	int cr = s >= 0 ? connect(s, (struct sockaddr *)&a, sizeof(a)) : -1;
	REQUIRE(cr == 0); /* REQUIRE evaluates its condition twice */
	char head[256];
	int hl = snprintf(head, sizeof(head),
			  "POST /rest-hook/CallStatusEvent HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
			  "application/json\r\nContent-Length: 3145728\r\n%s\r\n",
			  expect ? "Expect: 100-continue\r\n" : "");
	ssize_t hs = send(s, head, (size_t)hl, MSG_NOSIGNAL);
	REQUIRE(hs == hl);
	static char chunk[65536];
	memset(chunk, ' ', sizeof(chunk));
	size_t sent = 0, n = 0;
	for (int spins = 0; spins < 20000 && n < cap - 1; spins++) {
		/* like Python's http.client: the whole body first, then the answer */
		bool sending = !expect && sent < 3145728;
		struct pollfd p = {.fd = s, .events = sending ? POLLOUT : POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break;
		if (p.revents & (POLLERR | POLLHUP) && sending) {
			CHECK_MSG(0, "the hook hung up after %zu body bytes", sent);
			break;
		}
		if (p.revents & POLLIN) {
			ssize_t r = recv(s, got + n, cap - 1 - n, 0);
			if (r <= 0)
				break;
			n += (size_t)r;
			got[n] = '\0';
			if (strstr(got, "\r\n\r\n") && strstr(got, "}"))
				break;
		} else if (p.revents & POLLOUT) {
			ssize_t w = send(s, chunk, sizeof(chunk), MSG_NOSIGNAL);
			CHECK_MSG(w > 0, "send after %zu bytes", sent);
			if (w <= 0)
				break;
			sent += (size_t)w;
		}
	}
	close(s);
}

TEST_CASE(oversize_answer_reaches_the_client)
{
	char got[4096];
	for (int expect = 0; expect < 2; expect++) {
		raw_oversize(expect, got, sizeof(got));
		CHECK_MSG(strncmp(got, "HTTP/1.1 413 ", 13) == 0 &&
			      strstr(got, "\r\n\r\n{\"status\":413,\"reason\":\"body larger than max_body_bytes\"}"),
			  "expect=%d: %s", expect, got);
	}
	/* and the daemon goes on */
	struct chr r = post("/rest-hook/CallStatusEvent", "{\"a\":1}");
	CHECK(r.status == 200);
	chr_free(&r);
}

int test_setup(const char *name)
{
	srand((unsigned)time(NULL));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	/* the 3 MB drain must fit request_timeout_s also on a loaded machine (and under ASan): 9 s there,
	 * the 2 s the trickle cases need elsewhere */
	char conf[4096];
	snprintf(conf, sizeof conf, "%s", conf_two_sites);
	char *t = strstr(conf, "request_timeout_s = 2;");
	if (t && strcmp(name, "oversize_answer_reaches_the_client") == 0)
		t[strlen("request_timeout_s = ")] = '9';
	if (chd_start(&d, conf) != 0)
		return -1;
	CHECK(d.hook_port > 0);
	return 0;
}

void test_teardown(void)
{
	if (d.pid > 0) {
		CHECK(chd_stop(&d) == 0);
		char *log = chd_log(&d);
		CHECK(strstr(log, "stopped") != NULL);
		free(log);
	}
	chd_cleanup(&d);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}
