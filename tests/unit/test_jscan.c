/* tests/unit/test_jscan.c: the JSON member scanner's spans and errors, and the depth pre-check. */
#include "policy/policy.h"
#include "tests/check.h"

#include <errno.h>
#include <string.h>

#define MAXM 4

/* in (len 0 = strlen), expected rc, then the members' key and value texts
 * exactly as they appear in the buffer */
struct scan_case {
	const char *in;
	size_t len;
	int rc;
	size_t n;
	const char *kv[MAXM][2];
};

static const struct scan_case cases[] = {
    {"{}", 0, 0, 0, {{0}}},
    {" \t\r\n{ \n } \n", 0, 0, 0, {{0}}},
    {"{\"a\":1}", 0, 0, 1, {{"\"a\"", "1"}}},
    {"{\"a\":0.1,\"b\":123456789012345678901234567890}",
     0,
     0,
     2,
     {{"\"a\"", "0.1"}, {"\"b\"", "123456789012345678901234567890"}}},
    {"{\"n\":-1.5e+10,\"m\":2E-3,\"z\":-0}", 0, 0, 3, {{"\"n\"", "-1.5e+10"}, {"\"m\"", "2E-3"}, {"\"z\"", "-0"}}},
    {" { \"a\" : true , \"b\"\t:\tfalse\n,\r\"c\"  :null } ",
     0,
     0,
     3,
     {{"\"a\"", "true"}, {"\"b\"", "false"}, {"\"c\"", "null"}}},
    {"{\"s\":\"a \\\"quoted\\\" b\"}", 0, 0, 1, {{"\"s\"", "\"a \\\"quoted\\\" b\""}}},
    {"{\"s\":\"back\\\\\",\"t\":\"\\\\\\\"\"}", 0, 0, 2, {{"\"s\"", "\"back\\\\\""}, {"\"t\"", "\"\\\\\\\"\""}}},
    {"{\"k\\\"ey\":\"\\u00e9\\u0022}\\/\"}", 0, 0, 1, {{"\"k\\\"ey\"", "\"\\u00e9\\u0022}\\/\""}}},
    {"{\"u\":\"caf\xc3\xa9 \xe2\x82\xac\"}", 0, 0, 1, {{"\"u\"", "\"caf\xc3\xa9 \xe2\x82\xac\""}}},
    {"{\"o\":{\"x\":[1,{\"y\":\"}]\"}],\"z\":{}},\"p\":[ ]}",
     0,
     0,
     2,
     {{"\"o\"", "{\"x\":[1,{\"y\":\"}]\"}],\"z\":{}}"}, {"\"p\"", "[ ]"}}},
    {"{\"a\":[\"[\",\"{\",\"\\\"]\"] ,\"b\":{ }}", 0, 0, 2, {{"\"a\"", "[\"[\",\"{\",\"\\\"]\"]"}, {"\"b\"", "{ }"}}},
    {"{\"\":\"\"}", 0, 0, 1, {{"\"\"", "\"\""}}},
    {"{\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 1.2.3.4\\r\\n\",\"x\":1}",
     0,
     0,
     2,
     {{"\"sdp\"", "\"v=0\\r\\no=- 1 2 IN IP4 1.2.3.4\\r\\n\""}, {"\"x\"", "1"}}},
    {"{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 0, 0, 4, {{"\"a\"", "1"}, {"\"b\"", "2"}, {"\"c\"", "3"}, {"\"d\"", "4"}}},
    /* too many members */
    {"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", 0, E2BIG, 0, {{0}}},
    /* malformed */
    {"", 0, EINVAL, 0, {{0}}},
    {"   ", 0, EINVAL, 0, {{0}}},
    {"[]", 0, EINVAL, 0, {{0}}},
    {"\"a\"", 0, EINVAL, 0, {{0}}},
    {"1", 0, EINVAL, 0, {{0}}},
    {"null", 0, EINVAL, 0, {{0}}},
    {"{", 0, EINVAL, 0, {{0}}},
    {"}", 0, EINVAL, 0, {{0}}},
    {"{\"a\"", 0, EINVAL, 0, {{0}}},
    {"{\"a\":", 0, EINVAL, 0, {{0}}},
    {"{\"a\":}", 0, EINVAL, 0, {{0}}},
    {"{\"a\":1", 0, EINVAL, 0, {{0}}},
    {"{\"a\":1,", 0, EINVAL, 0, {{0}}},
    {"{\"a\":1,}", 0, EINVAL, 0, {{0}}},
    {"{,\"a\":1}", 0, EINVAL, 0, {{0}}},
    {"{\"a\" 1}", 0, EINVAL, 0, {{0}}},
    {"{\"a\":1 \"b\":2}", 0, EINVAL, 0, {{0}}},
    {"{a:1}", 0, EINVAL, 0, {{0}}},
    {"{\"a\":\"unterminated}", 0, EINVAL, 0, {{0}}},
    {"{\"a\":\"ends in backslash\\", 0, EINVAL, 0, {{0}}},
    {"{\"a\\", 0, EINVAL, 0, {{0}}},
    {"{\"a\":[1,2}", 0, EINVAL, 0, {{0}}},
    {"{\"a\":{\"b\":\"}\"}", 0, EINVAL, 0, {{0}}},
    {"{\"a\":1}x", 0, EINVAL, 0, {{0}}},
    {"{\"a\":1}{}", 0, EINVAL, 0, {{0}}},
    {"{\"a\":1}\0", 8, EINVAL, 0, {{0}}},
    {"{\"a\":\0}", 7, EINVAL, 0, {{0}}},
    /* Jansson accepts this one (its stream drops a pushed-back NUL): we do not */
    {"{\"a\":1\0}", 8, EINVAL, 0, {{0}}},
    {"{\"a\":true\0}", 11, EINVAL, 0, {{0}}},
    {"{\"a\":@}", 0, EINVAL, 0, {{0}}},
    /* only len bytes are looked at */
    {"{\"a\":1}", 6, EINVAL, 0, {{0}}},
    {"{\"a\":12}garbage", 8, 0, 1, {{"\"a\"", "12"}}},
};

TEST_CASE(members)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct scan_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		struct pol_member m[MAXM];
		size_t n = 99;
		int rc = pol_json_members(c->in, len, m, MAXM, &n);
		CHECK_MSG(rc == c->rc, "row %zu: rc %d, expected %d", i, rc, c->rc);
		if (rc != 0 || c->rc != 0) {
			CHECK_MSG(n == 99, "row %zu: *n written on failure", i);
			continue;
		}
		CHECK_MSG(n == c->n, "row %zu: %zu members, expected %zu", i, n, c->n);
		for (size_t k = 0; k < n && k < c->n; k++) {
			const char *key = c->kv[k][0], *val = c->kv[k][1];
			CHECK_MSG(m[k].key_len == strlen(key) && memcmp(c->in + m[k].key_off, key, m[k].key_len) == 0,
				  "row %zu member %zu key", i, k);
			CHECK_MSG(m[k].val_len == strlen(val) && memcmp(c->in + m[k].val_off, val, m[k].val_len) == 0,
				  "row %zu member %zu value: got %.*s", i, k, (int)m[k].val_len, c->in + m[k].val_off);
		}
	}
}

TEST_CASE(members_edges)
{
	size_t n = 7;
	struct pol_member m[1];
	/* max 0: an empty object still fits, no array needed */
	CHECK(pol_json_members("{}", 2, NULL, 0, &n) == 0 && n == 0);
	n = 7;
	CHECK(pol_json_members("{\"a\":1}", 7, NULL, 0, &n) == E2BIG && n == 7);
	CHECK(pol_json_members("{\"a\":1}", 7, m, 1, &n) == 0 && n == 1);
	CHECK(m[0].key_off == 1 && m[0].key_len == 3 && m[0].val_off == 5 && m[0].val_len == 1);
	CHECK(pol_json_members(NULL, 0, m, 1, &n) == EINVAL);
	CHECK(pol_json_members("{}", 2, m, 1, NULL) == EINVAL);
	/* a value spanning most of a large buffer */
	static char big[70000];
	big[0] = '{';
	memcpy(big + 1, "\"k\":\"", 5);
	memset(big + 6, 'x', sizeof(big) - 8);
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '}';
	CHECK(pol_json_members(big, sizeof(big), m, 1, &n) == 0 && n == 1);
	CHECK(m[0].val_off == 5 && m[0].val_len == sizeof(big) - 6);
}

struct depth_case {
	const char *in;
	size_t max;
	size_t want;
};

static const struct depth_case depth_cases[] = {
    {"", 8, 0},
    {"1", 8, 0},
    {"{}", 8, 1},
    {"{\"a\":[1,{\"b\":[]}]}", 8, 4},
    {"{\"a\":\"[[[[{{{{\"}", 8, 1},
    {"{\"a\":\"\\\"[[[[\"}", 8, 1},
    {"{\"a\":{},\"b\":{},\"c\":[[]]}", 8, 3},
    {"[[[[[[[[[[", 3, 4},
    {"[[[]]]", 3, 3},
    {"[[[[]]]]", 3, 4},
    {"]]]]{}", 8, 1},
    {"{\"a\":\"unterminated [[[[", 8, 1},
    {"{\"a\\", 8, 1},
};

TEST_CASE(depth)
{
	for (size_t i = 0; i < sizeof(depth_cases) / sizeof(depth_cases[0]); i++) {
		const struct depth_case *c = &depth_cases[i];
		size_t d = pol_json_depth(c->in, strlen(c->in), c->max);
		CHECK_MSG(d == c->want, "depth row %zu: %zu, expected %zu", i, d, c->want);
	}
	/* stops early: a megabyte of '[' with max 32 */
	static char deep[1 << 20];
	memset(deep, '[', sizeof(deep));
	CHECK(pol_json_depth(deep, sizeof(deep), 32) == 33);
	CHECK(pol_json_depth(NULL, 0, 1) == 0);
}
