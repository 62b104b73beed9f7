/* tests/sip/test_orig_crm.c: what a CRM asks beyond the old server, through the real daemon and SIPp phones:
 * auto_answer (fenced), extra headers (fenced), the hourly limits (exact under concurrent requests). */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "harness.h"
#include "orig_fe.h"
#include "sipp_peer.h"
#include "tests/check.h"

#define CRM_EXTRA                                                                                                      \
	"  auto_answer = { initiators = [ \"^sip:agent[0-9]+@127\\\\.0\\\\.0\\\\.1:\" ]; header = \"call-info\"; };\n" \
	"  headers = { allow = [ \"^X-CRM-[A-Za-z0-9-]+$\" ]; };\n"

/* The SIPp message log of p holds line (a whole header line). */
static bool wire_has(const struct sipp_peer *p, const char *line)
{
	char *data = NULL;
	size_t len = 0;
	if (ch_read_file(p->msgs, 1 << 20, &data, &len) != 0)
		return false;
	char want[600];
	(void)ch_fmt(want, sizeof want, "\n%s\r\n", line);
	bool ok = strstr(data, want) != NULL;
	if (!ok)
		printf("---- %s (no \"%s\") ----\n%s\n", p->msgs, line, data);
	free(data);
	return ok;
}

/* No call was placed after call next - 1: call next does not exist. */
static void no_call_placed(uint64_t next)
{
	char path[64];
	(void)ch_fmt(path, sizeof path, "/v1/calls/%llu", (unsigned long long)next);
	struct resp r = req(A_DIGEST, "GET", path, NULL, NULL);
	CHECK_MSG(r.status == 404, "GET %s: %ld %s", path, r.status, r.body);
	resp_free(&r);
}

/* JSON API: an agent listed in auto_answer.initiators gets Call-Info answer-after=0 and the CRM's headers on its
 * INVITE; anyone else asking for auto_answer is refused 403, and bad headers 400 naming them, with no call. */
TEST_CASE(json)
{
	start(&(struct opts){.extra = CRM_EXTRA});
	struct sipp_peer a;
	char ini[128], body[1024];
	CHECK(peer_start(&a, "agent", "uas_busy.xml", NULL));
	peer_uri(&a, "agent7", ini, sizeof ini);
	(void)ch_fmt(body, sizeof body,
		     "{\"initiator\":\"%s\",\"destination\":\"9055551234\",\"auto_answer\":true,"
		     "\"headers\":{\"X-CRM-Ticket\":\"48213\",\"x-crm-agent\":\"jane doe\"}}",
		     ini);
	uint64_t id = post_call(body, 202);
	json_t *res = wait_result(id, 15000);
	json_decref(res);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(wire_has(&a, "Call-Info: <sip:c2c@127.0.0.1>;answer-after=0"));
	CHECK(wire_has(&a, "X-CRM-Ticket: 48213") && wire_has(&a, "x-crm-agent: jane doe"));

	(void)ch_fmt(body, sizeof body,
		     "{\"initiator\":\"sip:bob@127.0.0.1:5999\",\"destination\":\"9055551234\","
		     "\"auto_answer\":true}");
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", body, 403,
		      "auto_answer not allowed for this initiator");
	const char *bad[][2] = {
	    {"{\"X-Other\":\"1\"}", "header \"X-Other\" is not allowed"},
	    {"{\"X-CRM-A\":\"1\\r\\nVia: SIP/2.0/UDP evil\"}", "header \"X-CRM-A\" value must be"},
	    {"{\"X-CRM-A\":\"\"}", "header \"X-CRM-A\" value must be"},
	    {"{\"X-CRM-A\":\"caf\\u00e9\"}", "header \"X-CRM-A\" value must be"},
	    {"{\"X-CRM-A\":1}", "header \"X-CRM-A\" value must be a string"},
	    {"{\"X-CRM-A\\r\\nX-Evil\":\"1\"}", "is not a header name"},
	    {"{\"Via\":\"SIP/2.0/UDP 192.0.2.1\"}", "header \"Via\" is written by the originator itself"},
	    {"{\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\",\"e\":\"1\",\"f\":\"1\",\"g\":\"1\",\"h\":\"1\",\"i\":"
	     "\"1\"}",
	     "too many headers (at most 8)"},
	    {"[\"X-CRM-A\"]", "headers must be an object"},
	};
	char longv[400];
	memset(longv, 'v', 257);
	longv[257] = '\0';
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		(void)ch_fmt(body, sizeof body,
			     "{\"initiator\":\"1001001001\",\"destination\":\"9055551234\",\"headers\":%s}", bad[i][0]);
		expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", body, 400, bad[i][1]);
	}
	(void)ch_fmt(body, sizeof body,
		     "{\"initiator\":\"1001001001\",\"destination\":\"9055551234\",\"headers\":{\"X-CRM-A\":\"%s\"}}",
		     longv);
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", body, 400, "256 bytes");
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json",
		      "{\"initiator\":\"1001001001\",\"destination\":\"9055551234\",\"auto_answer\":\"yes\"}", 400,
		      "auto_answer must be true or false");
	no_call_placed(2);
	stop();
}

/* Without auto_answer.initiators nobody may be auto-answered, and without headers.allow no header is accepted. */
TEST_CASE(defaults_refuse)
{
	start(&(struct opts){0});
	expect_status(
	    A_DIGEST, "POST", "/v1/calls", "application/json",
	    "{\"initiator\":\"sip:agent1@127.0.0.1:5999\",\"destination\":\"9055551234\",\"auto_answer\":true}", 403,
	    "auto_answer not allowed");
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json",
		      "{\"initiator\":\"1001001001\",\"destination\":\"9055551234\",\"headers\":{\"X-CRM-A\":\"1\"}}",
		      400, "header \"X-CRM-A\" is not allowed");
	no_call_placed(1);
	stop();
}

/* The HTML page: auto_answer=true, with the same fence. */
TEST_CASE(page)
{
	start(&(struct opts){.extra = CRM_EXTRA});
	struct sipp_peer a;
	char ini[128], path[512];
	CHECK(peer_start(&a, "agent", "uas_busy.xml", NULL));
	peer_uri(&a, "agent2", ini, sizeof ini);
	(void)ch_fmt(path, sizeof path, "/clicktocall.html?initiator=%s&destination=9055551234&auto_answer=true", ini);
	struct resp r = req(A_DIGEST, "GET", path, NULL, NULL);
	CHECK_MSG(r.status == 200 && strstr(r.body, "Call placed"), "%ld %s", r.status, r.body);
	resp_free(&r);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(wire_has(&a, "Call-Info: <sip:c2c@127.0.0.1>;answer-after=0"));
	r = req(A_DIGEST, "GET", "/clicktocall.html?initiator=1001001001&destination=9055551234&auto_answer=true", NULL,
		NULL);
	CHECK_MSG(r.status == 403 && strstr(r.body, "auto_answer not allowed for this initiator"), "%ld %s", r.status,
		  r.body);
	resp_free(&r);
	stop();
}

/* The XML port: <AutoAnswer> and <Header name="..."> are optional elements; a refused header is a 400 Result
 * naming it, and the connection stays usable. */
TEST_CASE(xml)
{
	start(&(struct opts){.extra = CRM_EXTRA});
	struct sipp_peer a;
	char ini[128], doc[1024];
	CHECK(peer_start(&a, "agent", "uas_busy.xml", NULL));
	peer_uri(&a, "agent3", ini, sizeof ini);
	int fd = xml_connect();
	REQUIRE(fd >= 0);
	(void)ch_fmt(
	    doc, sizeof doc,
	    "<ClickToCall><Request><Initiator>%s</Initiator><Destination>9055551234</Destination>"
	    "<AutoAnswer>true</AutoAnswer><Header name=\"X-CRM-Ticket\">48213</Header></Request></ClickToCall>",
	    ini);
	xml_send(fd, doc);
	struct ch_buf acc;
	ch_buf_init(&acc, 1 << 20);
	xml_read(fd, &acc, 3, 15000, NULL);
	CHECK_MSG(acc.data && strstr(acc.data, "Code=\"486\" Leg=\"Initiator\""), "%s", acc.data ? acc.data : "");
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(wire_has(&a, "Call-Info: <sip:c2c@127.0.0.1>;answer-after=0"));
	CHECK(wire_has(&a, "X-CRM-Ticket: 48213"));
	const char *bad[][2] = {
	    {"<Header name=\"X-Evil\">1</Header>", "header &quot;X-Evil&quot; is not allowed"},
	    {"<Header name=\"Contact\">&lt;sip:x@192.0.2.1&gt;</Header>", "is written by the originator itself"},
	    {"<Header>1</Header>", "Header without a name attribute"},
	    {"<Header name=\"X-CRM-A\">a&#13;&#10;Via: x</Header>", "value must be"},
	    {"<AutoAnswer>true</AutoAnswer>", "auto_answer not allowed for this initiator"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		acc.len = 0;
		(void)ch_fmt(doc, sizeof doc,
			     "<ClickToCall><Request><Initiator>1001001001</Initiator><Destination>9055551234"
			     "</Destination>%s</Request></ClickToCall>",
			     bad[i][0]);
		xml_send(fd, doc);
		xml_read(fd, &acc, 1, 5000, NULL);
		CHECK_MSG(acc.data && strstr(acc.data, bad[i][1]), "%s: %s", bad[i][0], acc.data ? acc.data : "");
	}
	ch_buf_free(&acc);
	close(fd);
	no_call_placed(2);
	stop();
}

/* calls_per_hour_per_destination counts the translated destination, whoever calls and however it is spelled;
 * distinct_destinations_per_hour_per_initiator lets an initiator call again a destination it already called. */
TEST_CASE(hourly_limits)
{
	start(&(struct opts){.per_destination = 2, .distinct = 2});
	/* the initiators are phones nobody answers: the calls fail, they still count */
	post_call("{\"initiator\":\"sip:alice@127.0.0.1:1\",\"destination\":\"9055551234\"}", 202);
	post_call("{\"initiator\":\"sip:bob@127.0.0.1:1\",\"destination\":\"%39055551234\"}", 202);
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json",
		      "{\"initiator\":\"sip:carol@127.0.0.1:1\",\"destination\":\"9055551234\"}", 429,
		      "calls per hour limit reached for this destination");
	post_call("{\"initiator\":\"sip:dave@127.0.0.1:1\",\"destination\":\"9055550001\"}", 202);
	post_call("{\"initiator\":\"sip:dave@127.0.0.1:1\",\"destination\":\"9055550002\"}", 202);
	post_call("{\"initiator\":\"sip:dave@127.0.0.1:2\",\"destination\":\"9055550001\"}", 202);
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json",
		      "{\"initiator\":\"sip:dave@127.0.0.1:1\",\"destination\":\"9055550003\"}", 429,
		      "distinct destinations per hour limit reached for this initiator");
	struct resp r =
	    req(A_DIGEST, "GET", "/clicktocall.html?initiator=sip:dave@127.0.0.1:1&destination=9055550004", NULL, NULL);
	CHECK_MSG(r.status == 429 && strstr(r.body, "distinct destinations"), "%ld %s", r.status, r.body);
	resp_free(&r);
	int fd = xml_connect();
	REQUIRE(fd >= 0);
	xml_send(fd, "<ClickToCall><Request><Initiator>sip:erin@127.0.0.1:1</Initiator><Destination>9055551234"
		     "</Destination></Request></ClickToCall>");
	struct ch_buf acc;
	ch_buf_init(&acc, 1 << 20);
	xml_read(fd, &acc, 1, 5000, NULL);
	CHECK_MSG(acc.data && strstr(acc.data, "Code=\"429\">calls per hour limit reached for this destination"), "%s",
		  acc.data ? acc.data : "");
	ch_buf_free(&acc);
	close(fd);
	stop();
}

static atomic_int n202, n429;

static void *racer(void *arg)
{
	char body[256];
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"sip:r%d@127.0.0.1:1\",\"destination\":\"9055557777\"}",
		     (int)(intptr_t)arg);
	struct resp r = req(A_DIGEST, "POST", "/v1/calls", "application/json", body);
	/* MHD's digest nonces can be stale for a request that raced others: ask again (a 401 places nothing) */
	for (int i = 0; i < 20 && r.status == 401; i++) {
		resp_free(&r);
		usleep(10000);
		r = req(A_DIGEST, "POST", "/v1/calls", "application/json", body);
	}
	if (r.status == 202)
		atomic_fetch_add(&n202, 1);
	else if (r.status == 429)
		atomic_fetch_add(&n429, 1);
	else
		printf("racer %d: %ld %s\n", (int)(intptr_t)arg, r.status, r.body ? r.body : "");
	resp_free(&r);
	return NULL;
}

/* Sixteen requests at once for one destination with a budget of 3: exactly 3 are placed. */
TEST_CASE(hourly_concurrent)
{
	start(&(struct opts){.per_destination = 3, .concurrent = 100});
	pthread_t t[16];
	for (int i = 0; i < 16; i++)
		CHECK(pthread_create(&t[i], NULL, racer, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < 16; i++)
		pthread_join(t[i], NULL);
	CHECK_MSG(atomic_load(&n202) == 3 && atomic_load(&n429) == 13, "%d placed, %d refused", atomic_load(&n202),
		  atomic_load(&n429));
	stop();
}

/* The SIPp message log of p holds a line that starts with text. */
static bool wire_starts(const struct sipp_peer *p, const char *text)
{
	char *data = NULL;
	size_t len = 0;
	if (ch_read_file(p->msgs, 1 << 20, &data, &len) != 0)
		return false;
	char want[600];
	(void)ch_fmt(want, sizeof want, "\n%s", text);
	bool ok = strstr(data, want) != NULL;
	if (!ok)
		printf("---- %s (no line starting \"%s\") ----\n%s\n", p->msgs, text, data);
	free(data);
	return ok;
}

#define CID_REFER                                                                                                      \
	"  caller_id = {\n"                                                                                            \
	"    initiator = { display = \"Call ${destination_user}\"; user = \"c2c-${initiator_user}\";\n"                \
	"      p_asserted_identity = \"sip:${initiator_user}@pbx.example.com\"; privacy = \"none\"; };\n"              \
	"    destination = { display = \"Example Ltd\"; from = \"sip:+4930123456@trunk.example.com\";\n"               \
	"      p_asserted_identity = \"sip:+4930123456@trunk.example.com\"; privacy = \"id\"; };\n"                    \
	"  };\n"

/* REFER path: the initiator's INVITE shows the agent whom they are about to reach, from the templates; the REFER's
 * Referred-By is the destination leg's caller id. A user part that is not plain is refused 400 naming the setting. */
TEST_CASE(caller_id_refer)
{
	start(&(struct opts){.extra = CID_REFER, .catch_all = true});
	struct sipp_peer a;
	char ini[128], body[512];
	CHECK(peer_start(&a, "refer", "uas_refer_cid.xml", "-set", "n1", "180", "-set", "n2", "200", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"9055551234\"}", ini);
	uint64_t id = post_call(body, 202);
	json_decref(wait_result(id, 20000));
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(wire_starts(&a, "From: \"Call 9055551234\" <sip:c2c-alice@127.0.0.1>;tag="));
	CHECK(wire_has(&a, "P-Asserted-Identity: <sip:alice@pbx.example.com>"));
	CHECK(wire_has(&a, "Privacy: none"));
	CHECK(wire_has(&a, "Referred-By: \"Example Ltd\" <sip:+4930123456@trunk.example.com>"));
	/* the translation already refuses ';', '?', '"' in a user part; an escape it lets through is not plain */
	const char *bad[][2] = {{"x;maddr=evil", "destination: "},
				{"x?Route=%3Csip:evil%3E", "destination: "},
				{"x\\\"y", "destination: "},
				{"x%23y", "originator.caller_id.initiator.display: a user part that is not plain"}};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"%s\"}", ini, bad[i][0]);
		struct resp r = req(A_DIGEST, "POST", "/v1/calls", "application/json", body);
		CHECK_MSG(r.status == 400 && r.body && strstr(r.body, bad[i][1]), "%s: %ld %s", bad[i][0], r.status,
			  r.body ? r.body : "");
		resp_free(&r);
	}
	no_call_placed(id + 1);
	stop();
}

/* Anchored: the destination's INVITE carries the destination leg's caller id: the user template rewrites the
 * translated initiator's user part, with P-Asserted-Identity and Privacy. */
TEST_CASE(caller_id_anchored)
{
	start(&(struct opts){.extra =
				 "  caller_id = { destination = { display = \"Example Ltd\"; user = \"+4930123456\";\n"
				 "    p_asserted_identity = \"sip:+4930123456@trunk.example.com\"; privacy = "
				 "\"id\"; }; };\n"});
	struct sipp_peer a, b;
	char ini[128], dst[128], body[512], want[256];
	CHECK(peer_start(&a, "initiator", "uas_anchor_init.xml", NULL));
	CHECK(peer_start(&b, "destination", "uas_dest_bye_cid.xml", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	peer_uri(&b, "9055551234", dst, sizeof dst);
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"%s\",\"anchor\":true}", ini, dst);
	uint64_t id = post_call(body, 202);
	json_decref(wait_result(id, 20000));
	CHECK(sipp_peer_wait(&a, 20000));
	CHECK(sipp_peer_wait(&b, 20000));
	(void)ch_fmt(want, sizeof want, "From: \"Example Ltd\" <sip:+4930123456@127.0.0.1:%d>;tag=", a.port);
	CHECK(wire_starts(&b, want));
	CHECK(wire_has(&b, "P-Asserted-Identity: <sip:+4930123456@trunk.example.com>"));
	CHECK(wire_has(&b, "Privacy: id"));
	/* the initiator's INVITE keeps the defaults */
	CHECK(wire_starts(&a, "From: \"Click-To-Call: 9055551234\" <sip:c2c@127.0.0.1>;tag="));
	stop();
}

/* A pattern of auto_answer.initiators or headers.allow that does not compile refuses the config, file:line. */
TEST_CASE(bad_patterns)
{
	const char *cases[][2] = {
	    {"  auto_answer = {\n    initiators = [ \"^sip:(agent\" ]; };\n",
	     "callhook.conf:19: originator.auto_answer.initiators.[0]: missing closing parenthesis"},
	    {"  headers = {\n    allow = [ \"^X-CRM-[\" ]; };\n",
	     "callhook.conf:19: originator.headers.allow.[0]: missing terminating ]"},
	};
	for (size_t i = 0; i < 2; i++) {
		start(&(struct opts){0});
		stop();
		char conf[8192];
		char *l = NULL;
		size_t n = 0;
		REQUIRE(ch_read_file(D.conf, sizeof conf - 512, &l, &n) == 0);
		char *end = strrchr(l, '}');
		REQUIRE(end != NULL);
		(void)ch_fmt(conf, sizeof conf, "%.*s%s};\n", (int)(end - l), l, cases[i][0]);
		free(l);
		const char *args[] = {"--check", "-c", D.conf, NULL};
		char *out = NULL;
		int rc = chd_run(&D, conf, args, &out);
		CHECK_MSG(rc != 0 && out && strstr(out, cases[i][1]), "rc %d: %s", rc, out ? out : "");
		free(out);
	}
}
