/* test_orig_hostile.c: strangers on the originator's SIP port (UDP and TCP) get one answer each, cause no call and no
 * traffic to a third address, and cannot take the daemon down; one case per run (argv[1]). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "harness.h"
#include "tests/check.h"

static struct chd D;

/* The third address: a UDP socket and a TCP listener on one port that every hostile message names (Contact,
 * Refer-To, Record-Route, From): nothing may ever reach it. */
static int third_udp = -1, third_tcp = -1, third_port;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_in loop_addr(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	return a;
}

static int bound_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	if (getsockname(fd, (struct sockaddr *)&a, &l) != 0)
		return -1;
	return ntohs(a.sin_port);
}

static void third_open(void)
{
	for (int tries = 0; tries < 20 && third_tcp < 0; tries++) {
		third_udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in a = loop_addr(0);
		if (third_udp < 0 || bind(third_udp, (struct sockaddr *)&a, sizeof a) != 0)
			break;
		third_port = bound_port(third_udp);
		third_tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		a = loop_addr(third_port);
		if (third_tcp >= 0 && bind(third_tcp, (struct sockaddr *)&a, sizeof a) == 0 &&
		    listen(third_tcp, 16) == 0)
			break;
		if (third_tcp >= 0)
			close(third_tcp);
		third_tcp = -1;
		close(third_udp);
		third_udp = -1;
	}
	CHECK(third_udp >= 0 && third_tcp >= 0);
}

/* Nothing arrived at the third address, datagram or connection. */
static void third_silent(void)
{
	char buf[2048];
	ssize_t n = recv(third_udp, buf, sizeof buf - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		CHECK_MSG(0, "the third address got a datagram:\n%.300s", buf);
	}
	int c = accept(third_tcp, NULL, NULL);
	CHECK_MSG(c < 0, "the third address got a TCP connection");
	if (c >= 0)
		close(c);
}

static void start(void)
{
	const char *conf =
	    "log = { level = \"debug\"; };\n"
	    "admin = { listen = [ \"127.0.0.1:0\" ]; };\n"
	    "originator = {\n"
	    "  identity = \"sip:c2c@127.0.0.1\";\n"
	    "  listen = \"sip:127.0.0.1:0\";\n"
	    "  translations = ( { pattern = \"^(\\\\d{10})$\"; output = \"sip:$1@127.0.0.1\"; } );\n"
	    "  http = { listen = [ \"127.0.0.1:0\" ]; user = \"admin\"; password = \"hostile-pw-1\"; };\n"
	    "  xml = { listen = [ \"127.0.0.1:0\" ]; };\n"
	    "};\n";
	if (chd_start(&D, conf) != 0) {
		CHECK_MSG(0, "daemon did not start");
		chd_cleanup(&D);
		exit(check_done());
	}
	CHECK(D.sip_port > 0);
}

/* ---- messages ---------------------------------------------------------------------------- */

static const char *const methods[] = {"INVITE",   "ACK",       "BYE",    "CANCEL",  "OPTIONS",
				      "REGISTER", "SUBSCRIBE", "NOTIFY", "REFER",   "INFO",
				      "MESSAGE",  "PRACK",     "UPDATE", "PUBLISH", "FROBNICATE"};
#define N_METHODS (sizeof methods / sizeof methods[0])

/* A well-formed request from transport tp ("UDP"/"TCP") at our port me; to_tag adds a To tag (an in-dialog look);
 * every URI a stack could act on names the third address. */
static unsigned branch_no;

static int request_b(char *out, size_t cap, const char *m, const char *tp, int me, const char *callid,
		     const char *to_tag, unsigned seq, unsigned branch)
{
	bool sub = strcmp(m, "SUBSCRIBE") == 0 || strcmp(m, "NOTIFY") == 0 || strcmp(m, "PUBLISH") == 0;
	return ch_fmt(out, cap,
		      "%s sip:c2c@127.0.0.1:%d;transport=%s SIP/2.0\r\n"
		      "Via: SIP/2.0/%s 127.0.0.1:%d;rport;branch=z9hG4bK-h%u-%u\r\n"
		      "Max-Forwards: 70\r\n"
		      "From: <sip:mallory@127.0.0.1:%d>;tag=m%u\r\n"
		      "To: <sip:c2c@127.0.0.1>%s%s\r\n"
		      "Call-ID: %s\r\n"
		      "CSeq: %u %s\r\n"
		      "Contact: <sip:victim@127.0.0.1:%d;transport=%s>\r\n"
		      "Record-Route: <sip:127.0.0.1:%d;lr>\r\n"
		      "Refer-To: <sip:9001234567@127.0.0.1:%d>\r\n"
		      "Referred-By: <sip:mallory@127.0.0.1:%d>\r\n"
		      "%s"
		      "Content-Length: 0\r\n\r\n",
		      m, D.sip_port, tp, tp, me, seq, branch, third_port, seq, to_tag ? ";tag=" : "",
		      to_tag ? to_tag : "", callid, seq, m, third_port, tp, third_port, third_port, third_port,
		      sub ? "Event: presence\r\nSubscription-State: active;expires=3600\r\nExpires: 3600\r\n" : "");
}

static int request(char *out, size_t cap, const char *m, const char *tp, int me, const char *callid, bool to_tag,
		   unsigned seq)
{
	return request_b(out, cap, m, tp, me, callid, to_tag ? "nosuchdialog" : NULL, seq, ++branch_no);
}

/* Broken shapes: truncated, garbage, lying lengths, huge headers, bad versions. *out is new. */
static size_t malformed(unsigned k, int me, char **out)
{
	char head[1024];
	(void)request(head, sizeof head, "REFER", "UDP", me, "broken@x", false, k);
	struct ch_buf b = {0};
	switch (k % 8) {
	case 0: /* cut in the middle of the headers */
		(void)ch_buf_add(&b, head, strlen(head) / 2);
		break;
	case 1: /* no blank line, binary garbage */
		for (unsigned i = 0; i < 300; i++) {
			unsigned char c = (unsigned char)(i * 37u + k);
			(void)ch_buf_add(&b, &c, 1);
		}
		break;
	case 2: /* Content-Length larger than what follows */
		(void)ch_buf_adds(&b,
				  "INVITE sip:c2c@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n"
				  "Content-Length: 999999\r\n\r\nv=0\r\n");
		break;
	case 3: /* a negative length and no mandatory headers */
		(void)ch_buf_adds(&b, "OPTIONS sip:c2c@127.0.0.1 SIP/2.0\r\nContent-Length: -5\r\n\r\n");
		break;
	case 4: { /* a 60 kB header */
		const char *cut = strstr(head, "Content-Length");
		(void)ch_buf_add(&b, head, (size_t)(cut - head));
		(void)ch_buf_adds(&b, "X-Huge: ");
		for (int i = 0; i < 60000; i++)
			(void)ch_buf_add(&b, "A", 1);
		(void)ch_buf_adds(&b, "\r\nContent-Length: 0\r\n\r\n");
		break;
	}
	case 5: /* wrong protocol version */
		(void)ch_buf_adds(&b, "INVITE sip:c2c@127.0.0.1 SIP/7.0\r\n\r\n");
		break;
	case 6: /* a response nobody asked for */
		(void)ch_buf_adds(&b, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bKnone\r\n"
				      "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: nope\r\n"
				      "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
		break;
	default: /* an empty line and a lone CRLF keepalive */
		(void)ch_buf_adds(&b, "\r\n\r\n");
		break;
	}
	*out = b.data;
	return b.len;
}

/* ---- the checks after an attack ----------------------------------------------------------- */

/* The SIP port still answers OPTIONS with 200 over UDP. */
static void sip_answers(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = loop_addr(0), to = loop_addr(D.sip_port);
	CHECK(bind(fd, (struct sockaddr *)&me, sizeof me) == 0);
	char msg[1024];
	CHECK(request(msg, sizeof msg, "OPTIONS", "UDP", bound_port(fd), "alive@x", false, 1) == 0);
	CHECK(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) > 0);
	struct timeval tv = {3, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	CHECK_MSG(n > 11 && strncmp(buf, "SIP/2.0 200", 11) == 0, "OPTIONS after the attack: no 200");
	close(fd);
}

/* The admin, HTTP and XML ports answer; no call was ever placed. */
static void ports_answer_no_call(void)
{
	CURL *c = curl_easy_init();
	char url[128];
	struct chr r;
	memset(&r, 0, sizeof r);
	CHECK(th_http(c, "GET", th_url(url, sizeof url, D.admin_port, "/healthz"), NULL, NULL, 0, &r) == CURLE_OK);
	CHECK(r.status == 200);
	chr_free(&r);
	memset(&r, 0, sizeof r);
	CHECK(th_http(c, "GET", th_url(url, sizeof url, D.admin_port, "/metrics"), NULL, NULL, 0, &r) == CURLE_OK);
	CHECK(r.status == 200);
	/* callhook_originator_calls_total counts every placed call by result: no line may carry a count */
	const char *p = r.body ? r.body : "";
	while ((p = strstr(p, "\ncallhook_originator_calls_total{"))) {
		const char *sp = strchr(p + 1, ' ');
		CHECK_MSG(sp && strncmp(sp, " 0\n", 3) == 0, "a call was placed: %.120s", p + 1);
		p++;
	}
	chr_free(&r);
	memset(&r, 0, sizeof r);
	CHECK(th_http(c, "GET", th_url(url, sizeof url, D.orig_http_port, "/v1/calls"), NULL, NULL, 0, &r) == CURLE_OK);
	CHECK(r.status == 401); /* alive, and still asking for credentials */
	chr_free(&r);
	curl_easy_cleanup(c);
	int x = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in xa = loop_addr(D.orig_xml_port);
	CHECK(connect(x, (struct sockaddr *)&xa, sizeof xa) == 0);
	close(x);
	CHECK(!chd_wait_log(&D, "sip: call 1 ", 1));
}

static void finish(void)
{
	/* a NOTIFY or a response to a Contact is retransmitted for up to 32 s; the first copy leaves at once */
	usleep(1500 * 1000);
	third_silent();
	sip_answers();
	ports_answer_no_call();
	third_silent();
	CHECK_MSG(chd_stop(&D) == 0, "daemon did not exit cleanly (crash or LSan report)");
}

/* Read every datagram for ms; count responses by first line. Returns the number read. */
static int drain_udp(int fd, int ms, int *status_hist, char *first, size_t cap, char *totag, size_t tcap)
{
	int got = 0;
	int64_t end = now_ms() + ms;
	for (;;) {
		int left = (int)(end - now_ms());
		if (left <= 0)
			break;
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, left) <= 0)
			break;
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		got++;
		if (first && got == 1)
			(void)ch_fmt(first, cap, "%.*s", (int)strcspn(buf, "\r\n"), buf);
		const char *to = totag ? strstr(buf, "\r\nTo: ") : NULL;
		const char *tag = to ? strstr(to, ";tag=") : NULL;
		if (tag && tag < strstr(to + 2, "\r\n"))
			(void)ch_fmt(totag, tcap, "%.*s", (int)strcspn(tag + 5, ";\r\n"), tag + 5);
		if (status_hist && n > 12 && strncmp(buf, "SIP/2.0 ", 8) == 0) {
			int64_t code = 0;
			if (ch_parse_i64(buf + 8, 3, 100, 699, &code) == 0)
				status_hist[code / 100]++;
		}
	}
	return got;
}

/* The answer to a stranger's request (docs/security.md): 481 for anything that looks in-dialog or needs one, 405
 * for the methods we never take (they are not in our Allow), 501 for a method nobody knows. */
static int expected(const char *m, bool tagged)
{
	if (strcmp(m, "FROBNICATE") == 0)
		return 501;
	static const char *const refused[] = {"REGISTER", "SUBSCRIBE", "REFER", "INFO", "MESSAGE", "PUBLISH"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		if (strcmp(m, refused[i]) == 0)
			return 405;
	if (strcmp(m, "OPTIONS") == 0 && !tagged)
		return 200;
	return 481; /* BYE, CANCEL, NOTIFY, PRACK, UPDATE, and every request with a To tag */
}

/* One request of each method, plain and with a To tag (an unknown dialog), each from its own socket: exactly one
 * final answer each (and the INVITE's 403 stops after our ACK), nothing else. */
TEST_CASE(udp_each)
{
	third_open();
	start();
	struct sockaddr_in to = loop_addr(D.sip_port);
	for (size_t i = 0; i < N_METHODS; i++) {
		for (int tagged = 0; tagged < 2; tagged++) {
			const char *m = methods[i];
			if (strcmp(m, "ACK") == 0)
				continue; /* an ACK is never answered; it is in the mixes below */
			int fd = socket(AF_INET, SOCK_DGRAM, 0);
			struct sockaddr_in me = loop_addr(0);
			CHECK(bind(fd, (struct sockaddr *)&me, sizeof me) == 0);
			char callid[64], msg[2048];
			(void)ch_fmt(callid, sizeof callid, "each-%s-%d@mallory", m, tagged);
			CHECK(request(msg, sizeof msg, m, "UDP", bound_port(fd), callid, tagged, 1) == 0);
			CHECK(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&to, sizeof to) > 0);
			int hist[7] = {0};
			char first[128] = "", totag[128] = "";
			unsigned branch = branch_no;
			/* the first answer may be slow on a loaded sanitizer run; nothing may follow it in 400 ms */
			struct pollfd ready = {fd, POLLIN, 0};
			(void)poll(&ready, 1, 5000);
			int n = drain_udp(fd, 400, hist, first, sizeof first, totag, sizeof totag);
			if (strcmp(m, "INVITE") == 0 && !tagged) {
				/* the final is 403 (a 100 may come first), retransmitted until our ACK (same
				 * branch, the 403's To tag), then never again */
				CHECK_MSG(hist[4] >= 1 && hist[2] == 0, "INVITE: no 403 (first %s)", first);
				char ack[2048];
				CHECK(request_b(ack, sizeof ack, "ACK", "UDP", bound_port(fd), callid, totag, 1,
						branch) == 0);
				CHECK(sendto(fd, ack, strlen(ack), 0, (struct sockaddr *)&to, sizeof to) > 0);
				(void)drain_udp(fd, 300, NULL, NULL, 0, NULL, 0);
				CHECK_MSG(drain_udp(fd, 1500, NULL, NULL, 0, NULL, 0) == 0,
					  "INVITE: 403 still retransmitted");
			} else {
				/* one answer, exactly the documented one (docs/security.md), nothing after it */
				char want[32];
				(void)ch_fmt(want, sizeof want, "SIP/2.0 %d ", expected(m, tagged));
				CHECK_MSG(n == 1 && strncmp(first, want, strlen(want)) == 0,
					  "%s%s: %d answers, first %s", m, tagged ? " (to-tag)" : "", n, first);
			}
			close(fd);
		}
	}
	finish();
}

/* The whole mix for a bounded time from a few UDP sockets: every method, unknown dialogs, malformed and
 * truncated messages, huge headers, a REFER storm. */
TEST_CASE(udp_mix)
{
	third_open();
	start();
	struct sockaddr_in to = loop_addr(D.sip_port);
	int fds[4];
	for (int i = 0; i < 4; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in me = loop_addr(0);
		CHECK(bind(fds[i], (struct sockaddr *)&me, sizeof me) == 0);
	}
	unsigned sent = 0;
	int64_t end = now_ms() + 4000;
	for (unsigned k = 0; k < 6000 && now_ms() < end; k++) {
		int fd = fds[k % 4];
		int me = bound_port(fd);
		char msg[2048], callid[64];
		(void)ch_fmt(callid, sizeof callid, "mix-%u@mallory", k % 97);
		char *big = NULL;
		size_t len;
		if (k % 5 == 4) {
			len = malformed(k / 5, me, &big);
		} else if (k % 5 == 3) { /* the REFER storm: new Call-IDs */
			(void)ch_fmt(callid, sizeof callid, "storm-%u@mallory", k);
			(void)request(msg, sizeof msg, "REFER", "UDP", me, callid, false, k);
			len = strlen(msg);
		} else {
			(void)request(msg, sizeof msg, methods[k % N_METHODS], "UDP", me, callid, k % 3 == 0, k);
			len = strlen(msg);
		}
		if (sendto(fd, big ? big : msg, len, 0, (struct sockaddr *)&to, sizeof to) > 0)
			sent++;
		free(big);
		if (k % 64 == 63) { /* read the answers so the sockets do not fill */
			for (int i = 0; i < 4; i++)
				(void)drain_udp(fds[i], 1, NULL, NULL, 0, NULL, 0);
		}
	}
	CHECK(sent > 500);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	finish();
}

/* A stream of the same over TCP connections, some cut in the middle of a message. */
TEST_CASE(tcp_mix)
{
	third_open();
	start();
	struct sockaddr_in to = loop_addr(D.sip_port);
	int64_t end = now_ms() + 4000;
	unsigned conns = 0;
	for (unsigned k = 0; k < 400 && now_ms() < end; k++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
			close(fd);
			CHECK_MSG(0, "TCP connect to the SIP port failed: %s", strerror(errno));
			break;
		}
		conns++;
		int me = bound_port(fd);
		for (unsigned j = 0; j < 12; j++) {
			char msg[2048], callid[64];
			(void)ch_fmt(callid, sizeof callid, "tcp-%u-%u@mallory", k, j % 3);
			(void)request(msg, sizeof msg, methods[(k + j) % N_METHODS], "TCP", me, callid, j % 4 == 1,
				      j + 1);
			size_t len = strlen(msg);
			if (j == 11 && k % 3 == 0)
				len /= 2; /* cut mid-message, then close */
			if (send(fd, msg, len, MSG_NOSIGNAL) < 0)
				break;
		}
		if (k % 10 == 0) {
			char *big = NULL;
			size_t len = malformed(4, me, &big); /* the huge header, on a stream */
			(void)send(fd, big, len, MSG_NOSIGNAL);
			free(big);
		}
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 20) > 0) {
			char buf[8192];
			(void)recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		}
		close(fd);
	}
	CHECK(conns > 50);
	finish();
}

/* Every case: a fresh temp dir; on a failure the end of the daemon's log; the daemon and the sockets closed. */
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
		size_t n = l ? strlen(l) : 0;
		fprintf(stderr, "---- daemon log (last 6000 bytes) ----\n%s\n", l ? l + (n > 6000 ? n - 6000 : 0) : "");
		free(l);
	}
	if (D.pid > 0)
		(void)chd_stop(&D);
	chd_cleanup(&D);
	if (third_udp >= 0)
		close(third_udp);
	if (third_tcp >= 0)
		close(third_tcp);
	curl_global_cleanup();
}
