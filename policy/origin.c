/* policy/origin.c: strict origin parsing, normalisation and allowed-origin pattern matching. */
#include "policy/policy.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

/* DNS limit for a host name (RFC 1035), below POL_HOST_MAX. */
#define HOST_NAME_MAX_LEN 253

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static bool prefix_ci(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != p[i])
			return false;
	return true;
}

/* LDH labels separated by single dots: no empty label (so no leading or
 * trailing dot), labels 1-63 bytes not starting or ending with '-'. */
static bool ldh_host_ok(const char *h, size_t len)
{
	if (len == 0 || len > HOST_NAME_MAX_LEN)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && h[i] != '.') {
			if (!is_ldh(h[i]))
				return false;
			continue;
		}
		size_t l = i - start;
		if (l == 0 || l > 63 || h[start] == '-' || h[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

/* Bracketed IPv6 literal "[...]": the inside goes through inet_pton, and the
 * canonical inet_ntop form (lower-case) is stored, so "[0::1]" == "[::1]". */
static int ipv6_host(const char *h, size_t len, char *out, size_t cap)
{
	char tmp[INET6_ADDRSTRLEN];
	if (len < 3 || h[0] != '[' || h[len - 1] != ']' || len - 2 >= sizeof(tmp))
		return EINVAL;
	for (size_t i = 1; i < len - 1; i++) {
		char c = h[i];
		if (!((c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f') || c == ':' || c == '.'))
			return EINVAL;
	}
	memcpy(tmp, h + 1, len - 2);
	tmp[len - 2] = '\0';
	struct in6_addr a;
	if (inet_pton(AF_INET6, tmp, &a) != 1)
		return EINVAL;
	char canon[INET6_ADDRSTRLEN];
	if (!inet_ntop(AF_INET6, &a, canon, sizeof(canon)))
		return EINVAL;
	return ch_fmt(out, cap, "[%s]", canon) ? EINVAL : 0;
}

/* Decimal 1-65535, no sign, no leading zero, not empty. */
static int port_parse(const char *s, size_t len, uint16_t *out)
{
	if (len == 0 || len > 5 || s[0] == '0')
		return EINVAL;
	int64_t v;
	if (ch_parse_i64(s, len, 1, 65535, &v))
		return EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int pol_origin_parse(const char *s, size_t len, struct pol_origin *out)
{
	if (!s || !out)
		return EINVAL;
	struct pol_origin o;
	memset(&o, 0, sizeof(o));
	size_t i;
	if (prefix_ci(s, len, "https://")) {
		o.https = true;
		i = 8;
	} else if (prefix_ci(s, len, "http://")) {
		i = 7;
	} else {
		return EINVAL;
	}
	const char *h = s + i;
	size_t rest = len - i, hlen;
	if (rest > 0 && h[0] == '[') {
		const char *rb = memchr(h, ']', rest);
		if (!rb)
			return EINVAL;
		hlen = (size_t)(rb - h) + 1;
		if (ipv6_host(h, hlen, o.host, sizeof(o.host)))
			return EINVAL;
	} else {
		/* the host ends at the port colon or the end; every other byte
		 * (/, @, ?, #, %, \, space, controls, NUL, non-ASCII) fails LDH */
		const char *colon = memchr(h, ':', rest);
		hlen = colon ? (size_t)(colon - h) : rest;
		if (!ldh_host_ok(h, hlen))
			return EINVAL;
		for (size_t k = 0; k < hlen; k++)
			o.host[k] = lower(h[k]);
		o.host[hlen] = '\0';
	}
	o.port = o.https ? 443 : 80;
	if (hlen < rest) {
		if (h[hlen] != ':' || port_parse(h + hlen + 1, rest - hlen - 1, &o.port))
			return EINVAL;
	}
	*out = o;
	return 0;
}

int pol_origin_format(const struct pol_origin *o, char *buf, size_t cap)
{
	if (!o || !buf)
		return EINVAL;
	char tmp[16 + POL_HOST_MAX + 8];
	const char *scheme = o->https ? "https" : "http";
	int rc;
	if (o->port == (o->https ? 443 : 80))
		rc = ch_fmt(tmp, sizeof(tmp), "%s://%s", scheme, o->host);
	else
		rc = ch_fmt(tmp, sizeof(tmp), "%s://%s:%u", scheme, o->host, (unsigned)o->port);
	size_t n = strlen(tmp);
	if (rc || n >= cap)
		return ENOSPC;
	memcpy(buf, tmp, n + 1);
	return 0;
}

/* A wildcard suffix must be a domain of at least two labels: "*.com" would
 * allow a whole top-level domain, which is never what an operator means. */
static bool wildcard_suffix_ok(const struct pol_origin *o)
{
	return o->host[0] != '[' && strchr(o->host, '.') != NULL;
}

int pol_origin_pattern_parse(const char *s, struct pol_origin_pattern *out)
{
	if (!s || !out)
		return EINVAL;
	struct pol_origin_pattern p;
	memset(&p, 0, sizeof(p));
	size_t len = strlen(s);
	const char *sep = strstr(s, "://");
	if (sep && sep[3] == '*') {
		/* a wildcard: parse the same text without its leading "*." label */
		char tmp[16 + POL_HOST_MAX + 8];
		size_t slen = (size_t)(sep - s) + 3;
		if (sep[4] != '.' || len - 2 >= sizeof(tmp))
			return EINVAL;
		memcpy(tmp, s, slen);
		memcpy(tmp + slen, sep + 5, len - slen - 2);
		if (pol_origin_parse(tmp, len - 2, &p.o) || !wildcard_suffix_ok(&p.o))
			return EINVAL;
		p.wildcard = true;
	} else if (pol_origin_parse(s, len, &p.o)) {
		return EINVAL;
	}
	*out = p;
	return 0;
}

int pol_domain_patterns(const char *domain, struct pol_origin_pattern out[2])
{
	if (!domain || !out)
		return EINVAL;
	size_t len = strlen(domain);
	struct pol_origin_pattern p[2];
	memset(p, 0, sizeof(p));
	if (!ldh_host_ok(domain, len))
		return EINVAL;
	p[0].o.https = true;
	p[0].o.port = 443;
	for (size_t i = 0; i < len; i++)
		p[0].o.host[i] = lower(domain[i]);
	p[0].o.host[len] = '\0';
	if (!wildcard_suffix_ok(&p[0].o))
		return EINVAL;
	p[1] = p[0];
	p[1].wildcard = true;
	out[0] = p[0];
	out[1] = p[1];
	return 0;
}

bool pol_origin_match(const struct pol_origin_pattern *p, const struct pol_origin *o)
{
	if (!p || !o || p->o.https != o->https || p->o.port != o->port)
		return false;
	if (!p->wildcard)
		return strcmp(p->o.host, o->host) == 0;
	/* one or more whole labels before ".suffix"; o->host is a valid LDH
	 * host (or an IPv6 literal, which never ends in a domain) */
	size_t hl = strlen(o->host), sl = strlen(p->o.host);
	if (o->host[0] == '[' || hl < sl + 2)
		return false;
	return o->host[hl - sl - 1] == '.' && strcmp(o->host + hl - sl, p->o.host) == 0;
}
