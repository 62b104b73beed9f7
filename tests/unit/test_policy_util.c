/* tests/unit/test_policy_util.c: client IP from a WCS sessionId, and the token bucket over simulated time. */
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

static void test_session_ip(void)
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

static void test_bucket(void)
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

int main(void)
{
	test_session_ip();
	test_bucket();
	return check_done();
}
