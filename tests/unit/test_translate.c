/* tests/unit/test_translate.c: table tests of the originator's translation rules and destination policy. */
#include "policy/policy.h"

#include "common/common.h"

#include "tests/check.h"

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

/* pol_xlate_compile with the old positional arguments; on failure *bad is
 * the entry's index and err reads "<path>: <message>" (pol_error_path). */
static int compile(const char *const *pat, const char *const *outp, size_t n, const char *const *allow, size_t nallow,
		   bool has_allow, const char *const *deny, size_t ndeny, struct pol_xlate **x, size_t *bad, char *err,
		   size_t errlen)
{
	const struct pol_xlate_spec spec = {.patterns = pat,
					    .outputs = outp,
					    .n = n,
					    .allow = allow,
					    .nallow = nallow,
					    .has_allow = has_allow,
					    .deny = deny,
					    .ndeny = ndeny};
	struct pol_error e;
	memset(&e, 0x5a, sizeof(e));
	int rc = pol_xlate_compile(&spec, x, &e);
	if (rc) {
		char path[128];
		*bad = e.index;
		CHECK(memchr(e.msg, '\0', sizeof(e.msg)) != NULL);
		CHECK(pol_error_path(&e, NULL, path, sizeof(path)) == 0);
		CHECK(ch_fmt(err, errlen, "%s: %s", path, e.msg) == 0);
	}
	return rc;
}

static struct pol_xlate *mk(const char *const *pat, const char *const *outp, size_t n, const char *const *allow,
			    size_t nallow, bool has_allow, const char *const *deny, size_t ndeny)
{
	struct pol_xlate *x = NULL;
	size_t bad = 99;
	char err[256] = "";
	int rc = compile(pat, outp, n, allow, nallow, has_allow, deny, ndeny, &x, &bad, err, sizeof(err));
	CHECK_MSG(rc == 0, "compile: %s (index %zu)", err, bad);
	return x;
}

/* The manual's example: ^(.*)$ -> sip:$1@sipdomain.com. */
TEST_CASE(manual_example)
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
TEST_CASE(rules_allow_deny)
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
TEST_CASE(template)
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
TEST_CASE(bad_results)
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

/* The issue's shapes, with the README's own pieces: ^(.*)$ -> sip:$1@pbx,
 * deny ^sip:(900|976). Every spelling of a 900 number is denied. */
TEST_CASE(canonical_deny)
{
	const char *pat[] = {"^(.*)$"};
	const char *outp[] = {"sip:$1@pbx"};
	const char *deny[] = {"^sip:(900|976)"};
	struct pol_xlate *x = mk(pat, outp, 1, NULL, 0, false, deny, 1);
	if (!x)
		return;
	static const struct xcase t[] = {
	    {"9001234567", POL_XLATE_DENIED, NULL},
	    {"%39001234567", POL_XLATE_DENIED, NULL},
	    {"%3900%31234567", POL_XLATE_DENIED, NULL},
	    {"9%2D001234567", POL_XLATE_DENIED, NULL},
	    {"9%2d001234567", POL_XLATE_DENIED, NULL},
	    {"9-001234567", POL_XLATE_DENIED, NULL},
	    {"(900)1234567", POL_XLATE_DENIED, NULL},
	    {"(900)123-4567", POL_XLATE_DENIED, NULL},
	    {"%28900%29123-4567", POL_XLATE_DENIED, NULL},
	    {"9.001.234.567", POL_XLATE_DENIED, NULL},
	    {"9%2E001%2e234.567", POL_XLATE_DENIED, NULL},
	    {"976-123-4567", POL_XLATE_DENIED, NULL},
	    /* a space cannot be captured, and cannot be escaped in either */
	    {"(900) 123-4567", POL_XLATE_BAD_CAPTURE, NULL},
	    {"(900)%20123-4567", POL_XLATE_BAD_ESCAPE, NULL},
	    /* escapes that have no safe single spelling are refused, not guessed */
	    {"%2B19001234567", POL_XLATE_BAD_ESCAPE, NULL}, /* '+' is reserved */
	    {"%2539001234567", POL_XLATE_BAD_ESCAPE, NULL}, /* no double decoding */
	    {"x%00", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%0a", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%0D%0AVia:x", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%7f", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%40evil.com", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%3a", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%3B", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%3F", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%2f", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%22", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%3C", POL_XLATE_BAD_ESCAPE, NULL},
	    {"caf%c3%a9", POL_XLATE_BAD_ESCAPE, NULL}, /* valid UTF-8, still not one spelling */
	    {"x%c3%28", POL_XLATE_BAD_ESCAPE, NULL},   /* invalid UTF-8 */
	    {"x%ff", POL_XLATE_BAD_ESCAPE, NULL},
	    {"x%4", POL_XLATE_BAD_URI, NULL},
	    {"x%", POL_XLATE_BAD_URI, NULL},
	    {"x%zz", POL_XLATE_BAD_URI, NULL},
	    {"x%%41", POL_XLATE_BAD_URI, NULL},
	    /* what is let through is shown, judged and placed in canonical form */
	    {"rt%63arol", POL_XLATE_OK, "sip:rtcarol@pbx"},
	    {"rt%43arol", POL_XLATE_OK, "sip:rtCarol@pbx"}, /* the user part keeps its case */
	    {"%41lice", POL_XLATE_OK, "sip:Alice@pbx"},
	    {"alice.smith", POL_XLATE_OK, "sip:alice.smith@pbx"}, /* not a number: '.' kept */
	    {"1-800-FLOWERS", POL_XLATE_OK, "sip:1-800-FLOWERS@pbx"},
	    {"905-555-1234", POL_XLATE_OK, "sip:9055551234@pbx"},
	    {"(905)%20555", POL_XLATE_BAD_ESCAPE, NULL},
	    {"+1(905)555.1234", POL_XLATE_OK, "sip:+19055551234@pbx"},
	    {"*21%23", POL_XLATE_OK, "sip:*21%23@pbx"},
	    {"*21%2a%23", POL_XLATE_OK, "sip:*21*%23@pbx"},
	    {"%7e%5f%21%27", POL_XLATE_OK, "sip:~_!'@pbx"},
	    {"9+001234567", POL_XLATE_OK, "sip:9+001234567@pbx"}, /* '+' inside: not a number */
	};
	run_table("canonical-deny", x, t, sizeof(t) / sizeof(t[0]));

	/* check judges canonical URIs only: never a spelling the engine would change */
	CHECK(pol_xlate_check(x, "sip:9001234567@pbx") == POL_XLATE_DENIED);
	CHECK(pol_xlate_check(x, "sip:%39001234567@pbx") == POL_XLATE_BAD_URI);
	CHECK(pol_xlate_check(x, "SIP:5551234567@pbx") == POL_XLATE_BAD_URI);
	CHECK(pol_xlate_check(x, "sip:555-123-4567@pbx") == POL_XLATE_BAD_URI);
	CHECK(pol_xlate_check(x, "sip:5551234567@pbx") == POL_XLATE_OK);
	CHECK(pol_xlate_check(x, "sip:x%3b@pbx") == POL_XLATE_BAD_ESCAPE);
	pol_xlate_free(x);
}

/* The input is escape-decoded before the patterns: a rule written for ten
 * digits sees ten digits, and a template cannot be fed a spelling that
 * turns into something else. */
TEST_CASE(canonical_input)
{
	const char *pat[] = {"^900", "^(\\d{10})$", "^((?i:sips?):[^@]+@[A-Za-z0-9.-]+)$"};
	const char *outp[] = {"sip:blocked@nowhere.example", "sip:$1@PBX.Example.com", "$1"};
	const char *allow[] = {"^sip:\\d{10}@pbx\\.example\\.com$", "^sips?:[a-z]+@sipdomain\\.com$"};
	const char *deny[] = {"^sip:(900|976)"};
	struct pol_xlate *x = mk(pat, outp, 3, allow, 2, true, deny, 1);
	if (!x)
		return;
	static const struct xcase t[] = {
	    {"%39001234567", POL_XLATE_NOT_ALLOWED, NULL}, /* rule 1 saw 900 */
	    {"9%30%301234567", POL_XLATE_NOT_ALLOWED, NULL},
	    {"905%35551234", POL_XLATE_OK, "sip:9055551234@pbx.example.com"},
	    {"9055551234", POL_XLATE_OK, "sip:9055551234@pbx.example.com"},
	    {"SIP:scott@SipDomain.COM", POL_XLATE_OK, "sip:scott@sipdomain.com"},
	    {"sip:sc%6Ftt@sipdomain.com", POL_XLATE_OK, "sip:scott@sipdomain.com"},
	    {"SIPS:scott@sipdomain.com", POL_XLATE_OK, "sips:scott@sipdomain.com"},
	    {"sip:%39001234567@pbx.example.com", POL_XLATE_DENIED, NULL},
	    {"Sip:976-123-4567@pbx.example.com", POL_XLATE_DENIED, NULL},
	    {"sip:scott%40evil.com@sipdomain.com", POL_XLATE_BAD_ESCAPE, NULL},
	    {"sip:scott@evil.com", POL_XLATE_NOT_ALLOWED, NULL},
	};
	run_table("canonical-input", x, t, sizeof(t) / sizeof(t[0]));
	pol_xlate_free(x);
}

struct ccase {
	const char *in;
	enum pol_xlate_verdict want;
	const char *out;
};

/* pol_sip_uri_canon on its own: every part of the URI. */
static const struct ccase canon_cases[] = {
    {"sip:a@b.example", POL_XLATE_OK, "sip:a@b.example"},
    {"SIP:a@PBX.Example", POL_XLATE_OK, "sip:a@pbx.example"},
    {"SiPs:A@B.Example", POL_XLATE_OK, "sips:A@b.example"},
    {"sip:PBX.Example", POL_XLATE_OK, "sip:pbx.example"},
    {"sip:%39001234567@pbx", POL_XLATE_OK, "sip:9001234567@pbx"},
    {"sip:9%2d001%2E234%2e567@pbx", POL_XLATE_OK, "sip:9001234567@pbx"},
    {"sip:(900)123-4567@pbx", POL_XLATE_OK, "sip:9001234567@pbx"},
    {"sip:00%31@h.example", POL_XLATE_OK, "sip:001@h.example"},
    {"sip:%2a%23@h.example", POL_XLATE_OK, "sip:*%23@h.example"},
    {"sip:1-2%23@h.example", POL_XLATE_OK, "sip:12%23@h.example"},
    {"sip:-@h.example", POL_XLATE_OK, "sip:-@h.example"},
    {"sip:a.b-c@h.example", POL_XLATE_OK, "sip:a.b-c@h.example"},
    /* user=phone: the number part (before ';') loses its separators */
    {"sip:+1-212-555-1212:1234@gateway.com;user=phone", POL_XLATE_OK, "sip:+12125551212:1234@gateway.com;user=phone"},
    {"sip:+1-212-555-1212;ext=22-3@gw.example;user=phone", POL_XLATE_OK,
     "sip:+12125551212;ext=22-3@gw.example;user=phone"},
    {"sip:9-00@h.example;user=%70hone", POL_XLATE_OK, "sip:900@h.example;user=phone"},
    {"sip:9-00@h.example;USER=Phone", POL_XLATE_OK, "sip:900@h.example;user=phone"},
    {"sip:a-b@h.example;user=phone", POL_XLATE_OK, "sip:ab@h.example;user=phone"},
    {"sip:-.-@h.example;user=phone", POL_XLATE_BAD_URI, NULL},
    /* parameters: lower case, order kept, no repeats */
    {"sip:a@h.example;transport=TCP;Lr", POL_XLATE_OK, "sip:a@h.example;transport=tcp;lr"},
    {"sip:a@h.example;maddr=[::1]", POL_XLATE_OK, "sip:a@h.example;maddr=[::1]"},
    {"sip:a@h.example;x=%61", POL_XLATE_OK, "sip:a@h.example;x=a"},
    {"sip:a@h.example;user=phone;user=ip", POL_XLATE_BAD_URI, NULL},
    {"sip:a@h.example;lr;LR", POL_XLATE_BAD_URI, NULL},
    {"sip:a@h.example;l%72;lr", POL_XLATE_BAD_URI, NULL},
    {"sip:a@h.example;x=%3b", POL_XLATE_BAD_ESCAPE, NULL},
    {"sip:a@h.example;x=%23", POL_XLATE_BAD_ESCAPE, NULL},
    /* headers: never, escaped or not */
    {"sip:a@h.example?x=y", POL_XLATE_BAD_URI, NULL},
    {"sip:a%3fx=y@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    {"sip:a@h.example;x=y%3Fz", POL_XLATE_BAD_ESCAPE, NULL},
    /* password */
    {"sip:a:p%61ss@h.example", POL_XLATE_OK, "sip:a:pass@h.example"},
    {"sip:a:p%23@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    /* host and port */
    {"sip:a@[2001:DB8:0:0::1]:05060", POL_XLATE_OK, "sip:a@[2001:db8::1]:5060"},
    {"sip:a@[::FFFF:10.0.0.1]", POL_XLATE_OK, "sip:a@[::ffff:10.0.0.1]"},
    {"sip:a@10.0.0.1:5060", POL_XLATE_OK, "sip:a@10.0.0.1:5060"},
    {"sip:a@0.0.0.0", POL_XLATE_OK, "sip:a@0.0.0.0"},
    {"sip:a@010.0.0.1", POL_XLATE_BAD_URI, NULL},
    {"sip:a@10.0.0.01", POL_XLATE_BAD_URI, NULL},
    {"sip:a@0x.example", POL_XLATE_OK, "sip:a@0x.example"},
    {"sip:a@pbx.example.", POL_XLATE_BAD_URI, NULL},
    {"sip:a@pb%78.example", POL_XLATE_BAD_URI, NULL},
    /* malformed and refused escapes */
    {"sip:a%4@h.example", POL_XLATE_BAD_URI, NULL},
    {"sip:a%zz@h.example", POL_XLATE_BAD_URI, NULL},
    {"sip:a%00@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    {"sip:a%20b@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    {"sip:a%25@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    {"sip:a%c3%a9@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    {"sip:a%2B@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    {"sip:%3Ca%3E@h.example", POL_XLATE_BAD_ESCAPE, NULL},
    {"tel:+1-905", POL_XLATE_BAD_URI, NULL},
    {"", POL_XLATE_BAD_URI, NULL},
    {NULL, POL_XLATE_BAD_URI, NULL},
};

TEST_CASE(canonical_uri)
{
	for (size_t i = 0; i < sizeof(canon_cases) / sizeof(canon_cases[0]); i++) {
		const struct ccase *c = &canon_cases[i];
		char out[256] = "untouched";
		enum pol_xlate_verdict v = pol_sip_uri_canon(c->in, out, sizeof(out));
		CHECK_MSG(v == c->want, "canon[%zu] \"%s\": got %d (%s) want %d", i, c->in ? c->in : "(null)", (int)v,
			  pol_xlate_reason(v), (int)c->want);
		if (v != POL_XLATE_OK) {
			CHECK_MSG(strcmp(out, "untouched") == 0, "canon[%zu]: out written on failure", i);
			continue;
		}
		if (c->out)
			CHECK_MSG(strcmp(out, c->out) == 0, "canon[%zu]: \"%s\" != \"%s\"", i, out, c->out);
		/* idempotent, and still a URI the syntax check accepts */
		char again[256];
		CHECK_MSG(pol_sip_uri_canon(out, again, sizeof(again)) == POL_XLATE_OK && strcmp(out, again) == 0,
			  "canon[%zu]: \"%s\" is not a fixed point", i, out);
		CHECK_MSG(pol_sip_uri_ok(out), "canon[%zu]: \"%s\" fails pol_sip_uri_ok", i, out);
	}
}

/* Too small an output buffer, and one that is just big enough. */
TEST_CASE(canonical_uri_cap)
{
	/* too small an output: refused, untouched */
	char small[10] = "untouched";
	CHECK(pol_sip_uri_canon("sip:a@b.example", small, sizeof(small)) == POL_XLATE_TOO_LONG);
	CHECK_STR(small, "untouched");
	char exact[16];
	CHECK(pol_sip_uri_canon("SIP:a@B.example", exact, sizeof(exact)) == POL_XLATE_OK);
	CHECK_STR(exact, "sip:a@b.example");
	CHECK(pol_sip_uri_canon("sip:a@b.example", exact, 0) == POL_XLATE_BAD_INPUT);
}

/* One per-initiator budget per phone. */
TEST_CASE(limit_key)
{
	static const char *const same[] = {
	    "sip:rtcarol@pbx",
	    "sip:rtcarol:x@pbx",
	    "sips:rtcarol@pbx",
	    "sip:rtcarol@pbx:5060",
	    "sip:rtcarol@pbx;transport=tcp",
	    "sip:rtcarol:pw@pbx:5070;lr;user=phone",
	};
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char key[64] = "";
		CHECK_MSG(pol_sip_uri_limit_key(same[i], key, sizeof(key)) == 0, "%s", same[i]);
		CHECK_MSG(strcmp(key, "rtcarol@pbx") == 0, "%s -> %s", same[i], key);
	}
	char key[64] = "untouched";
	CHECK(pol_sip_uri_limit_key("sip:a@[2001:db8::1]:5060", key, sizeof(key)) == 0);
	CHECK_STR(key, "a@[2001:db8::1]");
	CHECK(pol_sip_uri_limit_key("sip:pbx.example:5060;lr", key, sizeof(key)) == 0);
	CHECK_STR(key, "pbx.example");
	CHECK(pol_sip_uri_limit_key("sip:rtCarol@pbx", key, sizeof(key)) == 0);
	CHECK_STR(key, "rtCarol@pbx"); /* user parts are case-sensitive */
	memcpy(key, "untouched", sizeof("untouched"));
	/* only canonical URIs have a key */
	CHECK(pol_sip_uri_limit_key("sip:rt%63arol@pbx", key, sizeof(key)) == EINVAL);
	CHECK(pol_sip_uri_limit_key("SIP:rtcarol@pbx", key, sizeof(key)) == EINVAL);
	CHECK(pol_sip_uri_limit_key("sip:rtcarol@PBX", key, sizeof(key)) == EINVAL);
	CHECK(pol_sip_uri_limit_key(NULL, key, sizeof(key)) == EINVAL);
	CHECK(pol_sip_uri_limit_key("sip:rtcarol@pbx", key, 11) == ENOSPC);
	CHECK_STR(key, "untouched");
	CHECK(pol_sip_uri_limit_key("sip:rtcarol@pbx", key, 12) == 0);
}

TEST_CASE(uri_syntax)
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

TEST_CASE(compile_errors)
{
	struct pol_xlate *x = (struct pol_xlate *)0x1;
	size_t bad = 77;
	char err[256];
	const char *p1[] = {"^(\\d+)$", "^(unclosed$"};
	const char *o1[] = {"sip:$1@a.example", "sip:$1@a.example"};
	CHECK(compile(p1, o1, 2, NULL, 0, false, NULL, 0, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 1);
	CHECK_MSG(strncmp(err, "translations.[1].pattern: ", 26) == 0, "%s", err);
	CHECK(x == (struct pol_xlate *)0x1);

	const char *o2[] = {"sip:$2@a.example"};
	CHECK(compile(p1, o2, 1, NULL, 0, false, NULL, 0, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 0);
	CHECK_MSG(strstr(err, "translations.[0].output") != NULL, "%s", err);

	const char *bad_outs[] = {"sip:$0@a.example", "sip:$x@a.example", "sip:a@a.example$", "sip:\x01@a"};
	for (size_t i = 0; i < 4; i++) {
		CHECK_MSG(compile(p1, &bad_outs[i], 1, NULL, 0, false, NULL, 0, &x, &bad, err, sizeof(err)) == EINVAL,
			  "output %zu accepted", i);
	}

	const char *allow[] = {"^ok$", "(("};
	CHECK(compile(p1, o1, 1, allow, 2, true, NULL, 0, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 1);
	CHECK_MSG(strncmp(err, "destinations.allow.[1]: ", 24) == 0, "%s", err);

	const char *deny[] = {"[z-a]"};
	CHECK(compile(p1, o1, 1, NULL, 0, false, deny, 1, &x, &bad, err, sizeof(err)) == EINVAL);
	CHECK(bad == 0);
	CHECK_MSG(strncmp(err, "destinations.deny.[0]: ", 23) == 0, "%s", err);
	CHECK(x == (struct pol_xlate *)0x1);

	/* no rules at all: compiles, refuses everything */
	struct pol_xlate *y = NULL;
	CHECK(compile(NULL, NULL, 0, NULL, 0, false, NULL, 0, &y, &bad, err, sizeof(err)) == 0);
	char out[64];
	CHECK(pol_xlate_apply(y, "123", out, sizeof(out)) == POL_XLATE_NO_RULE);
	pol_xlate_free(y);
	/* an empty allow list that exists allows nothing */
	const char *p2[] = {"^(\\d+)$"};
	const char *o3[] = {"sip:$1@a.example"};
	CHECK(compile(p2, o3, 1, NULL, 0, true, NULL, 0, &y, &bad, err, sizeof(err)) == 0);
	CHECK(pol_xlate_apply(y, "123", out, sizeof(out)) == POL_XLATE_NOT_ALLOWED);
	pol_xlate_free(y);
	pol_xlate_free(NULL);
}

/* The error record: which list, which entry, the message without a path;
 * pol_error_path gives the path the originator looks the line up under. */
TEST_CASE(error_record)
{
	struct pol_xlate *x = NULL;
	struct pol_error e;
	char path[64];
	const char *pat[] = {"^(\\d+)$", "^(a)$"};
	const char *outp[] = {"sip:$1@a.example", "sip:$2@a.example"};
	struct pol_xlate_spec spec = {.patterns = pat, .outputs = outp, .n = 2};
	CHECK(pol_xlate_compile(&spec, &x, &e) == EINVAL);
	CHECK(e.list == POL_LIST_OUTPUT && e.index == 1);
	CHECK_STR(e.msg, "$2 refers to a group the pattern does not have (it has 1)");
	CHECK(pol_error_path(&e, "originator", path, sizeof(path)) == 0);
	CHECK_STR(path, "originator.translations.[1].output");
	CHECK(pol_xlate_compile(&spec, &x, NULL) == EINVAL); /* err may be NULL */
	CHECK(x == NULL);

	const char *deny[] = {"^ok$", "^ok$", NULL};
	spec = (struct pol_xlate_spec){.deny = deny, .ndeny = 3};
	CHECK(pol_xlate_compile(&spec, &x, &e) == EINVAL);
	CHECK(e.list == POL_LIST_DENY && e.index == 2);
	CHECK_STR(e.msg, "missing pattern");
	CHECK(pol_error_path(&e, "", path, sizeof(path)) == 0);
	CHECK_STR(path, "destinations.deny.[2]");
	CHECK(pol_error_path(&e, "originator", path, 12) == ENOSPC);

	const char *allow[] = {"(("};
	spec = (struct pol_xlate_spec){.allow = allow, .nallow = 1, .has_allow = false};
	CHECK(pol_xlate_compile(&spec, &x, &e) == 0); /* no allow list: its patterns are ignored */
	pol_xlate_free(x);
	x = NULL;
	spec.has_allow = true;
	CHECK(pol_xlate_compile(&spec, &x, &e) == EINVAL);
	CHECK(e.list == POL_LIST_ALLOW && e.index == 0 && strstr(e.msg, " at offset ") != NULL);
	e.list = POL_LIST_PATTERN;
	CHECK(pol_error_path(&e, "originator", path, sizeof(path)) == 0);
	CHECK_STR(path, "originator.translations.[0].pattern");
	e.list = POL_LIST_NONE;
	CHECK(pol_error_path(&e, "originator", path, sizeof(path)) == 0);
	CHECK_STR(path, "originator");
}

/* Long inputs and catastrophic backtracking stay bounded. */
TEST_CASE(limits)
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

/* An expansion longer than any URI: refused as not a URI when it fits the
 * caller's buffer, as too long when it does not. */
TEST_CASE(long_expansion)
{
	const char *pat[] = {"^(\\d+)$"};
	const char *outp[] = {"sip:$1$1$1$1$1@a.example"};
	struct pol_xlate *x = mk(pat, outp, 1, NULL, 0, false, NULL, 0);
	if (!x)
		return;
	char in[POL_XLATE_INPUT_MAX + 1];
	memset(in, '1', 500);
	in[500] = '\0';
	static char out[4096];
	memcpy(out, "untouched", sizeof("untouched"));
	CHECK(pol_xlate_translate(x, in, out, sizeof(out)) == POL_XLATE_BAD_URI);
	CHECK(pol_xlate_translate(x, in, out, 2600) == POL_XLATE_BAD_URI);
	CHECK(pol_xlate_translate(x, in, out, 2049) == POL_XLATE_TOO_LONG);
	CHECK(pol_xlate_translate(x, in, out, 1024) == POL_XLATE_TOO_LONG);
	CHECK_STR(out, "untouched");
	in[400] = '\0'; /* 2000 digits and the rest: 2014 bytes, a URI */
	CHECK(pol_xlate_translate(x, in, out, sizeof(out)) == POL_XLATE_OK);
	CHECK(strlen(out) == 2014);
	CHECK(pol_xlate_translate(x, in, out, 2014) == POL_XLATE_TOO_LONG);
	pol_xlate_free(x);
}

TEST_CASE(reasons)
{
	for (int v = POL_XLATE_OK; v <= POL_XLATE_NOT_ALLOWED; v++) {
		const char *r = pol_xlate_reason((enum pol_xlate_verdict)v);
		CHECK(r && *r && strcmp(r, "unknown") != 0);
	}
}
