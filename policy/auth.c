/* policy/auth.c: proving a hook request came from WCS (HMAC-MD5 header, HTTP Basic, peer CIDR list). */
#include "policy/policy.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>

/* An Authorization value longer than this is refused outright: WCS sends
 * "WCS " + 32 hex digits, and a Basic header for sane credentials is far
 * shorter. The cap keeps the base64 decode bounded. */
#define AUTH_HEADER_MAX 1024
#define MD5_LEN         16

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Split "Scheme <credentials>" with optional surrounding whitespace. True
 * when the scheme equals want (case-insensitive, RFC 9110 section 11.1) and
 * the credentials are one non-empty run of non-blank bytes; *cred and *cred_len
 * then point into authz. */
static bool split_authz(const char *authz, const char *want, const char **cred, size_t *cred_len)
{
	if (!authz)
		return false;
	size_t len = strnlen(authz, AUTH_HEADER_MAX + 1);
	if (len > AUTH_HEADER_MAX)
		return false;
	size_t i = 0;
	while (i < len && is_ows(authz[i]))
		i++;
	size_t wlen = strlen(want);
	if (len - i < wlen)
		return false;
	for (size_t k = 0; k < wlen; k++)
		if (ascii_lower(authz[i + k]) != ascii_lower(want[k]))
			return false;
	i += wlen;
	/* at least one blank between scheme and credentials */
	if (i >= len || !is_ows(authz[i]))
		return false;
	while (i < len && is_ows(authz[i]))
		i++;
	size_t start = i;
	while (i < len && !is_ows(authz[i]))
		i++;
	size_t end = i;
	while (i < len && is_ows(authz[i]))
		i++;
	if (i != len || end == start)
		return false;
	*cred = authz + start;
	*cred_len = end - start;
	return true;
}

bool pol_wcs_hmac_ok(const char *authz, const void *body, size_t body_len, const char *const *keys, size_t nkeys)
{
	const char *hex;
	size_t hex_len;
	if (!split_authz(authz, "WCS", &hex, &hex_len) || hex_len != 2 * MD5_LEN)
		return false;
	if (!body && body_len > 0)
		return false;
	if (!keys)
		return false;

	unsigned char got[MD5_LEN];
	for (size_t i = 0; i < MD5_LEN; i++) {
		int hi = ch_hex_value((unsigned char)hex[2 * i]), lo = ch_hex_value((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		got[i] = (unsigned char)(hi << 4 | lo);
	}

	/* gnutls_hmac_fast wants a non-NULL pointer even for an empty body */
	const void *msg = body_len > 0 ? body : "";
	bool ok = false;
	/* Every key is tried, even after a match, so the time taken does not say
	 * which key (if any) matched. */
	for (size_t k = 0; k < nkeys; k++) {
		const char *key = keys[k];
		/* an empty key would let anyone compute the MAC: never accept it */
		if (!key || !key[0])
			continue;
		unsigned char want[MD5_LEN];
		if (gnutls_hmac_fast(GNUTLS_MAC_MD5, key, strlen(key), msg, body_len, want) < 0)
			continue;
		ok |= ch_ct_equal(got, sizeof(got), want, sizeof(want));
	}
	return ok;
}

/* RFC 4648 base64 (standard alphabet, padded): the only shape HTTP Basic
 * credentials come in. Checked here because decoders differ in what they
 * tolerate (whitespace, missing padding). */
static bool is_b64(const char *s, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return false;
	size_t pad = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return false; /* data after padding */
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		      c == '/'))
			return false;
	}
	return pad <= 2;
}

bool pol_basic_ok(const char *authz, const char *user, const char *password)
{
	/* an empty configured user or password is no authentication at all */
	if (!user || !password || !user[0] || !password[0])
		return false;
	const char *b64;
	size_t b64_len;
	if (!split_authz(authz, "Basic", &b64, &b64_len) || !is_b64(b64, b64_len))
		return false;

	gnutls_datum_t in = {.data = (unsigned char *)(uintptr_t)b64, .size = (unsigned)b64_len};
	gnutls_datum_t out = {NULL, 0};
	if (gnutls_base64_decode2(&in, &out) < 0)
		return false;

	bool ok = false;
	const unsigned char *colon = out.data ? memchr(out.data, ':', out.size) : NULL;
	if (colon) {
		/* RFC 7617: the user-id cannot contain ':', so the first one splits */
		size_t ulen = (size_t)(colon - out.data);
		size_t plen = out.size - ulen - 1;
		bool u = ch_ct_equal(out.data, ulen, user, strlen(user));
		bool p = ch_ct_equal(colon + 1, plen, password, strlen(password));
		ok = u & p;
	}
	/* the decoded buffer holds the password: wipe before freeing */
	if (out.data) {
		volatile unsigned char *v = out.data;
		for (size_t i = 0; i < out.size; i++)
			v[i] = 0;
		gnutls_free(out.data);
	}
	return ok;
}

/* Textual IPv4 or IPv6 to 16 bytes, IPv4 as ::ffff:a.b.c.d. *v4 says which.
 * s is NUL-terminated. 0 or EINVAL. */
static int parse_ip(const char *s, unsigned char out[16], bool *v4)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4 = true;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		memcpy(out, &a6, 16);
		*v4 = false;
		return 0;
	}
	return EINVAL;
}

/* Longest textual address inet_pton could accept, plus one. */
#define IP_TEXT_MAX 64

int pol_cidr_parse(const char *s, struct pol_cidr *out)
{
	if (!s || !out)
		return EINVAL;
	size_t len = strnlen(s, IP_TEXT_MAX + 8);
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	if (alen == 0 || alen >= IP_TEXT_MAX)
		return EINVAL;
	char text[IP_TEXT_MAX];
	memcpy(text, s, alen);
	text[alen] = '\0';

	unsigned char addr[16];
	bool v4;
	if (parse_ip(text, addr, &v4) != 0)
		return EINVAL;
	unsigned max = v4 ? 32 : 128;
	unsigned prefix = max;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = len - alen - 1;
		if (s[len] != '\0' || plen == 0 || plen > 3)
			return EINVAL;
		int64_t v;
		if (ch_parse_i64(p, plen, 0, max, &v) != 0)
			return EINVAL;
		prefix = (unsigned)v;
	} else if (s[len] != '\0') {
		return EINVAL;
	}
	if (v4)
		prefix += 96;

	/* host bits set ("10.1.2.3/8") are allowed: they are masked off */
	for (unsigned bit = prefix; bit < 128; bit++)
		addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	memcpy(out->addr, addr, 16);
	out->prefix = prefix;
	return 0;
}

static bool cidr_contains(const struct pol_cidr *c, const unsigned char ip[16])
{
	if (c->prefix > 128)
		return false;
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(c->addr, ip, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xffu << (8 - rest));
	return (c->addr[full] & mask) == (ip[full] & mask);
}

bool pol_cidr_match(const struct pol_cidr *list, size_t n, const char *ip)
{
	if (!ip || (!list && n > 0))
		return false;
	size_t len = strnlen(ip, IP_TEXT_MAX);
	if (len >= IP_TEXT_MAX)
		return false;
	unsigned char addr[16];
	bool v4;
	/* inet_pton(AF_INET6) reads "::ffff:10.1.2.3" into the same 16 bytes as
	 * the IPv4 form, so a mapped peer matches its IPv4 entries */
	if (parse_ip(ip, addr, &v4) != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&list[i], addr))
			return true;
	return false;
}
