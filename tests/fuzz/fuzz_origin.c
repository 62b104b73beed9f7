/* tests/fuzz/fuzz_origin.c: fuzz origin parsing, patterns and session ids, asserting their invariants. */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool same(const struct pol_origin *a, const struct pol_origin *b)
{
	return a->https == b->https && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* A parsed origin re-formats and re-parses to itself, its host is lower-case
 * LDH or a bracketed literal, and the input held no byte an origin may not. */
static void check_origin(const char *s, size_t len)
{
	struct pol_origin o, o2;
	if (pol_origin_parse(s, len, &o) != 0)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == '@' || c == '?' || c == '#' || c == '%' || c == '\\' ||
		    (c == '/' && (i < 5 || i > 7)))
			abort();
	}
	if (o.port == 0 || o.host[0] == '\0' || strlen(o.host) > 253)
		abort();
	for (const char *h = o.host; *h; h++)
		if ((*h >= 'A' && *h <= 'Z') || (*h == '.' && (h[1] == '.' || h[1] == '\0')))
			abort();
	char buf[300];
	if (pol_origin_format(&o, buf, sizeof(buf)) != 0)
		abort();
	if (pol_origin_parse(buf, strlen(buf), &o2) != 0 || !same(&o, &o2))
		abort();
	struct pol_origin_pattern p;
	if (pol_origin_pattern_parse(buf, &p) != 0 || p.wildcard || !pol_origin_match(&p, &o))
		abort();
}

/* A match must mean: same scheme and port, and the host equal (exact) or
 * ending in ".suffix" after at least one label (wildcard). */
static void check_match(const struct pol_origin_pattern *p, const struct pol_origin *o)
{
	if (!pol_origin_match(p, o))
		return;
	if (p->o.https != o->https || p->o.port != o->port)
		abort();
	if (!p->wildcard) {
		if (strcmp(p->o.host, o->host) != 0)
			abort();
		return;
	}
	size_t hl = strlen(o->host), sl = strlen(p->o.host);
	if (hl < sl + 2 || o->host[hl - sl - 1] != '.' || o->host[0] == '.' ||
	    strcmp(o->host + hl - sl, p->o.host) != 0)
		abort();
}

static void check_pattern(const char *s)
{
	struct pol_origin_pattern p, d[2];
	if (pol_origin_pattern_parse(s, &p) == 0 && p.wildcard) {
		struct pol_origin o = p.o;
		/* the bare suffix never matches; one more label always does */
		if (pol_origin_match(&p, &o))
			abort();
		if (strlen(p.o.host) + 2 <= POL_HOST_MAX) {
			memcpy(o.host, "a.", 2);
			memcpy(o.host + 2, p.o.host, strlen(p.o.host) + 1);
			if (!pol_origin_match(&p, &o))
				abort();
		}
	}
	if (pol_domain_patterns(s, d) == 0) {
		if (d[0].wildcard || !d[1].wildcard || !d[0].o.https || d[0].o.port != 443 ||
		    strcmp(d[0].o.host, d[1].o.host) != 0 || !pol_origin_match(&d[0], &d[0].o) ||
		    pol_origin_match(&d[1], &d[0].o))
			abort();
	}
	char ip[64];
	if (pol_session_ip(s, ip, sizeof(ip)) == 0) {
		unsigned char a[16];
		if (inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	check_origin(s, size);
	char *z = malloc(size + 1);
	if (!z)
		return 0;
	memcpy(z, data, size);
	z[size] = '\0';
	check_pattern(z);
	/* "pattern\norigin": the match verdict must agree with its definition */
	char *nl = memchr(z, '\n', size);
	if (nl) {
		*nl = '\0';
		struct pol_origin_pattern p;
		struct pol_origin o;
		if (pol_origin_pattern_parse(z, &p) == 0 &&
		    pol_origin_parse(nl + 1, size - (size_t)(nl + 1 - z), &o) == 0)
			check_match(&p, &o);
	}
	free(z);
	return 0;
}
