/* common/sip_uri.c: the SIP-URI grammar (RFC 3261 section 25.1, headers excluded): check and split a sip:/sips: URI. */
#include "common/sip_uri.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool ch_sip_unreserved(unsigned char c)
{
	return is_alnum(c) || (c && strchr("-_.!~*'()", c) != NULL);
}

/* Accept s[0..len) where each byte is unreserved, in extra, or a %HH escape. */
static bool span_ok(const char *s, size_t len, const char *extra, bool allow_empty)
{
	if (len == 0)
		return allow_empty;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= len || ch_hex_value((unsigned char)s[i + 1]) < 0 ||
			    ch_hex_value((unsigned char)s[i + 2]) < 0)
				return false;
			i += 2;
			continue;
		}
		if (ch_sip_unreserved(c) || (c && strchr(extra, c)))
			continue;
		return false;
	}
	return true;
}

static bool ipv4_ok(const char *s, size_t len)
{
	int parts = 0;
	size_t i = 0;
	while (i <= len) {
		size_t start = i;
		unsigned v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (unsigned)(s[i] - '0');
			if (i - start >= 3 || v > 255)
				return false;
			i++;
		}
		if (i == start)
			return false;
		parts++;
		if (i == len)
			break;
		if (s[i] != '.')
			return false;
		i++;
	}
	return parts == 4;
}

static bool hostname_ok(const char *s, size_t len)
{
	/* a single trailing dot is allowed by the grammar */
	if (len && s[len - 1] == '.')
		len--;
	if (len == 0)
		return false;
	size_t label = 0;
	unsigned char first_of_last = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			size_t llen = i - label;
			if (llen == 0 || llen > 63)
				return false;
			if (s[label] == '-' || s[i - 1] == '-')
				return false;
			first_of_last = (unsigned char)s[label];
			label = i + 1;
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '-')
			return false;
	}
	/* toplabel = ALPHA ... */
	return (first_of_last >= 'a' && first_of_last <= 'z') || (first_of_last >= 'A' && first_of_last <= 'Z');
}

static bool host_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	if (s[0] == '[') {
		if (len < 4 || s[len - 1] != ']' || len - 2 >= INET6_ADDRSTRLEN)
			return false;
		char tmp[INET6_ADDRSTRLEN];
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		unsigned char a[16];
		return inet_pton(AF_INET6, tmp, a) == 1;
	}
	bool numeric = true;
	for (size_t i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			numeric = false;
	}
	return numeric ? ipv4_ok(s, len) : hostname_ok(s, len);
}

/* userinfo = user [ ":" password ] "@", when p has an '@'; *rest is where
 * the host starts. */
static bool userinfo_ok(const char *p, struct ch_sip_uri_parts *u, const char **rest)
{
	const char *at = strchr(p, '@');
	if (!at) {
		*rest = p;
		return true;
	}
	if (strchr(at + 1, '@'))
		return false;
	const char *colon = memchr(p, ':', (size_t)(at - p));
	const char *uend = colon ? colon : at;
	if (!span_ok(p, (size_t)(uend - p), "&=+$,;/", false))
		return false;
	if (colon && !span_ok(colon + 1, (size_t)(at - colon - 1), "&=+$,", true))
		return false;
	u->user = p;
	u->user_len = (size_t)(uend - p);
	if (colon) {
		u->password = colon + 1;
		u->password_len = (size_t)(at - colon - 1);
	}
	*rest = at + 1;
	return true;
}

/* hostport, which runs to the first ';' (no ';' in a host or port); *rest
 * is where the parameters start. */
static bool hostport_ok(const char *p, const char *end, struct ch_sip_uri_parts *u, const char **rest)
{
	const char *semi = strchr(p, ';');
	const char *hpend = semi ? semi : end;
	const char *hend = hpend;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(hpend - p));
		if (!rb)
			return false;
		hend = rb + 1;
	} else {
		const char *c = memchr(p, ':', (size_t)(hpend - p));
		if (c)
			hend = c;
	}
	if (!host_ok(p, (size_t)(hend - p)))
		return false;
	if (hend < hpend) {
		if (*hend != ':')
			return false;
		int64_t port;
		if (ch_parse_i64(hend + 1, (size_t)(hpend - hend - 1), 1, 65535, &port) != 0)
			return false;
		u->port = hend + 1;
		u->port_len = (size_t)(hpend - hend - 1);
	}
	u->host = p;
	u->host_len = (size_t)(hend - p);
	*rest = hpend;
	return true;
}

/* uri-parameters: *( ";" pname [ "=" pvalue ] ) */
static bool params_ok(const char *p, const char *end)
{
	while (p < end) {
		if (*p != ';')
			return false;
		p++;
		const char *next = strchr(p, ';');
		const char *pend = next ? next : end;
		const char *eq = memchr(p, '=', (size_t)(pend - p));
		const char *nend = eq ? eq : pend;
		if (!span_ok(p, (size_t)(nend - p), "[]/:&+$", false))
			return false;
		if (eq && !span_ok(eq + 1, (size_t)(pend - eq - 1), "[]/:&+$", false))
			return false;
		p = pend;
	}
	return true;
}

bool ch_sip_uri_parse(const char *uri, struct ch_sip_uri_parts *out)
{
	if (!uri)
		return false;
	size_t len = strlen(uri);
	if (len > CH_SIP_URI_MAX)
		return false;
	struct ch_sip_uri_parts u = {0};
	const char *p;
	if (strncasecmp(uri, "sip:", 4) == 0) {
		p = uri + 4;
	} else if (strncasecmp(uri, "sips:", 5) == 0) {
		p = uri + 5;
		u.sips = true;
	} else {
		return false;
	}
	const char *end = uri + len;
	if (strchr(p, '?'))
		return false; /* headers: never */
	if (!userinfo_ok(p, &u, &p) || !hostport_ok(p, end, &u, &p) || !params_ok(p, end))
		return false;
	if (p < end) {
		u.params = p;
		u.params_len = (size_t)(end - p);
	}
	if (out)
		*out = u;
	return true;
}

bool ch_sip_uri_ok(const char *uri)
{
	return ch_sip_uri_parse(uri, NULL);
}
