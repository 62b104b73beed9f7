/* tests/unit/test_sip_sdp.c: the SIP engine's pure SDP functions: origin rewriting, the placeholder offer, versions. */
#include "originator/sip_sdp_int.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char PEER[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
			   "m=audio 7000 RTP/AVP 0\r\n";

static void test_set_origin(void)
{
	char out[512];
	CHECK(orig_sdp_set_origin(PEER, strlen(PEER), "o=x 2 3 IN IP4 h", out, sizeof out) == 0);
	CHECK_STR(out, "v=0\r\no=x 2 3 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n");
	/* dropped */
	CHECK(orig_sdp_set_origin(PEER, strlen(PEER), NULL, out, sizeof out) == 0);
	CHECK_STR(out, "v=0\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n");
	/* LF-only bodies keep their line endings; ours is CRLF; only the first o= line is ours */
	const char lf[] = "v=0\no=a\no=b\ns=-";
	CHECK(orig_sdp_set_origin(lf, strlen(lf), "o=us", out, sizeof out) == 0);
	CHECK_STR(out, "v=0\no=us\r\no=b\ns=-");
	/* an origin line without a line ending at the very end */
	CHECK(orig_sdp_set_origin("v=0\no=", 6, "o=us", out, sizeof out) == 0);
	CHECK_STR(out, "v=0\no=us\r\n");
	/* no origin line */
	memcpy(out, "untouched", 10);
	CHECK(orig_sdp_set_origin("v=0\r\ns=-\r\n", 10, "o=us", out, sizeof out) == EINVAL);
	CHECK(orig_sdp_set_origin("", 0, "o=us", out, sizeof out) == EINVAL);
	CHECK(orig_sdp_set_origin(" o=x\r\n", 6, "o=us", out, sizeof out) == EINVAL);
	CHECK_STR(out, "untouched");
}

/* The exact fit: the output and its NUL in cap bytes, one byte less is ENOSPC and touches nothing. */
static void test_set_origin_cap(void)
{
	const char in[] = "v=0\r\no=peer\r\ns=-\r\n";
	const char want[] = "v=0\r\no=us\r\ns=-\r\n";
	char out[64];
	CHECK(orig_sdp_set_origin(in, strlen(in), "o=us", out, sizeof want) == 0);
	CHECK_STR(out, want);
	memcpy(out, "untouched", 10);
	CHECK(orig_sdp_set_origin(in, strlen(in), "o=us", out, sizeof want - 1) == ENOSPC);
	CHECK_STR(out, "untouched");
	/* too long and without an origin line: ENOSPC, as before the split */
	CHECK(orig_sdp_set_origin("v=0\r\ns=-\r\n", 10, "o=us", out, 4) == ENOSPC);
	CHECK(orig_sdp_set_origin(in, strlen(in), "o=us", out, 0) == ENOSPC);
}

static void test_placeholder(void)
{
	struct orig_sdp_origin o = {.sid = 1700000000042ULL, .ver = 1, .host = "127.0.0.1"};
	char out[1024];
	CHECK(orig_sdp_placeholder(&o, out, sizeof out) == 0);
	CHECK_STR(out, "v=0\r\no=callhook 1700000000042 1 IN IP4 127.0.0.1\r\ns=callhook\r\nc=IN IP4 127.0.0.1\r\n"
		       "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\n");
	o.host = "::1";
	o.v6 = true;
	o.ver = 7;
	CHECK(orig_sdp_placeholder(&o, out, sizeof out) == 0);
	CHECK_STR(out, "v=0\r\no=callhook 1700000000042 7 IN IP6 ::1\r\ns=callhook\r\nc=IN IP6 ::1\r\n"
		       "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\n");
	CHECK(orig_sdp_placeholder(&o, out, 40) == ENOSPC);
	char ol[64];
	CHECK(orig_sdp_origin_line(&o, 8, ol, sizeof ol) == 0);
	CHECK_STR(ol, "o=callhook 1700000000042 8 IN IP6 ::1");
}

/* RFC 3264 section 8: the version goes up by one only when the description changes. */
static void test_for_peer_versions(void)
{
	struct orig_sdp_origin o = {.sid = 5, .ver = 1, .host = "192.0.2.1"};
	char out[512];
	CHECK(orig_sdp_for_peer(&o, PEER, strlen(PEER), out, sizeof out) == 0);
	CHECK(o.ver == 2 && o.last != NULL);
	CHECK(strstr(out, "\r\no=callhook 5 2 IN IP4 192.0.2.1\r\n") != NULL);
	CHECK(strstr(out, "m=audio 7000 RTP/AVP 0\r\n") != NULL);
	/* the same description again, even under another peer origin: same version, same bytes */
	char again[512];
	const char peer2[] = "v=0\r\no=- 9 9 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
			     "m=audio 7000 RTP/AVP 0\r\n";
	CHECK(orig_sdp_for_peer(&o, peer2, strlen(peer2), again, sizeof again) == 0);
	CHECK(o.ver == 2);
	CHECK_STR(again, out);
	/* a hold: changed, version 3 */
	const char hold[] = "v=0\r\no=- 1 2 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
			    "m=audio 7000 RTP/AVP 0\r\na=sendonly\r\n";
	CHECK(orig_sdp_for_peer(&o, hold, strlen(hold), out, sizeof out) == 0);
	CHECK(o.ver == 3);
	CHECK(strstr(out, "o=callhook 5 3 IN IP4 192.0.2.1\r\n") && strstr(out, "a=sendonly\r\n"));
	orig_sdp_origin_clear(&o);
	CHECK(o.last == NULL);
	orig_sdp_origin_clear(NULL);
}

/* A failure changes neither the version, nor the last description, nor out. */
static void test_for_peer_failures(void)
{
	struct orig_sdp_origin o = {.sid = 5, .ver = 1, .host = "192.0.2.1"};
	char out[512];
	CHECK(orig_sdp_for_peer(&o, PEER, strlen(PEER), out, sizeof out) == 0);
	char *last = o.last;
	const char other[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.3\r\ns=-\r\nm=audio 8000 RTP/AVP 8\r\n";
	memcpy(out, "untouched", 10);
	CHECK(orig_sdp_for_peer(&o, other, strlen(other), out, 20) == ENOSPC);
	CHECK(o.ver == 2 && o.last == last);
	CHECK(orig_sdp_for_peer(&o, "v=0\r\ns=-\r\n", 10, out, sizeof out) == EINVAL);
	CHECK(o.ver == 2 && o.last == last);
	CHECK_STR(out, "untouched");
	/* a body over ORIG_SDP_MAX cannot be rewritten */
	size_t big = ORIG_SDP_MAX + 10;
	char *b = malloc(big);
	CHECK(b != NULL);
	if (b) {
		memset(b, 'a', big);
		memcpy(b, "o=x\r\n", 5);
		CHECK(orig_sdp_for_peer(&o, b, big, out, sizeof out) == ENOSPC);
		free(b);
	}
	CHECK(o.ver == 2 && o.last == last);
	orig_sdp_origin_clear(&o);
}

int main(void)
{
	test_set_origin();
	test_set_origin_cap();
	test_placeholder();
	test_for_peer_versions();
	test_for_peer_failures();
	return check_done();
}
