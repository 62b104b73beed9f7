/* tests/unit/test_origin.c: origin parsing, patterns, and the bypass corpus for the PHP substring bug. */
#include "policy/policy.h"
#include "tests/check.h"

#include <errno.h>
#include <string.h>

/* len 0 means strlen(in); norm NULL means the parse must fail */
struct parse_case {
	const char *in;
	size_t len;
	const char *norm;
};

static const struct parse_case parse_cases[] = {
    {"https://example.com", 0, "https://example.com"},
    {"http://example.com", 0, "http://example.com"},
    {"HTTPS://EXAMPLE.COM", 0, "https://example.com"},
    {"HtTp://Www.Example.Com", 0, "http://www.example.com"},
    {"https://example.com:443", 0, "https://example.com"},
    {"http://example.com:80", 0, "http://example.com"},
    {"http://example.com:443", 0, "http://example.com:443"},
    {"https://example.com:80", 0, "https://example.com:80"},
    {"https://shop.example.com:8443", 0, "https://shop.example.com:8443"},
    {"https://a:1", 0, "https://a:1"},
    {"https://a:65535", 0, "https://a:65535"},
    {"http://127.0.0.1:8080", 0, "http://127.0.0.1:8080"},
    {"https://xn--80ak6aa92e.com", 0, "https://xn--80ak6aa92e.com"},
    {"https://a-b.c-d.e", 0, "https://a-b.c-d.e"},
    {"https://[::1]", 0, "https://[::1]"},
    {"https://[::1]:8443", 0, "https://[::1]:8443"},
    {"https://[2001:DB8::1]:443", 0, "https://[2001:db8::1]"},
    {"http://[0:0:0:0:0:0:0:1]", 0, "http://[::1]"},
    {"http://[::ffff:192.0.2.1]", 0, "http://[::ffff:192.0.2.1]"},
    /* 63-byte label ok, 64 not */
    {"https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", 0,
     "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"},
    {"https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", 0, NULL},
    {"", 0, NULL},
    {"null", 0, NULL},
    {"https://", 0, NULL},
    {"https:/example.com", 0, NULL},
    {"https:example.com", 0, NULL},
    {"//example.com", 0, NULL},
    {"example.com", 0, NULL},
    {"ftp://example.com", 0, NULL},
    {"ws://example.com", 0, NULL},
    {"https://example.com/", 0, NULL},
    {"https://example.com/path", 0, NULL},
    {"https://example.com?", 0, NULL},
    {"https://example.com#", 0, NULL},
    {"https://user@example.com", 0, NULL},
    {"https://example.com.", 0, NULL},
    {"https://.example.com", 0, NULL},
    {"https://example..com", 0, NULL},
    {"https://-example.com", 0, NULL},
    {"https://example-.com", 0, NULL},
    {"https://exa_mple.com", 0, NULL},
    {"https://example.com:", 0, NULL},
    {"https://example.com:0", 0, NULL},
    {"https://example.com:65536", 0, NULL},
    {"https://example.com:+443", 0, NULL},
    {"https://example.com:0443", 0, NULL},
    {"https://example.com:44a", 0, NULL},
    {"https://example.com:443:443", 0, NULL},
    {"https://example.com:99999999999999999999", 0, NULL},
    {"https://example%2ecom", 0, NULL},
    {"https://example.com%2e", 0, NULL},
    {"https://example.com\\", 0, NULL},
    {"https://evil.net\\example.com", 0, NULL},
    {" https://example.com", 0, NULL},
    {"https://example.com ", 0, NULL},
    {"https://exa mple.com", 0, NULL},
    {"https://example.com\t", 0, NULL},
    {"https://example.com\r\n", 0, NULL},
    {"https://exam\x7fple.com", 0, NULL},
    {"https://exam\x01ple.com", 0, NULL},
    {"https://example.com\0.evil.net", 29, NULL},
    {"https://exa\0mple.com", 20, NULL},
    {"https://example.com\0", 20, NULL},
    {"https://\xd0\xb5xample.com", 0, NULL}, /* Cyrillic e */
    {"https://examp\xc4\xba"
     "e.com",
     0, NULL}, /* l with acute */
    {"https://example\xef\xbc\x8e"
     "com",
     0, NULL}, /* fullwidth full stop */
    {"https://*.example.com", 0, NULL},
    {"https://*", 0, NULL},
    {"https://[::1", 0, NULL},
    {"https://::1", 0, NULL},
    {"https://[::1]]", 0, NULL},
    {"https://[::g]", 0, NULL},
    {"https://[1:2:3:4:5:6:7:8:9]", 0, NULL},
    {"https://[::1%eth0]", 0, NULL},
    {"https://[::1%25eth0]", 0, NULL},
    {"https://[]", 0, NULL},
    {"https://[127.0.0.1]", 0, NULL},
    {"https://[::1]x", 0, NULL},
    {"https://[::1]:", 0, NULL},
    {"https://[::1]/", 0, NULL},
};

/* pattern, origin bytes (len 0 = strlen), expected verdict */
struct match_case {
	const char *pattern;
	const char *origin;
	size_t len;
	bool allowed;
};

static const struct match_case match_cases[] = {
    /* the PHP accepted any origin containing the domain: every one of
     * these "contains example.com" and must be refused */
    {"https://example.com", "https://example.com.evil.net", 0, false},
    {"https://example.com", "https://evilexample.com", 0, false},
    {"https://example.com", "https://example.com@evil.net", 0, false},
    {"https://example.com", "https://evil.net/https://example.com", 0, false},
    {"https://example.com", "https://evil.net?https://example.com", 0, false},
    {"https://example.com", "https://evil.net#example.com", 0, false},
    {"https://example.com", "https://evil.net#https://example.com", 0, false},
    {"https://example.com", "http://example.com", 0, false},
    {"https://example.com", "https://example.com:8443", 0, false},
    {"https://example.com", "https://example.com.", 0, false},
    {"https://example.com", "https://example.com/", 0, false},
    {"https://example.com", "https://example.com ", 0, false},
    {"https://example.com", " https://example.com", 0, false},
    {"https://example.com", "https://example%2ecom", 0, false},
    {"https://example.com", "https://example.com%2e", 0, false},
    {"https://example.com", "https://evil.net\\example.com", 0, false},
    {"https://example.com", "https://evil.net\\@example.com", 0, false},
    {"https://example.com", "null", 0, false},
    {"https://example.com", "", 0, false},
    {"https://example.com", "https://example.com\0.evil.net", 29, false},
    {"https://example.com", "https://\xd0\xb5xample.com", 0, false},
    {"https://example.com", "https://example.c\xd0\xbem", 0, false},
    {"https://example.com", "https://*.example.com", 0, false},
    {"https://example.com", "https://example.com:443@evil.net", 0, false},
    {"https://example.com", "https://www.example.com", 0, false},
    {"https://example.com", "https://example.co", 0, false},
    {"https://example.com", "https://example.comm", 0, false},
    /* allowed: case and default port normalise */
    {"https://example.com", "https://example.com", 0, true},
    {"https://example.com", "https://EXAMPLE.com", 0, true},
    {"https://example.com", "HTTPS://Example.COM", 0, true},
    {"https://example.com", "https://example.com:443", 0, true},
    {"https://example.com:443", "https://example.com", 0, true},
    {"http://example.com", "http://example.com:80", 0, true},
    {"https://example.com:8443", "https://example.com:8443", 0, true},
    {"https://example.com:8443", "https://example.com", 0, false},
    {"https://Example.COM", "https://example.com", 0, true},
    /* wildcard */
    {"https://*.example.com", "https://www.example.com", 0, true},
    {"https://*.example.com", "https://a.b.example.com", 0, true},
    {"https://*.example.com", "https://WWW.EXAMPLE.COM:443", 0, true},
    {"https://*.example.com", "https://example.com", 0, false},
    {"https://*.example.com", "https://evilexample.com", 0, false},
    {"https://*.example.com", "https://www.evilexample.com", 0, false},
    {"https://*.example.com", "https://www.example.com.evil.net", 0, false},
    {"https://*.example.com", "https://example.com.evil.net", 0, false},
    {"https://*.example.com", "http://www.example.com", 0, false},
    {"https://*.example.com", "https://www.example.com:8443", 0, false},
    {"https://*.example.com", "https://.example.com", 0, false},
    {"https://*.example.com", "https://www.example.com.", 0, false},
    {"https://*.example.com", "https://evil.net/.example.com", 0, false},
    {"https://*.example.com", "https://evil.net?.example.com", 0, false},
    {"https://*.example.com", "https://evil.net#.example.com", 0, false},
    {"https://*.example.com", "https://evil.net@www.example.com", 0, false},
    {"https://*.example.com", "https://*.example.com", 0, false},
    {"https://*.example.com:8443", "https://shop.example.com:8443", 0, true},
    {"https://*.example.com:8443", "https://shop.example.com", 0, false},
    {"http://*.example.com", "http://shop.example.com", 0, true},
    {"http://*.example.com", "https://shop.example.com", 0, false},
    /* IPv6 */
    {"http://[::1]:8080", "http://[::1]:8080", 0, true},
    {"http://[::1]:8080", "http://[0:0::1]:8080", 0, true},
    {"http://[::1]:8080", "http://[::2]:8080", 0, false},
    {"http://[::1]:8080", "http://[::1]", 0, false},
    {"https://*.example.com", "https://[::1]", 0, false},
    {"http://127.0.0.1", "http://127.0.0.1:80", 0, true},
    {"http://127.0.0.1", "http://127.0.0.10", 0, false},
};

static const char *const bad_patterns[] = {
    "example.com",
    "*.example.com",
    "https://a.*.example.com",
    "https://*",
    "https://*.",
    "https://*example.com",
    "https://**.example.com",
    "https://*.*.example.com",
    "https://*.com",
    "https://*.[::1]",
    "https://*.example.com/",
    "https://*.example.com.",
    "https://example.com/",
    "https://example.com*",
    "ftp://*.example.com",
    "",
    "null",
};

TEST_CASE(parse)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		struct pol_origin o;
		memset(&o, 0x5a, sizeof(o));
		int rc = pol_origin_parse(c->in, len, &o);
		if (!c->norm) {
			CHECK_MSG(rc == EINVAL, "row %zu \"%s\" parsed", i, c->in);
			CHECK_MSG(o.port == 0x5a5a, "row %zu: output written on failure", i);
			continue;
		}
		CHECK_MSG(rc == 0, "row %zu \"%s\" refused", i, c->in);
		if (rc)
			continue;
		char buf[300];
		CHECK(pol_origin_format(&o, buf, sizeof(buf)) == 0);
		CHECK_STR(buf, c->norm);
		/* normalised text re-parses to the same value */
		struct pol_origin o2;
		CHECK(pol_origin_parse(buf, strlen(buf), &o2) == 0);
		CHECK(o2.https == o.https && o2.port == o.port && strcmp(o2.host, o.host) == 0);
	}
}

TEST_CASE(format)
{
	struct pol_origin o;
	CHECK(pol_origin_parse("https://example.com:8443", 24, &o) == 0);
	char small[24];
	memset(small, 'x', sizeof(small));
	CHECK(pol_origin_format(&o, small, sizeof(small)) == ENOSPC); /* needs 25 */
	CHECK(small[0] == 'x');
	char exact[25];
	CHECK(pol_origin_format(&o, exact, sizeof(exact)) == 0);
	CHECK_STR(exact, "https://example.com:8443");
	/* not NUL-terminated input: only len bytes are read */
	const char raw[] = {'h', 't', 't', 'p', ':', '/', '/', 'a', '.', 'b', 'X'};
	CHECK(pol_origin_parse(raw, 10, &o) == 0);
	CHECK_STR(o.host, "a.b");
	/* a 253-byte host is the limit */
	char h[8 + 260];
	memcpy(h, "https://", 8);
	size_t n = 8;
	for (int l = 0; l < 4; l++) {
		memset(h + n, 'a', 63);
		n += 63;
		h[n++] = '.';
	}
	n--; /* 4 * 63 + 3 = 255 bytes */
	CHECK(pol_origin_parse(h, n, &o) == EINVAL);
	CHECK(pol_origin_parse(h, n - 2, &o) == 0); /* 253, ends "aa" */
	CHECK(strlen(o.host) == 253);
}

TEST_CASE(match)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];
		struct pol_origin_pattern p;
		CHECK_MSG(pol_origin_pattern_parse(c->pattern, &p) == 0, "row %zu pattern %s", i, c->pattern);
		struct pol_origin o;
		size_t len = c->len ? c->len : strlen(c->origin);
		bool ok = pol_origin_parse(c->origin, len, &o) == 0 && pol_origin_match(&p, &o);
		CHECK_MSG(ok == c->allowed, "row %zu: %s vs \"%s\": expected %s", i, c->pattern, c->origin,
			  c->allowed ? "allowed" : "refused");
	}
	CHECK(!pol_origin_match(NULL, NULL));
}

TEST_CASE(patterns)
{
	for (size_t i = 0; i < sizeof(bad_patterns) / sizeof(bad_patterns[0]); i++) {
		struct pol_origin_pattern p;
		p.wildcard = true;
		p.o.port = 7;
		CHECK_MSG(pol_origin_pattern_parse(bad_patterns[i], &p) == EINVAL, "pattern \"%s\"", bad_patterns[i]);
		CHECK(p.o.port == 7);
	}
	struct pol_origin_pattern p;
	CHECK(pol_origin_pattern_parse("HTTPS://*.Example.COM:8443", &p) == 0);
	CHECK(p.wildcard && p.o.https && p.o.port == 8443);
	CHECK_STR(p.o.host, "example.com");
	CHECK(pol_origin_pattern_parse("http://shop.example.com", &p) == 0);
	CHECK(!p.wildcard && !p.o.https && p.o.port == 80);
	CHECK_STR(p.o.host, "shop.example.com");
}

TEST_CASE(domain)
{
	struct pol_origin_pattern d[2];
	CHECK(pol_domain_patterns("Example.com", d) == 0);
	CHECK(!d[0].wildcard && d[0].o.https && d[0].o.port == 443);
	CHECK_STR(d[0].o.host, "example.com");
	CHECK(d[1].wildcard && d[1].o.https && d[1].o.port == 443);
	CHECK_STR(d[1].o.host, "example.com");
	struct pol_origin o;
	const char *yes[] = {"https://example.com", "https://www.example.com:443", "https://a.b.example.com"};
	const char *no[] = {"http://example.com", "https://example.com.evil.net", "https://evilexample.com",
			    "https://www.example.com:8443"};
	for (size_t i = 0; i < 3; i++) {
		CHECK(pol_origin_parse(yes[i], strlen(yes[i]), &o) == 0);
		CHECK_MSG(pol_origin_match(&d[0], &o) || pol_origin_match(&d[1], &o), "%s", yes[i]);
	}
	for (size_t i = 0; i < 4; i++) {
		CHECK(pol_origin_parse(no[i], strlen(no[i]), &o) == 0);
		CHECK_MSG(!pol_origin_match(&d[0], &o) && !pol_origin_match(&d[1], &o), "%s", no[i]);
	}
	const char *bad[] = {"",
			     "com",
			     "https://example.com",
			     "example.com.",
			     ".example.com",
			     "*.example.com",
			     "example.com:443",
			     "example.com/",
			     "exa mple.com",
			     "[::1]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d[0].o.port = 7;
		CHECK_MSG(pol_domain_patterns(bad[i], d) == EINVAL, "domain \"%s\"", bad[i]);
		CHECK(d[0].o.port == 7);
	}
}
