/* tests/sip/test_orig_xml.c: the originator's XML port (reSIProcate's protocol) and the canonical wire URI policy,
 * through the real daemon against SIPp phones; one ctest per case. */
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

static const char REQ1[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<ClickToCall>\n  <Request>\n    <Initiator>%s</Initiator>\n"
			   "    <Destination>9055551234</Destination>\n"
			   "    <AnchorCall>false</AnchorCall>\n  </Request>\n</ClickToCall>\n";

/* A parse error loses the framing: 400, then the server closes; a DOCTYPE (entity tricks) is refused. */
static void xml_broken(int fd, struct ch_buf *accp)
{
#define acc (*accp)
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
#undef acc
}

TEST_CASE(xml)
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
	xml_broken(fd, &acc);
	ch_buf_free(&acc);
	stop();
}

/* REFER refused by the initiator's phone: the 181 fallback line, then the
 * anchored flow to the destination. */
TEST_CASE(xml_fallback)
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

/* Refused at once: a 403 document, then the server closes; the log names allow_from. */
static void xml_refused_peer(void)
{
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
}

TEST_CASE(xml_allow_from)
{
	struct opts o = {.allow_from = "\"10.0.0.0/8\", \"::1/128\""};
	start(&o);
	xml_refused_peer();
	stop();
}

/* An explicit empty allow_from means nobody (absent, it is loopback). */
TEST_CASE(xml_allow_from_empty)
{
	struct opts o = {.allow_from = " "};
	start(&o);
	xml_refused_peer();
	stop();
}

TEST_CASE(xml_max_connections)
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

/* Policy judges the URI that goes on the wire, in canonical form (the
 * security issue "deny list and per-initiator limit evaded by spelling"),
 * with the README's own catch-all rule ^(.*)$ -> sip:$1@127.0.0.1 and deny
 * ^sip:(900|976). */
/* Every spelling of a denied number is refused before any SIP is sent, on the JSON API and the XML port. */
static void canonical_refused(const char *ini)
{
	const char *J = "application/json";
	char body[512];
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
}

/* A call that is placed carries the canonical URIs in its answer, its record and its REFER. */
static void canonical_placed(struct sipp_peer *ap, const char *ini)
{
#define a (*ap)
	const char *J = "application/json";
	char body[512];
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

#undef a
}

/* The per-initiator limit counts the canonical user@host, whatever the spelling. */
static void canonical_per_initiator(struct sipp_peer *ap, const char *ini)
{
#define a (*ap)
	const char *J = "application/json";
	char body[512];
	json_t *j;
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
#undef a
}

TEST_CASE(canonical)
{
	struct opts o = {.per_initiator = 2, .catch_all = true};
	start(&o);
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "refer", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", "200", NULL));
	peer_uri(&a, "rtcarol", ini, sizeof ini);
	canonical_refused(ini);
	canonical_placed(&a, ini);
	canonical_per_initiator(&a, ini);
	stop();
}
