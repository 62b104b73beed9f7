/* tests/it/abuse.h: helpers of the abuse suites (test_abuse_auth.c, test_abuse_budget.c): requests with WCS
 * authentication, connect and call bodies, tokens, limits. */
#ifndef CALLHOOK_TESTS_IT_ABUSE_H
#define CALLHOOK_TESTS_IT_ABUSE_H
#include <gnutls/crypto.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

extern CURL *c; /* a keep-alive handle each case opens in its setup */

struct chr req_url(CURL *h, const char *method, const char *url, const char *authz, const char *body, size_t len);
struct chr post_h(CURL *h, int port, const char *path, const char *authz, const char *body);
struct chr post(int port, const char *path, const char *authz, const char *body);
const char *connect_body(char *buf, size_t cap, const char *sid, const char *origin, const char *custom);
const char *call_body(char *buf, size_t cap, const char *call_id, const char *sid, const char *custom);
struct chr do_connect(int port, const char *authz, const char *sid, const char *origin, const char *custom);
struct chr do_call(int port, const char *call_id, const char *sid, const char *custom);
bool has(const struct chr *r, const char *needle);
bool log_has(struct chd *d, const char *needle);
void hexmac(gnutls_mac_algorithm_t alg, const char *key, const char *body, size_t len, char *out, bool upper);
const char *wcs_authz(char *buf, size_t cap, const char *key, const char *body, bool upper);
const char *jwt_mint(char *buf, size_t cap, const char *header, const char *payload, gnutls_mac_algorithm_t mac,
		     const char *secret);
const char *tok(char *buf, size_t cap, long long iat, long long exp, const char *jti, const char *extra);
const char *tok_custom(char *buf, size_t cap, const char *token, const char *more);
const char *limits(char *buf, size_t cap, const char *over);

#define HS256_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#endif
