/* tests/sip/test_engine.c: the SIP engine (orig_sip.h) against SIPp phones on 127.0.0.1; one case per run, named by
 * argv[1] (the harness is in test_engine_support.c). */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/common.h"
#include "test_engine_support.h"
#include "tests/check.h"

#define DEST_REFER "sip:9055551234@127.0.0.1"

/* ---- cases --------------------------------------------------------------- */

static void refer_notify(const char *final_code, enum orig_state st, int code, enum orig_ended_by by)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", final_code, NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uint64_t id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_final(id, 15000));
	expect_refer_events(id, st, code, by);
	CHECK(sipp_peer_wait(&a, 15000));
}

static void case_refer_ok(void)
{
	refer_notify("200", ORIG_TRANSFERRED, 200, ORIG_BY_TRANSFER);
}

static void case_refer_notify_486(void)
{
	refer_notify("486", ORIG_FAILED, 486, ORIG_BY_DESTINATION);
}

static void case_busy(void)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_busy.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uint64_t id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_final(id, 15000));
	expect_initiator_refused(id, 486);
	CHECK(sipp_peer_wait(&a, 15000));
}

static void case_ring_timeout(void)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_noanswer.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	int64_t t0 = ch_now_ms();
	uint64_t id = place(ini, DEST_REFER, false, 1);
	CHECK(wait_final(id, 15000));
	int64_t dt = ch_now_ms() - t0;
	CHECK_MSG(dt >= 900 && dt < 4000, "ring timeout after %lld ms", (long long)dt);
	const struct want w[] = {
	    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
	    {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
	    {ORIG_FAILED, ORIG_LEG_INITIATOR, 408},
	};
	expect_events(id, w, 3, ORIG_BY_TIMEOUT);
	CHECK(sipp_peer_wait(&a, 15000)); /* it saw the CANCEL and sent 487 */
}

static void case_hangup_ringing(void)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_noanswer.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uint64_t id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_event(id, ORIG_INITIATOR_RINGING, false, 10000));
	CHECK(orig_sip_hangup(eng, id) == 0);
	CHECK(wait_final(id, 10000));
	const struct want w[] = {
	    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
	    {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
	    {ORIG_FAILED, ORIG_LEG_INITIATOR, 487},
	};
	expect_events(id, w, 3, ORIG_BY_API);
	CHECK(sipp_peer_wait(&a, 15000));
}

static const char dest_offer[] = "v=0\no=*\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
				 "m=audio 7000 RTP/AVP 0 8\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n"
				 "a=sendrecv\n";
static const char ini_answer[] = "v=0\no=initiator 53655765 2353687638 IN IP4 127.0.0.1\ns=-\n"
				 "c=IN IP4 127.0.0.1\nt=0 0\nm=audio 6002 RTP/AVP 0\n"
				 "a=rtpmap:0 PCMU/8000\na=sendrecv\n";

/* The SDP hand-off of an anchored call, read back from the SIPp message logs:
 * the initiator's re-INVITE carries the destination's offer under our origin
 * (same session id as our first offer, version + 1), and the destination's
 * ACK carries the initiator's answer unchanged. */
static void check_handoff(const struct sipp_peer *a, const struct sipp_peer *b)
{
	char *first = msg_body(a->msgs, "INVITE ", 0);
	char *re = msg_body(a->msgs, "INVITE ", 1);
	char *ack = msg_body(b->msgs, "ACK ", 0);
	char *inv_b = msg_body(b->msgs, "INVITE ", 0);
	CHECK(first && re && ack && inv_b);
	if (first && re && ack && inv_b) {
		char n1[2048], n2[2048], o1[256], o2[256];
		sdp_norm(first, n1, sizeof n1, true, o1, sizeof o1);
		sdp_norm(re, n2, sizeof n2, true, o2, sizeof o2);
		unsigned long long sid1 = 0, sid2 = 0, v1 = 0, v2 = 0;
		CHECK(sscanf(o1, "o=callhook %llu %llu IN IP4 127.0.0.1", &sid1, &v1) == 2);
		CHECK(sscanf(o2, "o=callhook %llu %llu IN IP4 127.0.0.1", &sid2, &v2) == 2);
		CHECK_MSG(sid1 == sid2 && v2 == v1 + 1, "origins \"%s\" then \"%s\"", o1, o2);
		CHECK_STR(n2, dest_offer);
		CHECK(strstr(n1, "m=audio") && strstr(n1, "RTP/AVP 0\n"));
		sdp_norm(ack, n1, sizeof n1, false, NULL, 0);
		CHECK_STR(n1, ini_answer);
		sdp_norm(inv_b, n1, sizeof n1, false, NULL, 0);
		CHECK_MSG(n1[0] == '\0', "INVITE to the destination has a body: %s", n1);
	}
	free(first);
	free(re);
	free(ack);
	free(inv_b);
}

static const struct want anchored_head[] = {
    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
    {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
    {ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200},
    {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0},
    {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180},
    {ORIG_CONNECTED, ORIG_LEG_DESTINATION, 200},
    {ORIG_ENDED, ORIG_LEG_NONE, 200},
};

/* Anchored call; who: 0 = hang up through the API, 1 = the initiator sends
 * BYE, 2 = the destination sends BYE. */
static void anchored(int who)
{
	struct sipp_peer a, b;
	char ini[128], dst[128];
	CHECK(peer_start(&a, "initiator", who == 1 ? "uas_anchor_init_bye.xml" : "uas_anchor_init.xml", NULL));
	CHECK(peer_start(&b, "destination", who == 2 ? "uas_dest_bye.xml" : "uas_dest.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uri_of(&b, "9055551234", dst, sizeof dst);
	uint64_t id = place(ini, dst, true, 0);
	CHECK(wait_event(id, ORIG_CONNECTED, false, 15000));
	if (who == 0) {
		usleep(200000);
		CHECK(orig_sip_hangup(eng, id) == 0);
	}
	CHECK(wait_final(id, 15000));
	expect_events(id, anchored_head, 7,
		      who == 0   ? ORIG_BY_API
		      : who == 1 ? ORIG_BY_INITIATOR
				 : ORIG_BY_DESTINATION);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));
	check_handoff(&a, &b);
	struct orig_event e = last_event(id);
	CHECK(e.duration_ms > 0 && e.duration_ms < 10000);
	CHECK(!e.fallback);
}

static void case_anchored_api_hangup(void)
{
	anchored(0);
}

static void case_anchored_bye_initiator(void)
{
	anchored(1);
}

static void case_anchored_bye_destination(void)
{
	anchored(2);
}

static void case_refer_501_fallback(void)
{
	struct sipp_peer a, b;
	char ini[128], dst[128];
	CHECK(peer_start(&a, "initiator", "uas_refer_501.xml", NULL));
	CHECK(peer_start(&b, "destination", "uas_dest_bye.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uri_of(&b, "9055551234", dst, sizeof dst);
	uint64_t id = place(ini, dst, false, 0);
	CHECK(wait_final(id, 15000));
	const struct want w[] = {
	    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
	    {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
	    {ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200},
	    {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0},
	    {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 181},
	    {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180},
	    {ORIG_CONNECTED, ORIG_LEG_DESTINATION, 200},
	    {ORIG_ENDED, ORIG_LEG_NONE, 200},
	};
	expect_events(id, w, 8, ORIG_BY_DESTINATION);
	struct orig_event e = find_event(id, 181);
	CHECK(e.fallback && e.fallback_code == 501);
	CHECK_STR(e.reason, "REFER refused (501), bridging");
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));
	check_handoff(&a, &b);
}

static void case_reinvite_timeout(void)
{
	struct sipp_peer a, b;
	char ini[128], dst[128];
	CHECK(peer_start(&a, "initiator", "uas_anchor_init_noreinvite.xml", NULL));
	CHECK(peer_start(&b, "destination", "uas_dest_release.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uri_of(&b, "9055551234", dst, sizeof dst);
	int64_t t0 = ch_now_ms();
	uint64_t id = place(ini, dst, true, 0);
	CHECK(wait_final(id, 15000));
	const struct want w[] = {
	    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},          {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
	    {ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200},    {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0},
	    {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180}, {ORIG_FAILED, ORIG_LEG_INITIATOR, 408},
	};
	expect_events(id, w, 6, ORIG_BY_TIMEOUT);
	int64_t dt = ch_now_ms() - t0;
	CHECK_MSG(dt >= 1900 && dt < 6000, "re-INVITE watchdog after %lld ms", (long long)dt);
	CHECK(sipp_peer_wait(&a, 20000));
	CHECK(sipp_peer_wait(&b, 20000));
}

/* Digest: the INVITE is challenged, retried with credentials, then the REFER path. */
static void auth_case(const char *scenario, bool good)
{
	struct sipp_peer a;
	char ini[128], logpath[320];
	(void)ch_fmt(logpath, sizeof logpath, "%s/engine.log", workdir);
	CHECK(peer_start(&a, "initiator", scenario, NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uint64_t id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_final(id, 15000));
	if (good) {
		const struct want w[] = {
		    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
		    {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
		    {ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200},
		    {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0},
		    {ORIG_TRANSFERRED, ORIG_LEG_DESTINATION, 200},
		};
		expect_events(id, w, 5, ORIG_BY_TRANSFER);
		CHECK(sipp_peer_wait(&a, 15000));
	} else {
		const struct want w[] = {
		    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
		    {ORIG_FAILED, ORIG_LEG_INITIATOR, 403},
		};
		expect_events(id, w, 2, ORIG_BY_INITIATOR);
		(void)sipp_peer_wait(&a, 15000);
	}
	/* The password never reaches the log, even at debug level. */
	char *log = NULL;
	size_t len = 0;
	CHECK(ch_read_file(logpath, 1 << 22, &log, &len) == 0);
	CHECK(log && strstr(log, "authenticating as c2c") != NULL);
	CHECK(log && strstr(log, "s3cret") == NULL && strstr(log, "wr0ng") == NULL);
	free(log);
}

static void case_auth_401(void)
{
	auth_case("uas_auth401.xml", true);
}

static void case_auth_407(void)
{
	auth_case("uas_auth407.xml", true);
}

static void case_auth_401_wrong_password(void)
{
	auth_case("uas_auth401.xml", false);
}

/* A hold offer from the destination (re-INVITE or UPDATE) relayed to the initiator. */
static void hold_relay(bool update)
{
	struct sipp_peer a, b;
	char ini[128], dst[128];
	CHECK(peer_start(&a, "initiator", update ? "uas_anchor_init_update.xml" : "uas_anchor_init_hold.xml", NULL));
	CHECK(peer_start(&b, "destination", update ? "uas_dest_update.xml" : "uas_dest_hold.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uri_of(&b, "9055551234", dst, sizeof dst);
	uint64_t id = place(ini, dst, true, 0);
	CHECK(wait_final(id, 15000));
	expect_events(id, anchored_head, 7, ORIG_BY_DESTINATION);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));
	/* The hold offer reached the initiator with only our origin changed. */
	char *re = update ? msg_body(a.msgs, "UPDATE ", 0) : msg_body(a.msgs, "INVITE ", 2);
	CHECK(re != NULL);
	if (re) {
		char n[2048], o[256];
		sdp_norm(re, n, sizeof n, true, o, sizeof o);
		CHECK(strstr(n, "a=sendonly\n") != NULL && strstr(n, "m=audio 7000 RTP/AVP 0 8\n") != NULL);
		CHECK(strstr(o, " 3 IN IP4 127.0.0.1") != NULL);
	}
	free(re);
}

static void case_hold_relay(void)
{
	hold_relay(false);
}

static void case_update_relay(void)
{
	hold_relay(true);
}

/* Two-peer call whose outcome is one failure on a leg. */
static void two_legs_fail(const char *sa, const char *sb, bool anchor, unsigned ring_s, const struct want *w, int n,
			  enum orig_ended_by by)
{
	struct sipp_peer a, b;
	char ini[128], dst[128];
	CHECK(peer_start(&a, "initiator", sa, NULL));
	CHECK(peer_start(&b, "destination", sb, NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uri_of(&b, "9055551234", dst, sizeof dst);
	uint64_t id = place(ini, dst, anchor, ring_s);
	CHECK(wait_final(id, 15000));
	expect_events(id, w, n, by);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));
}

static const struct want dest_head[] = {
    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
    {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
    {ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200},
    {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0},
};

static void case_cancel_ringing_destination(void)
{
	const struct want w[] = {dest_head[0],
				 dest_head[1],
				 dest_head[2],
				 dest_head[3],
				 {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180},
				 {ORIG_FAILED, ORIG_LEG_DESTINATION, 487}};
	two_legs_fail("uas_answer_bye.xml", "uas_noanswer.xml", true, 0, w, 6, ORIG_BY_INITIATOR);
}

static void case_destination_busy(void)
{
	const struct want w[] = {dest_head[0],
				 dest_head[1],
				 dest_head[2],
				 dest_head[3],
				 {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180},
				 {ORIG_FAILED, ORIG_LEG_DESTINATION, 486}};
	two_legs_fail("uas_answer.xml", "uas_busy.xml", true, 0, w, 6, ORIG_BY_DESTINATION);
}

static void case_destination_ring_timeout(void)
{
	const struct want w[] = {dest_head[0],
				 dest_head[1],
				 dest_head[2],
				 dest_head[3],
				 {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180},
				 {ORIG_FAILED, ORIG_LEG_DESTINATION, 408}};
	two_legs_fail("uas_answer.xml", "uas_noanswer.xml", true, 1, w, 6, ORIG_BY_TIMEOUT);
}

static void case_refer_notify_timeout(void)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_refer_silent.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	int64_t t0 = ch_now_ms();
	uint64_t id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_final(id, 15000));
	int64_t dt = ch_now_ms() - t0;
	CHECK_MSG(dt >= 2900 && dt < 6000, "NOTIFY timeout after %lld ms", (long long)dt);
	const struct want w[] = {
	    dest_head[0], dest_head[1], dest_head[2], dest_head[3], {ORIG_FAILED, ORIG_LEG_DESTINATION, 408}};
	expect_events(id, w, 5, ORIG_BY_TIMEOUT);
	CHECK(sipp_peer_wait(&a, 15000));
}

static void connected_then(void (*action)(uint64_t id), enum orig_ended_by by, int end_code)
{
	struct sipp_peer a, b;
	char ini[128], dst[128];
	CHECK(peer_start(&a, "initiator", "uas_anchor_init.xml", NULL));
	CHECK(peer_start(&b, "destination", "uas_dest.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uri_of(&b, "9055551234", dst, sizeof dst);
	uint64_t id = place(ini, dst, true, 0);
	CHECK(wait_event(id, ORIG_CONNECTED, false, 15000));
	if (action)
		action(id);
	CHECK(wait_final(id, 15000));
	struct want w[7];
	memcpy(w, anchored_head, sizeof w);
	w[6].code = end_code;
	expect_events(id, w, 7, by);
	CHECK(sipp_peer_wait(&a, 15000));
	CHECK(sipp_peer_wait(&b, 15000));
}

static void stop_now(uint64_t id)
{
	(void)id;
	orig_sip_stop(eng, 3000);
	eng = NULL;
	CHECK(orig_sip_hangup(NULL, 1) == EINVAL);
}

static void case_shutdown(void)
{
	connected_then(stop_now, ORIG_BY_SHUTDOWN, 200);
}

static void case_max_call(void)
{
	connected_then(NULL, ORIG_BY_TIMEOUT, 408);
}

static void case_refer_bye_early(void)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_refer_bye_early.xml", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uint64_t id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_final(id, 15000));
	const struct want w[] = {
	    dest_head[0], dest_head[1], dest_head[2], dest_head[3], {ORIG_TRANSFERRED, ORIG_LEG_DESTINATION, 200}};
	expect_events(id, w, 5, ORIG_BY_TRANSFER);
	CHECK(sipp_peer_wait(&a, 15000));
}

/* The engine's UDP socket got the large receive buffer (the old server lost
 * packets with the system default). Found among our own descriptors. */
static void case_udp_rcvbuf(void)
{
	int port = orig_sip_port(eng);
	int found = 0;
	for (int fd = 3; fd < 4096; fd++) {
		struct sockaddr_in a;
		socklen_t al = sizeof a;
		int type = 0;
		socklen_t tl = sizeof type;
		if (getsockname(fd, (struct sockaddr *)&a, &al) != 0 || a.sin_family != AF_INET ||
		    ntohs(a.sin_port) != port)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_DGRAM)
			continue;
		int rcv = 0;
		socklen_t rl = sizeof rcv;
		CHECK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &rl) == 0);
		/* Linux reports twice the requested size; rmem_max may cap it. */
		long max = 0;
		FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");
		if (f) {
			if (fscanf(f, "%ld", &max) != 1)
				max = 0;
			fclose(f);
		}
		long want = max && max < (4L << 20) ? max : (4L << 20);
		CHECK_MSG(rcv >= want, "SO_RCVBUF %d < %ld", rcv, want);
		found++;
	}
	CHECK(found == 1);
}

static void case_refer_tcp(void)
{
	struct sipp_peer a;
	char ini[160];
	CHECK(peer_start(&a, "initiator", "uas_refer.xml", "-t", "t1", "-set", "n1", "180", "-set", "n2", "200", NULL));
	(void)ch_fmt(ini, sizeof ini, "sip:alice@127.0.0.1:%d;transport=tcp", a.port);
	uint64_t id = place(ini, DEST_REFER, false, 0);
	CHECK(wait_final(id, 15000));
	const struct want w[] = {dest_head[0],
				 dest_head[1],
				 dest_head[2],
				 dest_head[3],
				 {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180},
				 {ORIG_TRANSFERRED, ORIG_LEG_DESTINATION, 200}};
	expect_events(id, w, 6, ORIG_BY_TRANSFER);
	CHECK(sipp_peer_wait(&a, 15000));
	char *inv = NULL;
	size_t len = 0;
	CHECK(ch_read_file(a.msgs, 1 << 20, &inv, &len) == 0);
	CHECK(inv && strstr(inv, "TCP message received") != NULL && strstr(inv, "UDP message") == NULL);
	free(inv);
}

/* Many calls at once through one SIPp phone: every one transferred. */
static void case_parallel_refer(void)
{
	enum { N = 40 };
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", "200", "-m", "40", NULL));
	uri_of(&a, "alice", ini, sizeof ini);
	uint64_t ids[N];
	for (int i = 0; i < N; i++)
		ids[i] = place(ini, DEST_REFER, false, 0);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		CHECK(wait_final(ids[i], 20000));
		struct orig_event e = last_event(ids[i]);
		if (e.final && e.state == ORIG_TRANSFERRED)
			ok++;
	}
	CHECK_MSG(ok == N, "%d of %d transferred", ok, N);
	CHECK(orig_sip_active(eng) == 0);
	CHECK(sipp_peer_wait(&a, 20000));
}

/* We place calls, we do not take them: an INVITE from outside gets 403. */
static void case_unsolicited_invite(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me, to;
	socklen_t ml = sizeof me;
	memset(&me, 0, sizeof me);
	me.sin_family = AF_INET;
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&me, sizeof me) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&me, &ml) == 0);
	memset(&to, 0, sizeof to);
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)orig_sip_port(eng));
	char msg[1024];
	int port = ntohs(me.sin_port);
	CHECK(ch_fmt(msg, sizeof msg,
		     "INVITE sip:c2c@127.0.0.1:%d SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-test-1\r\n"
		     "Max-Forwards: 70\r\nFrom: <sip:mallory@127.0.0.1>;tag=m1\r\n"
		     "To: <sip:c2c@127.0.0.1>\r\nCall-ID: unsolicited-1@127.0.0.1\r\n"
		     "CSeq: 1 INVITE\r\nContact: <sip:mallory@127.0.0.1:%d>\r\n"
		     "Content-Length: 0\r\n\r\n",
		     orig_sip_port(eng), port, port) == 0);
	CHECK(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) > 0);
	struct timeval tv = {3, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	bool got403 = false;
	for (int i = 0; i < 5 && !got403; i++) {
		char buf[2048];
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		if (strncmp(buf, "SIP/2.0 403", 11) == 0)
			got403 = true;
	}
	CHECK(got403);
	close(fd);
	CHECK(orig_sip_active(eng) == 0);
}

/* The REFER path over IPv6 loopback: our SDP says IP6 and our address. */
static void case_ipv6_refer(void)
{
	struct sipp_peer a;
	char ini[128];
	CHECK(peer_start(&a, "initiator", "uas_refer_v6.xml", "-i", "::1", "-set", "n1", "180", "-set", "n2", "200",
			 NULL));
	(void)ch_fmt(ini, sizeof ini, "sip:alice@[::1]:%d", a.port);
	uint64_t id = place(ini, "sip:9055551234@[::1]", false, 0);
	CHECK(wait_final(id, 15000));
	const struct want w[] = {dest_head[0],
				 dest_head[1],
				 dest_head[2],
				 dest_head[3],
				 {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180},
				 {ORIG_TRANSFERRED, ORIG_LEG_DESTINATION, 200}};
	expect_events(id, w, 6, ORIG_BY_TRANSFER);
	CHECK(sipp_peer_wait(&a, 15000));
	char *first = msg_body(a.msgs, "INVITE ", 0);
	CHECK(first && strstr(first, "c=IN IP6 ::1") && strstr(first, " IN IP6 ::1"));
	free(first);
}

/* Bad inputs refused synchronously; a busy port is EADDRINUSE. */
static void case_api_errors(void)
{
	struct orig_call_req r;
	uint64_t id = 0;
	memset(&r, 0, sizeof r);
	(void)ch_fmt(r.initiator, sizeof r.initiator, "sip:alice@127.0.0.1");
	(void)ch_fmt(r.destination, sizeof r.destination, "sip:bob@127.0.0.1>\r\nX-Evil: 1");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	(void)ch_fmt(r.destination, sizeof r.destination, "tel:+15551234");
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	r.destination[0] = '\0';
	CHECK(orig_sip_call(eng, &r, &id) == EINVAL);
	CHECK(id == 0);
	CHECK(orig_sip_active(eng) == 0);

	char listen[64];
	(void)ch_fmt(listen, sizeof listen, "sip:127.0.0.1:%d", orig_sip_port(eng));
	struct orig_sip_opts o;
	memset(&o, 0, sizeof o);
	o.listen = listen;
	o.identity = "sip:c2c@127.0.0.1";
	struct orig_sip *second = NULL;
	CHECK(orig_sip_start(&o, on_event, NULL, &second) == EADDRINUSE);
	CHECK(second == NULL);
	o.listen = "sip:127.0.0.1:0";
	o.identity = "sip:c2c@127.0.0.1>";
	CHECK(orig_sip_start(&o, on_event, NULL, &second) == EINVAL);
	o.identity = NULL;
	CHECK(orig_sip_start(&o, on_event, NULL, &second) == EINVAL);
	CHECK(orig_sip_start(&o, NULL, NULL, &second) == EINVAL);
	orig_sip_stop(NULL, 0);
	CHECK(orig_sip_port(NULL) == 0);
	CHECK_STR(orig_state_name(ORIG_DESTINATION_RINGING), "destination_ringing");
	CHECK_STR(orig_leg_name(ORIG_LEG_INITIATOR), "initiator");
	CHECK_STR(orig_ended_by_name(ORIG_BY_API), "api");
}

struct case_def {
	const char *name;
	void (*fn)(void);
	const char *auth_user, *auth_password;
	unsigned max_call_s;
	const char *listen; /* NULL = sip:127.0.0.1:0 */
};

static const struct case_def cases[] = {
    {.name = "refer_ok", .fn = case_refer_ok},
    {.name = "refer_notify_486", .fn = case_refer_notify_486},
    {.name = "busy", .fn = case_busy},
    {.name = "ring_timeout", .fn = case_ring_timeout},
    {.name = "hangup_ringing", .fn = case_hangup_ringing},
    {.name = "anchored_api_hangup", .fn = case_anchored_api_hangup},
    {.name = "anchored_bye_initiator", .fn = case_anchored_bye_initiator},
    {.name = "anchored_bye_destination", .fn = case_anchored_bye_destination},
    {.name = "refer_501_fallback", .fn = case_refer_501_fallback},
    {.name = "reinvite_timeout", .fn = case_reinvite_timeout},
    {.name = "auth_401", .fn = case_auth_401, .auth_user = "c2c", .auth_password = "s3cret"},
    {.name = "auth_407", .fn = case_auth_407, .auth_user = "c2c", .auth_password = "s3cret"},
    {.name = "auth_401_wrong_password",
     .fn = case_auth_401_wrong_password,
     .auth_user = "c2c",
     .auth_password = "wr0ng"},
    {.name = "hold_relay", .fn = case_hold_relay},
    {.name = "cancel_ringing_destination", .fn = case_cancel_ringing_destination},
    {.name = "destination_busy", .fn = case_destination_busy},
    {.name = "destination_ring_timeout", .fn = case_destination_ring_timeout},
    {.name = "refer_notify_timeout", .fn = case_refer_notify_timeout},
    {.name = "shutdown", .fn = case_shutdown},
    {.name = "refer_bye_early", .fn = case_refer_bye_early},
    {.name = "udp_rcvbuf", .fn = case_udp_rcvbuf},
    {.name = "refer_tcp", .fn = case_refer_tcp},
    {.name = "parallel_refer", .fn = case_parallel_refer},
    {.name = "unsolicited_invite", .fn = case_unsolicited_invite},
    {.name = "update_relay", .fn = case_update_relay},
    {.name = "ipv6_refer", .fn = case_ipv6_refer, .listen = "sip:[::1]:0"},
    {.name = "api_errors", .fn = case_api_errors},
    {.name = "max_call", .fn = case_max_call, .max_call_s = 1},
};

/* Whether ::1 can be bound here (the IPv6 cases need it). */
static bool ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CASE\n", argv[0]);
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
			fprintf(stderr, "  %s\n", cases[i].name);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	const struct case_def *c = NULL;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (strcmp(cases[i].name, argv[1]) == 0)
			c = &cases[i];
	if (!c) {
		fprintf(stderr, "unknown case %s\n", argv[1]);
		return 2;
	}
	if (c->listen && strstr(c->listen, "[::1]") && !ipv6_loopback()) {
		printf("skipped: no IPv6 loopback (::1) for %s\n", c->name);
		return 77;
	}
	if (getenv("CH_SIP_DEBUG"))
		ch_log_set_level(CH_LOG_DEBUG);
	(void)ch_fmt(workdir, sizeof workdir, "/tmp/ch-sip-%s-XXXXXX", c->name);
	if (!mkdtemp(workdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (c->auth_user) {
		char logpath[320];
		(void)ch_fmt(logpath, sizeof logpath, "%s/engine.log", workdir);
		ch_log_set_level(CH_LOG_DEBUG);
		CHECK(ch_log_open(logpath) == 0);
	}
	engine_start(c->listen, c->auth_user, c->auth_password, c->max_call_s);
	c->fn();
	orig_sip_stop(eng, 2000);
	int rc = check_done();
	if (rc)
		fprintf(stderr, "SIPp logs kept in %s\n", workdir);
	else if (!getenv("CH_SIP_KEEP")) {
		char cmd[300];
		(void)ch_fmt(cmd, sizeof cmd, "rm -rf '%s'", workdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", workdir);
	}
	return rc;
}
