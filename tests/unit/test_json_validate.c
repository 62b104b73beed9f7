/* tests/unit/test_json_validate.c: the hook's validator: the policy's edge cases, the decoded strings, JSONTestSuite.
 */
#include "policy/policy.h"
#include "tests/check.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vcase {
	const char *in;
	size_t len; /* 0 = strlen */
	enum pol_json_fault want;
};

static const struct vcase cases[] = {
    {"{}", 0, POL_JSON_OK},
    {" \t\r\n{ } \n", 0, POL_JSON_OK},
    {"", 0, POL_JSON_EMPTY},
    {"   ", 0, POL_JSON_MALFORMED},
    {"[]", 0, POL_JSON_NOT_OBJECT},
    {"\"a\"", 0, POL_JSON_NOT_OBJECT},
    {"1", 0, POL_JSON_NOT_OBJECT},
    {"{\"a\":1e999,\"b\":-0,\"c\":123456789012345678901234567890,\"d\":1E-999}", 0, POL_JSON_OK},
    {"{\"a\":01}", 0, POL_JSON_MALFORMED},
    {"[01\xff]", 0, POL_JSON_MALFORMED},
    {"{hasA\x89}", 0, POL_JSON_UTF8},
    {"{\"a\" \"b\xff\"}", 0, POL_JSON_UTF8},
    {"{\"a\":1.}", 0, POL_JSON_MALFORMED},
    {"{\"a\":.1}", 0, POL_JSON_MALFORMED},
    {"{\"a\":1e}", 0, POL_JSON_MALFORMED},
    {"{\"a\":-}", 0, POL_JSON_MALFORMED},
    {"{\"a\":+1}", 0, POL_JSON_MALFORMED},
    {"{\"a\":tru}", 0, POL_JSON_MALFORMED},
    {"{\"a\":truex}", 0, POL_JSON_MALFORMED},
    {"{\"a\":NaN}", 0, POL_JSON_MALFORMED},
    {"{\"a\":1,}", 0, POL_JSON_MALFORMED},
    {"{\"a\":[1,]}", 0, POL_JSON_MALFORMED},
    {"{\"a\" 1}", 0, POL_JSON_MALFORMED},
    {"{'a':1}", 0, POL_JSON_MALFORMED},
    {"{\"a\":1}x", 0, POL_JSON_MALFORMED},
    {"{\"a\":1}{}", 0, POL_JSON_MALFORMED},
    {"{\"a\":1} \xff", 0, POL_JSON_UTF8},
    {"{\"a\":1\0}", 8, POL_JSON_MALFORMED}, /* Jansson drops that NUL; we do not */
    {"{\"a\":\"\t\"}", 0, POL_JSON_MALFORMED},
    {"{\"a\":\"\\x\"}", 0, POL_JSON_MALFORMED},
    {"{\"a\":\"\\u12\"}", 0, POL_JSON_MALFORMED},
    {"{\"a\":\"\\u0000\"}", 0, POL_JSON_MALFORMED},
    {"{\"a\\u0000\":1}", 0, POL_JSON_MALFORMED},
    {"{\"a\":\"\\uD800\"}", 0, POL_JSON_MALFORMED},
    {"{\"a\":\"\\uDC00\\uD800\"}", 0, POL_JSON_MALFORMED},
    {"{\"a\":\"\\uD800\\u0041\"}", 0, POL_JSON_MALFORMED},
    {"{\"a\":\"\\uD83D\\uDE00\"}", 0, POL_JSON_OK},
    {"{\"a\":\"\\uD800 \xff\"}", 0, POL_JSON_UTF8}, /* the raw fault first, as Jansson */
    {"{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", 0, POL_JSON_OK},
    {"{\"a\":\"\xc0\xaf\"}", 0, POL_JSON_UTF8},         /* overlong '/' */
    {"{\"a\":\"\xe0\x80\xaf\"}", 0, POL_JSON_UTF8},     /* overlong, 3 bytes */
    {"{\"a\":\"\xed\xa0\x80\"}", 0, POL_JSON_UTF8},     /* U+D800 encoded */
    {"{\"a\":\"\xf4\x90\x80\x80\"}", 0, POL_JSON_UTF8}, /* past U+10FFFF */
    {"{\"a\":\"\xc3\"}", 0, POL_JSON_UTF8},
    {"{\"a\":\"\xc3", 0, POL_JSON_UTF8},
    {"{\"a\":\"x", 0, POL_JSON_MALFORMED},
    {"{\"a\":1,\"a\":2}", 0, POL_JSON_DUPLICATE},
    {"{\"a\":1,\"\\u0061\":2}", 0, POL_JSON_DUPLICATE},
    {"{\"x\":{\"b\":1,\"b\":2}}", 0, POL_JSON_DUPLICATE},
    {"{\"x\":[{\"b\":1},{\"b\":2}],\"y\":{\"b\":1}}", 0, POL_JSON_OK},
    {"{\"a\":1,\"a\"", 0, POL_JSON_DUPLICATE}, /* at the key, before the rest */
    {"{\"a\":[[[[1]]]]}", 0, POL_JSON_OK},
    {"{\"a\":[[[[[1]]]]]}", 0, POL_JSON_DEEP},
    {"{\"a\":[[[[[1]]]]]", 0, POL_JSON_DEEP}, /* the old order: too deep before malformed */
    {"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", 0, POL_JSON_TOO_MANY},
    {"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"a\":0}", 0, POL_JSON_DUPLICATE},
};

TEST_CASE(policy_edges)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *c = &cases[i];
		struct pol_json_doc d;
		size_t len = c->len ? c->len : strlen(c->in);
		enum pol_json_fault f = pol_json_validate(c->in, len, 5, 4, &d);
		CHECK_MSG(f == c->want, "row %zu %s: %s, expected %s", i, c->in, pol_json_fault_reason(f),
			  pol_json_fault_reason(c->want));
		pol_json_doc_free(&d);
	}
}

TEST_CASE(spans_and_strings)
{
	const char *b = " {\"\\u006frigin\" : \"https://a.example\\/x\", \"n\":-1.5e2, \"custom\":{\"t\":1,"
			"\"b\\u0075tton\":\"s\\u00e9\\uD83D\\uDE00\"},\"sipStatus\":180,\"o\":null} ";
	struct pol_json_doc d;
	enum pol_json_fault f = pol_json_validate(b, strlen(b), 32, 1000, &d);
	REQUIRE(f == POL_JSON_OK); /* REQUIRE evaluates its condition twice */
	CHECK(d.n == 5);
	CHECK_STR(d.names[0], "origin");
	CHECK(d.m[0].key_off == 2 && d.m[0].key_len == 13);
	CHECK(strncmp(b + d.m[1].val_off, "-1.5e2", d.m[1].val_len) == 0 && d.m[1].val_len == 6);
	bool bad = true;
	CHECK_STR(pol_json_str(&d, "origin", &bad), "https://a.example/x");
	CHECK(!bad);
	CHECK(pol_json_str(&d, "n", &bad) == NULL && bad);
	CHECK(pol_json_str(&d, "absent", &bad) == NULL && !bad);
	CHECK_STR(pol_json_sub_str(&d, "custom", "button", &bad), "s\xc3\xa9\xf0\x9f\x98\x80");
	CHECK(!bad);
	CHECK(pol_json_sub_str(&d, "custom", "t", &bad) == NULL && bad);
	CHECK(pol_json_sub_str(&d, "custom", "token", &bad) == NULL && !bad);
	CHECK(pol_json_sub_str(&d, "o", "x", &bad) == NULL && !bad);
	double v = 0;
	CHECK(pol_json_num(&d, "sipStatus", &v) == 0 && v == 180);
	CHECK(pol_json_num(&d, "n", &v) == 0 && v == -150);
	CHECK(pol_json_num(&d, "origin", &v) != 0);
	/* the second read is the cached one */
	CHECK(pol_json_str(&d, "origin", NULL) == pol_json_str(&d, "origin", NULL));
	pol_json_doc_free(&d);
	pol_json_doc_free(&d);
}

TEST_CASE(many_members_and_keys)
{
	/* past the inline arrays, and a nested object of 5000 keys (the hash table grows) */
	size_t cap = 200000, n = 0;
	char *b = malloc(cap);
	REQUIRE(b);
	n += (size_t)snprintf(b + n, cap - n, "{");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(b + n, cap - n, "\"m%d\":%d,", i, i);
	n += (size_t)snprintf(b + n, cap - n, "\"big\":{");
	for (int i = 0; i < 5000; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s\"k%d\":1", i ? "," : "", i);
	n += (size_t)snprintf(b + n, cap - n, "}}");
	struct pol_json_doc d;
	enum pol_json_fault f = pol_json_validate(b, n, 32, 1000, &d);
	if (f != POL_JSON_OK)
		free(b);
	REQUIRE(f == POL_JSON_OK); /* REQUIRE evaluates its condition twice */
	CHECK(d.n == 101);
	CHECK_STR(d.names[99], "m99");
	CHECK_STR(d.names[100], "big");
	pol_json_doc_free(&d);
	/* the same with one key repeated at the end of the big object */
	memcpy(b + n - 2, ",\"k17\":2}}", 10);
	CHECK(pol_json_validate(b, n + 8, 32, 1000, &d) == POL_JSON_DUPLICATE);
	pol_json_doc_free(&d);
	free(b);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	return buf;
}

/* One JSONTestSuite file: y_ accepted (an object, without duplicate keys),
 * n_ refused as not JSON, i_ either; never a crash. */
static void suite_file(const char *dir, const char *name, size_t *counts)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	size_t len = 0;
	char *b = slurp(path, &len);
	CHECK_MSG(b != NULL, "%s", path);
	if (!b)
		return;
	struct pol_json_doc d;
	enum pol_json_fault f = pol_json_validate(b, len, 512, 100000, &d);
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", b[i]))
		i++;
	if (name[0] == 'y') {
		/* our policy on top of RFC 8259, in Jansson's words: duplicate keys and \u0000 are refused */
		json_error_t err;
		json_t *j = json_loadb(b, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
		bool dup = !j && json_error_code(&err) == json_error_duplicate_key;
		CHECK_MSG(j || dup || memmem(b, len, "\\u0000", 6), "%s: Jansson refuses it", name);
		enum pol_json_fault want = dup ? POL_JSON_DUPLICATE : !j ? POL_JSON_MALFORMED : POL_JSON_NOT_OBJECT;
		if (j && i < len && b[i] == '{')
			want = POL_JSON_OK;
		CHECK_MSG(f == want, "%s: %s", name, pol_json_fault_reason(f));
		json_decref(j);
	} else if (name[0] == 'n') {
		CHECK_MSG(f != POL_JSON_OK && f != POL_JSON_NOT_OBJECT && f != POL_JSON_TOO_MANY, "%s: %s", name,
			  pol_json_fault_reason(f));
	}
	counts[f]++;
	pol_json_doc_free(&d);
	free(b);
}

TEST_CASE(json_test_suite)
{
	const char *dir = CH_TEST_DATA "/JSONTestSuite/test_parsing";
	DIR *dp = opendir(dir);
	REQUIRE(dp != NULL);
	size_t counts[POL_JSON_NOMEM + 1] = {0}, files = 0;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 7 || strcmp(e->d_name + l - 5, ".json") != 0 || e->d_name[1] != '_')
			continue;
		suite_file(dir, e->d_name, counts);
		files++;
	}
	closedir(dp);
	CHECK_MSG(files > 300, "%zu files", files);
	printf("%zu files: ok %zu, not an object %zu, malformed %zu, utf8 %zu, duplicate %zu, deep %zu\n", files,
	       counts[POL_JSON_OK], counts[POL_JSON_NOT_OBJECT], counts[POL_JSON_MALFORMED], counts[POL_JSON_UTF8],
	       counts[POL_JSON_DUPLICATE], counts[POL_JSON_DEEP]);
}
