/* tests/it/test_abuse_redis_tls.c: store.redis.tls: callhook reaches a redis-server that speaks only TLS on the
 * configured port (certificates made here with openssl: a CA, a server certificate for localhost signed by it,
 * and a stranger CA); a certificate for another name, or from a CA that is not the configured one, is refused
 * (503 state store unavailable, the reason in the log once) and nothing reaches Redis. */
#include "tests/check.h"
#include "redis_pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tls_port;

/* CA, server key and certificate (SAN localhost, 127.0.0.1), and a second CA, in dir; 0 or -1. */
static int make_certs(const char *dir)
{
	char cmd[2048];
	snprintf(
	    cmd, sizeof(cmd),
	    "cd '%s' && "
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca "
	    "  >/dev/null 2>&1 && "
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj /CN=other-ca "
	    "  >/dev/null 2>&1 && "
	    "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost >/dev/null 2>&1 && "
	    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.ext && "
	    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
	    "  -extfile srv.ext >/dev/null 2>&1",
	    dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* rp2: plain on its port (for the test's own commands), TLS only on tls_port. */
static int start_tls_redis(void)
{
	char tp[16], cert[512], key[512], ca[512];
	tls_port = rp_free_port();
	snprintf(tp, sizeof(tp), "%d", tls_port);
	snprintf(cert, sizeof(cert), "%s/srv.pem", a.dir);
	snprintf(key, sizeof(key), "%s/srv.key", a.dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", a.dir);
	const char *const extra[] = {"--tls-port",
				     tp,
				     "--tls-cert-file",
				     cert,
				     "--tls-key-file",
				     key,
				     "--tls-ca-cert-file",
				     ca,
				     "--tls-auth-clients",
				     "no",
				     NULL};
	return rp_start_with(&rp2, a.dir, extra);
}

#define NEED_TLS()                                                                                                     \
	do {                                                                                                           \
		NEED_REDIS();                                                                                          \
		if (system("command -v openssl >/dev/null 2>&1") != 0)                                                 \
			SKIP("no openssl to make the test certificates (scripts/deps.sh --test installs it)");         \
		REQUIRE(make_certs(a.dir) == 0);                                                                       \
		REQUIRE(start_tls_redis() == 0);                                                                       \
	} while (0)

static int start_tls(const char *ca, const char *name)
{
	char extra[512];
	snprintf(extra, sizeof(extra), "address = \"127.0.0.1:%d\"; tls = { ca_file = \"%s/%s\"; %s%s%s };", tls_port,
		 a.dir, ca, name ? "server_name = \"" : "", name ? name : "", name ? "\";" : "");
	return pair_start(&a, wide, "fail_closed", "", extra);
}

TEST_CASE(verified_connection)
{
	NEED_TLS();
	REQUIRE(start_tls("ca.pem", "localhost") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.9.1:1/t", O, NULL), 200);
	CHECK(rp_int(&rp2, "EXISTS callhook:s:/10.8.9.1:1/t") == 1); /* through the TLS port: the only one given */
	EXPECT_STATUS(do_call(a.hook_port, "t-1", "/10.8.9.1:1/t", NULL), 200);
	CHECK(rp_int(&rp2, "ZCARD callhook:slots:shop") == 1);
	EXPECT_STATUS(event(a.hook_port, "/rest-hook/CallStatusEvent",
			    "{\"callId\":\"t-1\",\"sessionId\":\"/10.8.9.1:1/t\",\"status\":\"FINISH\"}"),
		      200);
	CHECK(rp_int(&rp2, "ZCARD callhook:slots:shop") == 0);
	CHECK(rp_int(&rp, "DBSIZE") == 0); /* the plain server of the fixture saw nothing */
	/* the IP address as the name: the certificate's IP SAN */
	chd_stop(&a);
	REQUIRE(start_tls("ca.pem", NULL) == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.9.2:1/t", O, NULL), 200);
}

/* A daemon with tls { ca_file = ca; server_name = name; } gets 503 for a connect, logs why (want), and writes
 * nothing. */
static void expect_refused(const char *ca, const char *name, const char *want)
{
	REQUIRE(start_tls(ca, name) == 0);
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.8.9.3:1/t", O, NULL), 503, "state store unavailable");
	CHECK_MSG(chd_wait_log(&a, want, 3000), "no \"%s\" in the log", want);
	CHECK(rp_int(&rp2, "DBSIZE") == 0);
}

TEST_CASE(wrong_name_refused)
{
	NEED_TLS();
	expect_refused("ca.pem", "redis.example.net", "the server's certificate for \"redis.example.net\" is refused");
}

TEST_CASE(stranger_ca_refused)
{
	NEED_TLS();
	expect_refused("other.pem", "localhost", "the server's certificate for \"localhost\" is refused");
	/* plain RESP to the TLS port is no way around it either */
	chd_stop(&a);
	char extra[96];
	snprintf(extra, sizeof(extra), "address = \"127.0.0.1:%d\";", tls_port);
	REQUIRE(pair_start(&a, wide, "fail_closed", "", extra) == 0);
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.8.9.5:1/t", O, NULL), 503, "state store unavailable");
	CHECK(rp_int(&rp2, "DBSIZE") == 0);
}

TEST_CASE(ca_file_without_a_certificate)
{
	NEED_REDIS();
	/* readable, so the config is valid, but no PEM certificate in it: callhook does not start, and says why */
	REQUIRE(chd_write(&a, "empty-ca.pem", "not a certificate\n", 0644) == 0);
	char extra[512];
	snprintf(extra, sizeof(extra), "address = \"127.0.0.1:%d\"; tls = { ca_file = \"%s/empty-ca.pem\"; };", rp.port,
		 a.dir);
	CHECK(pair_start(&a, wide, "fail_closed", "", extra) != 0);
	char *log = chd_log(&a);
	CHECK_MSG(strstr(log, "store: redis tls: no CA certificate in ") &&
		      strstr(log, "store: cannot start the hook's Redis client: Invalid argument"),
		  "%s", log);
	free(log);
	CHECK(rp_int(&rp, "DBSIZE") == 0);
}
