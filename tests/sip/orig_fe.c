/* tests/sip/orig_fe.c: what the originator's front-end tests share (orig_fe.h). */
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
#include "orig_fe.h"
#include "sipp_peer.h"
#include "tests/check.h"

struct chd D;

/* ---- SIPp phones ----------------------------------------------------------------- */

/* Start `sipp -sf scenario` as a one-call UAS; extra SIPp arguments end with NULL. */
bool peer_start(struct sipp_peer *p, const char *name, const char *scenario, ...)
{
	va_list ap;
	va_start(ap, scenario);
	bool ok = sipp_peer_startv(p, D.dir, name, scenario, ap);
	va_end(ap);
	return ok;
}

void peer_uri(const struct sipp_peer *p, const char *user, char *out, size_t cap)
{
	(void)ch_fmt(out, cap, "sip:%s@127.0.0.1:%d", user, p->port);
}

/* ---- the daemon ------------------------------------------------------------------------ */

void start(const struct opts *o)
{
	char tlsline[256] = "";
	if (o->sip_tls_port)
		(void)ch_fmt(tlsline, sizeof tlsline,
			     "  tls_listen = \"sips:127.0.0.1:%d\"; tls_certificate_dir = \"@DIR@/sipcerts\";\n",
			     o->sip_tls_port);
	char conf[8192];
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
	    "  limits = { concurrent_calls = %d; calls_per_minute = 600; calls_per_minute_per_initiator = %d;\n"
	    "    calls_per_hour_per_destination = %d; distinct_destinations_per_hour_per_initiator = %d; };\n"
	    "  http = { listen = [ \"127.0.0.1:0\" ]; user = \"admin\"; password = \"" PASSWORD
	    "\"; digest_algorithm = \"%s\"; %s };\n"
	    "  xml = { listen = [ \"127.0.0.1:0\" ]; allow_from = [ %s ]; max_connections = %d; };\n"
	    "  callbacks = { allow = [ %s ]; };\n"
	    "  keep_ended_s = 600;\n"
	    "%s%s"
	    "};\n",
	    o->catch_all ? "   ,{ pattern = \"^(.*)$\"; output = \"sip:$1@127.0.0.1\"; }\n" : "",
	    o->concurrent ? o->concurrent : 20, o->per_initiator ? o->per_initiator : 100,
	    o->per_destination ? o->per_destination : 1000, o->distinct ? o->distinct : 1000,
	    o->algo ? o->algo : "SHA-256",
	    o->tls_basic ? "auth = \"basic\"; tls = { cert = \"@DIR@/cert.pem\"; key = \"@DIR@/key.pem\"; };" : "",
	    o->allow_from ? o->allow_from : "\"127.0.0.0/8\"", o->max_conns ? o->max_conns : 16,
	    o->cb_allow ? o->cb_allow : "", tlsline, o->extra ? o->extra : "");
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
void stop(void)
{
	char *l = chd_log(&D);
	CHECK_MSG(strstr(l, PASSWORD) == NULL, "password in the log");
	free(l);
	CHECK(chd_stop(&D) == 0);
}

/* ---- HTTP with Digest ---------------------------------------------------------------------- */

size_t grow_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct ch_buf *b = arg;
	if (ch_buf_add(b, p, sz * n) != 0)
		return 0;
	return sz * n;
}

bool use_tls;

struct resp req(enum auth au, const char *method, const char *path, const char *ctype, const char *body)
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

const char *sv(const json_t *j)
{
	const char *s = json_string_value(j);
	return s ? s : "";
}

void resp_free(struct resp *r)
{
	free(r->body);
	free(r->headers);
}

json_t *resp_json(const struct resp *r)
{
	json_error_t e;
	json_t *j = json_loads(r->body, 0, &e);
	CHECK_MSG(j != NULL, "not JSON: %s", r->body);
	return j;
}

/* Expect status and, for JSON errors, {"status": status, "reason": ...}. */
void expect_status(enum auth au, const char *method, const char *path, const char *ctype, const char *body, long status,
		   const char *reason_part)
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

json_t *get_call(uint64_t id)
{
	char path[64];
	(void)ch_fmt(path, sizeof path, "/v1/calls/%llu", (unsigned long long)id);
	struct resp r = req(A_DIGEST, "GET", path, NULL, NULL);
	json_t *j = r.status == 200 ? resp_json(&r) : NULL;
	resp_free(&r);
	return j;
}

/* Poll the call until it has a result; returns it (new) or NULL. */
json_t *wait_result(uint64_t id, int timeout_ms)
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

uint64_t post_call(const char *body, long want)
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

int xml_connect(void)
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

void xml_send(int fd, const char *s)
{
	CHECK(send(fd, s, strlen(s), MSG_NOSIGNAL) == (ssize_t)strlen(s));
}

int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Read into *acc until it holds `docs` documents, the peer closes (sets
 * *eof) or timeout. */
void xml_read(int fd, struct ch_buf *acc, int docs, int timeout_ms, bool *eof)
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
void steps_of(const char *s, const char *ini, char *out, size_t cap)
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

/* Every case runs in a fresh temp dir; on a failure the daemon's log is printed. */
int test_setup(const char *name)
{
	(void)name;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return chd_init(&D);
}

void test_teardown(void)
{
	if (check_failures) {
		char *l = chd_log(&D);
		fprintf(stderr, "---- daemon log ----\n%s\n", l ? l : "");
		free(l);
	}
	chd_cleanup(&D);
	curl_global_cleanup();
}
