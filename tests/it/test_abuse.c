/* tests/it/test_abuse.c: the abuse suite: forged WCS auth and tokens, budgets cut exactly, floods, slow and huge
 * bodies, against the real daemon. */
#include "../check.h"
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

static CURL *c;

/* ---- helpers ------------------------------------------------------------- */

static struct chr req_url(CURL *h, const char *method, const char *url, const char *authz, const char *body, size_t len)
{
	char ah[512];
	const char *hdr[3] = {"Content-Type: application/json;charset=UTF-8", NULL, NULL};
	if (authz) {
		snprintf(ah, sizeof(ah), "Authorization: %s", authz);
		hdr[1] = ah;
	}
	struct chr r;
	int rc = ch_http(h, method, url, hdr, body, len, &r);
	if (rc != 0)
		fprintf(stderr, "  curl error %d on %s %s\n", rc, method, url);
	return r;
}

static struct chr post_h(CURL *h, int port, const char *path, const char *authz, const char *body)
{
	char url[256];
	return req_url(h, "POST", ch_url(url, sizeof(url), port, path), authz, body, strlen(body));
}

static struct chr post(int port, const char *path, const char *authz, const char *body)
{
	return post_h(c, port, path, authz, body);
}

static bool is_error(const struct chr *r, long status, const char *reason)
{
	char want[256];
	snprintf(want, sizeof(want), "{\"status\":%ld,\"reason\":\"%s\"}", status, reason);
	bool ok = r->status == status && r->body && strcmp(r->body, want) == 0 &&
		  strncmp(r->ctype, "application/json", 16) == 0;
	if (!ok)
		fprintf(stderr, "  got %ld %s [%s], want %s\n", r->status, r->body ? r->body : "(null)", r->ctype,
			want);
	return ok;
}

/* One request, then the exact error answer. */
#define EXPECT_ERR(r_, status_, reason_)                                                                               \
	do {                                                                                                           \
		struct chr r__ = (r_);                                                                                 \
		CHECK(is_error(&r__, (status_), (reason_)));                                                           \
		chr_free(&r__);                                                                                        \
	} while (0)

#define EXPECT_STATUS(r_, status_)                                                                                     \
	do {                                                                                                           \
		struct chr r__ = (r_);                                                                                 \
		CHECK_MSG(r__.status == (status_), "got %ld %s", r__.status, r__.body);                                \
		chr_free(&r__);                                                                                        \
	} while (0)

static const char *connect_body(char *buf, size_t cap, const char *sid, const char *origin, const char *custom)
{
	snprintf(buf, cap,
		 "{\"nodeId\":\"Qb3rAjf3@192.168.1.5\",\"appKey\":\"clickToCallApp\",\"sessionId\":\"%s\","
		 "\"mediaProviders\":[\"WebRTC\"],\"sipPassword\":\"browser-pw\",\"custom\":%s,\"origin\":\"%s\"}",
		 sid, custom ? custom : "{}", origin);
	return buf;
}

static const char *call_body(char *buf, size_t cap, const char *call_id, const char *sid, const char *custom)
{
	snprintf(buf, cap,
		 "{\"callId\":\"%s\",\"incoming\":false,\"callee\":\"+1900555\",\"sessionId\":\"%s\","
		 "\"sdp\":\"v=0\\r\\n\",\"custom\":%s}",
		 call_id, sid, custom ? custom : "{}");
	return buf;
}

static struct chr do_connect(int port, const char *authz, const char *sid, const char *origin, const char *custom)
{
	char b[2048];
	return post(port, "/rest-hook/connect", authz, connect_body(b, sizeof(b), sid, origin, custom));
}

static struct chr do_call(int port, const char *call_id, const char *sid, const char *custom)
{
	char b[1024];
	return post(port, "/rest-hook/call", NULL, call_body(b, sizeof(b), call_id, sid, custom));
}

static bool has(const struct chr *r, const char *needle)
{
	bool ok = r->body && strstr(r->body, needle) != NULL;
	if (!ok)
		fprintf(stderr, "  \"%s\" not in %ld %s\n", needle, r->status, r->body ? r->body : "(null)");
	return ok;
}

static bool log_has(struct chd *d, const char *needle)
{
	char *l = chd_log(d);
	bool ok = strstr(l, needle) != NULL;
	free(l);
	if (!ok)
		fprintf(stderr, "  log lacks \"%s\"\n", needle);
	return ok;
}

static void hexmac(gnutls_mac_algorithm_t alg, const char *key, const char *body, size_t len, char *out, bool upper)
{
	unsigned char mac[64];
	size_t n = gnutls_hmac_get_len(alg);
	if (gnutls_hmac_fast(alg, key, strlen(key), body, len, mac) < 0) {
		out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, upper ? "%02X" : "%02x", mac[i]);
}

/* "WCS <hex HMAC-MD5(key, body)>" */
static const char *wcs_authz(char *buf, size_t cap, const char *key, const char *body, bool upper)
{
	char hex[129];
	hexmac(GNUTLS_MAC_MD5, key, body, strlen(body), hex, upper);
	snprintf(buf, cap, "WCS %s", hex);
	return buf;
}

/* ---- JWT minting, independent of the library the daemon uses -------------- */

static const char *jwt_mint(char *buf, size_t cap, const char *header, const char *payload, gnutls_mac_algorithm_t mac,
			    const char *secret)
{
	return tj_mint(buf, cap, header, strlen(header), payload, strlen(payload), mac, secret,
		       secret ? strlen(secret) : 0);
}

#define HS256_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static const char *tok(char *buf, size_t cap, long long iat, long long exp, const char *jti, const char *extra)
{
	char pl[512];
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\"%s}", iat, exp, jti, extra ? extra : "");
	return jwt_mint(buf, cap, HS256_HDR, pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
}

static const char *tok_custom(char *buf, size_t cap, const char *token, const char *more)
{
	snprintf(buf, cap, "{\"token\":\"%s\"%s}", token, more ? more : "");
	return buf;
}

/* Limits with every budget high except the ones named in over (libconfig text). */
static const char *limits(char *buf, size_t cap, const char *over)
{
	const char *names[] = {"connects_per_minute_per_ip", "calls_per_minute_per_ip", "calls_per_session",
			       "calls_per_minute", "concurrent_calls"};
	size_t n = (size_t)snprintf(buf, cap, "limits = { ");
	for (size_t i = 0; i < 5 && n < cap; i++) {
		if (strstr(over, names[i]))
			continue;
		n += (size_t)snprintf(buf + n, cap - n, "%s = 100000; ", names[i]);
	}
	if (n < cap)
		snprintf(buf + n, cap - n, "%s };", over);
	return buf;
}

/* ---- WCS authentication: HMAC ---------------------------------------------- */

static void test_hmac(void)
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
	int p = d.hook_port;
	const char *O = "https://www.example.com";
	char body[2048], other[2048], az[256];
	connect_body(body, sizeof(body), "/10.1.0.1:1/a", O, NULL);

	/* missing, empty, garbage, wrong key, the other scheme: all 403, and none takes a connect token */
	const char *bad_authz[] = {
	    NULL, "", "WCS", "WCS ", "WCS 00000000000000000000000000000000", "WCS zz", "Basic d2NzOng=", "Bearer abc"};
	for (size_t i = 0; i < sizeof(bad_authz) / sizeof(bad_authz[0]); i++) {
		struct chr r = post(p, "/rest-hook/connect", bad_authz[i], body);
		CHECK_MSG(is_error(&r, 403, "WCS authentication failed"), "authz case %zu", i);
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
	/* auth comes before the body check: bad JSON without a MAC is 403, with one it is 400 */
	EXPECT_ERR(post(p, "/rest-hook/connect", NULL, "{\"a\":"), 403, "WCS authentication failed");
	EXPECT_ERR(
	    post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_2, "{\"a\":", false), "{\"a\":"),
	    400, "malformed JSON");
	/* 405 and 413 come before auth */
	char url[256];
	EXPECT_ERR(req_url(c, "GET", ch_url(url, sizeof(url), p, "/rest-hook/connect"), NULL, NULL, 0), 405,
		   "use POST");
	char *huge = malloc(5001);
	memset(huge, ' ', 5000);
	huge[0] = '{';
	huge[4999] = '}';
	huge[5000] = '\0';
	EXPECT_ERR(post(p, "/rest-hook/connect", NULL, huge), 413, "body larger than max_body_bytes");
	free(huge);
	/* /healthz is not a hook: no auth */
	struct chr r = req_url(c, "GET", ch_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0);
	CHECK(r.status == 200 && strcmp(r.body, "{\"status\":\"ok\"}") == 0);
	chr_free(&r);
	EXPECT_STATUS(req_url(c, "HEAD", ch_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0), 200);

	/* right: key 1, key 1 in upper-case hex (a retry of the same session), key 2 (rotation) */
	r = post(p, "/rest-hook/connect", wcs_authz(az, sizeof(az), CH_SECRET_HMAC_1, body, false), body);
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
	CHECK(log_has(&d, "peer=127.0.0.1 http=POST method=connect site=- verdict=auth status=403"));
	CHECK(log_has(&d, "verdict=budget status=429"));
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
}

/* ---- WCS authentication: Basic ---------------------------------------------- */

static void test_basic(void)
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
		CHECK_MSG(is_error(&r, 403, "WCS authentication failed"), "basic case %zu", i);
		chr_free(&r);
	}
	struct chr r = do_connect(p, right, "/10.1.1.1:1/a", O, NULL);
	CHECK(r.status == 200 && has(&r, "\"sipLogin\":\"30001\""));
	chr_free(&r);
	/* the scheme is case-insensitive (RFC 9110) */
	EXPECT_STATUS(do_connect(p, "basic " CH_SECRET_BASIC_B64, "/10.1.1.1:2/b", O, NULL), 200);
	char url[256];
	EXPECT_STATUS(req_url(c, "GET", ch_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0), 200);
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

static void test_allow_from(void)
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
		EXPECT_ERR(req_url(c, "PUT", ch_url(url, sizeof(url), p, "/rest-hook/connect"), NULL, NULL, 0), 405,
			   "use POST");
		EXPECT_STATUS(req_url(c, "GET", ch_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0), 200);
		CHECK(log_has(&d, "peer=127.0.0.1 http=POST method=connect site=- verdict=auth status=403"));
		CHECK(chd_stop(&d) == 0);
	}
	chd_cleanup(&d);

	/* 127.0.0.1/32 accepted on IPv4; the same daemon on [::1] refuses ::1 */
	struct chd d2 = {0};
	if (chd_start(&d2, "log = { level = \"debug\"; };\n"
			   "hook = { listen = [ \"127.0.0.1:0\", \"[::1]:0\" ]; wcs_auth = { allow_from = [ "
			   "\"127.0.0.1/32\" ]; }; };\n"
			   "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ]; sip = { login = "
			   "\"1\"; }; callee = \"2\"; } );\n") != 0) {
		fprintf(stderr, "  note: no [::1] listener possible here, IPv6 peers not tested\n");
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

	/* an IPv6 socket bound to ::ffff:127.0.0.1 sees IPv4-mapped peers: they match 127.0.0.1/32 */
	struct chd d3 = {0};
	if (chd_start(&d3, "log = { level = \"debug\"; };\n"
			   "hook = { listen = [ \"[::ffff:127.0.0.1]:0\" ]; wcs_auth = { allow_from = [ "
			   "\"127.0.0.1/32\" ]; }; };\n"
			   "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ]; sip = { login = "
			   "\"1\"; }; callee = \"2\"; } );\n") != 0) {
		fprintf(stderr, "  note: cannot bind [::ffff:127.0.0.1] here, IPv4-mapped peers not tested\n");
	} else {
		int pm = port_of(&d3, "hook: listening on [::ffff:127.0.0.1]:");
		CHECK(pm > 0);
		EXPECT_STATUS(do_connect(pm, NULL, "/10.1.2.3:1/a", "https://www.example.com", NULL), 200);
		CHECK(
		    log_has(&d3, "peer=::ffff:127.0.0.1 http=POST method=connect site=shop verdict=allow status=200"));
		CHECK(chd_stop(&d3) == 0);
	}
	chd_cleanup(&d3);
}

/* ---- signed tokens ---------------------------------------------------------------- */

static void test_tokens(void)
{
	struct chd d = {0};
	CHECK(chd_write(&d, "token.key", CH_SECRET_TOKEN "\n", 0600) == 0);
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
	if (chd_start(&d, conf) != 0) {
		CHECK(!"token daemon did not start");
		chd_cleanup(&d);
		return;
	}
	int p = d.hook_port;
	const char *O = "https://www.example.com";
	long long now = (long long)time(NULL);
	char t[2048], cu[2400], b[1024];

	/* valid; the same session again (a WCS retry) passes; another session with the same jti does not */
	tok(t, sizeof(t), now, now + 120, "jti-1", NULL);
	struct chr r = do_connect(p, NULL, "/10.2.1.1:1/a", O, tok_custom(cu, sizeof(cu), t, NULL));
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

	/* required: none, a non-string, garbage */
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, NULL), 403, "token required");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"button\":\"sales\"}"), 403, "token required");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"token\":42}"), 403, "custom.token must be a string");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"token\":\"abc\"}"), 403, "token malformed");
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.2:1/a", O, "{\"token\":\"\"}"), 403, "token malformed");

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

	/* claims missing or of the wrong type */
	char pl[512];
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld}", now, now + 100);
	jwt_mint(t, sizeof(t), HS256_HDR, pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.4:1/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token lacks exp, iat or jti");
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld.0,\"jti\":\"x\"}", now, now + 100);
	jwt_mint(t, sizeof(t), HS256_HDR, pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
	EXPECT_ERR(do_connect(p, NULL, "/10.2.1.4:2/a", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token lacks exp, iat or jti");

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

	/* token required: the one-site fallback for unknown sessions is off */
	EXPECT_ERR(post(p, "/rest-hook/call", NULL, call_body(b, sizeof(b), "tc-4", "/10.2.1.9:1/never", NULL)), 403,
		   "unknown session");
	/* a session closed by DISCONNECTED is unknown too */
	r = post(p, "/rest-hook/ConnectionStatusEvent", NULL,
		 "{\"sessionId\":\"/10.2.1.8:1/a\",\"status\":\"DISCONNECTED\"}");
	CHECK(r.status == 200);
	chr_free(&r);
	EXPECT_ERR(do_call(p, "tc-5", "/10.2.1.8:1/a", NULL), 403, "unknown session");
	CHECK(log_has(&d, "verdict=token status=403"));
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
}

/* ---- budgets ------------------------------------------------------------------------ */

static struct chd bd; /* the budget daemon, shared with the flood */

static int start_budget_daemon(void)
{
	CHECK(chd_write(&bd, "token.key", CH_SECRET_TOKEN, 0600) == 0);
	static char conf[16384];
	char l[8][512];
	snprintf(
	    conf, sizeof(conf),
	    "log = { level = \"debug\"; };\n"
	    "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 4096; request_timeout_s = 2; };\n"
	    "sites = (\n"
	    " { name = \"conn\"; domain = \"conn.test\"; sip = { login = \"41001\"; password = \"%s\"; }; callee = "
	    "\"41002\";\n"
	    "   buttons = { b = \"41003\"; }; token = { secret_file = \"token.key\"; required = false; }; %s },\n"
	    " { name = \"sess\"; domain = \"sess.test\"; sip = { login = \"42001\"; }; callee = \"42002\"; buttons = { "
	    "b = \"42003\"; }; %s },\n"
	    " { name = \"calls\"; domain = \"calls.test\"; sip = { login = \"43001\"; }; callee = \"43002\"; buttons = "
	    "{ b = \"43003\"; }; %s },\n"
	    " { name = \"conc\"; domain = \"conc.test\"; sip = { login = \"44001\"; }; callee = \"44002\"; %s },\n"
	    " { name = \"floodc\"; domain = \"floodc.test\"; sip = { login = \"45001\"; }; callee = \"45002\"; %s },\n"
	    " { name = \"floodk\"; domain = \"floodk.test\"; sip = { login = \"46001\"; }; callee = \"46002\"; %s },\n"
	    " { name = \"floodx\"; domain = \"floodx.test\"; sip = { login = \"47001\"; }; callee = \"47002\"; %s }\n"
	    ");\n",
	    CH_SECRET_SIP_ABUSE, limits(l[0], sizeof(l[0]), "connects_per_minute_per_ip = 3;"),
	    limits(l[1], sizeof(l[1]), "calls_per_session = 2;"),
	    limits(l[2], sizeof(l[2]), "calls_per_minute_per_ip = 3; calls_per_minute = 4;"),
	    limits(l[3], sizeof(l[3]), "concurrent_calls = 2;"),
	    limits(l[4], sizeof(l[4]), "connects_per_minute_per_ip = 8;"),
	    limits(l[5], sizeof(l[5]), "calls_per_minute = 12;"), limits(l[6], sizeof(l[6]), "concurrent_calls = 5;"));
	return chd_start(&bd, conf);
}

static void test_connect_budget(void)
{
	int p = bd.hook_port;
	const char *O = "https://conn.test";
	long long now = (long long)time(NULL);
	char t[1024], cu[1200];
	/* refusals first: none of them may take a connect token */
	for (int i = 0; i < 3; i++) {
		char sid[64];
		snprintf(sid, sizeof(sid), "/10.20.0.1:%d/bad", 100 + i);
		EXPECT_ERR(do_connect(p, NULL, sid, O, "{\"token\":\"x.y.z\"}"), 403, "token malformed");
		EXPECT_ERR(do_connect(p, NULL, sid, O, "{\"button\":\"premium\"}"), 403, "unknown button");
		EXPECT_ERR(do_connect(p, NULL, sid, "https://conn.test.evil.net", NULL), 403, "origin not allowed");
		EXPECT_ERR(do_connect(p, NULL, sid, "https://evil.conn.test@x.net", NULL), 403,
			   "origin is not a valid origin");
		EXPECT_ERR(
		    do_connect(p, NULL, sid, O,
			       tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now - 999, now - 900, "old", NULL), NULL)),
		    403, "token expired");
	}
	EXPECT_ERR(post(p, "/rest-hook/connect", NULL, "{\"sessionId\":\"/10.20.0.1:1/x\",\"origin\":"), 400,
		   "malformed JSON");
	/* exactly 3 distinct sessions per IP; a retry is not counted, before or after the cut */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:1/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:1/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:2/b", O, NULL), 200);
	/* a valid token on the third: token checks pass, the budget still counts it once */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:3/c", O,
				 tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now, now + 100, "conn-jti", NULL), NULL)),
		      200);
	EXPECT_ERR(do_connect(p, NULL, "/10.20.0.1:4/d", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_ERR(do_connect(p, NULL, "/10.20.0.1:5/e", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:1/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:3/c", O,
				 tok_custom(cu, sizeof(cu), tok(t, sizeof(t), now, now + 100, "conn-jti", NULL), NULL)),
		      200);
	/* a cut connect left no session behind */
	EXPECT_ERR(do_call(p, "cb-1", "/10.20.0.1:4/d", NULL), 403, "unknown session");
	/* another IP has its own budget */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.2:1/a", O, NULL), 200);
	/* IPv6 client addresses, with and without brackets, are one IP */
	EXPECT_STATUS(do_connect(p, NULL, "/[2001:db8::7]:5000/a", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/2001:db8::7:5001/b", O, NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/[2001:db8::7]:5002/c", O, NULL), 200);
	EXPECT_ERR(do_connect(p, NULL, "/2001:db8::7:5003/d", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	/* limits.ipv6_prefix 64 (the default): another address in the same /64 shares the budget */
	EXPECT_ERR(do_connect(p, NULL, "/[2001:db8::8]:5000/a", O, NULL), 429, "connects_per_minute_per_ip exceeded");
	EXPECT_ERR(do_connect(p, NULL, "/[2001:db8::ffff:ffff:ffff:ffff]:1/a", O, NULL), 429,
		   "connects_per_minute_per_ip exceeded");
	EXPECT_STATUS(do_connect(p, NULL, "/[2001:db8:0:1::8]:5000/a", O, NULL), 200);
	/* the budget is per site: the same IP on another site is not affected */
	EXPECT_STATUS(do_connect(p, NULL, "/10.20.0.1:9/s", "https://sess.test", NULL), 200);
}

static void call_ok(int port, const char *call_id, const char *sid, const char *callee)
{
	char want[64];
	snprintf(want, sizeof(want), "\"callee\":\"%s\"", callee);
	struct chr r = do_call(port, call_id, sid, NULL);
	CHECK_MSG(r.status == 200 && has(&r, want), "call %s", call_id);
	chr_free(&r);
}

static void test_call_budgets(void)
{
	int p = bd.hook_port;
	/* calls_per_session = 2 */
	EXPECT_STATUS(do_connect(p, NULL, "/10.21.0.1:1/s1", "https://sess.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, "/10.21.0.1:2/s2", "https://sess.test", NULL), 200);
	EXPECT_ERR(do_call(p, "s-0", "/10.21.0.1:1/s1", "{\"button\":\"premium\"}"), 403, "unknown button");
	struct chr first = do_call(p, "s-1", "/10.21.0.1:1/s1", NULL);
	CHECK(first.status == 200 && has(&first, "\"callee\":\"42002\""));
	struct chr again = do_call(p, "s-1", "/10.21.0.1:1/s1", NULL);
	CHECK(again.status == 200 && strcmp(again.body, first.body) == 0);
	chr_free(&again);
	call_ok(p, "s-2", "/10.21.0.1:1/s1", "42002");
	EXPECT_ERR(do_call(p, "s-3", "/10.21.0.1:1/s1", NULL), 429, "calls_per_session exceeded");
	EXPECT_ERR(do_call(p, "s-3", "/10.21.0.1:1/s1", NULL), 429, "calls_per_session exceeded");
	again = do_call(p, "s-1", "/10.21.0.1:1/s1", NULL);
	CHECK(again.status == 200 && strcmp(again.body, first.body) == 0);
	chr_free(&again);
	chr_free(&first);
	call_ok(p, "s-4", "/10.21.0.1:2/s2", "42002"); /* per session: the other session has its own */
	/* a retried callId answers as before even from the button it was placed with */
	EXPECT_STATUS(do_call(p, "s-5", "/10.21.0.1:2/s2", "{\"button\":\"b\"}"), 200);

	/* calls_per_minute_per_ip = 3, calls_per_minute = 4: a per-IP refusal takes no site token */
	const char *A1 = "/10.22.0.1:1/a1", *A2 = "/10.22.0.1:2/a2", *B = "/10.22.0.2:1/b", *C = "/10.22.0.3:1/c";
	EXPECT_STATUS(do_connect(p, NULL, A1, "https://calls.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, A2, "https://calls.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, B, "https://calls.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, C, "https://calls.test", NULL), 200);
	for (int i = 0; i < 3; i++)
		EXPECT_ERR(do_call(p, "k-bad", A1, "{\"button\":\"premium\"}"), 403, "unknown button");
	EXPECT_ERR(do_call(p, "k-x", "/10.22.0.9:1/never", NULL), 403, "unknown session");
	call_ok(p, "k-1", A1, "43002");
	call_ok(p, "k-2", A2, "43002");
	call_ok(p, "k-1", A1, "43002"); /* retry: not counted */
	call_ok(p, "k-3", A1, "43002");
	EXPECT_ERR(do_call(p, "k-4", A2, NULL), 429, "calls_per_minute_per_ip exceeded");
	call_ok(p, "k-5", B, "43002"); /* the site's 4th */
	EXPECT_ERR(do_call(p, "k-6", C, NULL), 429, "calls_per_minute exceeded");
	EXPECT_ERR(do_call(p, "k-7", B, NULL), 429, "calls_per_minute exceeded");
	call_ok(p, "k-2", A2, "43002"); /* retries still answered after the cut */
	CHECK(log_has(&bd, "method=call site=calls verdict=budget status=429"));
}

/* A CallStatusEvent of call_id in session sid (NULL: the event names no session). */
static void event(int port, const char *call_id, const char *sid, const char *status)
{
	char b[512];
	if (sid)
		snprintf(b, sizeof(b), "{\"callId\":\"%s\",\"sessionId\":\"%s\",\"status\":\"%s\",\"sipStatus\":200}",
			 call_id, sid, status);
	else
		snprintf(b, sizeof(b), "{\"callId\":\"%s\",\"status\":\"%s\",\"sipStatus\":200}", call_id, status);
	struct chr r = post(port, "/rest-hook/CallStatusEvent", NULL, b);
	CHECK(r.status == 200 && strcmp(r.body, b) == 0);
	chr_free(&r);
}

static void test_concurrent_budget(void)
{
	int p = bd.hook_port;
	const char *Q1 = "/10.23.0.1:1/q", *Q2 = "/10.23.0.2:1/q", *Q3 = "/10.23.0.3:1/q";
	EXPECT_STATUS(do_connect(p, NULL, Q1, "https://conc.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, Q2, "https://conc.test", NULL), 200);
	EXPECT_STATUS(do_connect(p, NULL, Q3, "https://conc.test", NULL), 200);
	call_ok(p, "q-1", Q1, "44002");
	call_ok(p, "q-2", Q2, "44002");
	EXPECT_ERR(do_call(p, "q-3", Q3, NULL), 429, "concurrent_calls exceeded");
	/* events that do not end a call free nothing */
	event(p, "q-1", Q1, "RING");
	event(p, "q-1", Q1, "ESTABLISHED");
	event(p, "q-1", Q1, "HOLD");
	event(p, "nope", Q1, "FINISH");
	/* nor does an end of q-1 that names another session */
	event(p, "q-1", Q2, "FINISH");
	event(p, "q-1", "/10.23.0.9:1/other", "FINISH");
	EXPECT_ERR(do_call(p, "q-3", Q3, NULL), 429, "concurrent_calls exceeded");
	/* FINISH frees one slot, and its WCS retry frees no second one */
	event(p, "q-1", Q1, "FINISH");
	event(p, "q-1", Q1, "FINISH");
	call_ok(p, "q-3", Q3, "44002");
	EXPECT_ERR(do_call(p, "q-4", Q1, NULL), 429, "concurrent_calls exceeded");
	/* the finished callId again is a new call, counted: no slot is free */
	EXPECT_ERR(do_call(p, "q-1", Q1, NULL), 429, "concurrent_calls exceeded");
	EXPECT_ERR(do_call(p, "q-4", Q1, NULL), 429, "concurrent_calls exceeded");
	/* an end without sessionId ends the call of that callId */
	event(p, "q-2", NULL, "FAILED");
	call_ok(p, "q-4", Q1, "44002");
	EXPECT_ERR(do_call(p, "q-5", Q2, NULL), 429, "concurrent_calls exceeded");
	event(p, "q-3", Q3, "BUSY");
	call_ok(p, "q-5", Q2, "44002");
	EXPECT_ERR(do_call(p, "q-6", Q3, NULL), 429, "concurrent_calls exceeded");
}

/* ---- concurrent clients -------------------------------------------------------------- */

#define FLOOD_THREADS  4
#define FLOOD_MS       1500
#define FLOOD_MAX_ITER 5000

struct flood {
	int idx;
	int port;
	int conn_ok, call_ok, conc_ok; /* 200s */
	int wrong;                     /* anything but 200 or the exact 429 */
	int reqs;
	int retry_mismatch;
	char conc_call[64]; /* one floodx call that got 200 */
	char conc_sid[64];  /* and its session */
	bool setup_failed;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_429(const struct chr *r, const char *reason)
{
	char want[128];
	snprintf(want, sizeof(want), "{\"status\":429,\"reason\":\"%s\"}", reason);
	return r->status == 429 && strcmp(r->body, want) == 0;
}

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	CURL *h = curl_easy_init();
	char b[2048], sid_k[64], sid_x[64];
	snprintf(sid_k, sizeof(sid_k), "/10.31.%d.1:1/k", f->idx);
	snprintf(sid_x, sizeof(sid_x), "/10.32.%d.1:1/x", f->idx);
	struct chr r = post_h(h, f->port, "/rest-hook/connect", NULL,
			      connect_body(b, sizeof(b), sid_k, "https://floodk.test", NULL));
	f->setup_failed |= r.status != 200;
	chr_free(&r);
	r = post_h(h, f->port, "/rest-hook/connect", NULL,
		   connect_body(b, sizeof(b), sid_x, "https://floodx.test", NULL));
	f->setup_failed |= r.status != 200;
	chr_free(&r);
	int64_t end = mono_ms() + FLOOD_MS;
	long last_k = 0;
	for (int i = 0; i < FLOOD_MAX_ITER && mono_ms() < end; i++) {
		char sid[64], id[64];
		/* every thread connects from the same client IP */
		snprintf(sid, sizeof(sid), "/10.30.0.1:%d/f%d", 1000 + i, f->idx);
		r = post_h(h, f->port, "/rest-hook/connect", NULL,
			   connect_body(b, sizeof(b), sid, "https://floodc.test", NULL));
		f->reqs += 3;
		if (r.status == 200)
			f->conn_ok++;
		else if (!is_429(&r, "connects_per_minute_per_ip exceeded"))
			f->wrong++;
		chr_free(&r);

		snprintf(id, sizeof(id), "fk-%d-%d", f->idx, i);
		r = post_h(h, f->port, "/rest-hook/call", NULL, call_body(b, sizeof(b), id, sid_k, NULL));
		if (r.status == 200)
			f->call_ok++;
		else if (!is_429(&r, "calls_per_minute exceeded"))
			f->wrong++;
		long st = r.status;
		chr_free(&r);
		if (i > 0 && i % 4 == 0) {
			/* a WCS retry of the previous call: same answer, not counted */
			snprintf(id, sizeof(id), "fk-%d-%d", f->idx, i - 1);
			r = post_h(h, f->port, "/rest-hook/call", NULL, call_body(b, sizeof(b), id, sid_k, NULL));
			if (r.status != last_k)
				f->retry_mismatch++;
			chr_free(&r);
		}
		last_k = st;

		snprintf(id, sizeof(id), "fx-%d-%d", f->idx, i);
		r = post_h(h, f->port, "/rest-hook/call", NULL, call_body(b, sizeof(b), id, sid_x, NULL));
		if (r.status == 200) {
			f->conc_ok++;
			snprintf(f->conc_call, sizeof(f->conc_call), "%s", id);
			snprintf(f->conc_sid, sizeof(f->conc_sid), "%s", sid_x);
		} else if (!is_429(&r, "concurrent_calls exceeded")) {
			f->wrong++;
		}
		chr_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void test_flood(void)
{
	struct flood f[FLOOD_THREADS];
	pthread_t th[FLOOD_THREADS];
	memset(f, 0, sizeof(f));
	int64_t start = mono_ms();
	for (int i = 0; i < FLOOD_THREADS; i++) {
		f[i].idx = i;
		f[i].port = bd.hook_port;
		CHECK(pthread_create(&th[i], NULL, flood_thread, &f[i]) == 0);
	}
	for (int i = 0; i < FLOOD_THREADS; i++)
		pthread_join(th[i], NULL);
	int64_t elapsed = mono_ms() - start;
	int conn = 0, calls = 0, conc = 0, wrong = 0, mism = 0, reqs = 0;
	const char *one_conc = NULL, *one_sid = NULL;
	for (int i = 0; i < FLOOD_THREADS; i++) {
		CHECK(!f[i].setup_failed);
		conn += f[i].conn_ok;
		calls += f[i].call_ok;
		conc += f[i].conc_ok;
		wrong += f[i].wrong;
		mism += f[i].retry_mismatch;
		reqs += f[i].reqs;
		if (f[i].conc_call[0]) {
			one_conc = f[i].conc_call;
			one_sid = f[i].conc_sid;
		}
	}
	/* a bucket refills value/60 per second: allow what the elapsed time could add back */
	int conn_max = 8 + (int)(elapsed * 8 / 60000), calls_max = 12 + (int)(elapsed * 12 / 60000);
	printf("flood: %d threads, %d requests in %lld ms, connects ok %d (budget 8), calls ok %d (budget 12), "
	       "concurrent ok %d (budget 5)\n",
	       FLOOD_THREADS, reqs, (long long)elapsed, conn, calls, conc);
	CHECK_MSG(conn >= 8 && conn <= conn_max, "connects ok %d, budget 8 (max %d)", conn, conn_max);
	CHECK_MSG(calls >= 12 && calls <= calls_max, "calls ok %d, budget 12 (max %d)", calls, calls_max);
	CHECK_MSG(conc == 5, "concurrent ok %d, budget 5", conc);
	CHECK_MSG(wrong == 0, "%d answers were neither 200 nor the exact 429", wrong);
	CHECK_MSG(mism == 0, "%d retries answered differently", mism);
	/* the slots are all held: one end frees exactly one */
	int p = bd.hook_port;
	EXPECT_ERR(do_call(p, "fx-after-1", "/10.32.0.1:1/x", NULL), 429, "concurrent_calls exceeded");
	CHECK(one_conc != NULL);
	if (one_conc)
		event(p, one_conc, one_sid, "FINISH");
	call_ok(p, "fx-after-1", "/10.32.0.1:1/x", "47002");
	EXPECT_ERR(do_call(p, "fx-after-2", "/10.32.0.1:1/x", NULL), 429, "concurrent_calls exceeded");
}

/* ---- hostile transport: huge bodies, trickled bodies ---------------------------------- */

static int raw_connect(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(s);
		return -1;
	}
	struct timeval tv = {3, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Read what the server sends until it closes or 3 s pass. */
static size_t raw_read(int s, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t k = recv(s, buf + n, cap - 1 - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
		if (strstr(buf, "\r\n\r\n") && strchr(strstr(buf, "\r\n\r\n"), '}'))
			break;
	}
	buf[n] = '\0';
	return n;
}

static void test_oversize(void)
{
	int p = bd.hook_port;
	char url[256];
	ch_url(url, sizeof(url), p, "/rest-hook/CallStatusEvent");
	/* max_body_bytes = 4096: 4096 is served, 4097 is not */
	char *b = malloc(70001);
	memset(b, ' ', 70000);
	b[0] = '{';
	b[4095] = '}';
	struct chr r = req_url(c, "POST", url, NULL, b, 4096);
	CHECK(r.status == 200 && r.len == 4096);
	chr_free(&r);
	b[4095] = ' ';
	b[4096] = '}';
	EXPECT_ERR(req_url(c, "POST", url, NULL, b, 4097), 413, "body larger than max_body_bytes");
	b[69999] = '}';
	EXPECT_ERR(req_url(c, "POST", url, NULL, b, 70000), 413, "body larger than max_body_bytes");
	/* chunked, no length: cut while reading */
	const char *hdr[] = {"Transfer-Encoding: chunked", NULL};
	ch_http(c, "POST", url, hdr, b, 70000, &r);
	CHECK(is_error(&r, 413, "body larger than max_body_bytes"));
	chr_free(&r);
	free(b);
	/* a huge Content-Length is answered at once, before any body byte */
	int s = raw_connect(p);
	CHECK(s >= 0);
	if (s >= 0) {
		const char *h = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n";
		CHECK(write(s, h, strlen(h)) == (ssize_t)strlen(h));
		char buf[4096];
		raw_read(s, buf, sizeof(buf));
		CHECK_MSG(strncmp(buf, "HTTP/1.1 413", 12) == 0, "%s", buf);
		CHECK(strstr(buf, "{\"status\":413,\"reason\":\"body larger than max_body_bytes\"}") != NULL);
		close(s);
	}
	/* a Content-Length past 64 bits is refused, not wrapped */
	s = raw_connect(p);
	CHECK(s >= 0);
	if (s >= 0) {
		const char *h = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: "
				"999999999999999999999999999\r\n\r\n{}";
		CHECK(write(s, h, strlen(h)) == (ssize_t)strlen(h));
		char buf[4096];
		raw_read(s, buf, sizeof(buf));
		CHECK_MSG(strncmp(buf, "HTTP/1.1 4", 10) == 0, "%s", buf);
		close(s);
	}
}

struct trickle {
	int port;
	bool closed;
	long secs;
};

static void *trickle_thread(void *arg)
{
	struct trickle *t = arg;
	int s = raw_connect(t->port);
	if (s < 0)
		return NULL;
	const char *head = "POST /rest-hook/connect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{";
	if (write(s, head, strlen(head)) < 0) {
		close(s);
		return NULL;
	}
	int64_t start = mono_ms();
	for (int i = 0; i < 20 && !t->closed; i++) {
		struct timespec ts = {0, 250 * 1000000L};
		nanosleep(&ts, NULL);
		if (send(s, " ", 1, MSG_NOSIGNAL) < 0)
			t->closed = true;
		char buf[256];
		struct timeval tv = {0, 1000};
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recv(s, buf, sizeof(buf), 0) == 0)
			t->closed = true;
	}
	t->secs = (long)((mono_ms() - start) / 1000);
	close(s);
	return NULL;
}

static void test_trickle(void)
{
	/* three slow clients at once (request_timeout_s = 2); meanwhile normal requests are answered */
	struct trickle t[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		t[i] = (struct trickle){.port = bd.hook_port};
		CHECK(pthread_create(&th[i], NULL, trickle_thread, &t[i]) == 0);
	}
	int64_t start = mono_ms();
	int ok = 0, n = 0;
	while (mono_ms() - start < 1500) {
		struct chr r = post(bd.hook_port, "/rest-hook/CallStatusEvent", NULL, "{\"a\":1}");
		ok += r.status == 200;
		n++;
		chr_free(&r);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	CHECK_MSG(ok == n && n > 5, "%d of %d normal requests answered during the trickle", ok, n);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		CHECK_MSG(t[i].closed, "trickling client %d still connected after %ld s", i, t[i].secs);
		CHECK(t[i].secs <= 4);
	}
	CHECK(log_has(&bd, "request not complete within request_timeout_s, closing"));
}

/* ---- and afterwards, the daemon still serves normal traffic --------------------------- */

static void test_still_serving(void)
{
	int p = bd.hook_port;
	struct chr r = do_connect(p, NULL, "/10.40.0.1:1/fine", "https://sess.test", "{\"button\":\"b\"}");
	CHECK(r.status == 200 && has(&r, "\"sipLogin\":\"42001\"") && has(&r, "\"restClientConfig\":{"));
	CHECK(strstr(r.body, "browser-pw") == NULL);
	chr_free(&r);
	call_ok(p, "fine-1", "/10.40.0.1:1/fine", "42003");
	const char *ev = "{\"sessionId\":\"/10.40.0.1:1/fine\",\"status\":\"DISCONNECTED\",\"n\":1.50}";
	r = post(p, "/rest-hook/ConnectionStatusEvent", NULL, ev);
	CHECK(r.status == 200 && strcmp(r.body, ev) == 0);
	chr_free(&r);
	char url[256];
	r = req_url(c, "GET", ch_url(url, sizeof(url), p, "/healthz"), NULL, NULL, 0);
	CHECK(r.status == 200 && strcmp(r.body, "{\"status\":\"ok\"}") == 0);
	chr_free(&r);
	/* and the daemon never logged a secret */
	char *log = chd_log(&bd);
	const char *secrets[] = CH_TEST_SECRETS;
	for (size_t i = 0; secrets[i]; i++)
		CHECK_MSG(strstr(log, secrets[i]) == NULL, "secret %zu in the log", i);
	free(log);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	int64_t t0 = mono_ms();
	test_hmac();
	test_basic();
	test_allow_from();
	test_tokens();
	if (start_budget_daemon() != 0) {
		CHECK(!"budget daemon did not start");
	} else {
		test_connect_budget();
		test_call_budgets();
		test_concurrent_budget();
		test_flood();
		test_oversize();
		test_trickle();
		test_still_serving();
		CHECK(chd_stop(&bd) == 0);
	}
	chd_cleanup(&bd);
	printf("abuse suite: %lld ms\n", (long long)(mono_ms() - t0));
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return check_done();
}
