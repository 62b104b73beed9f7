/* test_orig_frontends.c: the originator's HTTP page, JSON API, XML port and status callbacks, through the real daemon
 * against SIPp phones; one case per run (argv[1]). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "harness.h"
#include "sipp_peer.h"
#include "tests/check.h"

#ifndef SIPP_BIN
#define SIPP_BIN "sipp"
#endif
#ifndef SCENARIO_DIR
#define SCENARIO_DIR "."
#endif

#define PASSWORD "s3cret-Pw-42"

static struct chd D;

/* ---- SIPp phones ----------------------------------------------------------------- */

/* Start `sipp -sf scenario` as a one-call UAS; extra SIPp arguments end with NULL. */
static bool peer_start(struct sipp_peer *p, const char *name, const char *scenario, ...)
{
	va_list ap;
	va_start(ap, scenario);
	bool ok = sipp_peer_startv(p, D.dir, name, scenario, ap);
	va_end(ap);
	return ok;
}

static void peer_uri(const struct sipp_peer *p, const char *user, char *out, size_t cap)
{
	(void)ch_fmt(out, cap, "sip:%s@127.0.0.1:%d", user, p->port);
}

/* ---- the daemon ------------------------------------------------------------------------ */

struct opts {
	const char *algo;  /* "SHA-256" | "MD5" */
	int per_initiator; /* calls_per_minute_per_initiator */
	int concurrent;
	const char *allow_from; /* libconfig list body */
	int max_conns;
	const char *cb_allow; /* libconfig list body */
	bool tls_basic;       /* http over TLS with auth = "basic" */
	int sip_tls_port;     /* originator.tls_listen on this port, certificates in @DIR@/sipcerts */
	bool catch_all;       /* a third rule, the README's ^(.*)$ -> sip:$1@127.0.0.1 */
};

static void start(const struct opts *o)
{
	char tlsline[256] = "";
	if (o->sip_tls_port)
		(void)ch_fmt(tlsline, sizeof tlsline,
			     "  tls_listen = \"sips:127.0.0.1:%d\"; tls_certificate_dir = \"@DIR@/sipcerts\";\n",
			     o->sip_tls_port);
	char conf[4096];
	int rc = ch_fmt(
	    conf, sizeof conf,
	    "log = { level = \"debug\"; };\n"
	    "admin = { listen = [ \"127.0.0.1:0\" ]; };\n"
	    "originator = {\n"
	    "  identity = \"sip:c2c@127.0.0.1\";\n"
	    "  listen = \"sip:127.0.0.1:0\";\n"
	    "  translations = (\n"
	    "    { pattern = \"^(\\\\d{10})$\"; output = \"sip:$1@127.0.0.1\"; },\n"
	    "    { pattern = \"^(sip:[a-z0-9]+@127\\\\.0\\\\.0\\\\.1:\\\\d+)$\"; output = \"$1\"; }\n"
	    "%s"
	    "  );\n"
	    "  destinations = { deny = [ \"^sip:(900|976)\" ]; };\n"
	    "  timers = { ring_timeout_s = 10; refer_notify_timeout_s = 5; reinvite_timeout_s = 3; max_call_s = 60; "
	    "};\n"
	    "  limits = { concurrent_calls = %d; calls_per_minute = 600; calls_per_minute_per_initiator = %d; };\n"
	    "  http = { listen = [ \"127.0.0.1:0\" ]; user = \"admin\"; password = \"" PASSWORD
	    "\"; digest_algorithm = \"%s\"; %s };\n"
	    "  xml = { listen = [ \"127.0.0.1:0\" ]; allow_from = [ %s ]; max_connections = %d; };\n"
	    "  callbacks = { allow = [ %s ]; };\n"
	    "  keep_ended_s = 600;\n"
	    "%s"
	    "};\n",
	    o->catch_all ? "   ,{ pattern = \"^(.*)$\"; output = \"sip:$1@127.0.0.1\"; }\n" : "",
	    o->concurrent ? o->concurrent : 20, o->per_initiator ? o->per_initiator : 100,
	    o->algo ? o->algo : "SHA-256",
	    o->tls_basic ? "auth = \"basic\"; tls = { cert = \"@DIR@/cert.pem\"; key = \"@DIR@/key.pem\"; };" : "",
	    o->allow_from ? o->allow_from : "\"127.0.0.0/8\"", o->max_conns ? o->max_conns : 16,
	    o->cb_allow ? o->cb_allow : "", tlsline);
	CHECK(rc == 0);
	if (chd_start(&D, conf) != 0) {
		CHECK_MSG(0, "daemon did not start");
		chd_cleanup(&D);
		exit(check_done());
	}
	CHECK(D.orig_http_port > 0);
	CHECK(D.orig_xml_port > 0);
}

/* The password never reaches the log. */
static void stop(void)
{
	char *l = chd_log(&D);
	CHECK_MSG(strstr(l, PASSWORD) == NULL, "password in the log");
	free(l);
	CHECK(chd_stop(&D) == 0);
}

/* ---- HTTP with Digest ---------------------------------------------------------------------- */

struct resp {
	long status;
	char *body;
	char *headers;
};

static size_t grow_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct ch_buf *b = arg;
	if (ch_buf_add(b, p, sz * n) != 0)
		return 0;
	return sz * n;
}

enum auth { A_NONE, A_DIGEST, A_DIGEST_BAD, A_BASIC };

static bool use_tls;

static struct resp req(enum auth au, const char *method, const char *path, const char *ctype, const char *body)
{
	struct resp r = {0, NULL, NULL};
	CURL *c = curl_easy_init();
	struct ch_buf b, h;
	ch_buf_init(&b, 1 << 20);
	ch_buf_init(&h, 1 << 16);
	char url[512];
	(void)ch_fmt(url, sizeof url, "%s://127.0.0.1:%d%s", use_tls ? "https" : "http", D.orig_http_port, path);
	struct curl_slist *hl = NULL;
	char cth[128];
	if (ctype) {
		(void)ch_fmt(cth, sizeof cth, "Content-Type: %s", ctype);
		hl = curl_slist_append(hl, cth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grow_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (use_tls) {
		/* our own self-signed certificate */
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (au == A_DIGEST || au == A_DIGEST_BAD) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
		curl_easy_setopt(c, CURLOPT_USERPWD, au == A_DIGEST ? "admin:" PASSWORD : "admin:wrong-password");
	} else if (au == A_BASIC) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, "admin:" PASSWORD);
	}
	CURLcode rc = curl_easy_perform(c);
	CHECK_MSG(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (ch_buf_nul(&b) != 0 || ch_buf_nul(&h) != 0)
		CHECK(0);
	r.body = b.data ? b.data : strdup("");
	r.headers = h.data ? h.data : strdup("");
	return r;
}

static const char *sv(const json_t *j)
{
	const char *s = json_string_value(j);
	return s ? s : "";
}

static void resp_free(struct resp *r)
{
	free(r->body);
	free(r->headers);
}

static json_t *resp_json(const struct resp *r)
{
	json_error_t e;
	json_t *j = json_loads(r->body, 0, &e);
	CHECK_MSG(j != NULL, "not JSON: %s", r->body);
	return j;
}

/* Expect status and, for JSON errors, {"status": status, "reason": ...}. */
static void expect_status(enum auth au, const char *method, const char *path, const char *ctype, const char *body,
			  long status, const char *reason_part)
{
	struct resp r = req(au, method, path, ctype, body);
	CHECK_MSG(r.status == status, "%s %s %s: %ld, want %ld (%s)", method, path, body ? body : "", r.status, status,
		  r.body);
	if (reason_part) {
		json_t *j = resp_json(&r);
		const char *rs = json_string_value(json_object_get(j, "reason"));
		CHECK_MSG(json_integer_value(json_object_get(j, "status")) == status && rs && strstr(rs, reason_part),
			  "%s %s: body %s, want reason with \"%s\"", method, path, r.body, reason_part);
		json_decref(j);
	}
	resp_free(&r);
}

static json_t *get_call(uint64_t id)
{
	char path[64];
	(void)ch_fmt(path, sizeof path, "/v1/calls/%llu", (unsigned long long)id);
	struct resp r = req(A_DIGEST, "GET", path, NULL, NULL);
	json_t *j = r.status == 200 ? resp_json(&r) : NULL;
	resp_free(&r);
	return j;
}

/* Poll the call until it has a result; returns it (new) or NULL. */
static json_t *wait_result(uint64_t id, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 100) {
		json_t *j = get_call(id);
		if (j && json_object_get(j, "result"))
			return j;
		json_decref(j);
		usleep(100000);
	}
	return NULL;
}

static uint64_t post_call(const char *body, long want)
{
	struct resp r = req(A_DIGEST, "POST", "/v1/calls", "application/json", body);
	CHECK_MSG(r.status == want, "POST %s: %ld (%s)", body, r.status, r.body);
	uint64_t id = 0;
	if (r.status == 202) {
		json_t *j = resp_json(&r);
		id = (uint64_t)json_integer_value(json_object_get(j, "id"));
		CHECK_STR(sv(json_object_get(j, "state")), "calling_initiator");
		CHECK(strstr(r.headers, "Location: /v1/calls/") != NULL);
		json_decref(j);
	}
	resp_free(&r);
	return id;
}

/* ---- XML client ------------------------------------------------------------------------------ */

static int xml_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)D.orig_xml_port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		CHECK_MSG(0, "connect to the XML port: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void xml_send(int fd, const char *s)
{
	CHECK(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s));
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Read into *acc until it holds `docs` documents, the peer closes (sets
 * *eof) or timeout. */
static void xml_read(int fd, struct ch_buf *acc, int docs, int timeout_ms, bool *eof)
{
	int64_t end = ch_now_ms() + timeout_ms;
	if (eof)
		*eof = false;
	for (;;) {
		if (ch_buf_nul(acc) == 0 && acc->data && count(acc->data, "</ClickToCall>") >= docs)
			return;
		int64_t left = end - ch_now_ms();
		if (left <= 0)
			return;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0) {
			if (eof)
				*eof = true;
			return;
		}
		CHECK(ch_buf_add(acc, buf, (size_t)n) == 0);
	}
}

/* The documents in s whose echoed request has <Initiator>ini</Initiator>, as
 * "code/leg" strings joined by ' ' ("100/ 180/Initiator 486/Initiator"). */
static void steps_of(const char *s, const char *ini, char *out, size_t cap)
{
	char tag[256];
	(void)ch_fmt(tag, sizeof tag, "<Initiator>%s</Initiator>", ini);
	size_t o = 0;
	out[0] = '\0';
	for (const char *p = s; p && *p;) {
		const char *e = strstr(p, "</ClickToCall>");
		if (!e)
			break;
		size_t len = (size_t)(e - p);
		char *doc = ch_strndup(p, len);
		if (doc && strstr(doc, tag)) {
			const char *r = strstr(doc, "<Result Code=\"");
			int code = r ? (int)strtol(r + 14, NULL, 10) : -1;
			const char *lg = r ? strstr(r, "Leg=\"") : NULL;
			const char *close = r ? strchr(r, '>') : NULL;
			char leg[32] = "";
			if (lg && close && lg < close)
				(void)ch_fmt(leg, sizeof leg, "%.*s", (int)strcspn(lg + 5, "\""), lg + 5);
			int w = snprintf(out + o, cap - o, "%s%d/%s", o ? " " : "", code, leg);
			if (w > 0 && (size_t)w < cap - o)
				o += (size_t)w;
		}
		free(doc);
		p = e + strlen("</ClickToCall>");
	}
}

/* ---- cases ----------------------------------------------------------------------------------- */

static void case_auth(void)
{
	struct opts o = {0};
	start(&o);
	expect_status(A_NONE, "GET", "/v1/calls", NULL, NULL, 401, NULL);
	expect_status(A_NONE, "GET", "/clicktocall.html?initiator=1&destination=2", NULL, NULL, 401, NULL);
	expect_status(A_NONE, "GET", "/nope", NULL, NULL, 401, NULL);
	expect_status(A_DIGEST_BAD, "GET", "/v1/calls", NULL, NULL, 401, NULL);
	/* Basic is refused without TLS (auth = "digest") */
	expect_status(A_BASIC, "GET", "/v1/calls", NULL, NULL, 401, NULL);
	struct resp r = req(A_NONE, "GET", "/v1/calls", NULL, NULL);
	CHECK_MSG(strstr(r.headers, "WWW-Authenticate: Digest ") != NULL, "%s", r.headers);
	CHECK(strcasestr(r.headers, "algorithm=SHA-256") != NULL);
	resp_free(&r);
	r = req(A_DIGEST, "GET", "/v1/calls", NULL, NULL);
	CHECK_MSG(r.status == 200, "%ld %s", r.status, r.body);
	CHECK_STR(r.body, "{\"calls\":[]}");
	resp_free(&r);
	stop();
}

static void case_auth_md5(void)
{
	struct opts o = {.algo = "MD5"};
	start(&o);
	struct resp r = req(A_NONE, "GET", "/v1/calls", NULL, NULL);
	CHECK(r.status == 401);
	CHECK(strcasestr(r.headers, "algorithm=MD5") != NULL);
	resp_free(&r);
	expect_status(A_DIGEST, "GET", "/v1/calls", NULL, NULL, 200, NULL);
	expect_status(A_DIGEST_BAD, "GET", "/v1/calls", NULL, NULL, 401, NULL);
	stop();
}

static void case_html(void)
{
	struct opts o = {0};
	start(&o);
	struct resp r = req(A_DIGEST, "GET",
			    "/clicktocall.html?initiator=%3Cscript%3Ealert(1)%3C/script%3E"
			    "&destination=%22%3E%3Cimg%20src=x%3E",
			    NULL, NULL);
	CHECK_MSG(r.status == 400, "%ld", r.status);
	CHECK(strstr(r.body, "<script>") == NULL && strstr(r.body, "<img") == NULL);
	CHECK_MSG(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL, "%s", r.body);
	CHECK(strstr(r.body, "&quot;&gt;&lt;img src=x&gt;") != NULL);
	CHECK(strstr(r.headers, "Content-Type: text/html; charset=utf-8") != NULL);
	CHECK(strstr(r.headers, "Content-Security-Policy: default-src 'none'") != NULL);
	resp_free(&r);

	r = req(A_DIGEST, "GET", "/clicktocall.html?initiator=9055551234", NULL, NULL);
	CHECK(r.status == 400 && strstr(r.body, "missing parameter"));
	resp_free(&r);
	r = req(A_DIGEST, "GET", "/clicktocall.html?initiator=9055551234&destination=", NULL, NULL);
	CHECK(r.status == 400);
	resp_free(&r);
	r = req(A_DIGEST, "GET", "/clicktocall.html?initiator=9055551234&destination=9005551234", NULL, NULL);
	CHECK_MSG(r.status == 403, "%ld", r.status);
	CHECK(strstr(r.body, "denied"));
	resp_free(&r);
	/* injection through a parameter: refused, never dialled */
	r = req(A_DIGEST, "GET", "/clicktocall.html?initiator=9055551234%3Btransport%3Dtcp&destination=9055551234",
		NULL, NULL);
	CHECK_MSG(r.status == 400, "%ld", r.status);
	resp_free(&r);
	expect_status(A_DIGEST, "POST", "/clicktocall.html", NULL, "", 405, "method");

	struct sipp_peer a;
	char ini[128], path[512];
	CHECK(peer_start(&a, "busy", "uas_busy.xml", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	(void)ch_fmt(path, sizeof path, "/clicktocall.html?initiator=%s&destination=9055551234&anchor=TRUE", ini);
	r = req(A_DIGEST, "GET", path, NULL, NULL);
	CHECK_MSG(r.status == 200, "%ld %s", r.status, r.body);
	CHECK(strstr(r.body, "Call placed") && strstr(r.body, "sip:9055551234@127.0.0.1"));
	resp_free(&r);
	CHECK(sipp_peer_wait(&a, 15000));
	stop();
}

static void case_json(void)
{
	struct opts o = {0};
	start(&o);
	const char *J = "application/json";
	expect_status(A_NONE, "POST", "/v1/calls", J, "{}", 401, NULL);
	/* 400s */
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "not json", 400, "JSON object");
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "[1]", 400, "JSON object");
	expect_status(A_DIGEST, "POST", "/v1/calls", J,
		      "{\"initiator\":\"9055551234\",\"initiator\":\"9055551235\",\"destination\":\"9055551234\"}", 400,
		      "JSON object");
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "{\"initiator\":\"9055551234\"}", 400, "required");
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "{\"initiator\":9055551234,\"destination\":\"9055551234\"}",
		      400, "required");
	expect_status(A_DIGEST, "POST", "/v1/calls", J,
		      "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"anchor\":\"yes\"}", 400,
		      "anchor");
	expect_status(A_DIGEST, "POST", "/v1/calls", J,
		      "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"ring_timeout_s\":0}", 400,
		      "ring_timeout_s");
	expect_status(A_DIGEST, "POST", "/v1/calls", J,
		      "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"x\":1}", 400, "unknown member");
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "{\"initiator\":\"x@evil.com\",\"destination\":\"9055551234\"}",
		      400, "initiator");
	expect_status(A_DIGEST, "POST", "/v1/calls", J,
		      "{\"initiator\":\"9055551234\",\"destination\":\"9055551234;maddr=evil\"}", 400, "destination");
	expect_status(A_DIGEST, "POST", "/v1/calls", "text/plain",
		      "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\"}", 415, NULL);
	char *big = malloc(20001);
	if (big) {
		memset(big, ' ', 20000);
		big[0] = '{';
		big[19999] = '}';
		big[20000] = '\0';
		expect_status(A_DIGEST, "POST", "/v1/calls", J, big, 413, "too large");
		free(big);
	}
	/* 403s */
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "{\"initiator\":\"9055551234\",\"destination\":\"9765551234\"}",
		      403, "denied");
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "{\"initiator\":\"9005551234\",\"destination\":\"9055551234\"}",
		      403, "initiator");
	expect_status(
	    A_DIGEST, "POST", "/v1/calls", J,
	    "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"status_callback\":\"http://127.0.0.1:1/\"}",
	    403, "status_callback");
	/* 404s, 405s */
	expect_status(A_DIGEST, "GET", "/v1/calls/999999", NULL, NULL, 404, "no such call");
	expect_status(A_DIGEST, "GET", "/v1/calls/abc", NULL, NULL, 404, NULL);
	expect_status(A_DIGEST, "DELETE", "/v1/calls/999999", NULL, NULL, 404, NULL);
	expect_status(A_DIGEST, "GET", "/v2/other", NULL, NULL, 404, NULL);
	expect_status(A_DIGEST, "PUT", "/v1/calls", J, "{}", 405, "method");
	struct resp r = req(A_DIGEST, "PATCH", "/v1/calls/1", J, "{}");
	CHECK(r.status == 405 && strstr(r.headers, "Allow: GET, DELETE"));
	resp_free(&r);

	/* a REFER call that completes: 202, then the result */
	struct sipp_peer a;
	char ini[128], body[512];
	CHECK(peer_start(&a, "refer", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", "200", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	(void)ch_fmt(body, sizeof body,
		     "{\"initiator\":\"%s\",\"destination\":\"9055551234\",\"anchor\":false,\"ring_timeout_s\":20}",
		     ini);
	uint64_t id = post_call(body, 202);
	CHECK(id > 0);
	json_t *j = wait_result(id, 20000);
	CHECK_MSG(j != NULL, "call %llu has no result", (unsigned long long)id);
	if (j) {
		CHECK_STR(sv(json_object_get(j, "state")), "transferred");
		json_t *res = json_object_get(j, "result");
		CHECK(json_integer_value(json_object_get(res, "code")) == 200);
		CHECK_STR(sv(json_object_get(res, "ended_by")), "transfer");
		json_t *li = json_object_get(json_object_get(j, "legs"), "initiator");
		CHECK_STR(sv(json_object_get(li, "uri")), ini);
		json_t *ld = json_object_get(json_object_get(j, "legs"), "destination");
		CHECK_STR(sv(json_object_get(ld, "uri")), "sip:9055551234@127.0.0.1");
		CHECK(json_is_false(json_object_get(j, "anchor")));
		CHECK(json_is_false(json_object_get(j, "fallback")));
		json_decref(j);
	}
	CHECK(sipp_peer_wait(&a, 15000));
	/* ended calls stay readable but are not listed as active */
	r = req(A_DIGEST, "GET", "/v1/calls", NULL, NULL);
	CHECK_STR(r.body, "{\"calls\":[]}");
	resp_free(&r);
	/* an originator-only daemon serves /metrics on its admin listener */
	CHECK(D.admin_port > 0);
	CURL *mc = curl_easy_init();
	struct chr m;
	char murl[128];
	ch_http(mc, "GET", ch_url(murl, sizeof murl, D.admin_port, "/metrics"), NULL, NULL, 0, &m);
	CHECK(m.status == 200);
	CHECK_MSG(strstr(m.body, "callhook_originator_calls_total{state=\"transferred\",ended_by=\"transfer\"} 1") !=
		      NULL,
		  "%s", m.body);
	chr_free(&m);
	curl_easy_cleanup(mc);
	stop();
}

static void case_limits(void)
{
	struct opts o = {.per_initiator = 2, .concurrent = 1};
	start(&o);
	/* one ringing call holds the only slot */
	struct sipp_peer a;
	char ini[128], body[512];
	CHECK(peer_start(&a, "noanswer", "uas_noanswer.xml", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"9055551234\"}", ini);
	uint64_t id = post_call(body, 202);
	struct resp r = req(A_DIGEST, "GET", "/v1/calls", NULL, NULL);
	json_t *j = resp_json(&r);
	CHECK(json_array_size(json_object_get(j, "calls")) == 1);
	json_decref(j);
	resp_free(&r);
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json",
		      "{\"initiator\":\"9055550001\",\"destination\":\"9055551234\"}", 429, "concurrent");
	/* wait until it rings, then release it through the API */
	for (int i = 0; i < 50; i++) {
		j = get_call(id);
		bool ringing = j && strcmp(sv(json_object_get(j, "state")), "initiator_ringing") == 0;
		json_decref(j);
		if (ringing)
			break;
		usleep(100000);
	}
	char path[64];
	(void)ch_fmt(path, sizeof path, "/v1/calls/%llu", (unsigned long long)id);
	expect_status(A_DIGEST, "DELETE", path, NULL, NULL, 202, NULL);
	j = wait_result(id, 10000);
	CHECK(j != NULL);
	if (j) {
		json_t *res = json_object_get(j, "result");
		CHECK(json_integer_value(json_object_get(res, "code")) == 487);
		CHECK_STR(sv(json_object_get(res, "ended_by")), "api");
		CHECK_STR(sv(json_object_get(j, "state")), "failed");
		json_decref(j);
	}
	expect_status(A_DIGEST, "DELETE", path, NULL, NULL, 409, "ended");
	CHECK(sipp_peer_wait(&a, 15000));

	/* per initiator: alice had 1 of 2; one more, then 429 (a closed port
	 * fails fast, which frees the concurrency slot) */
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"sip:alice@127.0.0.1:%d\",\"destination\":\"9055551234\"}",
		     a.port);
	uint64_t id2 = post_call(body, 202);
	j = wait_result(id2, 40000);
	CHECK(j != NULL);
	json_decref(j);
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", body, 429, "initiator");
	stop();
}

static const char REQ1[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<ClickToCall>\n  <Request>\n    <Initiator>%s</Initiator>\n"
			   "    <Destination>9055551234</Destination>\n"
			   "    <AnchorCall>false</AnchorCall>\n  </Request>\n</ClickToCall>\n";

static void case_xml(void)
{
	struct opts o = {0};
	start(&o);
	struct sipp_peer a, b;
	char ia[128], ib[128], rq[1024], rq2[1024];
	CHECK(peer_start(&a, "busy", "uas_busy.xml", NULL));
	CHECK(peer_start(&b, "refer", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", "200", NULL));
	peer_uri(&a, "alice", ia, sizeof ia);
	peer_uri(&b, "alice", ib, sizeof ib);
	(void)ch_fmt(rq, sizeof rq, REQ1, ia);
	/* the second without a prolog, in the same write */
	(void)ch_fmt(rq2, sizeof rq2,
		     "%s<ClickToCall><Request><Initiator>%s</Initiator><Destination>9055551234</Destination></"
		     "Request></ClickToCall>",
		     rq, ib);
	int fd = xml_connect();
	struct ch_buf acc;
	ch_buf_init(&acc, 1 << 20);
	xml_send(fd, rq2);
	xml_read(fd, &acc, 8, 20000, NULL);
	CHECK(ch_buf_nul(&acc) == 0);
	const char *s = acc.data ? acc.data : "";
	char steps[512];
	steps_of(s, ia, steps, sizeof steps);
	CHECK_STR(steps, "100/ 180/Initiator 486/Initiator");
	steps_of(s, ib, steps, sizeof steps);
	CHECK_STR(steps, "100/ 180/Initiator 200/Initiator 180/Destination 200/Destination");
	/* the 100 of the first request, byte for byte: the request without its
	 * prolog and the Response block right after </Request> */
	char want[2048];
	(void)ch_fmt(want, sizeof want,
		     "<ClickToCall>\n  <Request>\n    <Initiator>%s</Initiator>\n"
		     "    <Destination>9055551234</Destination>\n"
		     "    <AnchorCall>false</AnchorCall>\n  </Request>\n<Response>\n"
		     "<TranslatedInitiator>%s</TranslatedInitiator>\n"
		     "<TranslatedDestination>sip:9055551234@127.0.0.1</TranslatedDestination>\n"
		     "<Result Code=\"100\">In progress</Result>\n</Response>\n</ClickToCall>\n",
		     ia, ia);
	CHECK_MSG(strstr(s, want) != NULL, "no exact 100 document in:\n%s", s);
	CHECK(strstr(s, "<?xml") == NULL);
	CHECK(count(s, "<TranslatedInitiator>") == 2);
	CHECK(strstr(s, "<Result Code=\"486\" Leg=\"Initiator\">Failed to connect to initiator</Result>"));
	CHECK(strstr(s, "<Result Code=\"200\" Leg=\"Destination\">Connected to destination</Result>"));
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));

	/* bad requests on the same connection: 400 without Leg, connection kept */
	acc.len = 0;
	xml_send(fd, "<ClickToCall><Request><Initiator>9055551234</Initiator></Request></ClickToCall>\n"
		     "<ClickToCall><Request><Initiator>9055551234</Initiator><Destination>9005551234</Destination></"
		     "Request></ClickToCall>\n"
		     "<ClickToCall><Request><Initiator>x@evil.com</Initiator><Destination>9055551234</Destination></"
		     "Request></ClickToCall>\n"
		     "<Other><Request/></Other>");
	xml_read(fd, &acc, 4, 5000, NULL);
	CHECK(ch_buf_nul(&acc) == 0);
	s = acc.data ? acc.data : "";
	CHECK_MSG(strstr(s, "<Initiator>9055551234</Initiator></Request>\n<Response>\n<Result Code=\"400\">missing "
			    "Destination</Result>\n</Response></ClickToCall>\n"),
		  "%s", s);
	CHECK(strstr(s, "<Result Code=\"403\">destination: destination denied by policy</Result>"));
	CHECK(strstr(s, "<Result Code=\"400\">initiator: "));
	CHECK(strstr(s, "<Result Code=\"400\">unknown method</Result>"));
	CHECK(strstr(s, "Leg=") == NULL);
	/* a parse error loses the framing: 400, then the server closes */
	acc.len = 0;
	xml_send(fd, "<ClickToCall><Request></ClickToCall>");
	bool eof = false;
	xml_read(fd, &acc, 99, 5000, &eof);
	CHECK(ch_buf_nul(&acc) == 0);
	CHECK_MSG(acc.data && strstr(acc.data, "<Result Code=\"400\">parse error: "), "%s", acc.data ? acc.data : "");
	CHECK(eof);
	close(fd);
	/* DOCTYPE (entity tricks) refused */
	fd = xml_connect();
	acc.len = 0;
	xml_send(fd, "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><ClickToCall/>");
	xml_read(fd, &acc, 99, 5000, &eof);
	CHECK(ch_buf_nul(&acc) == 0);
	CHECK(acc.data && strstr(acc.data, "DOCTYPE not allowed"));
	close(fd);
	ch_buf_free(&acc);
	stop();
}

/* REFER refused by the initiator's phone: the 181 fallback line, then the
 * anchored flow to the destination. */
static void case_xml_fallback(void)
{
	struct opts o = {0};
	start(&o);
	struct sipp_peer a, b;
	char ia[128], db[128], rq[1024];
	CHECK(peer_start(&a, "refer501", "uas_refer_501.xml", NULL));
	CHECK(peer_start(&b, "dest", "uas_dest_bye.xml", NULL));
	peer_uri(&a, "alice", ia, sizeof ia);
	peer_uri(&b, "9055551234", db, sizeof db);
	(void)ch_fmt(rq, sizeof rq,
		     "<ClickToCall>\n<Request>\n<Initiator>%s</Initiator>\n<Destination>%s</Destination>\n</"
		     "Request>\n</ClickToCall>\n",
		     ia, db);
	int fd = xml_connect();
	struct ch_buf acc;
	ch_buf_init(&acc, 1 << 20);
	xml_send(fd, rq);
	xml_read(fd, &acc, 6, 20000, NULL);
	CHECK(ch_buf_nul(&acc) == 0);
	const char *s = acc.data ? acc.data : "";
	char steps[512];
	steps_of(s, ia, steps, sizeof steps);
	CHECK_STR(steps, "100/ 180/Initiator 200/Initiator 181/Destination 180/Destination 200/Destination");
	CHECK_MSG(strstr(s, "<Result Code=\"181\" Leg=\"Destination\">REFER refused (501), bridging</Result>"), "%s",
		  s);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));
	/* the destination hung up: nothing more on the XML stream (the client
	 * already had its final 200 Leg=Destination) */
	usleep(300000);
	acc.len = 0;
	xml_read(fd, &acc, 1, 500, NULL);
	CHECK(acc.len == 0);
	/* JSON: the same call, anchored by fallback */
	json_t *j = get_call(1);
	CHECK(j && json_is_true(json_object_get(j, "fallback")));
	CHECK(j && json_integer_value(json_object_get(j, "fallback_code")) == 501);
	json_decref(j);
	close(fd);
	ch_buf_free(&acc);
	stop();
}

static void case_xml_allow_from(void)
{
	struct opts o = {.allow_from = "\"10.0.0.0/8\", \"::1/128\""};
	start(&o);
	int fd = xml_connect();
	struct ch_buf acc;
	ch_buf_init(&acc, 1 << 16);
	bool eof = false;
	xml_read(fd, &acc, 1, 5000, &eof);
	if (!eof)
		xml_read(fd, &acc, 99, 2000, &eof);
	CHECK(ch_buf_nul(&acc) == 0);
	CHECK_MSG(acc.data && strstr(acc.data, "<Result Code=\"403\">"), "%s", acc.data ? acc.data : "");
	CHECK(eof);
	close(fd);
	ch_buf_free(&acc);
	CHECK(chd_wait_log(&D, "not in xml.allow_from", 2000));
	stop();
}

static void case_xml_max_connections(void)
{
	struct opts o = {.max_conns = 2};
	start(&o);
	int f1 = xml_connect(), f2 = xml_connect();
	usleep(200000);
	int f3 = xml_connect();
	struct ch_buf acc;
	ch_buf_init(&acc, 1 << 16);
	bool eof = false;
	xml_read(f3, &acc, 99, 3000, &eof);
	CHECK(ch_buf_nul(&acc) == 0);
	CHECK_MSG(acc.data && strstr(acc.data, "<Result Code=\"503\">Too many connections"), "%s",
		  acc.data ? acc.data : "");
	CHECK(eof);
	close(f3);
	/* the old ones still work */
	acc.len = 0;
	xml_send(f1, "<ClickToCall><Request><Initiator>1</Initiator></Request></ClickToCall>");
	xml_read(f1, &acc, 1, 3000, NULL);
	CHECK(ch_buf_nul(&acc) == 0);
	CHECK(acc.data && strstr(acc.data, "missing Destination"));
	/* one closes: a new one gets in */
	close(f2);
	usleep(200000);
	int f4 = xml_connect();
	acc.len = 0;
	xml_send(f4, "<ClickToCall><Request><Destination>1</Destination></Request></ClickToCall>");
	xml_read(f4, &acc, 1, 3000, NULL);
	CHECK(ch_buf_nul(&acc) == 0);
	CHECK(acc.data && strstr(acc.data, "missing Initiator"));
	close(f1);
	close(f4);
	ch_buf_free(&acc);
	stop();
}

/* ---- a tiny HTTP server that records callback bodies ------------------------------------ */

static struct {
	int fd;
	int port;
	pthread_mutex_t mu;
	struct ch_buf bodies; /* one JSON per line */
	bool stop;
} cbs = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

static void *cb_server(void *arg)
{
	(void)arg;
	while (!cbs.stop) {
		struct pollfd p = {.fd = cbs.fd, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		int c = accept(cbs.fd, NULL, NULL);
		if (c < 0)
			continue;
		char buf[16384];
		size_t n = 0;
		size_t need = 0;
		for (;;) {
			ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, 0);
			if (r <= 0)
				break;
			n += (size_t)r;
			buf[n] = '\0';
			char *he = strstr(buf, "\r\n\r\n");
			if (he && !need) {
				char *cl = strcasestr(buf, "Content-Length:");
				long v = cl ? strtol(cl + 15, NULL, 10) : 0;
				need = (size_t)(he + 4 - buf) + (size_t)v;
			}
			if (need && n >= need)
				break;
		}
		char *he = strstr(buf, "\r\n\r\n");
		if (he) {
			pthread_mutex_lock(&cbs.mu);
			if (ch_buf_adds(&cbs.bodies, he + 4) || ch_buf_adds(&cbs.bodies, "\n"))
				CHECK(0);
			pthread_mutex_unlock(&cbs.mu);
		}
		const char ok[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
		ssize_t w = send(c, ok, sizeof ok - 1, MSG_NOSIGNAL);
		(void)w;
		close(c);
	}
	return NULL;
}

static void case_callback(void)
{
	cbs.fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a4;
	socklen_t al = sizeof a4;
	memset(&a4, 0, sizeof a4);
	a4.sin_family = AF_INET;
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(cbs.fd, (struct sockaddr *)&a4, sizeof a4) == 0 && listen(cbs.fd, 16) == 0);
	getsockname(cbs.fd, (struct sockaddr *)&a4, &al);
	cbs.port = ntohs(a4.sin_port);
	ch_buf_init(&cbs.bodies, 1 << 20);
	pthread_t t;
	pthread_create(&t, NULL, cb_server, NULL);

	char allow[128];
	(void)ch_fmt(allow, sizeof allow, "\"http://127.0.0.1:%d/hook/\"", cbs.port);
	struct opts o = {.cb_allow = allow};
	start(&o);
	struct sipp_peer a;
	char ini[128], body[512];
	CHECK(peer_start(&a, "refer", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", "200", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	/* outside the prefix: refused before any call */
	(void)ch_fmt(
	    body, sizeof body,
	    "{\"initiator\":\"%s\",\"destination\":\"9055551234\",\"status_callback\":\"http://127.0.0.1:%d/hookx\"}",
	    ini, cbs.port);
	post_call(body, 403);
	(void)ch_fmt(
	    body, sizeof body,
	    "{\"initiator\":\"%s\",\"destination\":\"9055551234\",\"status_callback\":\"http://127.0.0.1:%d/hook/c1\"}",
	    ini, cbs.port);
	uint64_t id = post_call(body, 202);
	bool final = false;
	for (int i = 0; i < 200 && !final; i++) {
		pthread_mutex_lock(&cbs.mu);
		final = ch_buf_nul(&cbs.bodies) == 0 && cbs.bodies.data && strstr(cbs.bodies.data, "\"final\":true");
		pthread_mutex_unlock(&cbs.mu);
		if (!final)
			usleep(100000);
	}
	CHECK(final);
	CHECK(sipp_peer_wait(&a, 15000));
	/* every state change arrived, in order, as JSON with the call id */
	const char *order[] = {"calling_initiator",   "initiator_ringing",   "initiator_answered",
			       "calling_destination", "destination_ringing", "transferred"};
	pthread_mutex_lock(&cbs.mu);
	const char *p = cbs.bodies.data ? cbs.bodies.data : "";
	size_t k = 0;
	for (const char *line = p; *line && k < 6;) {
		const char *nl = strchr(line, '\n');
		char *one = ch_strndup(line, nl ? (size_t)(nl - line) : strlen(line));
		json_t *j = one ? json_loads(one, 0, NULL) : NULL;
		CHECK_MSG(j != NULL, "callback body not JSON: %s", one ? one : "");
		if (j) {
			CHECK(json_integer_value(json_object_get(j, "id")) == (json_int_t)id);
			const char *st = json_string_value(json_object_get(j, "state"));
			if (st && strcmp(st, order[k]) == 0)
				k++;
			json_decref(j);
		}
		free(one);
		line = nl ? nl + 1 : line + strlen(line);
	}
	CHECK_MSG(k == 6, "callbacks: %s", p);
	pthread_mutex_unlock(&cbs.mu);
	stop();
	cbs.stop = true;
	pthread_join(t, NULL);
	close(cbs.fd);
	ch_buf_free(&cbs.bodies);
}

/* auth = "basic" over TLS, for old scripts that send Basic. */
static void case_tls_basic(void)
{
	char cmd[1024];
	(void)ch_fmt(cmd, sizeof cmd,
		     "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
		     "-keyout '%s/key.pem' -out '%s/cert.pem' >/dev/null 2>&1 && chmod 600 '%s/key.pem'",
		     D.dir, D.dir, D.dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl not usable: case skipped\n");
		return;
	}
	struct opts o = {.tls_basic = true};
	start(&o);
	use_tls = true;
	struct resp r = req(A_NONE, "GET", "/v1/calls", NULL, NULL);
	CHECK(r.status == 401);
	CHECK_MSG(strstr(r.headers, "WWW-Authenticate: Basic realm=") != NULL, "%s", r.headers);
	resp_free(&r);
	expect_status(A_BASIC, "GET", "/v1/calls", NULL, NULL, 200, NULL);
	expect_status(A_DIGEST, "GET", "/v1/calls", NULL, NULL, 401, NULL);
	use_tls = false;
	stop();
}

/* Refused configurations: no password, a pattern that does not compile. */
static void case_config_refusals(void)
{
	char *out = NULL;
	const char *no_pw = "originator = { identity = \"sip:c2c@127.0.0.1\"; listen = \"sip:127.0.0.1:0\";\n"
			    "  translations = ( { pattern = \"^(\\\\d+)$\"; output = \"sip:$1@127.0.0.1\"; } );\n"
			    "  http = { listen = [ \"127.0.0.1:0\" ]; }; };\n";
	const char *args[] = {"-c", NULL, NULL};
	char conf[400];
	CHECK(chd_init(&D) == 0);
	(void)ch_fmt(conf, sizeof conf, "%s/callhook.conf", D.dir);
	args[1] = conf;
	int st = chd_run(&D, no_pw, args, &out);
	CHECK_MSG(st != 0 && out && strstr(out, "password"), "status %d: %s", st, out ? out : "");
	free(out);
	const char *bad_pat = "originator = { identity = \"sip:c2c@127.0.0.1\"; listen = \"sip:127.0.0.1:0\";\n"
			      "  translations = ( { pattern = \"^(\\\\d+$\"; output = \"sip:$1@127.0.0.1\"; } );\n"
			      "  http = { listen = [ \"127.0.0.1:0\" ]; password = \"x-" PASSWORD "\"; }; };\n";
	out = NULL;
	st = chd_run(&D, bad_pat, args, &out);
	CHECK_MSG(st != 0 && out && strstr(out, "translations.[0].pattern"), "status %d: %s", st, out ? out : "");
	free(out);
}

/* No originator.auth, and the initiator's proxy challenges: the call fails
 * with the proxy's 407 at once, and the daemon still stops promptly (no
 * handle is left waiting for credentials). */
static void case_unanswered_challenge(void)
{
	struct opts o = {0};
	start(&o);
	struct sipp_peer a;
	char ini[128], body[512];
	CHECK(peer_start(&a, "challenger", "uas_auth407.xml", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"9055551234\"}", ini);
	uint64_t id = post_call(body, 202);
	json_t *j = wait_result(id, 10000);
	CHECK_MSG(j != NULL, "call %llu has no result", (unsigned long long)id);
	if (j) {
		CHECK_STR(sv(json_object_get(j, "state")), "failed");
		json_t *res = json_object_get(j, "result");
		CHECK_MSG(json_integer_value(json_object_get(res, "code")) == 407, "code %lld",
			  (long long)json_integer_value(json_object_get(res, "code")));
		json_decref(j);
	}
	kill(a.pid, SIGKILL);
	waitpid(a.pid, NULL, 0);
	stop(); /* SIGTERM; chd_stop fails if the daemon needs more than 5 s */
}

/* SIGHUP reaches the originator: a new deny list applies to the next request,
 * and a config whose pattern does not compile changes nothing. */
static void case_reload(void)
{
	struct opts o = {0};
	start(&o);
	const char *J = "application/json";
	const char *call = "{\"initiator\":\"9055550000\",\"destination\":\"9055551234\"}";
	char *conf = NULL;
	size_t len = 0;
	CHECK(ch_read_file(D.conf, 1 << 20, &conf, &len) == 0);
	if (!conf)
		return;
	/* deny 905 as well: the same request is now refused */
	const char *from = "deny = [ \"^sip:(900|976)\" ]";
	char *at = strstr(conf, from);
	CHECK(at != NULL);
	if (at) {
		struct ch_buf b;
		ch_buf_init(&b, 1 << 20);
		ch_buf_add(&b, conf, (size_t)(at - conf));
		ch_buf_adds(&b, "deny = [ \"^sip:(900|976|905)\" ]");
		ch_buf_adds(&b, at + strlen(from));
		CHECK(chd_write(&D, "callhook.conf", b.data, 0600) == 0);
		ch_buf_free(&b);
		CHECK(chd_signal(&D, SIGHUP) == 0);
		CHECK(chd_wait_log(&D, "loaded", 3000));
		expect_status(A_DIGEST, "POST", "/v1/calls", J, call, 403, NULL);
	}
	/* a pattern that does not compile: refused, the running rules (905 denied) stay */
	struct ch_buf b2;
	ch_buf_init(&b2, 1 << 20);
	at = strstr(conf, from);
	if (at) {
		ch_buf_add(&b2, conf, (size_t)(at - conf));
		ch_buf_adds(&b2, "deny = [ \"^sip:(900\" ]");
		ch_buf_adds(&b2, at + strlen(from));
		CHECK(chd_write(&D, "callhook.conf", b2.data, 0600) == 0);
		CHECK(chd_signal(&D, SIGHUP) == 0);
		CHECK(chd_wait_log(&D, "still running the previous configuration", 3000));
		expect_status(A_DIGEST, "POST", "/v1/calls", J, call, 403, NULL);
	}
	ch_buf_free(&b2);
	free(conf);
	stop();
}

/* Policy judges the URI that goes on the wire, in canonical form (the
 * security issue "deny list and per-initiator limit evaded by spelling"),
 * with the README's own catch-all rule ^(.*)$ -> sip:$1@127.0.0.1 and deny
 * ^sip:(900|976). */
static void case_canonical(void)
{
	struct opts o = {.per_initiator = 2, .catch_all = true};
	start(&o);
	const char *J = "application/json";
	struct sipp_peer a;
	char ini[128], body[512];
	CHECK(peer_start(&a, "refer", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", "200", NULL));
	peer_uri(&a, "rtcarol", ini, sizeof ini);
	/* every spelling of a 900 number is refused 403 before any SIP is sent */
	static const char *const denied[] = {
	    "%39001234567",  "%3900%31234567", "9%2D001234567",     "9-001234567",
	    "(900)123-4567", "9.001.234.567",  "%28976%29123.4567",
	};
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"%s\"}", ini, denied[i]);
		expect_status(A_DIGEST, "POST", "/v1/calls", J, body, 403, "destination: destination denied");
	}
	/* escapes without one safe spelling: 400 */
	static const char *const refused[] = {
	    "%2B19001234567", "%2539001234567", "x%3Bmaddr=evil", "x%00", "x%4", "x%zz"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"%s\"}", ini, refused[i]);
		expect_status(A_DIGEST, "POST", "/v1/calls", J, body, 400, "destination: ");
	}
	/* a 900 initiator, spelt with escapes, is denied too */
	expect_status(A_DIGEST, "POST", "/v1/calls", J,
		      "{\"initiator\":\"%39005551234\",\"destination\":\"9055551234\"}", 403, "initiator");
	/* the XML port: the same verdict */
	int fd = xml_connect();
	if (fd >= 0) {
		struct ch_buf acc;
		ch_buf_init(&acc, 1 << 20);
		char rq[512];
		(void)ch_fmt(rq, sizeof rq,
			     "<ClickToCall><Request><Initiator>%s</Initiator><Destination>%%39001234567</Destination>"
			     "</Request></ClickToCall>\n",
			     ini);
		xml_send(fd, rq);
		xml_read(fd, &acc, 1, 5000, NULL);
		CHECK(ch_buf_nul(&acc) == 0);
		CHECK_MSG(acc.data &&
			      strstr(acc.data, "<Result Code=\"403\">destination: destination denied by policy"),
			  "%s", acc.data ? acc.data : "");
		ch_buf_free(&acc);
		close(fd);
	}

	/* a call that is placed: the answer, the call record and the REFER all
	 * carry the canonical URIs (uas_refer.xml checks Refer-To
	 * <sip:9055551234@127.0.0.1> and the display name 9055551234) */
	(void)ch_fmt(body, sizeof body,
		     "{\"initiator\":\"sip:rt%%63arol@127.0.0.1:%d\",\"destination\":\"(905)555-1234\"}", a.port);
	struct resp r = req(A_DIGEST, "POST", "/v1/calls", J, body);
	CHECK_MSG(r.status == 202, "%ld %s", r.status, r.body);
	json_t *j = resp_json(&r);
	uint64_t id = (uint64_t)json_integer_value(json_object_get(j, "id"));
	CHECK_STR(sv(json_object_get(j, "translated_initiator")), ini);
	CHECK_STR(sv(json_object_get(j, "translated_destination")), "sip:9055551234@127.0.0.1");
	json_decref(j);
	resp_free(&r);
	j = wait_result(id, 20000);
	CHECK_MSG(j != NULL, "call %llu has no result", (unsigned long long)id);
	if (j) {
		CHECK_STR(sv(json_object_get(j, "state")), "transferred");
		json_t *legs = json_object_get(j, "legs");
		CHECK_STR(sv(json_object_get(json_object_get(legs, "initiator"), "uri")), ini);
		CHECK_STR(sv(json_object_get(json_object_get(legs, "destination"), "uri")), "sip:9055551234@127.0.0.1");
		json_decref(j);
	}
	CHECK(sipp_peer_wait(&a, 15000));
	/* the phone saw one INVITE, ours, and never a 900 number */
	char *msgs = NULL;
	size_t mlen = 0;
	CHECK(ch_read_file(a.msgs, 1 << 24, &msgs, &mlen) == 0);
	if (msgs) {
		CHECK_MSG(count(msgs, "\nINVITE sip:") + (strncmp(msgs, "INVITE sip:", 11) == 0) == 1, "%s", msgs);
		CHECK_MSG(strstr(msgs, "Refer-To: <sip:9055551234@127.0.0.1>") != NULL, "%s", msgs);
		CHECK(strstr(msgs, "9001234567") == NULL && strstr(msgs, "%39") == NULL && strstr(msgs, "%63") == NULL);
		free(msgs);
	}

	/* per initiator (2 a minute): rt%63arol used one of rtcarol's; the plain
	 * spelling takes the second (the phone is gone: it fails fast), and
	 * the escaped spelling is then refused instead of starting afresh */
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"9055551234\"}", ini);
	uint64_t id2 = post_call(body, 202);
	j = wait_result(id2, 40000);
	CHECK(j != NULL);
	json_decref(j);
	(void)ch_fmt(body, sizeof body,
		     "{\"initiator\":\"sip:rt%%63arol@127.0.0.1:%d\",\"destination\":\"9055551234\"}", a.port);
	expect_status(A_DIGEST, "POST", "/v1/calls", J, body, 429, "initiator");
	(void)ch_fmt(body, sizeof body,
		     "{\"initiator\":\"sip:%%72%%74carol@127.0.0.1:%d\",\"destination\":\"9055551234\"}", a.port);
	expect_status(A_DIGEST, "POST", "/v1/calls", J, body, 429, "initiator");
	/* nor do a password or another port of the same host (the limit counts
	 * user@host): "rtcarol:pw" -> sip:rtcarol:pw@127.0.0.1 */
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "{\"initiator\":\"rtcarol:pw\",\"destination\":\"9055551234\"}",
		      429, "initiator");
	expect_status(A_DIGEST, "POST", "/v1/calls", J, "{\"initiator\":\"rtcarol\",\"destination\":\"9055551234\"}",
		      429, "initiator");
	stop();
}

/* SIP over TLS: the listener presents agent.pem, which verifies against the CA in cafile.pem. */
static void case_sip_tls(void)
{
	char cmd[2048];
	(void)ch_fmt(cmd, sizeof cmd,
		     "cd '%s' && mkdir -p sipcerts && "
		     "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=callhook-test-ca -keyout ca.key "
		     "-out sipcerts/cafile.pem -days 1 >/dev/null 2>&1 && "
		     "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout agent.key -out agent.csr "
		     ">/dev/null 2>&1 && "
		     "openssl x509 -req -in agent.csr -CA sipcerts/cafile.pem -CAkey ca.key -CAcreateserial "
		     "-out agent.crt -days 1 >/dev/null 2>&1 && "
		     "cat agent.key agent.crt > sipcerts/agent.pem && chmod 600 sipcerts/agent.pem",
		     D.dir);
	CHECK(system(cmd) == 0);
	struct opts o = {.sip_tls_port = sipp_free_port()};
	start(&o);
	(void)ch_fmt(cmd, sizeof cmd,
		     "echo | timeout 10 openssl s_client -connect 127.0.0.1:%d -CAfile '%s/sipcerts/cafile.pem' "
		     "-verify_return_error 2>&1 | grep -q 'Verify return code: 0 (ok)'",
		     o.sip_tls_port, D.dir);
	CHECK_MSG(system(cmd) == 0, "TLS handshake with the SIP listener on %d did not verify", o.sip_tls_port);
	stop();
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *c = argc > 1 ? argv[1] : "auth";
	CHECK(chd_init(&D) == 0);
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
	    {"auth", case_auth},
	    {"auth_md5", case_auth_md5},
	    {"html", case_html},
	    {"json", case_json},
	    {"limits", case_limits},
	    {"xml", case_xml},
	    {"xml_fallback", case_xml_fallback},
	    {"xml_allow_from", case_xml_allow_from},
	    {"xml_max_connections", case_xml_max_connections},
	    {"callback", case_callback},
	    {"config_refusals", case_config_refusals},
	    {"tls_basic", case_tls_basic},
	    {"unanswered_challenge", case_unanswered_challenge},
	    {"reload", case_reload},
	    {"sip_tls", case_sip_tls},
	    {"canonical", case_canonical},
	};
	bool found = false;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (strcmp(cases[i].name, c) == 0) {
			found = true;
			cases[i].fn();
		}
	}
	CHECK_MSG(found, "unknown case %s", c);
	if (check_failures) {
		char *l = chd_log(&D);
		fprintf(stderr, "---- daemon log ----\n%s\n", l ? l : "");
		free(l);
	}
	chd_cleanup(&D);
	curl_global_cleanup();
	return check_done();
}
