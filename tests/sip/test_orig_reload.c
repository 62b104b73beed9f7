/* tests/sip/test_orig_reload.c: the originator in-process: prepare / start / swap / stop; passwords, translations
 * and limits swap live; restart-only settings are reported; a bad config changes nothing. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "config/config.h"
#include "originator/originator.h"
#include "tests/check.h"

static char dir[] = "/tmp/orig_reload_XXXXXX";
static char logpath[300];
static int http_port;

#define CONF_FMT                                                                                                       \
	"originator = {\n"                                                                                             \
	"  identity = \"sip:c2c@127.0.0.1\";\n"                                                                        \
	"  listen = \"%s\";\n"                                                                                         \
	"  translations = ( { pattern = \"^(\\\\d{10})$\"; output = \"sip:$1@127.0.0.1\"; },\n"                        \
	"                   { pattern = \"^(sip:[a-z]+@127\\\\.0\\\\.0\\\\.1:\\\\d+)$\"; output = \"$1\"; } );\n"      \
	"  destinations = { deny = [ %s ]; };\n"                                                                       \
	"  limits = { concurrent_calls = 10; calls_per_minute = 100; calls_per_minute_per_initiator = 100; };\n"       \
	"  http = { listen = [ \"127.0.0.1:0\" ]; password = \"%s\"; };\n"                                             \
	"  xml = { listen = [ \"127.0.0.1:0\" ]; };\n"                                                                 \
	"};\n"

static struct cfg *load(const char *listen, const char *deny, const char *pw)
{
	char text[2048];
	CHECK(ch_fmt(text, sizeof text, CONF_FMT, listen, deny, pw) == 0);
	struct cfg *c = NULL;
	struct cfg_error e;
	memset(&e, 0, sizeof e);
	int rc = cfg_load_string(text, "reload.conf", dir, &c, &e);
	char m[1024];
	cfg_error_format(&e, m, sizeof m);
	CHECK_MSG(rc == 0, "config: %s", m);
	return c;
}

static char *log_text(void)
{
	char *t = NULL;
	size_t len = 0;
	if (ch_read_file(logpath, 1 << 20, &t, &len) != 0)
		return strdup("");
	return t;
}

static size_t discard(char *p, size_t s, size_t n, void *a)
{
	(void)p;
	(void)a;
	return s * n;
}

static long http(const char *pw, const char *method, const char *path, const char *body)
{
	CURL *c = curl_easy_init();
	char url[256], up[128];
	(void)ch_fmt(url, sizeof url, "http://127.0.0.1:%d%s", http_port, path);
	(void)ch_fmt(up, sizeof up, "admin:%s", pw);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
	curl_easy_setopt(c, CURLOPT_USERPWD, up);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	long st = 0;
	CHECK(curl_easy_perform(c) == CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return st;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CHECK(mkdtemp(dir) != NULL);
	(void)ch_fmt(logpath, sizeof logpath, "%s/log", dir);
	CHECK(ch_log_open(logpath) == 0);
	ch_log_set_level(CH_LOG_INFO);

	struct cfg *c1 = load("sip:127.0.0.1:0", "\"^sip:900\"", "first-pw-1");
	if (!c1)
		return check_done();
	struct orig *o = NULL;
	struct orig_plan *plan = NULL;
	struct cfg_error ce;
	char err[1200] = "";
	memset(&ce, 0, sizeof ce);
	CHECK(orig_prepare(c1, &plan, &ce) == 0);
	if (plan && orig_start(c1, plan, &o, &ce) != 0)
		o = NULL;
	cfg_error_format(&ce, err, sizeof err);
	CHECK_MSG(o != NULL, "orig_start: %s", err);
	cfg_free(c1); /* the originator keeps copies */
	if (!o)
		return check_done();
	char *l = log_text();
	const char *p = strstr(l, "originator-http: listening on 127.0.0.1:");
	http_port = p ? (int)strtol(p + strlen("originator-http: listening on 127.0.0.1:"), NULL, 10) : 0;
	CHECK(http_port > 0);
	CHECK(strstr(l, "originator-xml: listening on 127.0.0.1:") != NULL);
	CHECK(strstr(l, "sip: listening on 127.0.0.1:") != NULL);
	free(l);

	const char *call = "{\"initiator\":\"sip:alice@127.0.0.1:9\",\"destination\":\"9055551234\"}";
	CHECK(http("first-pw-1", "GET", "/v1/calls", NULL) == 200);
	CHECK(http("second-pw-2", "GET", "/v1/calls", NULL) == 401);
	CHECK(http("first-pw-1", "POST", "/v1/calls", call) == 202);

	/* new password, new deny list, and a SIP listener change (needs a restart) */
	struct cfg *c2 = load("sip:127.0.0.1:1", "\"^sip:905\"", "second-pw-2");
	plan = NULL;
	int rc = orig_prepare(c2, &plan, &ce);
	cfg_error_format(&ce, err, sizeof err);
	CHECK_MSG(rc == 0, "reload: %s", err);
	if (plan)
		orig_swap(o, plan);
	cfg_free(c2);
	CHECK(http("first-pw-1", "GET", "/v1/calls", NULL) == 401);
	CHECK(http("second-pw-2", "GET", "/v1/calls", NULL) == 200);
	CHECK(http("second-pw-2", "POST", "/v1/calls", call) == 403);
	l = log_text();
	CHECK_MSG(strstr(l, "needs a restart") && strstr(l, "SIP listener"), "%s", l);
	CHECK(strstr(l, "first-pw-1") == NULL && strstr(l, "second-pw-2") == NULL);
	free(l);

	/* a bad reload changes nothing */
	char text[2048];
	CHECK(ch_fmt(text, sizeof text, CONF_FMT, "sip:127.0.0.1:0", "\"(unclosed\"", "third-pw-3") == 0);
	struct cfg *c3 = NULL;
	struct cfg_error e;
	memset(&e, 0, sizeof e);
	if (cfg_load_string(text, "reload.conf", dir, &c3, &e) == 0) {
		plan = NULL;
		memset(&ce, 0, sizeof ce);
		CHECK(orig_prepare(c3, &plan, &ce) == EINVAL);
		CHECK(plan == NULL);
		cfg_error_format(&ce, err, sizeof err);
		CHECK_MSG(strstr(err, "destinations.deny.[0]") != NULL, "%s", err);
		CHECK_MSG(strncmp(err, "reload.conf:", 12) == 0, "%s", err);
		cfg_free(c3);
	}
	CHECK(http("second-pw-2", "GET", "/v1/calls", NULL) == 200);
	CHECK(http("third-pw-3", "GET", "/v1/calls", NULL) == 401);

	orig_stop(o, 500);
	orig_stop(NULL, 0);
	ch_log_open(NULL);
	unlink(logpath);
	rmdir(dir);
	curl_global_cleanup();
	return check_done();
}
