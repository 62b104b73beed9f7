/* tests/it/test_abuse_auth.c: the abuse suite, who may ask: forged WCS authentication (HMAC, Basic, allow_from)
 * and forged or replayed visitor tokens, against the real daemon. */
#include "tests/check.h"
#include "abuse.h"
#include "harness.h"
#include "secrets.h"
#include "tests/support/jwt.h"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- WCS authentication: HMAC ---------------------------------------------- */

/* Every forged or missing MAC is 403 and takes no budget token. */
static void hmac_refused(int p, const char *body)
{
	const char *O = "https://www.example.com";
	char other[2048], az[256];
	(void)O;
	/* missing, empty, garbage, wrong key, the other scheme: all 403, and none takes a connect token */
	const char *bad_authz[] = {
	    NULL, "", "WCS", "WCS ", "WCS 00000000000000000000000000000000", "WCS zz", "Basic d2NzOng=", "Bearer abc"};
	for (size_t i = 0; i < sizeof(bad_authz) / sizeof(bad_authz[0]); i++) {
		struct chr r = post(p, "/rest-hook/connect", bad_authz[i], body);
		CHECK_MSG(th_is_error(&r, 403, "WCS authentication failed"), "authz case %zu", i);
		chr_free(&r);
	}
	EXPECT_ERR(post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), "not-the-key", body, false), body), 403,
		   "WCS authentication failed");
	/* a key that is a prefix of the real one is a different key */
	EXPECT_ERR(post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), "hmac-key-one", body, false), body), 403,
		   "WCS authentication failed");
	/* signed, then the body changed (one byte, and trailing whitespace) */
	wcs_authz(az, sizeof(az), CH_SECRET_HMAC_1, body, false);
	connect_body(other, sizeof(other), "/10.1.0.1:1/b", O, NULL);
	EXPECT_ERR(post(p, "/rest-hook/connect", az, other), 403, "WCS authentication failed");
	CHECK(snprintf(other, sizeof(other), "%s ", body) < (int)sizeof(other));
	EXPECT_ERR(post(p, "/rest-hook/connect", az, other), 403, "WCS authentication failed");
	/* the MAC of another hook's body replayed on connect */
	const char *ev = "{\"sessionId\":\"/10.1.0.1:1/a\",\"status\":\"ESTABLISHED\"}";
	EXPECT_ERR(post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_1, ev, false), body), 403,
		   "WCS authentication failed");
	/* the digest with one more hex digit, or truncated */
	wcs_authz(az, sizeof(az), CH_SECRET_HMAC_1, body, false);
	snprintf(other, sizeof(other), "%s0", az);
	EXPECT_ERR(post(p, "/rest-hook/connect", other, body), 403, "WCS authentication failed");
	az[strlen(az) - 1] = '\0';
	EXPECT_ERR(post(p, "/rest-hook/connect", az, body), 403, "WCS authentication failed");
}

/* The order of the checks around authentication: 405 and 413 before it, the body check after it; /healthz needs
 * none. */
static void hmac_order(int p)
{
	char az[256];
	/* auth comes before the body check: bad JSON without a MAC is 403, with one it is 400 */
	EXPECT_ERR(post(p, "/rest-hook/connect", NULL, "{\"a\":"), 403, "WCS authentication failed");
	EXPECT_ERR(
	    post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_2, "{\"a\":", false), "{\"a\":"),
	    400, "malformed JSON");
	/* 405 and 413 come before auth */
	char url[256];
	EXPECT_ERR(req_url(c, "GET", th_url(url, sizeof(url), p, "/rest-hook/connect"), NULL, NULL, 0), 405,
		   "use POST");
	char *huge = malloc(5001);
	memset(huge, ' ', 5000);
	huge[0] = '{';
	huge[4999] = '}';
	huge[5000] = '\0';
	EXPECT_ERR(post(p, "/rest-hook/connect", NULL, huge), 413, "body larger than max_body_bytes");
	free(huge);
	/* /healthz is not a hook: no auth */
	struct chr r = req_url(c, "GET", th_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0);
	CHECK(r.status == 200 && strcmp(r.body, "{\"status\":\"ok\"}") == 0);
	chr_free(&r);
	EXPECT_STATUS(req_url(c, "HEAD", th_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0), 200);
}

/* Right MACs (both keys, either hex case) pass; the budget was untouched by the refusals. */
static void hmac_accepted(struct chd *dp, const char *body)
{
	int p = dp->hook_port;
	const char *O = "https://www.example.com";
	const char *ev = "{\"sessionId\":\"/10.1.0.1:1/a\",\"status\":\"ESTABLISHED\"}";
	char other[2048], az[256];
	/* right: key 1, key 1 in upper-case hex (a retry of the same session), key 2 (rotation) */
	struct chr r = post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_1, body, false), body);
	CHECK(r.status == 200 && has(&r, "\"sipLogin\":\"30001\""));
	CHECK(strstr(r.body, "browser-pw") == NULL);
	chr_free(&r);
	EXPECT_STATUS(post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_1, body, true), body),
		      200);
	connect_body(other, sizeof(other), "/10.1.0.1:2/b", O, NULL);
	EXPECT_STATUS(post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_2, other, false), other),
		      200);
	/* the budget (2 per IP) was untouched by the 17 refusals above: the third new session is the one cut */
	connect_body(other, sizeof(other), "/10.1.0.1:3/c", O, NULL);
	EXPECT_ERR(post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_2, other, false), other), 429,
		   "connects_per_minute_per_ip exceeded");
	/* events need the MAC too */
	EXPECT_ERR(post(p, "/rest-hook/ConnectionStatusEvent", NULL, ev), 403, "WCS authentication failed");
	r = post(p, "/rest-hook/ConnectionStatusEvent", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_2, ev, false), ev);
	CHECK(r.status == 200 && strcmp(r.body, ev) == 0);
	chr_free(&r);
	CHECK(log_has(dp, "peer=127.0.0.1 http=POST method=connect site=- verdict=auth status=403"));
	CHECK(log_has(dp, "verdict=budget status=429"));
}

TEST_CASE(hmac)
{
	struct chd d = {0};
	char conf[4096];
	snprintf(conf, sizeof(conf),
		 "log = { level = \"debug\"; };\n"
		 "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 4096; request_timeout_s = 2;\n"
		 "  wcs_auth = { hmac_keys = [ \"%s\", \"%s\" ]; }; };\n"
		 "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ];\n"
		 "  sip = { login = \"30001\"; password = \"%s\"; }; callee = \"30002\";\n"
		 "  limits = { connects_per_minute_per_ip = 2; }; } );\n",
		 CH_SECRET_HMAC_1, CH_SECRET_HMAC_2, CH_SECRET_SIP_ABUSE);
	if (chd_start(&d, conf) != 0) {
		CHECK(!"hmac daemon did not start");
		chd_cleanup(&d);
		return;
	}

	char body[2048];
	connect_body(body, sizeof(body), "/10.1.0.1:1/a", "https://www.example.com", NULL);
	hmac_refused(d.hook_port, body);
	hmac_order(d.hook_port);
	hmac_accepted(&d, body);
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
}

/* ---- WCS authentication: Basic ---------------------------------------------- */

TEST_CASE(basic)
{
	struct chd d = {0};
	char conf[4096];
	snprintf(conf, sizeof(conf),
		 "log = { level = \"debug\"; };\n"
		 "hook = { listen = [ \"127.0.0.1:0\" ];\n"
		 "  wcs_auth = { basic_user = \"%s\"; basic_password = \"%s\"; }; };\n"
		 "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ];\n"
		 "  sip = { login = \"30001\"; password = \"%s\"; }; callee = \"30002\"; } );\n",
		 CH_BASIC_USER, CH_SECRET_BASIC_PW, CH_SECRET_SIP_ABUSE);
	if (chd_start(&d, conf) != 0) {
		CHECK(!"basic daemon did not start");
		chd_cleanup(&d);
		return;
	}
	int p = d.hook_port;
	const char *O = "https://www.example.com";
	const char *right = "Basic " CH_SECRET_BASIC_B64;
	const char *bad[] = {NULL,
			     "",
			     "Basic",
			     "Basic !!!!",
			     "Basic d2NzYXBwOndyb25n",                     /* wcsapp:wrong */
			     "Basic b3RoZXI6YmFzaWMtcGFzcy1WYjI5cVdlSw==", /* other:<right password> */
			     "Basic d2NzYXBw",                             /* wcsapp, no colon */
			     "Basic d2NzYXBwOg==",                         /* wcsapp: (empty password) */
			     "WCS 00000000000000000000000000000000",
			     "Bearer " CH_SECRET_BASIC_B64};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct chr r = do_connect(p, bad[i], "/10.1.1.1:1/a", O, NULL);
		CHECK_MSG(th_is_error(&r, 403, "WCS authentication failed"), "basic case %zu", i);
		chr_free(&r);
	}
	struct chr r = do_connect(p, right, "/10.1.1.1:1/a", O, NULL);
	CHECK(r.status == 200 && has(&r, "\"sipLogin\":\"30001\""));
	chr_free(&r);
	/* the scheme is case-insensitive (RFC 9110) */
	EXPECT_STATUS(do_connect(p, "basic " CH_SECRET_BASIC_B64, "/10.1.1.1:2/b", O, NULL), 200);
	char url[256];
	EXPECT_STATUS(req_url(c, "GET", th_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0), 200);
	CHECK(log_has(&d, "peer=127.0.0.1 http=POST method=connect site=- verdict=auth status=403"));
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
}

/* ---- allow_from ----------------------------------------------------------------- */

static int port_of(struct chd *d, const char *prefix)
{
	char *l = chd_log(d);
	const char *q = strstr(l, prefix);
	int port = q ? (int)strtol(q + strlen(prefix), NULL, 10) : 0;
	free(l);
	return port;
}

TEST_CASE(allow_from)
{
	/* 127.0.0.1 is outside 10.0.0.0/8: every hook is refused, /healthz is not */
	struct chd d = {0};
	if (chd_start(&d, "log = { level = \"debug\"; };\n"
			  "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 4096; wcs_auth = { allow_from = [ "
			  "\"10.0.0.0/8\" ]; }; };\n"
			  "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ]; sip = { login = "
			  "\"1\"; }; callee = \"2\"; } );\n") != 0) {
		CHECK(!"allow_from daemon did not start");
	} else {
		int p = d.hook_port;
		EXPECT_ERR(do_connect(p, NULL, "/10.1.2.1:1/a", "https://www.example.com", NULL), 403,
			   "address not allowed");
		EXPECT_ERR(post(p, "/rest-hook/CallStatusEvent", NULL, "{\"a\":1}"), 403, "address not allowed");
		/* before the size and body checks, after the method check */
		char *huge = malloc(8001);
		memset(huge, 'x', 8000);
		huge[8000] = '\0';
		EXPECT_ERR(post(p, "/rest-hook/connect", NULL, huge), 403, "address not allowed");
		free(huge);
		EXPECT_ERR(post(p, "/rest-hook/connect", NULL, "not json"), 403, "address not allowed");
		char url[256];
		EXPECT_ERR(req_url(c, "PUT", th_url(url, sizeof(url), p, "/rest-hook/connect"), NULL, NULL, 0), 405,
			   "use POST");
		EXPECT_STATUS(req_url(c, "GET", th_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0), 200);
		CHECK(log_has(&d, "peer=127.0.0.1 http=POST method=connect site=- verdict=auth status=403"));
		CHECK(chd_stop(&d) == 0);
	}
	chd_cleanup(&d);
}

/* Whether an IPv6 socket can bind addr here (the loopback ::1, or the IPv4-mapped ::ffff:127.0.0.1). */
static bool can_bind6(const char *addr)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	if (inet_pton(AF_INET6, addr, &a.sin6_addr) != 1)
		return false;
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	if (s < 0)
		return false;
	bool ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

TEST_CASE(allow_from_ipv6)
{
	if (!can_bind6("::1"))
		SKIP("no IPv6 loopback (::1): IPv6 peers cannot be tested");
	/* 127.0.0.1/32 accepted on IPv4; the same daemon on [::1] refuses ::1 */
	struct chd d2 = {0};
	if (chd_start(&d2, "log = { level = \"debug\"; };\n"
			   "hook = { listen = [ \"127.0.0.1:0\", \"[::1]:0\" ]; wcs_auth = { allow_from = [ "
			   "\"127.0.0.1/32\" ]; }; };\n"
			   "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ]; sip = { login = "
			   "\"1\"; }; callee = \"2\"; } );\n") != 0) {
		CHECK(!"the daemon did not start on [::1]");
	} else {
		EXPECT_STATUS(do_connect(d2.hook_port, NULL, "/10.1.2.2:1/a", "https://www.example.com", NULL), 200);
		int p6 = port_of(&d2, "hook: listening on [::1]:");
		CHECK(p6 > 0);
		char url[256], b[1024];
		snprintf(url, sizeof(url), "http://[::1]:%d/rest-hook/connect", p6);
		connect_body(b, sizeof(b), "/10.1.2.2:2/b", "https://www.example.com", NULL);
		EXPECT_ERR(req_url(c, "POST", url, NULL, b, strlen(b)), 403, "address not allowed");
		CHECK(log_has(&d2, "peer=::1 http=POST method=connect site=- verdict=auth status=403"));
		CHECK(chd_stop(&d2) == 0);
	}
	chd_cleanup(&d2);
}

/* IPv4-mapped peers (::ffff:a.b.c.d) match their IPv4 form in allow_from: unit.test_auth.cidr_match proves it. It
 * cannot be shown end to end here: libmicrohttpd's IPv6 sockets are IPV6_V6ONLY, so the daemon never sees a mapped
 * peer (and cannot bind [::ffff:127.0.0.1], which it refuses at start with "cannot listen on"). */

/* ---- signed tokens ---------------------------------------------------------------- */

/* The token daemon of the token_* cases: one site that requires HS256 visitor tokens. */
static struct chd td;

static int start_token_daemon(void)
{
	CHECK(chd_write(&td, "token.key", CH_SECRET_TOKEN "\n", 0600) == 0);
	char conf[4096];
	snprintf(conf, sizeof(conf),
		 "log = { level = \"debug\"; };\n"
		 "hook = { listen = [ \"127.0.0.1:0\" ]; };\n"
		 "sites = ( { name = \"tok\"; origins = [ \"https://www.example.com\", \"https://*.example.com\" ];\n"
		 "  sip = { login = \"50000\"; password = \"%s\"; }; callee = \"50001\";\n"
		 "  buttons = { sales = \"50002\"; support = \"50003\"; };\n"
		 "  token = { secret_file = \"token.key\"; required = true; max_age_s = 300; leeway_s = 30; };\n"
		 "  limits = { connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
		 "1000;\n"
		 "             calls_per_minute = 1000; concurrent_calls = 1000; }; } );\n",
		 CH_SECRET_SIP_ABUSE);
	return chd_start(&td, conf);
}

TEST_CASE(token_replay)
{
	int p = td.hook_port;
	const char *O = "https://www.example.com";
	long long now = (long long)time(NULL);
	char t[2048], cu[2400];
	struct chr r;
	/* valid; the same session again (a WCS retry) passes; another session with the same jti does not */
	tok(t, sizeof(t), now, now + 120, "jti-1", NULL);
	r = do_connect(p, NULL, "/10.2.1.1:1/a", O, tok_custom(cu, sizeof(cu), t, NULL));
	CHECK(r.status == 200 && has(&r, "\"sipLogin\":\"50000\""));
	chr_free(&r);
	EXPECT_STATUS(do_connect(p, NULL, "/10.2.1.1:1/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 200);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.1:2/b", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token already used by another session");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.9.9:1/z", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token already used by another session");
	EXPECT_STATUS(do_connect(p, NULL, "/10.2.1.1:1/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 200);

	/* a long sessionId (WCS ids are short, but the hook accepts up to 512 bytes) is bound whole */
	char lsid[300];
	snprintf(lsid, sizeof(lsid), "/10.2.1.1:3/%0250d", 7);
	tok(t, sizeof(t), now, now + 120, "jti-long", NULL);
	EXPECT_STATUS(do_connect(p, NULL, lsid, O, tok_custom(cu, sizeof(cu), t, NULL)), 200);
	EXPECT_STATUS(do_connect(p, NULL, lsid, O, tok_custom(cu, sizeof(cu), t, NULL)), 200);
	lsid[200] = '8';
	EXPECT_ERR(do_connect(p, NULL, lsid, O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token already used by another session");
}

TEST_CASE(token_required)
{
	int p = td.hook_port;
	const char *O = "https://www.example.com";
	/* required: none, a non-string, garbage */
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, NULL), 403, "token required");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"button\":\"sales\"}"), 403, "token required");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"token\":42}"), 403, "custom.token must be a string");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"token\":\"abc\"}"), 403, "token malformed");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"token\":\"\"}"), 403, "token malformed");
	CHECK(log_has(&td, "verdict=token status=403"));
}

TEST_CASE(token_time)
{
	int p = td.hook_port;
	const char *O = "https://www.example.com";
	long long now = (long long)time(NULL);
	char t[2048], cu[2400];
	/* time: expired past the leeway, too old, issued in the future; inside the leeway passes */
	EXPECT_ERR(
	    do_connect(p, NULL, "/10.2.1.3:1/a", O,
		       tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now - 200, now - 31 - 5, "jti-exp", NULL), NULL)),
	    403, "token expired");
	EXPECT_ERR(
	    do_connect(p, NULL, "/10.2.1.3:2/a", O,
		       tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now - 400, now + 100, "jti-old", NULL), NULL)),
	    403, "token too old");
	EXPECT_ERR(
	    do_connect(p, NULL, "/10.2.1.3:3/a", O,
		       tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now + 100, now + 200, "jti-fut", NULL), NULL)),
	    403, "token issued in the future");
	EXPECT_STATUS(
	    do_connect(p, NULL, "/10.2.1.3:4/a", O,
		       tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now - 60, now - 10, "jti-leeway", NULL), NULL)),
	    200);
	CHECK(log_has(&td, "verdict=token status=403"));
}

TEST_CASE(token_claims)
{
	int p = td.hook_port;
	const char *O = "https://www.example.com";
	long long now = (long long)time(NULL);
	char t[2048], cu[2400], pl[512];
	/* claims missing or of the wrong type */
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld}", now, now + 100);
	jwt_mint(t, sizeof(t), HS256_HDR, pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.4:1/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token lacks exp, iat or jti");
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld.0,\"jti\":\"x\"}", now, now + 100);
	jwt_mint(t, sizeof(t), HS256_HDR, pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.4:2/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token lacks exp, iat or jti");
}

TEST_CASE(token_forged)
{
	int p = td.hook_port;
	const char *O = "https://www.example.com";
	long long now = (long long)time(NULL);
	char t[2048], cu[2400], pl[512];
	/* forged: alg none (empty and non-empty signature), lower-case hs256, HS512 with the right secret,
	 * HS256 with another secret, a valid token with one payload byte changed */
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld,\"jti\":\"forged\"}", now, now + 100);
	jwt_mint(t, sizeof(t), "{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, GNUTLS_MAC_UNKNOWN, NULL);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.5:1/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token algorithm is not HS256");
	jwt_mint(t, sizeof(t), "{\"alg\":\"none\"}", pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.5:2/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token algorithm is not HS256");
	jwt_mint(t, sizeof(t), "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.5:3/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token algorithm is not HS256");
	jwt_mint(t, sizeof(t), "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", pl, GNUTLS_MAC_SHA512, CH_SECRET_TOKEN);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.5:4/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token algorithm is not HS256");
	jwt_mint(t, sizeof(t), HS256_HDR, pl, GNUTLS_MAC_SHA256, "another-secret-of-at-least-32-bytes-xx");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.5:5/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token signature invalid");
	{
		/* a changed payload (a later exp) under the signature of the original */
		char t2[2048], pl2[512];
		jwt_mint(t, sizeof(t), HS256_HDR, pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
		snprintf(pl2, sizeof(pl2), "{\"iat\":%lld,\"exp\":%lld,\"jti\":\"forged\"}", now, now + 200);
		jwt_mint(t2, sizeof(t2), HS256_HDR, pl2, GNUTLS_MAC_SHA256, "another-secret-of-at-least-32-bytes-xx");
		char *sig = strrchr(t, '.');
		char *sig2 = strrchr(t2, '.');
		snprintf(sig2, sizeof(t2) - (size_t)(sig2 - t2), "%s", sig);
		snprintf(t, sizeof(t), "%s", t2);
	}
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.5:6/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token signature invalid");
	CHECK(log_has(&td, "verdict=token status=403"));
}

TEST_CASE(token_origin_claim)
{
	int p = td.hook_port;
	const char *O = "https://www.example.com";
	long long now = (long long)time(NULL);
	char t[2048], cu[2400];
	/* the origin claim: another origin is refused; the same origin after normalisation passes */
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.6:1/a", O,
			      tok_custom(cu, sizeof(cu),
					 tok(t, sizeof(t), now, now + 100, "jti-o1",
					     ",\"origin\":\"https://shop.example.com\""),
					 NULL)),
		   403, "token origin mismatch");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.6:2/a", O,
			      tok_custom(cu, sizeof(cu),
					 tok(t, sizeof(t), now, now + 100, "jti-o2",
					     ",\"origin\":\"https://www.example.com.evil.net\""),
					 NULL)),
		   403, "token origin mismatch");
	EXPECT_STATUS(do_connect(p, NULL, "/10.2.1.6:3/a", O,
				 tok_custom(cu, sizeof(cu),
					    tok(t, sizeof(t), now, now + 100, "jti-o3",
						",\"origin\":\"https://WWW.Example.com:443\""),
					    NULL)),
		      200);
}

TEST_CASE(token_button_claim)
{
	int p = td.hook_port;
	const char *O = "https://www.example.com";
	long long now = (long long)time(NULL);
	char t[2048], cu[2400];
	struct chr r;
	/* a refused connect binds no jti: the token stays usable by one session */
	tok(t, sizeof(t), now, now + 100, "jti-refused", NULL);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.7:1/a", O, tok_custom(cu, sizeof(cu), t, ",\"button\":\"premium\"")),
		   403, "unknown button");
	EXPECT_STATUS(do_connect(p, NULL, "/10.2.1.7:2/b", O, tok_custom(cu, sizeof(cu), t, NULL)), 200);

	/* a button claim locks the button: neither connect's nor the call's custom.button changes the callee */
	tok(t, sizeof(t), now, now + 100, "jti-btn", ",\"button\":\"sales\"");
	EXPECT_STATUS(do_connect(p, NULL, "/10.2.1.8:1/a", O, tok_custom(cu, sizeof(cu), t, ",\"button\":\"support\"")),
		      200);
	r = do_call(p, "tc-1", "/10.2.1.8:1/a", "{\"button\":\"support\"}");
	CHECK(r.status == 200 && has(&r, "\"callee\":\"50002\""));
	chr_free(&r);
	r = do_call(p, "tc-2", "/10.2.1.8:1/a", NULL);
	CHECK(r.status == 200 && has(&r, "\"callee\":\"50002\""));
	chr_free(&r);
	/* contrast: without the claim the call's button wins */
	EXPECT_STATUS(do_connect(p, NULL, "/10.2.1.8:2/b", O,
				 tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now, now + 100, "jti-nobtn", NULL),
					    ",\"button\":\"sales\"")),
		      200);
	r = do_call(p, "tc-3", "/10.2.1.8:2/b", "{\"button\":\"support\"}");
	CHECK(r.status == 200 && has(&r, "\"callee\":\"50003\""));
	chr_free(&r);
	/* a claim naming no configured button is refused */
	EXPECT_ERR(
	    do_connect(p, NULL, "/10.2.1.8:3/c", O,
		       tok_custom(cu, sizeof(cu),
				  tok(t, sizeof(t), now, now + 100, "jti-badbtn", ",\"button\":\"premium\""), NULL)),
	    403, "unknown button");
}

TEST_CASE(token_no_fallback)
{
	int p = td.hook_port;
	char b[1024];
	struct chr r;
	/* token required: the one-site fallback for unknown sessions is off */
	EXPECT_ERR(post(p, "/rest-hook/call", NULL, call_body(b, sizeof(b), "tc-4", "/10.2.1.9:1/never", NULL)), 403,
		   "unknown session");
	/* a session closed by DISCONNECTED is unknown too */
	r = post(p, "/rest-hook/ConnectionStatusEvent", NULL,
		 "{\"sessionId\":\"/10.2.1.8:1/a\",\"status\":\"DISCONNECTED\"}");
	CHECK(r.status == 200);
	chr_free(&r);
	EXPECT_ERR(do_call(p, "tc-5", "/10.2.1.8:1/a", NULL), 403, "unknown session");
}

/* ---- budgets ------------------------------------------------------------------------ */

/* Each case starts the daemons it needs; all share a keep-alive libcurl handle. */
int test_setup(const char *name)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	return strncmp(name, "token_", 6) == 0 ? start_token_daemon() : 0;
}

void test_teardown(void)
{
	if (td.pid > 0)
		CHECK(chd_stop(&td) == 0);
	chd_cleanup(&td);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}
