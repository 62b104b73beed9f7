/* tests/unit/test_translate.c: table tests of the originator's translation rules and destination policy. */
#include "policy/policy.h"

#include "../check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct xcase {
	const char *input;
	enum pol_xlate_verdict want;
	const char *uri; /* expected on OK */
};

static void run_table(const char *name, const struct pol_xlate *x, const struct xcase *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char out[512] = "untouched";
		enum pol_xlate_verdict v = pol_xlate_apply(x, t[i].input, out, sizeof(out));
		CHECK_MSG(v == t[i].want, "%s[%zu] \"%s\": got %d (%s) want %d", name, i,
			  t[i].input ? t[i].input : "(null)", (int)v, pol_xlate_reason(v), (int)t[i].want);
		if (v == POL_XLATE_OK && t[i].want == POL_XLATE_OK && t[i].uri)
			CHECK_MSG(strcmp(out, t[i].uri) == 0, "%s[%zu]: \"%s\" != \"%s\"", name, i, out, t[i].uri);
		if (v != POL_XLATE_OK)
			CHECK_MSG(strcmp(out, "untouched") == 0, "%s[%zu]: out written on failure", name, i);
	}
}

static struct pol_xlate *mk(const char *const *pat, const char *const *outp, size_t n, const char *const *allow,
			    size_t nallow, bool has_allow, const char *const *deny, size_t ndeny)
{
	struct pol_xlate *x = NULL;
	size_t bad = 99;
	char err[256] = "";
	int rc = pol_xlate_compile(pat, outp, n, allow, nallow, has_allow, deny, ndeny, &x, &bad, err, sizeof(err));
	CHECK_MSG(rc == 0, "compile: %s (index %zu)", err, bad);
	return x;
}

/* The manual's example: ^(.*)$ -> sip:$1@sipdomain.com. */
static void test_manual_example(void)
{
	const char *pat[] = {"^(.*)$"};
	const char *outp[] = {"sip:$1@sipdomain.com"};
	struct pol_xlate *x = mk(pat, outp, 1, NULL, 0, false, NULL, 0);
	if (!x)
		return;
	static const struct xcase t[] = {
	    {"9055551234", POL_XLATE_OK, "sip:9055551234@sipdomain.com"},
	    {"scott", POL_XLATE_OK, "sip:scott@sipdomain.com"},
	    /* a telephone number loses its visual separators (canonical form) */
	    {"+1-905-555", POL_XLATE_OK, "sip:+1905555@sipdomain.com"},
	    /* injection attempts: parameters, headers, second host, display names */
	    {"9055551234;transport=tcp", POL_XLATE_BAD_CAPTURE, NULL},
	    {"9055551234?Route=<sip:evil>", POL_XLATE_BAD_CAPTURE, NULL},
	    {"x@evil.com", POL_XLATE_BAD_URI, NULL},
	    {"<sip:x>", POL_XLATE_BAD_CAPTURE, NULL},
	    {"\"Boss\" x", POL_XLATE_BAD_CAPTURE, NULL},
	    {"a b", POL_XLATE_BAD_CAPTURE, NULL},
	    {"a,b", POL_XLATE_BAD_CAPTURE, NULL},
	    {"a\tb", POL_XLATE_BAD_INPUT, NULL},
	    {"a\r\nVia: x", POL_XLATE_BAD_INPUT, NULL},
	    {"x:y", POL_XLATE_OK, "sip:x:y@sipdomain.com"}, /* user:password is URI syntax */
	    {"x/y", POL_XLATE_OK, "sip:x/y@sipdomain.com"},
	    /* Sofia decodes %3b in a user part to ';': an escape of a reserved character is refused */
	    {"x%3btransport=tcp", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%zz", POL_XLATE_BAD_URI, NULL},
	    {"caf\xc3\xa9", POL_XLATE_BAD_URI, NULL},    /* valid UTF-8, not URI syntax */
	    {"\xc3\x28", POL_XLATE_BAD_INPUT, NULL},     /* invalid UTF-8 */
	    {"\xc0\xaf", POL_XLATE_BAD_INPUT, NULL},     /* overlong */
	    {"\xed\xa0\x80", POL_XLATE_BAD_INPUT, NULL}, /* surrogate */
	    {"\xc2\x85", POL_XLATE_BAD_INPUT, NULL},     /* C1 control (NEL) */
	    {"", POL_XLATE_BAD_INPUT, NULL},
	    {NULL, POL_XLATE_BAD_INPUT, NULL},
	};
	run_table("manual", x, t, sizeof(t) / sizeof(t[0]));
	pol_xlate_free(x);
}

/* A realistic set: SIP URIs pass through, 10 digits go to a PBX, 7 digits get
 * an area code, everything else is refused; premium prefixes denied. */
static void test_rules_allow_deny(void)
{
	const char *pat[] = {
	    "^(sips?:[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+)$",
	    "^(\\d{10})$",
	    "^(\\d{3})-?(\\d{4})$",
	    "^00(\\d+)$",
	    "^ext(\\d{1,4})$",
	};
	const char *outp[] = {
	    "$1",
	    "sip:$1@pbx.example.com",
	    "sip:905$1$2@pbx.example.com;user=phone",
	    "sip:011$1@pbx.example.com",
	    "sip:$1@[::1]:5070;transport=tcp",
	};
	const char *allow[] = {
	    "^sip:\\d{10}@pbx\\.example\\.com(;user=phone)?$",
	    "^sip:011\\d+@pbx\\.example\\.com$",
	    "^sips?:[a-z.]+@sipdomain\\.com$",
	    "^sip:\\d{1,4}@\\[::1\\]:5070;transport=tcp$",
	};
	const char *deny[] = {"^sip:(900|976)", "^sip:011"};
	struct pol_xlate *x = mk(pat, outp, 5, allow, 4, true, deny, 2);
	if (!x)
		return;
	static const struct xcase t[] = {
	    {"sip:scott@sipdomain.com", POL_XLATE_OK, "sip:scott@sipdomain.com"},
	    {"sips:scott@sipdomain.com", POL_XLATE_OK, "sips:scott@sipdomain.com"},
	    {"sip:scott@evil.com", POL_XLATE_NOT_ALLOWED, NULL},
	    {"sip:scott@sipdomain.com;transport=tcp", POL_XLATE_NO_RULE, NULL},
	    {"9055551234", POL_XLATE_OK, "sip:9055551234@pbx.example.com"},
	    {"5551234", POL_XLATE_OK, "sip:9055551234@pbx.example.com;user=phone"},
	    {"555-1234", POL_XLATE_OK, "sip:9055551234@pbx.example.com;user=phone"},
	    {"9005551234", POL_XLATE_DENIED, NULL},
	    {"9765551234", POL_XLATE_DENIED, NULL},
	    {"0044207946000", POL_XLATE_DENIED, NULL},
	    {"ext42", POL_XLATE_OK, "sip:42@[::1]:5070;transport=tcp"},
	    {"905555123", POL_XLATE_NO_RULE, NULL},
	    {"90555512345", POL_XLATE_NO_RULE, NULL},
	    {"9055551234;transport=tcp", POL_XLATE_NO_RULE, NULL},
	    {"x@evil.com", POL_XLATE_NO_RULE, NULL},
	};
	run_table("rules", x, t, sizeof(t) / sizeof(t[0]));

	/* translate alone, and check alone */
	char out[512];
	CHECK(pol_xlate_translate(x, "9005551234", out, sizeof(out)) == POL_XLATE_OK);
	CHECK_STR(out, "sip:9005551234@pbx.example.com");
	CHECK(pol_xlate_check(x, out) == POL_XLATE_DENIED);
	CHECK(pol_xlate_check(x, "sip:1234567890@pbx.example.com") == POL_XLATE_OK);
	CHECK(pol_xlate_check(x, "sip:a@b.c") == POL_XLATE_NOT_ALLOWED);
	/* output buffer too small */
	char small[16] = "untouched";
	CHECK(pol_xlate_apply(x, "9055551234", small, sizeof(small)) == POL_XLATE_TOO_LONG);
	CHECK_STR(small, "untouched");
	pol_xlate_free(x);
}

/* $1..$9, "$$", a group that did not take part, first match wins. */
static void test_template(void)
{
	const char *pat[] = {
	    "^(a)(b)(c)(d)(e)(f)(g)(h)(i)$", "^(x)(y)?$", "^d(\\d)$", "^(\\d)(\\d)$", "^.*$",
	};
	const char *outp[] = {
	    "sip:$9$8$7$6$5$4$3$2$1@h.example",
	    "sip:$1$2@h.example",
	    "sip:$$$1@h.example", /* "$$" is a literal '$', a valid user character */
	    "sip:$12@h.example",  /* $1 then "2" */
	    "sip:fallback@h.example",
	};
	struct pol_xlate *x = mk(pat, outp, 5, NULL, 0, false, NULL, 0);
	if (!x)
		return;
	static const struct xcase t[] = {
	    {"abcdefghi", POL_XLATE_OK, "sip:ihgfedcba@h.example"},
	    {"x", POL_XLATE_OK, "sip:x@h.example"},
	    {"xy", POL_XLATE_OK, "sip:xy@h.example"},
	    {"d7", POL_XLATE_OK, "sip:$7@h.example"},
	    {"34", POL_XLATE_OK, "sip:32@h.example"},
	    {"anything", POL_XLATE_OK, "sip:fallback@h.example"},
	    /* the catch-all rule copies nothing from the input, so even this is safe */
	    {"a;b?c", POL_XLATE_OK, "sip:fallback@h.example"},
	};
	run_table("template", x, t, sizeof(t) / sizeof(t[0]));
	pol_xlate_free(x);
}

/* Templates that do not give a URI, or give headers. */
static void test_bad_results(void)
{
	const char *pat[] = {"^h(.*)$", "^t(.*)$", "^p(.*)$", "^n(.*)$", "^o(.*)$"};
	const char *outp[] = {
	    "sip:$1@h.example?Subject=x", /* headers from the template: refused too */
	    "tel:$1",
	    "sip:$1@h.example:99999",
	    "$1",
	    "sip:u@$1",
	};
	struct pol_xlate *x = mk(pat, outp, 5, NULL, 0, false, NULL, 0);
	if (!x)
		return;
	static const struct xcase t[] = {
	    {"h1", POL_XLATE_BAD_URI, NULL},
	    {"t1", POL_XLATE_BAD_URI, NULL},
	    {"p1", POL_XLATE_BAD_URI, NULL},
	    {"nhttp://x", POL_XLATE_BAD_URI, NULL},
	    {"nsip:x@y.example", POL_XLATE_OK, "sip:x@y.example"},
	    {"nsip:x@y.example@z", POL_XLATE_BAD_URI, NULL},
	    {"osip.example", POL_XLATE_OK, "sip:u@sip.example"},
	    {"o10.0.0.1:5060", POL_XLATE_OK, "sip:u@10.0.0.1:5060"},
	    {"o10.0.0.256", POL_XLATE_BAD_URI, NULL},
	    {"o[::1]", POL_XLATE_OK, "sip:u@[::1]"},
	    {"o[::g]", POL_XLATE_BAD_URI, NULL},
	    {"o-bad.example", POL_XLATE_BAD_URI, NULL},
	    {"o", POL_XLATE_BAD_URI, NULL},
	};
	run_table("bad", x, t, sizeof(t) / sizeof(t[0]));
	pol_xlate_free(x);
}

static void test_uri_syntax(void)
{
	CHECK(pol_sip_uri_ok("sip:a@b.example"));
	CHECK(pol_sip_uri_ok("SIP:a@b.example"));
	CHECK(pol_sip_uri_ok("sip:b.example"));
	CHECK(pol_sip_uri_ok("sip:a:pw@b.example:5060;transport=tcp;lr"));
	CHECK(pol_sip_uri_ok("sips:a@[2001:db8::1]:5061"));
	CHECK(!pol_sip_uri_ok("sip:"));
	CHECK(!pol_sip_uri_ok("sip:a@"));
	CHECK(!pol_sip_uri_ok("sip:@b.example"));
	CHECK(!pol_sip_uri_ok("sip:a@b.example?x=y"));
	CHECK(!pol_sip_uri_ok("sip:a@b.example;"));
	CHECK(!pol_sip_uri_ok("sip:a@b.example;=x"));
	CHECK(!pol_sip_uri_ok("sip:a@b.example:0"));
	CHECK(!pol_sip_uri_ok("sip:a@b.example:"));
	CHECK(!pol_sip_uri_ok("sip:a b@b.example"));
	CHECK(!pol_sip_uri_ok("sip:a@b_c.example"));
	CHECK(!pol_sip_uri_ok("sip:a@a.1example")); /* toplabel starts with a letter */
	CHECK(pol_sip_uri_ok("sip:a@1.example"));
	CHECK(!pol_sip_uri_ok("sip:a@[::1"));
	CHECK(!pol_sip_uri_ok("sip:<a@b.example>"));
	CHECK(!pol_sip_uri_ok("mailto:a@b.example"));
	CHECK(!pol_sip_uri_ok(NULL));
}

static void test_compile_errors(void)
{
	struct pol_xlate *x = (struct pol_xlate *)0x1;
	size_t bad = 77;
	char err[256];
	const char *p1[] = {"^(\\d+)$", "^(unclosed$"};
	const char *o1[] = {"sip:$1@a.example", "sip:$1@a.example"};
	CHECK(pol_xlate_compile(p1, o1, 2, NULL, 0, false, NULL, 0, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 1);
	CHECK_MSG(strncmp(err, "translations.[1].pattern: ", 26) == 0, "%s", err);
	CHECK(x == (struct pol_xlate *)0x1);

	const char *o2[] = {"sip:$2@a.example"};
	CHECK(pol_xlate_compile(p1, o2, 1, NULL, 0, false, NULL, 0, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 0);
	CHECK_MSG(strstr(err, "translations.[0].output") != NULL, "%s", err);

	const char *bad_outs[] = {"sip:$0@a.example", "sip:$x@a.example", "sip:a@a.example$", "sip:\x01@a"};
	for (size_t i = 0; i < 4; i++) {
		CHECK_MSG(pol_xlate_compile(p1, &bad_outs[i], 1, NULL, 0, false, NULL, 0, &x, &bad, err, sizeof(err)) ==
			      EINVAL,
			  "output %zu accepted", i);
	}

	const char *allow[] = {"^ok$", "(("};
	CHECK(pol_xlate_compile(p1, o1, 1, allow, 2, true, NULL, 0, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 1);
	CHECK_MSG(strncmp(err, "destinations.allow.[1]: ", 24) == 0, "%s", err);

	const char *deny[] = {"[z-a]"};
	CHECK(pol_xlate_compile(p1, o1, 1, NULL, 0, false, deny, 1, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 0);
	CHECK_MSG(strncmp(err, "destinations.deny.[0]: ", 23) == 0, "%s", err);
	CHECK(x == (struct pol_xlate *)0x1);

	/* no rules at all: compiles, refuses everything */
	struct pol_xlate *y = NULL;
	CHECK(pol_xlate_compile(NULL, NULL, 0, NULL, 0, false, NULL, 0, &y, &bad, err, sizeof(err)) == 0);
	char out[64];
	CHECK(pol_xlate_apply(y, "123", out, sizeof(out)) == POL_XLATE_NO_RULE);
	pol_xlate_free(y);
	/* an empty allow list that exists allows nothing */
	const char *p2[] = {"^(\\d+)$"};
	const char *o3[] = {"sip:$1@a.example"};
	CHECK(pol_xlate_compile(p2, o3, 1, NULL, 0, true, NULL, 0, &y, &bad, err, sizeof(err)) == 0);
	CHECK(pol_xlate_apply(y, "123", out, sizeof(out)) == POL_XLATE_NOT_ALLOWED);
	pol_xlate_free(y);
	pol_xlate_free(NULL);
}

/* Long inputs and catastrophic backtracking stay bounded. */
static void test_limits(void)
{
	const char *pat[] = {"^(a+)+$", "^(\\d+)$"};
	const char *outp[] = {"sip:$1@a.example", "sip:$1@a.example"};
	struct pol_xlate *x = mk(pat, outp, 2, NULL, 0, false, NULL, 0);
	if (!x)
		return;
	char in[POL_XLATE_INPUT_MAX + 2];
	char out[1024];
	memset(in, 'a', 60);
	in[60] = '!';
	in[61] = '\0';
	CHECK(pol_xlate_apply(x, in, out, sizeof(out)) == POL_XLATE_LIMIT);

	memset(in, '1', POL_XLATE_INPUT_MAX);
	in[POL_XLATE_INPUT_MAX] = '\0';
	/* the longest input translates, but the URI does not fit 512 bytes */
	CHECK(pol_xlate_apply(x, in, out, 512) == POL_XLATE_TOO_LONG);
	CHECK(pol_xlate_apply(x, in, out, sizeof(out)) == POL_XLATE_OK);
	memset(in, '1', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	CHECK(pol_xlate_apply(x, in, out, sizeof(out)) == POL_XLATE_BAD_INPUT);
	char *huge = malloc(1 << 20);
	if (huge) {
		memset(huge, '1', (1 << 20) - 1);
		huge[(1 << 20) - 1] = '\0';
		CHECK(pol_xlate_apply(x, huge, out, sizeof(out)) == POL_XLATE_BAD_INPUT);
		free(huge);
	}
	pol_xlate_free(x);
}

static void test_reasons(void)
{
	for (int v = POL_XLATE_OK; v <= POL_XLATE_NOT_ALLOWED; v++) {
		const char *r = pol_xlate_reason((enum pol_xlate_verdict)v);
		CHECK(r && *r && strcmp(r, "unknown") != 0);
	}
}

int main(void)
{
	test_manual_example();
	test_rules_allow_deny();
	test_template();
	test_bad_results();
	test_uri_syntax();
	test_compile_errors();
	test_limits();
	test_reasons();
	return check_done();
}
