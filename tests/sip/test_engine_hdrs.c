/* tests/sip/test_engine_hdrs.c: what the SIP engine puts in headers for a call (auto-answer, caller id,
 * P-Asserted-Identity, Privacy, a CRM's headers), read back from SIPp's message logs; and what it refuses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "test_engine_support.h"
#include "tests/check.h"

int test_setup(const char *name)
{
	(void)ch_fmt(workdir, sizeof workdir, "/tmp/ch-sip-hdrs-%s-XXXXXX", name);
	if (!mkdtemp(workdir))
		return 1;
	engine_start(NULL, NULL, NULL, 0);
	return 0;
}

void test_teardown(void)
{
	engine_teardown();
}

static void req_init(struct orig_call_req *r, const char *ini, const char *dst)
{
	memset(r, 0, sizeof *r);
	(void)ch_fmt(r->initiator, sizeof r->initiator, "%s", ini);
	(void)ch_fmt(r->destination, sizeof r->destination, "%s", dst);
}

static void add_header(struct orig_call_req *r, const char *name, const char *value)
{
	(void)ch_fmt(r->headers[r->n_headers].name, sizeof r->headers[0].name, "%s", name);
	(void)ch_fmt(r->headers[r->n_headers].value, sizeof r->headers[0].value, "%s", value);
	r->n_headers++;
}

/* hay holds the header line "line\r\n" (after a line break) */
static bool has_line(const char *hay, const char *line)
{
	char want[700];
	(void)ch_fmt(want, sizeof want, "\n%s\r\n", line);
	return hay && strstr(hay, want) != NULL;
}

static void show(const char *what, const char *head)
{
	printf("---- %s ----\n%s", what, head ? head : "(none)\n");
}

/* The REFER is refused (501), the call falls back to the anchored flow: the initiator's INVITE carries the
 * auto-answer header and the CRM's; the REFER's Referred-By and the destination's INVITE carry the destination
 * leg's caller id. */
TEST_CASE(fallback_caller_id)
{
	struct sipp_peer a, b;
	char ini[128], dst[128];
	CHECK(peer_start(&a, "initiator", "uas_refer_501.xml", NULL));
	CHECK(peer_start(&b, "destination", "uas_dest_bye_trunk.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uri_of(&b, "9055551234", dst, sizeof dst);
	struct orig_call_req r;
	req_init(&r, ini, dst);
	r.auto_answer = ORIG_AA_CALL_INFO;
	(void)ch_fmt(r.id_destination.display, sizeof r.id_destination.display, "Example \"Ltd\"");
	(void)ch_fmt(r.id_destination.from, sizeof r.id_destination.from, "sip:+4930123456@trunk.example.com");
	(void)ch_fmt(r.id_destination.pai, sizeof r.id_destination.pai, "sip:+4930123456@trunk.example.com");
	(void)ch_fmt(r.id_destination.privacy, sizeof r.id_destination.privacy, "id");
	add_header(&r, "X-CRM-Ticket", "48213");
	add_header(&r, "X-CRM-Agent", "jane doe");
	uint64_t id = 0;
	CHECK(orig_sip_call(eng, &r, &id) == 0);
	CHECK(wait_final(id, 15000));
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));
	char *ia = msg_head(a.msgs, "INVITE ", 0), *rf = msg_head(a.msgs, "REFER ", 0);
	char *ib = msg_head(b.msgs, "INVITE ", 0);
	show("initiator INVITE", ia);
	show("REFER", rf);
	show("destination INVITE", ib);
	CHECK(has_line(ia, "Call-Info: <sip:c2c@127.0.0.1>;answer-after=0"));
	CHECK(has_line(ia, "X-CRM-Ticket: 48213") && has_line(ia, "X-CRM-Agent: jane doe"));
	CHECK(ia && !strstr(ia, "P-Asserted-Identity") && !strstr(ia, "Privacy"));
	CHECK(has_line(rf, "Referred-By: \"Example \\\"Ltd\\\"\" <sip:+4930123456@trunk.example.com>"));
	CHECK(ib && strstr(ib, "\nFrom: \"Example \\\"Ltd\\\"\" <sip:+4930123456@trunk.example.com>;tag="));
	CHECK(has_line(ib, "P-Asserted-Identity: <sip:+4930123456@trunk.example.com>"));
	CHECK(has_line(ib, "Privacy: id"));
	CHECK(has_line(ib, "X-CRM-Ticket: 48213") && has_line(ib, "X-CRM-Agent: jane doe"));
	CHECK(ib && !strstr(ib, "answer-after"));
	free(ia);
	free(rf);
	free(ib);
}

/* The initiator leg's own caller id, and the two other auto-answer signals. */
static void initiator_leg(enum orig_auto_answer aa, const char *want)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_busy.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	struct orig_call_req r;
	req_init(&r, ini, "sip:9055551234@127.0.0.1");
	r.auto_answer = aa;
	(void)ch_fmt(r.id_initiator.display, sizeof r.id_initiator.display, "CRM: 9055551234");
	(void)ch_fmt(r.id_initiator.from, sizeof r.id_initiator.from, "sip:crm@127.0.0.1");
	(void)ch_fmt(r.id_initiator.pai, sizeof r.id_initiator.pai, "sip:crm@127.0.0.1");
	uint64_t id = 0;
	CHECK(orig_sip_call(eng, &r, &id) == 0);
	CHECK(wait_final(id, 15000));
	CHECK(sipp_peer_wait(&a, 15000));
	char *ia = msg_head(a.msgs, "INVITE ", 0);
	show("initiator INVITE", ia);
	CHECK(ia && strstr(ia, "\nFrom: \"CRM: 9055551234\" <sip:crm@127.0.0.1>;tag="));
	CHECK(has_line(ia, "P-Asserted-Identity: <sip:crm@127.0.0.1>"));
	CHECK(has_line(ia, want));
	free(ia);
}

TEST_CASE(answer_mode)
{
	initiator_leg(ORIG_AA_ANSWER_MODE, "Answer-Mode: Auto");
}

TEST_CASE(alert_info)
{
	initiator_leg(ORIG_AA_ALERT_INFO, "Alert-Info: <http://localhost>;info=alert-autoanswer;delay=0");
}

/* Whatever the caller checked, the engine refuses anything that could break out of a header. */
TEST_CASE(refuses_injection)
{
	struct orig_call_req r;
	uint64_t id = 0;
	const char *ini = "sip:alice@127.0.0.1", *dst = "sip:bob@127.0.0.1";
	req_init(&r, ini, dst);
	add_header(&r, "X-CRM-Ticket", "1\r\nVia: SIP/2.0/UDP evil");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	add_header(&r, "X-CRM\r\nX-Evil", "1");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	add_header(&r, "Via", "SIP/2.0/UDP 192.0.2.1");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	add_header(&r, "x-crm", "tab\there");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	memset(r.headers[0].value, 'a', sizeof r.headers[0].value); /* no NUL in the array */
	(void)ch_fmt(r.headers[0].name, sizeof r.headers[0].name, "X-A");
	r.n_headers = 1;
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	for (int i = 0; i < ORIG_EXTRA_HEADERS; i++)
		add_header(&r, "X-A", "1");
	r.n_headers = ORIG_EXTRA_HEADERS + 1;
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	(void)ch_fmt(r.id_initiator.display, sizeof r.id_initiator.display, "Bob\r\nX-Evil: 1");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	(void)ch_fmt(r.id_destination.from, sizeof r.id_destination.from, "sip:a@b>\r\nX-Evil: 1");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	(void)ch_fmt(r.id_destination.pai, sizeof r.id_destination.pai, "sip:a@b?X-Evil=1");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	(void)ch_fmt(r.id_destination.privacy, sizeof r.id_destination.privacy, "id\nX-Evil: 1");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	req_init(&r, ini, dst);
	r.auto_answer = (enum orig_auto_answer)7;
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	CHECK(id == 0);
	CHECK(orig_sip_active(eng) == 0);
}
