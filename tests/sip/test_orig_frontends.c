/* tests/sip/test_orig_frontends.c: the originator's HTTP page, JSON API, status callbacks, TLS and reload, through the
 * real daemon against SIPp phones; one ctest per case. */
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
#include <stdatomic.h>
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
#include "tests/support/mock_http.h"

/* ---- cases ----------------------------------------------------------------------------------- */

TEST_CASE(auth)
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

TEST_CASE(auth_md5)
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

TEST_CASE(html)
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

#define JSON "application/json"
/* Every refusal of the JSON API: status and a part of the reason, and nothing placed. */
static const struct refusal {
	enum auth au;
	const char *method, *path, *ctype, *body;
	long status;
	const char *reason_part;
} refusals[] = {
    {A_NONE, "POST", "/v1/calls", JSON, "{}", 401, NULL},
    {A_DIGEST, "POST", "/v1/calls", JSON, "not json", 400, "JSON object"},
    {A_DIGEST, "POST", "/v1/calls", JSON, "[1]", 400, "JSON object"},
    {A_DIGEST, "POST", "/v1/calls", JSON,
     "{\"initiator\":\"9055551234\",\"initiator\":\"9055551235\",\"destination\":\"9055551234\"}", 400, "JSON object"},
    {A_DIGEST, "POST", "/v1/calls", JSON, "{\"initiator\":\"9055551234\"}", 400, "required"},
    {A_DIGEST, "POST", "/v1/calls", JSON, "{\"initiator\":9055551234,\"destination\":\"9055551234\"}", 400, "required"},
    {A_DIGEST, "POST", "/v1/calls", JSON,
     "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"anchor\":\"yes\"}", 400, "anchor"},
    {A_DIGEST, "POST", "/v1/calls", JSON,
     "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"ring_timeout_s\":0}", 400, "ring_timeout_s"},
    {A_DIGEST, "POST", "/v1/calls", JSON, "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"x\":1}", 400,
     "unknown member"},
    {A_DIGEST, "POST", "/v1/calls", JSON, "{\"initiator\":\"x@evil.com\",\"destination\":\"9055551234\"}", 400,
     "initiator"},
    {A_DIGEST, "POST", "/v1/calls", JSON, "{\"initiator\":\"9055551234\",\"destination\":\"9055551234;maddr=evil\"}",
     400, "destination"},
    {A_DIGEST, "POST", "/v1/calls", "text/plain", "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\"}", 415,
     NULL},
    {A_DIGEST, "POST", "/v1/calls", JSON, "{\"initiator\":\"9055551234\",\"destination\":\"9765551234\"}", 403,
     "denied"},
    {A_DIGEST, "POST", "/v1/calls", JSON, "{\"initiator\":\"9005551234\",\"destination\":\"9055551234\"}", 403,
     "initiator"},
    {A_DIGEST, "POST", "/v1/calls", JSON,
     "{\"initiator\":\"9055551234\",\"destination\":\"9055551234\",\"status_callback\":\"http://127.0.0.1:1/\"}", 403,
     "status_callback"},
    {A_DIGEST, "GET", "/v1/calls/999999", NULL, NULL, 404, "no such call"},
    {A_DIGEST, "GET", "/v1/calls/abc", NULL, NULL, 404, NULL},
    {A_DIGEST, "DELETE", "/v1/calls/999999", NULL, NULL, 404, NULL},
    {A_DIGEST, "GET", "/v2/other", NULL, NULL, 404, NULL},
    {A_DIGEST, "PUT", "/v1/calls", JSON, "{}", 405, "method"},
};

TEST_CASE(json_refusals)
{
	struct opts o = {0};
	start(&o);
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		const struct refusal *f = &refusals[i];
		expect_status(f->au, f->method, f->path, f->ctype, f->body, f->status, f->reason_part);
	}
	const char *J = JSON;
	char *big = malloc(20001);
	if (big) {
		memset(big, ' ', 20000);
		big[0] = '{';
		big[19999] = '}';
		big[20000] = '\0';
		expect_status(A_DIGEST, "POST", "/v1/calls", J, big, 413, "too large");
		free(big);
	}
	struct resp r = req(A_DIGEST, "PATCH", "/v1/calls/1", J, "{}");
	CHECK(r.status == 405 && strstr(r.headers, "Allow: GET, DELETE"));
	resp_free(&r);

	r = req(A_DIGEST, "GET", "/v1/calls", NULL, NULL);
	CHECK_STR(r.body, "{\"calls\":[]}");
	resp_free(&r);
	stop();
}

TEST_CASE(json)
{
	struct opts o = {0};
	start(&o);
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
	struct resp r = req(A_DIGEST, "GET", "/v1/calls", NULL, NULL);
	CHECK_STR(r.body, "{\"calls\":[]}");
	resp_free(&r);
	/* an originator-only daemon serves /metrics on its admin listener */
	CHECK(D.admin_port > 0);
	CURL *mc = curl_easy_init();
	struct chr m;
	char murl[128];
	th_http(mc, "GET", th_url(murl, sizeof murl, D.admin_port, "/metrics"), NULL, NULL, 0, &m);
	CHECK(m.status == 200);
	CHECK_MSG(strstr(m.body, "callhook_originator_calls_total{state=\"transferred\",ended_by=\"transfer\"} 1") !=
		      NULL,
		  "%s", m.body);
	chr_free(&m);
	curl_easy_cleanup(mc);
	/* the gauges are back to zero once the call has its result */
	CHECK(th_metric_at(D.admin_port, "callhook_originator_calls_active") == 0);
	CHECK(th_metric_at(D.admin_port, "callhook_originator_sip_calls") == 0);
	CHECK(th_metric_at(D.admin_port, "callhook_originator_xml_connections") == 0);
	stop();
}

TEST_CASE(limits)
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
	/* the ringing call counts on both gauges */
	CHECK(th_metric_at(D.admin_port, "callhook_originator_calls_active") == 1);
	CHECK(th_metric_at(D.admin_port, "callhook_originator_sip_calls") == 1);
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
	CHECK(th_metric_at(D.admin_port, "callhook_originator_calls_active") == 0);
	CHECK(th_metric_at(D.admin_port, "callhook_originator_sip_calls") == 0);
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

/* ---- status callbacks, received by tests/support/mock_http ------------------------------- */

static struct tm_rx cbs = TM_RX_INIT;

TEST_CASE(callback)
{
	REQUIRE(tm_rx_start(&cbs));

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
	CHECK(tm_rx_wait_body(&cbs, "\"final\":true", 20000));
	CHECK(sipp_peer_wait(&a, 15000));
	/* every state change arrived, in order, as JSON with the call id */
	const char *order[] = {"calling_initiator",   "initiator_ringing",   "initiator_answered",
			       "calling_destination", "destination_ringing", "transferred"};
	pthread_mutex_lock(&cbs.mu);
	size_t k = 0;
	for (size_t i = 0; i < cbs.n && k < 6; i++) {
		json_t *j = json_loads(cbs.msgs[i].body, 0, NULL);
		CHECK_MSG(j != NULL, "callback body not JSON: %s", cbs.msgs[i].body);
		if (j) {
			CHECK(json_integer_value(json_object_get(j, "id")) == (json_int_t)id);
			const char *st = json_string_value(json_object_get(j, "state"));
			if (st && strcmp(st, order[k]) == 0)
				k++;
			json_decref(j);
		}
		CHECK(strncmp(cbs.msgs[i].line, "POST /hook/c1", 13) == 0);
	}
	CHECK_MSG(k == 6, "%zu of the 6 states arrived in order (%zu callbacks)", k, cbs.n);
	/* the final one carries the call record (docs/cdr.md), the same as originator.cdr.file's line */
	const char *fin = NULL;
	for (size_t i = 0; i < cbs.n && !fin; i++)
		fin = strstr(cbs.msgs[i].body, "\"final\":true") ? cbs.msgs[i].body : NULL;
	CHECK_MSG(fin && strstr(fin, "\"call_record\":{\"record\":\"originator\",\"call_id\":"), "%s", fin ? fin : "");
	CHECK(fin && strstr(fin, "\"ended_by\":\"transfer\",\"status\":\"FINISH\""));
	pthread_mutex_unlock(&cbs.mu);
	stop();
	tm_rx_stop(&cbs);
	tm_rx_reset(&cbs);
}

/* auth = "basic" over TLS, for old scripts that send Basic. */
TEST_CASE(tls_basic)
{
	char cmd[1024];
	(void)ch_fmt(cmd, sizeof cmd,
		     "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
		     "-keyout '%s/key.pem' -out '%s/cert.pem' >/dev/null 2>&1 && chmod 600 '%s/key.pem'",
		     D.dir, D.dir, D.dir);
	if (system(cmd) != 0)
		SKIP("openssl cannot make a test certificate here");
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
TEST_CASE(config_refusals)
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
TEST_CASE(unanswered_challenge)
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
TEST_CASE(reload)
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

/* SIP over TLS: the listener presents agent.pem, which verifies against the CA in cafile.pem. */
TEST_CASE(sip_tls)
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
