/* tests/support/jwt.h: JWT minting for the tests, independent of libjwt (the library the daemon uses), so that
 * headers and payloads can be anything, broken ones included. */
#ifndef CALLHOOK_TESTS_SUPPORT_JWT_H
#define CALLHOOK_TESTS_SUPPORT_JWT_H
#include <gnutls/crypto.h>
#include <stddef.h>

/* base64url of in[0..n) without padding into out (NUL-terminated); the length, or 0 (out "") when cap is short. */
size_t tj_b64url(const void *in, size_t n, char *out, size_t cap);

/* b64(header).b64(payload).b64(HMAC-mac(key, the first two parts)) into buf; mac GNUTLS_MAC_UNKNOWN leaves the
 * signature empty (alg none). Returns buf, "" when it does not fit or the MAC fails. */
const char *tj_mint(char *buf, size_t cap, const char *header, size_t hlen, const char *payload, size_t plen,
		    gnutls_mac_algorithm_t mac, const void *key, size_t keylen);
#endif
