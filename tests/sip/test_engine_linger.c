/* tests/sip/test_engine_linger.c: what the patched Sofia-SIP's transaction linger (NTATAG_UA_LINGER,
 * originator.timers.transaction_linger_ms) changes on the wire, against SIPp phones that retransmit on purpose:
 * 2xx retransmissions re-ACKed within the linger and not after it, NOTIFY retransmissions answered the same (or
 * 481 once the dialog is gone) and never acted on twice, a retransmitted 4xx re-ACKed, a forked 2xx ACKed and BYEd.
 * Each case runs with the default linger (1500 ms) and, where the timing shows something, with 1400 ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "test_engine_support.h"
#include "tests/check.h"

#define DEST_REFER "sip:9055551234@127.0.0.1"

int test_setup(const char *name)
{
	(void)ch_fmt(workdir, sizeof workdir, "/tmp/ch-sip-linger-%s-XXXXXX", name);
	if (!mkdtemp(workdir))
		return 1;
	struct orig_sip_opts o;
	memset(&o, 0, sizeof o);
	o.listen = "sip:127.0.0.1:0";
	o.identity = "sip:c2c@127.0.0.1";
	o.ring_timeout_s = 10;
	o.refer_notify_timeout_s = 15; /* the phones pause up to 6 s before their NOTIFYs */
	o.reinvite_timeout_s = 2;
	o.max_call_s = 60;
	o.linger_ms = strstr(name, "linger_1400") ? 1400 : 0; /* 0: the default, 1500 ms */
	int err = orig_sip_start(&o, on_event, NULL, &eng);
	CHECK_MSG(err == 0, "orig_sip_start: %s", strerror(err));
	return err != 0;
}

void test_teardown(void)
{
	engine_teardown();
}

/* How many messages in SIPp's trace start a line with `start` (a request line "ACK sip:" or a status line). */
static int count_msgs(const struct sipp_peer *p, const char *start)
{
	int n = 0;
	char *h;
	while ((h = msg_head(p->msgs, start, n)) != NULL) {
		free(h);
		n++;
	}
	return n;
}

/* One call through the phone of `scenario` (its long pauses late_ms, or none if NULL), CHECKed to its final
 * event; returns the phone, whose scenario passed. */
static struct sipp_peer one_call(const char *scenario, const char *late_ms, uint64_t *id)
{
	struct sipp_peer a;
	char ini[128];
	/* -nr: SIPp would take our re-ACK (the same bytes as the first ACK) for a retransmission and resend its last
	 * message, a loop; the scenario sends every retransmission itself */
	CHECK(late_ms ? peer_start(&a, "initiator", scenario, "-nr", "-d", late_ms, NULL)
		      : peer_start(&a, "initiator", scenario, "-nr", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	*id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_final(*id, 25000));
	return a;
}

/* A REFER call whose NOTIFYs say 180 then 200: exactly the events of a plain transferred call (a duplicate NOTIFY
 * acted on would add one), and the phone's scenario passes. */
static struct sipp_peer refer_call(const char *scenario, const char *late_ms)
{
	uint64_t id;
	struct sipp_peer a = one_call(scenario, late_ms, &id);
	expect_refer_events(id, ORIG_TRANSFERRED, 200, ORIG_BY_TRANSFER);
	CHECK(sipp_peer_wait(&a, 25000));
	return a;
}

/* The 200 OK sent at 0, 0.5 and 1.5 s is ACKed each time (3 ACKs), the one 3 s later is not (the ACK lingered out:
 * with RFC 3261's timers it would be ACKed for 32 s); the call stays up and is transferred. With 1400 ms the
 * 1.5-s retransmission is re-ACKed only because the linger counts again from the 0.5-s one. */
static void retx_2xx(void)
{
	struct sipp_peer a = refer_call("uas_refer_2xx_retx.xml", NULL);
	CHECK_MSG(count_msgs(&a, "ACK ") == 3, "ACKs seen by the phone: %d, want 3", count_msgs(&a, "ACK "));
	CHECK_MSG(count_msgs(&a, "BYE ") == 1, "BYEs: %d, want 1 (ours, after the final NOTIFY)",
		  count_msgs(&a, "BYE "));
}

TEST_CASE(retx_2xx_default)
{
	retx_2xx();
}

TEST_CASE(retx_2xx_linger_1400)
{
	retx_2xx();
}

/* Each NOTIFY retransmitted (the same branch): 0.3 s after our 200 it gets the same 200 from the transaction;
 * the first, again after the linger while the dialog is up, is a new request that the engine must not act on
 * twice (the event list stays that of one call); the final one, after our BYE and the linger, gets 481. */
static void retx_notify(const char *late_ms)
{
	struct sipp_peer a = refer_call("uas_refer_notify_retx.xml", late_ms);
	CHECK_MSG(count_msgs(&a, "BYE ") == 1, "BYEs: %d, want 1", count_msgs(&a, "BYE "));
}

TEST_CASE(retx_notify_default)
{
	retx_notify("3000");
}

TEST_CASE(retx_notify_linger_1400)
{
	retx_notify("2400");
}

/* A 486 is ACKed, its retransmission 0.5 s later too, one after the linger not: the call fails once, on the
 * initiator, 486. */
static void retx_4xx(const char *late_ms)
{
	uint64_t id;
	struct sipp_peer a = one_call("uas_busy_retx.xml", late_ms, &id);
	expect_initiator_refused(id, 486);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK_MSG(count_msgs(&a, "ACK ") == 2, "ACKs: %d, want 2", count_msgs(&a, "ACK "));
}

TEST_CASE(retx_4xx_default)
{
	retx_4xx("2500");
}

TEST_CASE(retx_4xx_linger_1400)
{
	retx_4xx("1900");
}

/* A 200 from a second fork after our ACK of the first: ACKed and BYEd (2 ACKs, and 2 BYEs with ours at the end),
 * while the call on the first dialog is transferred as usual. */
TEST_CASE(fork_2xx)
{
	struct sipp_peer a = refer_call("uas_refer_fork.xml", NULL);
	CHECK_MSG(count_msgs(&a, "ACK ") == 2, "ACKs: %d, want 2", count_msgs(&a, "ACK "));
	CHECK_MSG(count_msgs(&a, "BYE ") == 2, "BYEs: %d, want 2", count_msgs(&a, "BYE "));
}
