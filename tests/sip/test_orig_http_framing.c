/* tests/sip/test_orig_http_framing.c: the originator's HTTP API refuses ambiguous RFC 9112 framing (two
 * Content-Length, Transfer-Encoding with Content-Length) with 400 and a close, before authentication; one case per
 * run (argv[1]). */
#include <arpa/inet.h>
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
#include "harness.h"
#include "tests/check.h"
#include "tests/support/net.h"

static struct chd D;

static void start(void)
{
	static const char conf[] =
	    "log = { level = \"debug\"; };\n"
	    "originator = {\n"
	    "  identity = \"sip:c2c@127.0.0.1\";\n"
	    "  listen = \"sip:127.0.0.1:0\";\n"
	    "  translations = ( { pattern = \"^(\\\\d{10})$\"; output = \"sip:$1@127.0.0.1\"; } );\n"
	    "  http = { listen = [ \"127.0.0.1:0\" ]; user = \"admin\"; password = \"pw-framing-1\"; };\n"
	    "};\n";
	if (chd_start(&D, conf) != 0) {
		CHECK_MSG(0, "daemon did not start");
		chd_cleanup(&D);
		exit(check_done());
	}
	CHECK(D.orig_http_port > 0);
}

/* Send req, read until the server closes (true) or 3 s pass (false). */
static bool raw_exchange(int port, const char *req, char *buf, size_t cap)
{
	int rc = tn_exchange(port, req, buf, cap);
	CHECK_MSG(rc >= 0, "cannot connect to or send to port %d", port);
	return rc == 1;
}

/* Exactly one 400 with the JSON reason, nothing after it, and the server closed. */
static void expect_400(const char *what, const char *req, const char *reason)
{
	char buf[8192];
	bool closed = raw_exchange(D.orig_http_port, req, buf, sizeof(buf));
	char body[256];
	(void)ch_fmt(body, sizeof(body), "\r\n\r\n{\"status\":400,\"reason\":\"%s\"}", reason);
	CHECK_MSG(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "%s: %s", what, buf);
	const char *end = strstr(buf, body);
	CHECK_MSG(end != NULL, "%s: no JSON reason \"%s\" in %s", what, reason, buf);
	CHECK_MSG(end && end[strlen(body)] == '\0', "%s: more after the answer: %s", what, end ? end : "");
	CHECK_MSG(strcasestr(buf, "\r\nConnection: close") != NULL, "%s: %s", what, buf);
	CHECK_MSG(closed, "%s: connection still open", what);
}

#define CALL_BODY "{\"initiator\":\"0123456789\",\"destination\":\"0123456780\"}"

TEST_CASE(two_lengths)
{
	start();
	/* no credentials: the framing is judged before authentication (else a 401 would answer) */
	expect_400("two Content-Length",
		   "POST /v1/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		   "Content-Length: 56\r\nContent-Length: 5\r\n\r\n" CALL_BODY,
		   "duplicate Content-Length header");
	/* and the smuggled request behind a short length gets no answer of its own */
	expect_400("two lengths, a request behind",
		   "GET /clicktocall.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"
		   "GET /v1/calls HTTP/1.1\r\nHost: x\r\n\r\n",
		   "duplicate Content-Length header");
	CHECK(chd_wait_log(&D, "originator-http: listening on", 1000));
	CHECK(chd_stop(&D) == 0);
}

TEST_CASE(chunked_with_length)
{
	start();
	expect_400("chunked with a length",
		   "POST /v1/calls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		   "Transfer-Encoding: chunked\r\nContent-Length: 56\r\n\r\n0\r\n\r\n",
		   "Transfer-Encoding with Content-Length");
	CHECK(chd_stop(&D) == 0);
}

int test_setup(const char *name)
{
	(void)name;
	signal(SIGPIPE, SIG_IGN);
	return chd_init(&D);
}

void test_teardown(void)
{
	chd_cleanup(&D);
}
