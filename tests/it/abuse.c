/* tests/it/abuse.c: helpers of the abuse suites (abuse.h). */
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

CURL *c;

/* ---- helpers ------------------------------------------------------------- */

struct chr req_url(CURL *h, const char *method, const char *url, const char *authz, const char *body, size_t len)
{
	char ah[512];
	const char *hdr[3] = {"Content-Type: application/json;charset=UTF-8", NULL, NULL};
	if (authz) {
		snprintf(ah, sizeof(ah), "Authorization: %s", authz);
		hdr[1] = ah;
	}
	struct chr r;
	int rc = th_http(h, method, url, hdr, body, len, &r);
	if (rc != 0)
		fprintf(stderr, "  curl error %d on %s %s\n", rc, method, url);
	return r;
}

struct chr post_h(CURL *h, int port, const char *path, const char *authz, const char *body)
{
	char url[256];
	return req_url(h, "POST", th_url(url, sizeof(url), port, path), authz, body, strlen(body));
}

struct chr post(int port, const char *path, const char *authz, const char *body)
{
	return post_h(c, port, path, authz, body);
}

const char *connect_body(char *buf, size_t cap, const char *sid, const char *origin, const char *custom)
{
	snprintf(buf, cap,
		 "{\"nodeId\":\"Qb3rAjf3@192.168.1.5\",\"appKey\":\"clickToCallApp\",\"sessionId\":\"%s\","
		 "\"mediaProviders\":[\"WebRTC\"],\"sipPassword\":\"browser-pw\",\"custom\":%s,\"origin\":\"%s\"}",
		 sid, custom ? custom : "{}", origin);
	return buf;
}

const char *call_body(char *buf, size_t cap, const char *call_id, const char *sid, const char *custom)
{
	snprintf(buf, cap,
		 "{\"callId\":\"%s\",\"incoming\":false,\"callee\":\"+1900555\",\"sessionId\":\"%s\","
		 "\"sdp\":\"v=0\\r\\n\",\"custom\":%s}",
		 call_id, sid, custom ? custom : "{}");
	return buf;
}

struct chr do_connect(int port, const char *authz, const char *sid, const char *origin, const char *custom)
{
	char b[2048];
	return post(port, "/rest-hook/connect", authz, connect_body(b, sizeof(b), sid, origin, custom));
}

struct chr do_call(int port, const char *call_id, const char *sid, const char *custom)
{
	char b[1024];
	return post(port, "/rest-hook/call", NULL, call_body(b, sizeof(b), call_id, sid, custom));
}

bool has(const struct chr *r, const char *needle)
{
	bool ok = r->body && strstr(r->body, needle) != NULL;
	if (!ok)
		fprintf(stderr, "  \"%s\" not in %ld %s\n", needle, r->status, r->body ? r->body : "(null)");
	return ok;
}

bool log_has(struct chd *d, const char *needle)
{
	char *l = chd_log(d);
	bool ok = strstr(l, needle) != NULL;
	free(l);
	if (!ok)
		fprintf(stderr, "  log lacks \"%s\"\n", needle);
	return ok;
}

void hexmac(gnutls_mac_algorithm_t alg, const char *key, const char *body, size_t len, char *out, bool upper)
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
const char *wcs_authz(char *buf, size_t cap, const char *key, const char *body, bool upper)
{
	char hex[129];
	hexmac(GNUTLS_MAC_MD5, key, body, strlen(body), hex, upper);
	snprintf(buf, cap, "WCS %s", hex);
	return buf;
}

/* ---- JWT minting, independent of the library the daemon uses -------------- */

const char *jwt_mint(char *buf, size_t cap, const char *header, const char *payload, gnutls_mac_algorithm_t mac,
		     const char *secret)
{
	return tj_mint(buf, cap, header, strlen(header), payload, strlen(payload), mac, secret,
		       secret ? strlen(secret) : 0);
}

const char *tok(char *buf, size_t cap, long long iat, long long exp, const char *jti, const char *extra)
{
	char pl[512];
	snprintf(pl, sizeof(pl), "{\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\"%s}", iat, exp, jti, extra ? extra : "");
	return jwt_mint(buf, cap, HS256_HDR, pl, GNUTLS_MAC_SHA256, CH_SECRET_TOKEN);
}

const char *tok_custom(char *buf, size_t cap, const char *token, const char *more)
{
	snprintf(buf, cap, "{\"token\":\"%s\"%s}", token, more ? more : "");
	return buf;
}

/* Limits with every budget high except the ones named in over (libconfig text). */
const char *limits(char *buf, size_t cap, const char *over)
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
