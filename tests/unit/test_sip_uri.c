/* tests/unit/test_sip_uri.c: table tests of the SIP-URI grammar in common/ (ch_sip_uri_parse and its helpers). */
#include "common/sip_uri.h"

#include "common/common.h"
#include "tests/check.h"

#include <string.h>

struct pcase {
	const char *uri;
	bool sips;
	const char *user, *password, *host, *port, *params; /* NULL: absent */
};

static const struct pcase parse_cases[] = {
    {"sip:a@b.example", false, "a", NULL, "b.example", NULL, NULL},
    {"SIPS:a@b.example", true, "a", NULL, "b.example", NULL, NULL},
    {"sip:b.example", false, NULL, NULL, "b.example", NULL, NULL},
    {"sip:a:pw@b.example:5060;transport=tcp;lr", false, "a", "pw", "b.example", "5060", ";transport=tcp;lr"},
    {"sip:a:@b.example", false, "a", "", "b.example", NULL, NULL},
    {"sips:a@[2001:db8::1]:5061", true, "a", NULL, "[2001:db8::1]", "5061", NULL},
    {"sip:[::1];maddr=[::1]", false, NULL, NULL, "[::1]", NULL, ";maddr=[::1]"},
    {"sip:+1-212-555-1212;ext=22@gw.example;user=phone", false, "+1-212-555-1212;ext=22", NULL, "gw.example", NULL,
     ";user=phone"},
    {"sip:%39001234567@10.0.0.1", false, "%39001234567", NULL, "10.0.0.1", NULL, NULL},
};

static void check_part(const char *uri, const char *what, const char *got, size_t len, const char *want)
{
	if (!want) {
		CHECK_MSG(got == NULL && len == 0, "%s: %s present", uri, what);
		return;
	}
	CHECK_MSG(got && len == strlen(want) && memcmp(got, want, len) == 0, "%s: %s is \"%.*s\", want \"%s\"", uri,
		  what, got ? (int)len : 6, got ? got : "(null)", want);
}

TEST_CASE(parts)
{
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct pcase *c = &parse_cases[i];
		struct ch_sip_uri_parts u;
		CHECK_MSG(ch_sip_uri_parse(c->uri, &u), "%s refused", c->uri);
		if (!ch_sip_uri_parse(c->uri, &u))
			continue;
		CHECK_MSG(u.sips == c->sips, "%s: scheme", c->uri);
		check_part(c->uri, "user", u.user, u.user_len, c->user);
		check_part(c->uri, "password", u.password, u.password_len, c->password);
		check_part(c->uri, "host", u.host, u.host_len, c->host);
		check_part(c->uri, "port", u.port, u.port_len, c->port);
		check_part(c->uri, "params", u.params, u.params_len, c->params);
		CHECK(ch_sip_uri_ok(c->uri));
	}
}

static const char *const refused[] = {
    NULL,
    "",
    "sip:",
    "sip:a@",
    "sip:@b.example",
    "sip:a@b.example?x=y",
    "sip:a@b.example;",
    "sip:a@b.example;=x",
    "sip:a@b.example;x=",
    "sip:a@b.example:0",
    "sip:a@b.example:65536",
    "sip:a@b.example:",
    "sip:a@b.example:+5",
    "sip:a b@b.example",
    "sip:a@b@c.example",
    "sip:a%4@b.example",
    "sip:a%zz@b.example",
    "sip:a@b_c.example",
    "sip:a@a.1example",
    "sip:a@-a.example",
    "sip:a@a-.example",
    "sip:a@a..example",
    "sip:a@256.0.0.1",
    "sip:a@1.2.3",
    "sip:a@1.2.3.4.5",
    "sip:a@[::1",
    "sip:a@[::g]",
    "sip:a@[::1]x",
    "sip:a@[1.2.3.4]",
    "sip:<a@b.example>",
    "mailto:a@b.example",
    "tel:+1-905",
};

TEST_CASE(refusals)
{
	struct ch_sip_uri_parts u;
	memset(&u, 0x5a, sizeof(u));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		CHECK_MSG(!ch_sip_uri_parse(refused[i], &u), "\"%s\" accepted", refused[i] ? refused[i] : "(null)");
		CHECK(!ch_sip_uri_ok(refused[i]));
	}
	unsigned char c;
	memcpy(&c, &u, 1);
	CHECK(c == 0x5a); /* untouched on failure */
}

TEST_CASE(limits)
{
	static char uri[CH_SIP_URI_MAX + 2];
	memcpy(uri, "sip:", 4);
	memset(uri + 4, 'a', CH_SIP_URI_MAX - 4 - 10);
	memcpy(uri + CH_SIP_URI_MAX - 10, "@b.example", 11);
	CHECK(strlen(uri) == CH_SIP_URI_MAX && ch_sip_uri_ok(uri));
	memcpy(uri + CH_SIP_URI_MAX - 10, "a@b.example", 12);
	CHECK(!ch_sip_uri_ok(uri)); /* one byte over */
	CHECK(ch_sip_uri_ok("sip:a@b.example:65535") && ch_sip_uri_ok("sip:a@b.example:1"));
	CHECK(ch_sip_uri_ok("sip:a@b.example.")); /* the grammar allows one trailing dot */
	CHECK(ch_sip_uri_ok("sip:a@1.example") && ch_sip_uri_ok("sip:a@0.0.0.0"));
	CHECK(ch_sip_uri_ok("sip:a;b=c/d@h.example")); /* ';' '=' '/' are user characters */
}

TEST_CASE(helpers)
{
	CHECK(ch_hex_value('0') == 0 && ch_hex_value('9') == 9 && ch_hex_value('a') == 10 && ch_hex_value('F') == 15);
	CHECK(ch_hex_value('g') == -1 && ch_hex_value('%') == -1 && ch_hex_value(0) == -1);
	for (const char *p = "azAZ09-_.!~*'()"; *p; p++)
		CHECK_MSG(ch_sip_unreserved((unsigned char)*p), "'%c'", *p);
	for (const char *p = ";?@:&=+$,/%#<>\" "; *p; p++)
		CHECK_MSG(!ch_sip_unreserved((unsigned char)*p), "'%c'", *p);
	CHECK(!ch_sip_unreserved(0) && !ch_sip_unreserved(0x80));
}

/* ch_has_control: C0, DEL and the UTF-8 form of C1; printable UTF-8 is not. */
TEST_CASE(has_control)
{
	CHECK(!ch_has_control("caf\xc3\xa9 +1", 8));
	CHECK(!ch_has_control("\xc2\xa0\xc3\x85", 4)); /* U+00A0, U+00C5 */
	CHECK(ch_has_control("a\tb", 3));
	CHECK(ch_has_control("a\0b", 3));
	CHECK(ch_has_control("\x7f", 1));
	CHECK(ch_has_control("x\xc2\x85", 3)); /* NEL */
	CHECK(ch_has_control("\xc2\x80", 2) && ch_has_control("\xc2\x9f", 2));
	CHECK(!ch_has_control("\xc2", 1));
	CHECK(!ch_has_control("", 0));
}
