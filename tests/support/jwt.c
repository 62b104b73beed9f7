/* tests/support/jwt.c: JWT minting for the tests (tests/support/jwt.h). */
#include "tests/support/jwt.h"

#include <stdint.h>
#include <string.h>

size_t tj_b64url(const void *in, size_t n, char *out, size_t cap)
{
	static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	if (need + 1 > cap) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		size_t chars = n - i >= 3 ? 4 : n - i + 1;
		for (size_t k = 0; k < chars; k++)
			out[o++] = T[(v >> (18 - 6 * k)) & 63];
	}
	out[o] = '\0';
	return o;
}

const char *tj_mint(char *buf, size_t cap, const char *header, size_t hlen, const char *payload, size_t plen,
		    gnutls_mac_algorithm_t mac, const void *key, size_t keylen)
{
	if (cap == 0 || (hlen + plen) / 3 * 4 + 8 + 2 + 88 + 1 > cap) {
		if (cap)
			buf[0] = '\0';
		return buf;
	}
	size_t n = tj_b64url(header, hlen, buf, cap);
	buf[n++] = '.';
	n += tj_b64url(payload, plen, buf + n, cap - n);
	unsigned char sig[64];
	size_t slen = 0;
	if (mac != GNUTLS_MAC_UNKNOWN) {
		slen = gnutls_hmac_get_len(mac);
		if (slen > sizeof sig || gnutls_hmac_fast(mac, key, keylen, buf, n, sig) < 0) {
			buf[0] = '\0';
			return buf;
		}
	}
	buf[n++] = '.';
	(void)tj_b64url(sig, slen, buf + n, cap - n);
	return buf;
}
