/* tests/sip/test_orig_reload_atomic.c: a SIGHUP is all or nothing across the hook and the originator: a config that
 * either half refuses leaves both halves on the running one. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orig_fe.h"
#include "tests/check.h"

/* A hook with one site (its callee, its origins) and an originator (its deny list, one translation pattern). */
static const char *conf_of(char *buf, size_t cap, const char *callee, const char *origin, const char *deny,
			   const char *pattern)
{
	int rc = ch_fmt(buf, cap,
			"log = { level = \"debug\"; };\n"
			"hook = { listen = [ \"127.0.0.1:0\" ]; };\n"
			"sites = ( { name = \"shop\"; domain = \"example.com\"; origins = [ \"%s\" ];\n"
			"  sip = { login = \"10001\"; password = \"Atomic-Secret-1\"; };\n"
			"  callee = \"%s\"; limits = { connects_per_minute_per_ip = 0; calls_per_minute_per_ip = 0;\n"
			"  calls_per_session = 0; calls_per_minute = 0; concurrent_calls = 0; }; } );\n"
			"originator = {\n"
			"  identity = \"sip:c2c@127.0.0.1\";\n"
			"  listen = \"sip:127.0.0.1:0\";\n"
			"  translations = ( { pattern = \"%s\"; output = \"sip:$1@127.0.0.1\"; } );\n"
			"  destinations = { deny = [ \"%s\" ]; };\n"
			"  http = { listen = [ \"127.0.0.1:0\" ]; user = \"admin\"; password = \"" PASSWORD "\"; };\n"
			"  xml = { listen = [ \"127.0.0.1:0\" ]; };\n"
			"};\n",
			origin, callee, pattern, deny);
	CHECK(rc == 0);
	return buf;
}

#define GOOD_ORIGIN  "https://www.example.com"
#define GOOD_PATTERN "^(\\\\d{10})$"
#define CALL         "{\"initiator\":\"9055550000\",\"destination\":\"9055551234\"}"

/* The callee the hook answers a call with now ("" when the answer has none). */
static void hook_callee(char *out, size_t cap)
{
	CURL *c = curl_easy_init();
	char url[256];
	struct chr r;
	const char *body = "{\"sessionId\":\"/10.1.0.1:1/atomic\",\"callId\":\"c1\"}";
	out[0] = '\0';
	int rc =
	    th_http(c, "POST", th_url(url, sizeof url, D.hook_port, "/rest-hook/call"), NULL, body, strlen(body), &r);
	CHECK_MSG(rc == CURLE_OK && r.status == 200, "hook call: curl %d, status %ld", rc, r.status);
	const char *p = rc == CURLE_OK && r.body ? strstr(r.body, "\"callee\":\"") : NULL;
	if (p) {
		p += strlen("\"callee\":\"");
		size_t n = strcspn(p, "\"");
		(void)ch_fmt(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
	}
	chr_free(&r);
	curl_easy_cleanup(c);
}

/* The log names the failing setting as "callhook.conf:LINE: path: ...". */
static bool located(const char *path)
{
	char *l = chd_log(&D);
	bool ok = false;
	for (const char *p = l ? strstr(l, path) : NULL; p && !ok; p = strstr(p + 1, path)) {
		const char *q = p;
		if (q - l < 3 || q[-1] != ' ' || q[-2] != ':')
			continue;
		q -= 2;
		while (q > l && q[-1] >= '0' && q[-1] <= '9')
			q--;
		ok = q - l > 14 && q[-1] == ':' && q < p - 2 && strncmp(q - 14, "callhook.conf:", 14) == 0;
	}
	free(l);
	return ok;
}

static void start_daemon(void)
{
	char conf[4096];
	if (chd_start(&D, conf_of(conf, sizeof conf, "20004", GOOD_ORIGIN, "^sip:900", GOOD_PATTERN)) != 0) {
		CHECK_MSG(0, "daemon did not start");
		chd_cleanup(&D);
		exit(check_done());
	}
	CHECK(D.hook_port > 0 && D.orig_http_port > 0);
}

static void sighup_with(const char *conf, const char *wait_for)
{
	CHECK(chd_write(&D, "callhook.conf", conf, 0600) == 0);
	CHECK(chd_signal(&D, SIGHUP) == 0);
	CHECK_MSG(chd_wait_log(&D, wait_for, 3000), "no \"%s\" in the log", wait_for);
}

/* The hook half is broken (an origin that is not one): the originator keeps its deny list too. */
TEST_CASE(hook_broken)
{
	start_daemon();
	char conf[4096], callee[64];
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", CALL, 202, NULL);
	sighup_with(conf_of(conf, sizeof conf, "20005", "https//x", "^sip:(900|905)", GOOD_PATTERN),
		    "still running the previous configuration");
	CHECK_MSG(located("sites.[0].origins.[0]: \"https//x\" is not an origin"), "no file:line: path in the log");
	/* the new deny list would refuse 905: the old one still places it */
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", CALL, 202, NULL);
	hook_callee(callee, sizeof callee);
	CHECK_STR(callee, "20004");
	/* the same change without the broken origin applies to both halves */
	sighup_with(conf_of(conf, sizeof conf, "20005", GOOD_ORIGIN, "^sip:(900|905)", GOOD_PATTERN), "loaded");
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", CALL, 403, "destination");
	hook_callee(callee, sizeof callee);
	CHECK_STR(callee, "20005");
	CHECK(chd_stop(&D) == 0);
}

/* The originator half is broken (a translation that does not compile): the hook keeps its callee too. */
TEST_CASE(originator_broken)
{
	start_daemon();
	char conf[4096], callee[64];
	sighup_with(conf_of(conf, sizeof conf, "20005", GOOD_ORIGIN, "^sip:(900|905)", "^(\\\\d+$"),
		    "still running the previous configuration");
	CHECK_MSG(located("originator.translations.[0].pattern: "), "no file:line: path in the log");
	hook_callee(callee, sizeof callee);
	CHECK_STR(callee, "20004");
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", CALL, 202, NULL);
	sighup_with(conf_of(conf, sizeof conf, "20005", GOOD_ORIGIN, "^sip:(900|905)", GOOD_PATTERN), "loaded");
	hook_callee(callee, sizeof callee);
	CHECK_STR(callee, "20005");
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json", CALL, 403, "destination");
	CHECK(chd_stop(&D) == 0);
}
