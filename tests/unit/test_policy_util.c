/* tests/unit/test_policy_util.c: client IP from a WCS sessionId, its budget key, HTTP framing, and the token bucket. */
#include "policy/policy.h"
#include "tests/check.h"

#include <errno.h>
#include <string.h>

/* want NULL: EINVAL */
struct sid_case {
	const char *sid;
	const char *want;
};

static const struct sid_case sid_cases[] = {
    {"/192.168.1.20:52706/192.168.1.5:8443-2b9e8c1a", "192.168.1.20"},
    {"/10.0.0.1:1/x", "10.0.0.1"},
    {"/10.0.0.1:65535/", "10.0.0.1"},
    {"/[::1]:52706/abc", "::1"},
    {"/[2001:DB8:0:0::1]:5000/abc", "2001:db8::1"},
    {"/2001:db8::7:52706/abc", "2001:db8::7"},
    {"/::1:443/a/b/c", "::1"},
    {"/::ffff:192.0.2.1:443/x", "::ffff:192.0.2.1"},
    {"/[::ffff:192.0.2.1]:443/x", "::ffff:192.0.2.1"},
    {"", NULL},
    {"/", NULL},
    {"//", NULL},
    {"192.168.1.20:52706/x", NULL},
    {"/192.168.1.20:52706", NULL},
    {"/192.168.1.20/x", NULL},
    {"/192.168.1.20:/x", NULL},
    {"/192.168.1.20:65536/x", NULL},
    {"/192.168.1.20:+1/x", NULL},
    {"/192.168.1.20:12a/x", NULL},
    {"/:52706/x", NULL},
    {"/[]:52706/x", NULL},
    {"/[1.2.3.4]:52706/x", NULL},
    {"/[::1:52706/x", NULL},
    {"/::1]:52706/x", NULL},
    {"/256.1.1.1:1/x", NULL},
    {"/1.2.3:1/x", NULL},
    {"/ 1.2.3.4:1/x", NULL},
    {"/example.com:1/x", NULL},
    {"/fe80::1%eth0:1/x", NULL},
    {"/[fe80::1%25eth0]:1/x", NULL},
    {"/1.2.3.4:1:2/x", NULL},
};

TEST_CASE(session_ip)
{
	for (size_t i = 0; i < sizeof(sid_cases) / sizeof(sid_cases[0]); i++) {
		const struct sid_case *c = &sid_cases[i];
		char out[64] = "untouched";
		int rc = pol_session_ip(c->sid, out, sizeof(out));
		if (!c->want) {
			CHECK_MSG(rc == EINVAL, "row %zu \"%s\" accepted as %s", i, c->sid, out);
			CHECK_STR(out, "untouched");
			continue;
		}
		CHECK_MSG(rc == 0, "row %zu \"%s\" refused", i, c->sid);
		CHECK_STR(out, c->want);
	}
	/* "10.0.0.1" needs 9 bytes */
	char small[9];
	CHECK(pol_session_ip("/10.0.0.1:1/x", small, 8) == EINVAL);
	CHECK(pol_session_ip("/10.0.0.1:1/x", small, 9) == 0);
	CHECK_STR(small, "10.0.0.1");
	CHECK(pol_session_ip(NULL, small, 9) == EINVAL);
}

TEST_CASE(bucket)
{
	struct pol_bucket b = {0};
	int64_t t = 1000000;
	/* starts full: exactly capacity takes, then refused */
	for (int i = 0; i < 6; i++)
		CHECK(pol_bucket_take(&b, 6, t));
	CHECK(!pol_bucket_take(&b, 6, t));
	/* 6 per minute = one per 10 s */
	CHECK(!pol_bucket_take(&b, 6, t + 9999));
	CHECK(pol_bucket_take(&b, 6, t + 10000));
	CHECK(!pol_bucket_take(&b, 6, t + 10000));
	/* a clock stepping back refills nothing */
	CHECK(!pol_bucket_take(&b, 6, t));
	CHECK(!pol_bucket_take(&b, 6, t + 10000));
	/* a long pause refills only up to capacity */
	t += 3600 * 1000;
	int n = 0;
	while (pol_bucket_take(&b, 6, t))
		n++;
	CHECK(n == 6);
	/* a steady rate at exactly capacity per minute is always served */
	struct pol_bucket s = {0};
	int ok = 0;
	for (int i = 0; i < 600; i++)
		ok += pol_bucket_take(&s, 60, (int64_t)i * 1000);
	CHECK(ok == 600);
	/* twice that rate: the burst, then about half */
	struct pol_bucket f = {0};
	ok = 0;
	for (int i = 0; i < 1200; i++)
		ok += pol_bucket_take(&f, 60, (int64_t)i * 500);
	CHECK_MSG(ok >= 659 && ok <= 661, "ok=%d", ok);
	/* capacity 0 never allows */
	struct pol_bucket z = {0};
	CHECK(!pol_bucket_take(&z, 0, 0));
	CHECK(!pol_bucket_take(&z, 0, 1000000));
	CHECK(!pol_bucket_take(NULL, 5, 0));
	/* extreme timestamps do not overflow */
	struct pol_bucket e = {0};
	CHECK(pol_bucket_take(&e, 1, INT64_MIN));
	CHECK(pol_bucket_take(&e, 1, INT64_MAX));
	CHECK(!pol_bucket_take(&e, 1, INT64_MAX));
}

struct ipkey_case {
	const char *ip;
	unsigned prefix;
	const char *want; /* NULL: EINVAL */
};

static const struct ipkey_case ipkey_cases[] = {
    {"192.0.2.1", 64, "192.0.2.1"},
    {"10.0.0.1", 128, "10.0.0.1"},
    /* IPv4-mapped IPv6 counts as its IPv4 address, whatever the prefix */
    {"::ffff:192.0.2.1", 64, "192.0.2.1"},
    {"::FFFF:192.0.2.1", 32, "192.0.2.1"},
    {"::ffff:c000:201", 128, "192.0.2.1"},
    /* not mapped: the IPv4-compatible form and NAT64 stay IPv6 */
    {"::192.0.2.1", 64, "::/64"},
    {"64:ff9b::192.0.2.1", 96, "64:ff9b::/96"},
    /* IPv6 cut to the prefix */
    {"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
    {"2001:db8:1:2::", 64, "2001:db8:1:2::/64"},
    {"2001:DB8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"},
    {"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
    {"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
    {"2001:db8:1:2:3:4:5:6", 32, "2001:db8::/32"},
    {"2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"},
    {"2001:db8:1:2ff:3:4:5:6", 56, "2001:db8:1:200::/56"},
    {"2001:db8:1:2ff:3:4:5:6", 60, "2001:db8:1:2f0::/60"},
    {"2001:db8:1:2ff:3:4:5:6", 63, "2001:db8:1:2fe::/63"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, "8000::/1"},
    {"::1", 64, "::/64"},
    {"::1", 128, "::1/128"},
    {"fe80::1", 64, "fe80::/64"},
    /* refused */
    {"", 64, NULL},
    {"example.com", 64, NULL},
    {"[::1]", 64, NULL},
    {"2001:db8::1/64", 64, NULL},
    {"fe80::1%eth0", 64, NULL},
    {"1.2.3", 64, NULL},
    {"2001:db8::1", 0, NULL},
    {"2001:db8::1", 129, NULL},
    {"192.0.2.1", 0, NULL},
};

TEST_CASE(ip_key)
{
	for (size_t i = 0; i < sizeof(ipkey_cases) / sizeof(ipkey_cases[0]); i++) {
		const struct ipkey_case *c = &ipkey_cases[i];
		char out[64] = "untouched";
		int rc = pol_ip_key(c->ip, c->prefix, out, sizeof(out));
		if (!c->want) {
			CHECK_MSG(rc == EINVAL, "row %zu \"%s\"/%u accepted as %s", i, c->ip, c->prefix, out);
			CHECK_STR(out, "untouched");
			continue;
		}
		CHECK_MSG(rc == 0, "row %zu \"%s\"/%u refused", i, c->ip, c->prefix);
		CHECK_STR(out, c->want);
	}
	/* the property the budgets rely on: one /64 is one bucket, two /64s are two */
	char a[64], b[64];
	CHECK(pol_ip_key("2001:db8:aa:bb::1", 64, a, sizeof(a)) == 0);
	CHECK(pol_ip_key("2001:db8:aa:bb:dead:beef:1234:5678", 64, b, sizeof(b)) == 0);
	CHECK_STR(a, b);
	CHECK(pol_ip_key("2001:db8:aa:bc::1", 64, b, sizeof(b)) == 0);
	CHECK(strcmp(a, b) != 0);
	CHECK(pol_ip_key("2001:db8:aa:bb::1", 128, a, sizeof(a)) == 0);
	CHECK(pol_ip_key("2001:db8:aa:bb::2", 128, b, sizeof(b)) == 0);
	CHECK(strcmp(a, b) != 0);
	/* a mapped address and its IPv4 form share a bucket; another IPv4 does not */
	CHECK(pol_ip_key("::ffff:10.1.2.3", 64, a, sizeof(a)) == 0);
	CHECK(pol_ip_key("10.1.2.3", 64, b, sizeof(b)) == 0);
	CHECK_STR(a, b);
	CHECK(pol_ip_key("10.1.2.4", 64, b, sizeof(b)) == 0);
	CHECK(strcmp(a, b) != 0);
	/* an IPv4 key never equals an IPv6 one: "/" only in IPv6 keys */
	CHECK(strchr(a, '/') == NULL);
	/* through pol_session_ip, as the hook derives it */
	char ip[64];
	CHECK(pol_session_ip("/[2001:db8:aa:bb:1::9]:5000/x", ip, sizeof(ip)) == 0);
	CHECK(pol_ip_key(ip, 64, a, sizeof(a)) == 0);
	CHECK_STR(a, "2001:db8:aa:bb::/64");
	CHECK(pol_session_ip("/::ffff:192.0.2.1:443/x", ip, sizeof(ip)) == 0);
	CHECK(pol_ip_key(ip, 64, a, sizeof(a)) == 0);
	CHECK_STR(a, "192.0.2.1");
	/* the longest key fits INET6_ADDRSTRLEN + 4; a short buffer is refused, untouched */
	char small[8] = "untouch";
	CHECK(pol_ip_key("2001:db8::1", 64, small, sizeof(small)) == EINVAL);
	CHECK_STR(small, "untouch");
	char big[46 + 4];
	CHECK(pol_ip_key("2001:db8:1:2:3:4:5:6", 128, big, sizeof(big)) == 0);
	CHECK(pol_ip_key(NULL, 64, big, sizeof(big)) == EINVAL);
}

struct framing_case {
	const char *names[6]; /* NULL-terminated */
	enum pol_framing_verdict want;
};

static const struct framing_case framing_cases[] = {
    {{"Host", "Content-Length", "Content-Type", NULL}, POL_FRAMING_OK},
    {{"Host", "Transfer-Encoding", NULL}, POL_FRAMING_OK},
    {{"Host", NULL}, POL_FRAMING_OK},
    {{NULL}, POL_FRAMING_OK},
    {{"X-Weird_Name!#$%&'*+-.^`|~", NULL}, POL_FRAMING_OK},
    /* two lengths: equal values or not, any case */
    {{"Content-Length", "Content-Length", NULL}, POL_FRAMING_DUP_LENGTH},
    {{"content-length", "Host", "CONTENT-LENGTH", NULL}, POL_FRAMING_DUP_LENGTH},
    {{"Content-Length", "Content-Length", "Content-Length", NULL}, POL_FRAMING_DUP_LENGTH},
    /* Transfer-Encoding with Content-Length, in either order */
    {{"Content-Length", "Transfer-Encoding", NULL}, POL_FRAMING_TE_AND_LENGTH},
    {{"transfer-encoding", "Host", "content-length", NULL}, POL_FRAMING_TE_AND_LENGTH},
    /* names that are not tokens: whitespace before the colon, empty, separators */
    {{"Host", "Content-Length ", NULL}, POL_FRAMING_BAD_NAME},
    {{"Content-Length\t", NULL}, POL_FRAMING_BAD_NAME},
    {{"X-Foo ", "Content-Length", NULL}, POL_FRAMING_BAD_NAME},
    {{" Host", NULL}, POL_FRAMING_BAD_NAME},
    {{"", NULL}, POL_FRAMING_BAD_NAME},
    {{"Content Length", NULL}, POL_FRAMING_BAD_NAME},
    {{"X:Y", NULL}, POL_FRAMING_BAD_NAME},
    {{"X(y)", NULL}, POL_FRAMING_BAD_NAME},
    {{"X\"", NULL}, POL_FRAMING_BAD_NAME},
    {{"X\x7f", NULL}, POL_FRAMING_BAD_NAME},
    {{"X\xc3\xa9", NULL}, POL_FRAMING_BAD_NAME},
};

TEST_CASE(framing)
{
	for (size_t i = 0; i < sizeof(framing_cases) / sizeof(framing_cases[0]); i++) {
		const struct framing_case *c = &framing_cases[i];
		size_t n = 0;
		while (c->names[n])
			n++;
		enum pol_framing_verdict got = pol_http_framing(c->names, NULL, n);
		CHECK_MSG(got == c->want, "row %zu: got %s, want %s", i, pol_framing_reason(got),
			  pol_framing_reason(c->want));
	}
	const char *nul[] = {"Host", NULL};
	CHECK(pol_http_framing(nul, NULL, 2) == POL_FRAMING_BAD_NAME);
	CHECK(pol_http_framing(NULL, NULL, 0) == POL_FRAMING_OK);
	static const enum pol_framing_verdict ALL[] = {POL_FRAMING_OK, POL_FRAMING_DUP_LENGTH,
						       POL_FRAMING_TE_AND_LENGTH, POL_FRAMING_BAD_NAME};
	for (size_t i = 0; i < 4; i++) {
		CHECK(pol_framing_reason(ALL[i])[0] != '\0');
		for (size_t k = 0; k < i; k++)
			CHECK(strcmp(pol_framing_reason(ALL[i]), pol_framing_reason(ALL[k])) != 0);
	}
	CHECK_STR(pol_framing_reason(POL_FRAMING_DUP_LENGTH), "duplicate Content-Length header");
}
