/* tests/unit/test_auth.c: WCS hook authentication: HMAC-MD5 header, HTTP Basic, CIDR allow-list. */
#include "common/common.h"
#include "policy/policy.h"
#include "tests/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* Expected MACs were computed outside this code base when the test was
 * written (python3 hmac.new(key, body, hashlib.md5).hexdigest() and
 * openssl dgst -md5 -hmac KEY), plus the RFC 2104 appendix vector. */
struct hmac_vec {
	const char *key;
	const char *body;
	const char *hex;
};

static const char WCS_BODY[] = "{\"nodeId\":\"abc\",\"appKey\":\"clickToCallApp\","
			       "\"sessionId\":\"/192.168.1.10:54321/192.168.1.1:8443\"}";

static const struct hmac_vec HMAC_VECS[] = {
    {"key", "The quick brown fox jumps over the lazy dog", "80070713463e7749b90c2dc24911e275"},
    {"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", "Hi There",
     "9294727a3638bb1c13f48ef8158bfc9d"},
    {"secret-key-1", WCS_BODY, "cc7c7b92143a53946c6bdf65786cbfff"},
    {"rotated-key-2", WCS_BODY, "9e74fbef5631e2145fd365b324ea4af6"},
    {"k", "", "cd32bedd46aa63cffa3023f050fc78e3"},
    {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     "long key body", "fd97edeeb5816f2b86325c25754127ae"},
};

static bool hmac_hdr(const char *hdr, const char *body, const char *const *keys, size_t n)
{
	return pol_wcs_hmac_ok(hdr, body, strlen(body), keys, n);
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'f')
			*s = (char)(*s - 'a' + 'A');
}

TEST_CASE(hmac_vectors)
{
	for (size_t i = 0; i < sizeof(HMAC_VECS) / sizeof(HMAC_VECS[0]); i++) {
		const struct hmac_vec *v = &HMAC_VECS[i];
		const char *keys[] = {v->key};
		char hdr[64];
		CHECK(ch_fmt(hdr, sizeof(hdr), "WCS %s", v->hex) == 0);
		CHECK_MSG(hmac_hdr(hdr, v->body, keys, 1), "vector %zu lower-case", i);
		upper(hdr + 4);
		CHECK_MSG(hmac_hdr(hdr, v->body, keys, 1), "vector %zu upper-case", i);
	}
}

TEST_CASE(hmac_cases)
{
	const char *k1[] = {"secret-key-1"};
	const char *good = "WCS cc7c7b92143a53946c6bdf65786cbfff";
	CHECK(hmac_hdr(good, WCS_BODY, k1, 1));
	/* mixed case hex */
	CHECK(hmac_hdr("WCS cc7C7B92143a53946c6BDF65786cbfff", WCS_BODY, k1, 1));
	/* scheme name is case-insensitive; surrounding blanks tolerated */
	CHECK(hmac_hdr("wcs cc7c7b92143a53946c6bdf65786cbfff", WCS_BODY, k1, 1));
	CHECK(hmac_hdr("  WCS   cc7c7b92143a53946c6bdf65786cbfff  ", WCS_BODY, k1, 1));

	/* wrong key */
	const char *kw[] = {"secret-key-2"};
	CHECK(!hmac_hdr(good, WCS_BODY, kw, 1));
	/* rotation: the second key matches */
	const char *rot[] = {"old-key", "secret-key-1"};
	CHECK(hmac_hdr(good, WCS_BODY, rot, 2));
	const char *rot2[] = {"secret-key-1", "rotated-key-2"};
	CHECK(hmac_hdr("WCS 9e74fbef5631e2145fd365b324ea4af6", WCS_BODY, rot2, 2));
	/* only the first nkeys keys count */
	CHECK(!hmac_hdr(good, WCS_BODY, rot, 1));
	/* no keys, NULL and empty keys never match */
	CHECK(!hmac_hdr(good, WCS_BODY, k1, 0));
	CHECK(!hmac_hdr(good, WCS_BODY, NULL, 0));
	const char *knull[] = {NULL, ""};
	CHECK(!hmac_hdr(good, WCS_BODY, knull, 2));
	/* HMAC-MD5 with an empty key, computed with python3 */
	CHECK(!hmac_hdr("WCS 74e6f7298a9c2d168935f58c001bad88", "", knull, 2));

	/* missing header, no value, wrong scheme, garbled */
	CHECK(!hmac_hdr(NULL, WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("WCS", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("WCS ", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("Basic cc7c7b92143a53946c6bdf65786cbfff", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("WCSX cc7c7b92143a53946c6bdf65786cbfff", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("WCScc7c7b92143a53946c6bdf65786cbfff", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("cc7c7b92143a53946c6bdf65786cbfff", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("WCS cc7c7b92143a53946c6bdf65786cbff", WCS_BODY, k1, 1));   /* short */
	CHECK(!hmac_hdr("WCS cc7c7b92143a53946c6bdf65786cbfff0", WCS_BODY, k1, 1)); /* long */
	CHECK(!hmac_hdr("WCS cc7c7b92143a53946c6bdf65786cbffg", WCS_BODY, k1, 1));  /* not hex */
	CHECK(!hmac_hdr("WCS cc7c7b92143a53946c6bdf65786cbfff x", WCS_BODY, k1, 1));
	CHECK(!hmac_hdr("WCS 0xcc7c7b92143a53946c6bdf65786cbf", WCS_BODY, k1, 1));

	/* a body differing by one byte, and a body cut short by one byte */
	char body[sizeof(WCS_BODY)];
	memcpy(body, WCS_BODY, sizeof(body));
	body[10] ^= 0x01;
	CHECK(!hmac_hdr(good, body, k1, 1));
	CHECK(!pol_wcs_hmac_ok(good, WCS_BODY, strlen(WCS_BODY) - 1, k1, 1));
	/* the body is raw bytes: an embedded NUL is part of it */
	CHECK(!pol_wcs_hmac_ok(good, WCS_BODY, sizeof(WCS_BODY), k1, 1));
	/* NULL body with a length is refused, NULL empty body is the empty body */
	const char *kk[] = {"k"};
	CHECK(!pol_wcs_hmac_ok(good, NULL, 5, k1, 1));
	CHECK(pol_wcs_hmac_ok("WCS cd32bedd46aa63cffa3023f050fc78e3", NULL, 0, kk, 1));
}

TEST_CASE(basic)
{
	/* base64 of "wcs:s3cret" etc. from python3 base64.b64encode */
	CHECK(pol_basic_ok("Basic d2NzOnMzY3JldA==", "wcs", "s3cret"));
	CHECK(pol_basic_ok("basic d2NzOnMzY3JldA==", "wcs", "s3cret"));
	CHECK(pol_basic_ok("BASIC   d2NzOnMzY3JldA== ", "wcs", "s3cret"));
	/* password containing ':' ("s3cret:x"): only the first colon splits */
	CHECK(pol_basic_ok("Basic d2NzOnMzY3JldDp4", "wcs", "s3cret:x"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldDp4", "wcs", "s3cret"));

	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA==", "wcs", "s3creT"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JlVA==", "wcs", "s3cret")); /* "wcs:s3creT" */
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA==", "WCS", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA==", "wcs", "s3cre"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA==", "wc", "s3cret"));
	/* empty password sent ("wcs:") */
	CHECK(!pol_basic_ok("Basic d2NzOg==", "wcs", "s3cret"));
	/* an empty configured password never authenticates anything */
	CHECK(!pol_basic_ok("Basic d2NzOg==", "wcs", ""));
	CHECK(!pol_basic_ok("Basic Ong=", "", "x")); /* ":x" */
	/* no colon ("wcss3cret") */
	CHECK(!pol_basic_ok("Basic d2NzczNjcmV0", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzczNjcmV0", "wcss3cret", ""));
	/* malformed base64 */
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA=", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzOnMz*3JldA==", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2Nz=OnMzY3JldA=", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA===", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzOnMz Y3JldA==", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic ====", "wcs", "s3cret"));
	/* missing header, wrong scheme, no value */
	CHECK(!pol_basic_ok(NULL, "wcs", "s3cret"));
	CHECK(!pol_basic_ok("", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic ", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Bearer d2NzOnMzY3JldA==", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basicd2NzOnMzY3JldA==", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("WCS d2NzOnMzY3JldA==", "wcs", "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA==", NULL, "s3cret"));
	CHECK(!pol_basic_ok("Basic d2NzOnMzY3JldA==", "wcs", NULL));
}

struct cidr_parse_vec {
	const char *text;
	int rc;
	unsigned prefix;
	const char *addr; /* expected stored address, as IPv6 text */
};

static const struct cidr_parse_vec CIDR_PARSE[] = {
    {"10.0.0.0/8", 0, 104, "::ffff:10.0.0.0"},
    {"10.1.2.3/8", 0, 104, "::ffff:10.0.0.0"}, /* host bits masked */
    {"192.168.1.7", 0, 128, "::ffff:192.168.1.7"},
    {"192.168.1.7/32", 0, 128, "::ffff:192.168.1.7"},
    {"0.0.0.0/0", 0, 96, "::ffff:0.0.0.0"},
    {"172.16.5.4/12", 0, 108, "::ffff:172.16.0.0"},
    {"::1/128", 0, 128, "::1"},
    {"::1", 0, 128, "::1"},
    {"::/0", 0, 0, "::"},
    {"2001:db8::/32", 0, 32, "2001:db8::"},
    {"2001:db8:ffff::1/33", 0, 33, "2001:db8:8000::"},
    {"fe80::1/10", 0, 10, "fe80::"},
    {"::ffff:10.0.0.0/104", 0, 104, "::ffff:10.0.0.0"},
    {"10.0.0.0/33", EINVAL, 0, NULL},
    {"::1/129", EINVAL, 0, NULL},
    {"10.0.0.0/-1", EINVAL, 0, NULL},
    {"10.0.0.0/+8", EINVAL, 0, NULL},
    {"10.0.0.0/", EINVAL, 0, NULL},
    {"10.0.0.0/8/8", EINVAL, 0, NULL},
    {"10.0.0.0/ 8", EINVAL, 0, NULL},
    {"10.0.0.0/8 ", EINVAL, 0, NULL},
    {"10.0.0.0/1000", EINVAL, 0, NULL},
    {"10.0.0.0/0x8", EINVAL, 0, NULL},
    {"/8", EINVAL, 0, NULL},
    {"", EINVAL, 0, NULL},
    {"10.0.0/8", EINVAL, 0, NULL},
    {"10.0.0.256", EINVAL, 0, NULL},
    {"010.0.0.1", EINVAL, 0, NULL}, /* octal-looking: ambiguous, refused */
    {" 10.0.0.1", EINVAL, 0, NULL},
    {"example.com/8", EINVAL, 0, NULL},
    {"[::1]/128", EINVAL, 0, NULL},
    {"fe80::1%eth0/64", EINVAL, 0, NULL},
    {"1:2:3:4:5:6:7:8:9", EINVAL, 0, NULL},
    {"::1/128::1/128::1/128::1/128::1/128::1/128::1/128::1/128::1/128::1/128", EINVAL, 0, NULL},
};

TEST_CASE(cidr_parse)
{
	for (size_t i = 0; i < sizeof(CIDR_PARSE) / sizeof(CIDR_PARSE[0]); i++) {
		const struct cidr_parse_vec *v = &CIDR_PARSE[i];
		struct pol_cidr c;
		memset(&c, 0xa5, sizeof(c));
		int rc = pol_cidr_parse(v->text, &c);
		CHECK_MSG(rc == v->rc, "\"%s\": rc %d, want %d", v->text, rc, v->rc);
		if (v->rc != 0) {
			/* output untouched on failure */
			CHECK_MSG(c.prefix == 0xa5a5a5a5u, "\"%s\": output written", v->text);
			continue;
		}
		char text[64];
		inet_ntop(AF_INET6, c.addr, text, sizeof(text));
		CHECK_MSG(c.prefix == v->prefix, "\"%s\": prefix %u, want %u", v->text, c.prefix, v->prefix);
		CHECK_MSG(strcmp(text, v->addr) == 0, "\"%s\": addr %s, want %s", v->text, text, v->addr);
	}
	CHECK(pol_cidr_parse(NULL, &(struct pol_cidr){{0}, 0}) == EINVAL);
}

struct cidr_match_vec {
	const char *ip;
	bool match;
};

TEST_CASE(cidr_match)
{
	const char *texts[] = {"10.0.0.0/8", "::1/128", "192.168.1.7", "2001:db8::/32"};
	struct pol_cidr list[4];
	for (size_t i = 0; i < 4; i++)
		CHECK(pol_cidr_parse(texts[i], &list[i]) == 0);

	static const struct cidr_match_vec M[] = {
	    {"10.0.0.1", true},
	    {"10.255.255.255", true},
	    {"10.1.2.3", true},
	    {"::ffff:10.1.2.3", true}, /* IPv4-mapped peer matches 10/8 */
	    {"::FFFF:10.1.2.3", true},
	    {"::ffff:a01:203", true}, /* the same mapped address in hex */
	    {"11.0.0.1", false},
	    {"9.255.255.255", false},
	    {"::ffff:11.1.2.3", false},
	    {"::1", true},
	    {"0:0:0:0:0:0:0:1", true},
	    {"::2", false},
	    {"127.0.0.1", false},
	    {"192.168.1.7", true},
	    {"192.168.1.8", false},
	    {"::ffff:192.168.1.7", true},
	    {"2001:db8::1", true},
	    {"2001:db8:ffff:ffff::1", true},
	    {"2001:db9::1", false},
	    {"::10.1.2.3", false}, /* IPv4-compatible, not mapped */
	    {"", false},
	    {"garbage", false},
	    {"10.0.0.1:8080", false},
	    {"[::1]", false},
	    {" 10.0.0.1", false},
	    {"10.0.0.1 ", false},
	};
	for (size_t i = 0; i < sizeof(M) / sizeof(M[0]); i++)
		CHECK_MSG(pol_cidr_match(list, 4, M[i].ip) == M[i].match, "\"%s\"", M[i].ip);
	CHECK(!pol_cidr_match(list, 4, NULL));
	CHECK(!pol_cidr_match(list, 0, "10.0.0.1"));
	CHECK(!pol_cidr_match(NULL, 0, "10.0.0.1"));

	/* /0 entries: IPv4 0/0 covers every IPv4 (and mapped) peer but no IPv6 */
	struct pol_cidr any4, any6, host32, host128, v4in6;
	CHECK(pol_cidr_parse("0.0.0.0/0", &any4) == 0);
	CHECK(pol_cidr_match(&any4, 1, "1.2.3.4"));
	CHECK(pol_cidr_match(&any4, 1, "::ffff:1.2.3.4"));
	CHECK(!pol_cidr_match(&any4, 1, "::1"));
	CHECK(pol_cidr_parse("::/0", &any6) == 0);
	CHECK(pol_cidr_match(&any6, 1, "::1"));
	CHECK(pol_cidr_match(&any6, 1, "1.2.3.4"));
	CHECK(pol_cidr_parse("203.0.113.9/32", &host32) == 0);
	CHECK(pol_cidr_match(&host32, 1, "203.0.113.9"));
	CHECK(!pol_cidr_match(&host32, 1, "203.0.113.8"));
	CHECK(!pol_cidr_match(&host32, 1, "203.0.113.10"));
	CHECK(pol_cidr_parse("2001:db8::7/128", &host128) == 0);
	CHECK(pol_cidr_match(&host128, 1, "2001:db8::7"));
	CHECK(!pol_cidr_match(&host128, 1, "2001:db8::6"));
	/* an entry written in mapped form matches the plain IPv4 peer */
	CHECK(pol_cidr_parse("::ffff:192.0.2.0/120", &v4in6) == 0);
	CHECK(pol_cidr_match(&v4in6, 1, "192.0.2.77"));
	CHECK(!pol_cidr_match(&v4in6, 1, "192.0.3.1"));
	/* a prefix that is not a multiple of 8 */
	struct pol_cidr odd;
	CHECK(pol_cidr_parse("172.16.0.0/12", &odd) == 0);
	CHECK(pol_cidr_match(&odd, 1, "172.31.255.255"));
	CHECK(!pol_cidr_match(&odd, 1, "172.32.0.0"));
	CHECK(!pol_cidr_match(&odd, 1, "172.15.255.255"));
}
