/* tests/it/test_buttons.c: buttons as records end to end: visibleName, inviteParameters, opening hours, call records.
 */
#include "tests/check.h"
#include "harness.h"

#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The daemon's clock cannot be set: "night" is closed at every instant (no open interval), "holiday" is open
 * all week but closed on yesterday, today and tomorrow (UTC), so on every New York date; the site "after" is
 * closed at every instant except for its button "always". */
#define CONF_FMT                                                                                                       \
	"log = { level = \"info\"; };\n"                                                                               \
	"hook = { listen = [ \"127.0.0.1:0\" ]; cdr = { file = \"%s\"; }; };\n"                                        \
	"sites = (\n"                                                                                                  \
	" { name = \"shop\"; origins = [ \"https://www.example.com\" ]; sip = { login = \"10001\"; };\n"               \
	"   callee = \"10002\";\n"                                                                                     \
	"   hours = { tz = \"Europe/Berlin\"; open = [ \"Mon-Sun 00:00-24:00\" ]; };\n"                                \
	"   buttons = {\n"                                                                                             \
	"     sales = \"10002\";\n"                                                                                    \
	"     support = { callee = \"10003\"; visible_name = \"Website: Support\";\n"                                  \
	"                 invite_parameters = { X-Queue = \"support\"; X-Site = \"shop web\"; }; };\n"                 \
	"     night = { callee = \"10004\"; hours = { tz = \"UTC\"; open = [ ]; }; };\n"                               \
	"     holiday = { callee = \"10005\"; hours = { tz = \"America/New_York\"; open = [ \"Mon-Sun 00:00-24:00\" "  \
	"];\n"                                                                                                         \
	"                 closed = [ \"%s\", \"%s\", \"%s\" ]; }; };\n"                                                \
	"   };\n"                                                                                                      \
	"   limits = { connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = 1000;\n" \
	"              calls_per_minute = 1000; concurrent_calls = 1000; }; },\n"                                      \
	" { name = \"after\"; origins = [ \"https://after.example.com\" ]; sip = { login = \"20001\"; };\n"            \
	"   callee = \"20002\"; hours = { tz = \"Europe/Berlin\"; open = [ ]; };\n"                                    \
	"   buttons = { always = { callee = \"20003\"; hours = { tz = \"UTC\"; open = [ \"Mon-Sun 00:00-24:00\" ]; "   \
	"}; }; "                                                                                                       \
	"};\n"                                                                                                         \
	"   limits = { connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = 1000;\n" \
	"              calls_per_minute = 1000; concurrent_calls = 1000; }; }\n"                                       \
	");\n"

static struct chd d;
static CURL *c;
static char cdr_path[400];

static void utc_date(time_t t, char *out, size_t cap)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%d", &tm);
}

static int start(const char *cdr_file)
{
	if (chd_init(&d) != 0)
		return -1;
	if (cdr_file)
		snprintf(cdr_path, sizeof(cdr_path), "%s", cdr_file);
	else
		snprintf(cdr_path, sizeof(cdr_path), "%s/calls.jsonl", d.dir);
	char y[16], t[16], m[16], conf[4096];
	time_t now = time(NULL);
	utc_date(now - 86400, y, sizeof(y));
	utc_date(now, t, sizeof(t));
	utc_date(now + 86400, m, sizeof(m));
	snprintf(conf, sizeof(conf), CONF_FMT, cdr_path, y, t, m);
	return chd_start(&d, conf);
}

static struct chr post(const char *path, const char *body)
{
	char url[256];
	struct chr r;
	const char *hdr[] = {"Content-Type: application/json;charset=UTF-8", NULL};
	th_http(c, "POST", th_url(url, sizeof(url), d.hook_port, path), hdr, body, strlen(body), &r);
	return r;
}

static long post_status(const char *path, const char *body)
{
	struct chr r = post(path, body);
	long s = r.status;
	chr_free(&r);
	return s;
}

static long connect_as(const char *sid, const char *origin, const char *button)
{
	char b[1024];
	snprintf(b, sizeof(b),
		 "{\"nodeId\":\"n@192.168.1.5\",\"appKey\":\"clickToCallApp\",\"sessionId\":\"%s\","
		 "\"custom\":{\"button\":\"%s\"},\"origin\":\"%s\"}",
		 sid, button, origin);
	return post_status("/rest-hook/connect", b);
}

static long call_event(const char *sid, const char *call_id, const char *status, int sip_status)
{
	char b[512];
	snprintf(b, sizeof(b), "{\"sessionId\":\"%s\",\"callId\":\"%s\",\"status\":\"%s\",\"sipStatus\":%d}", sid,
		 call_id, status, sip_status);
	return post_status("/rest-hook/CallStatusEvent", b);
}

static char *metrics(void)
{
	char url[256];
	struct chr r;
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/metrics"), NULL, NULL, 0, &r);
	char *body = r.body;
	r.body = NULL;
	chr_free(&r);
	return body;
}

/* The lines of a file (up to max), each parsed; returns how many. */
static size_t read_lines(const char *path, json_t **out, size_t max)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	char line[8192];
	while (f && n < max && fgets(line, sizeof(line), f)) {
		size_t l = strlen(line);
		CHECK_MSG(l > 0 && line[l - 1] == '\n', "a line without its newline: %s", line);
		out[n++] = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	}
	if (f)
		fclose(f);
	return n;
}

/* Wait until path has n lines (the record is written after the answer). */
static size_t wait_lines(const char *path, json_t **out, size_t max, size_t n)
{
	size_t got = 0;
	for (int i = 0; i < 100; i++) {
		got = read_lines(path, out, max);
		if (got >= n)
			return got;
		for (size_t k = 0; k < got; k++)
			json_decref(out[k]);
		usleep(20000);
	}
	return read_lines(path, out, max);
}

int test_setup(const char *name)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	if (strcmp(name, "check_refuses_bad_config") == 0)
		return 0;
	if (strcmp(name, "cdr_full_disk") == 0)
		return start("/dev/full");
	if (strcmp(name, "cdr_unwritable_dir") == 0)
		return start("/nonexistent-callhook-dir/calls.jsonl");
	return start(NULL);
}

void test_teardown(void)
{
	if (d.pid > 0)
		CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}

#define SID  "/192.0.2.7:52706/192.168.1.5:8443-b1"
#define SID2 "/192.0.2.8:40000/192.168.1.5:8443-b2"

/* The button's visibleName and headers replace the browser's; connect raises restOverwrite for visibleName. */
TEST_CASE(visible_name_and_invite_parameters)
{
	const char *cb = "{\"sessionId\":\"" SID "\",\"custom\":{\"button\":\"support\"},"
			 "\"origin\":\"https://www.example.com\"}";
	struct chr r = post("/rest-hook/connect", cb);
	CHECK(r.status == 200);
	json_t *j = json_loadb(r.body, r.len, 0, NULL);
	json_t *call = json_object_get(json_object_get(j, "restClientConfig"), "call");
	CHECK_STR(json_string_value(json_object_get(call, "restOverwrite")), "callee,inviteParameters,visibleName");
	json_decref(j);
	chr_free(&r);
	r = post("/rest-hook/call", "{\"callId\":\"c1\",\"sessionId\":\"" SID "\",\"visibleName\":\"Browser Name\","
				    "\"VISIBLENAME\":\"x\",\"inviteParameters\":{\"X-Evil\":\"1\"},\"callee\":\"999\","
				    "\"custom\":{\"button\":\"support\"}}");
	CHECK(r.status == 200);
	CHECK_STR(r.body, "{\"callId\":\"c1\",\"sessionId\":\"" SID "\",\"visibleName\":\"Website: Support\","
			  "\"inviteParameters\":{\"X-Queue\":\"support\",\"X-Site\":\"shop web\"},\"callee\":\"10003\","
			  "\"custom\":{\"button\":\"support\"}}");
	chr_free(&r);
	/* absent members are appended: callee, inviteParameters, visibleName */
	r = post("/rest-hook/call", "{\"callId\":\"c2\",\"sessionId\":\"" SID "\"}");
	CHECK(r.status == 200);
	CHECK_STR(r.body, "{\"callId\":\"c2\",\"sessionId\":\"" SID "\",\"callee\":\"10003\","
			  "\"inviteParameters\":{\"X-Queue\":\"support\",\"X-Site\":\"shop web\"},"
			  "\"visibleName\":\"Website: Support\"}");
	chr_free(&r);
}

/* A button in the string form means what it meant: the browser's visibleName kept, its headers dropped. */
TEST_CASE(plain_button)
{
	CHECK(connect_as(SID, "https://www.example.com", "sales") == 200);
	struct chr r = post("/rest-hook/call", "{\"callId\":\"p1\",\"sessionId\":\"" SID "\",\"visibleName\":\"Ann\","
					       "\"inviteParameters\":{\"X-Queue\":\"vip\"},\"callee\":\"999\"}");
	CHECK(r.status == 200);
	CHECK_STR(r.body, "{\"callId\":\"p1\",\"sessionId\":\"" SID "\",\"visibleName\":\"Ann\","
			  "\"inviteParameters\":{},\"callee\":\"10002\"}");
	chr_free(&r);
}

TEST_CASE(closed_button)
{
	CHECK(connect_as(SID, "https://www.example.com", "night") == 200);
	struct chr r = post("/rest-hook/call", "{\"callId\":\"n1\",\"sessionId\":\"" SID "\"}");
	CHECK(th_is_error(&r, 403, "closed: outside opening hours"));
	chr_free(&r);
	/* a closed date: open all week, closed on every date around now */
	CHECK(connect_as(SID2, "https://www.example.com", "holiday") == 200);
	r = post("/rest-hook/call", "{\"callId\":\"h1\",\"sessionId\":\"" SID2 "\"}");
	CHECK(th_is_error(&r, 403, "closed: outside opening hours"));
	chr_free(&r);
	char *m = metrics();
	CHECK_MSG(m && th_metric(m, "callhook_verdicts_total{verdict=\"closed\"}") == 2, "%s", m ? m : "");
	CHECK(m && strstr(m, "callhook_requests_total{method=\"call\",status=\"403\"} 2"));
	free(m);
	CHECK(chd_wait_log(&d, "method=call site=shop verdict=closed status=403", 2000));
	/* no slot, no record: the other buttons still call */
	r = post("/rest-hook/call", "{\"callId\":\"h2\",\"sessionId\":\"" SID2 "\",\"custom\":{\"button\":\"sales\"}}");
	CHECK(r.status == 200);
	chr_free(&r);
}

/* The site's hours are closed at every instant; its button's own hours replace them. */
TEST_CASE(closed_site)
{
	CHECK(connect_as(SID, "https://after.example.com", "always") == 200);
	struct chr r = post("/rest-hook/call", "{\"callId\":\"s1\",\"sessionId\":\"" SID "\",\"custom\":{}}");
	CHECK(r.status == 200);
	CHECK(strstr(r.body, "\"callee\":\"20003\"") != NULL);
	chr_free(&r);
	CHECK(connect_as(SID2, "https://after.example.com", "") != 200); /* "" is no button of this site */
	const char *cb = "{\"sessionId\":\"" SID2 "\",\"origin\":\"https://after.example.com\"}";
	CHECK(post_status("/rest-hook/connect", cb) == 200);
	r = post("/rest-hook/call", "{\"callId\":\"s2\",\"sessionId\":\"" SID2 "\"}");
	CHECK(th_is_error(&r, 403, "closed: outside opening hours"));
	chr_free(&r);
}

static bool iso_ms(const char *s)
{
	regex_t re;
	regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", REG_EXTENDED | REG_NOSUB);
	bool ok = s && regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* ISO text back to ms. */
static int64_t iso_to_ms(const char *s)
{
	struct tm tm = {0};
	const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	return rest ? (int64_t)timegm(&tm) * 1000 + strtol(rest + 1, NULL, 10) : -1;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "(not a string)";
}

static void check_times(json_t *l, int64_t t0, int64_t t1, bool established)
{
	const char *keys[] = {"call_at", "established_at", "ended_at"};
	int64_t v[3];
	for (int i = 0; i < 3; i++) {
		if (i == 1 && !established) {
			CHECK(json_is_null(json_object_get(l, keys[i])));
			continue;
		}
		CHECK_MSG(iso_ms(jstr(l, keys[i])), "%s: %s", keys[i], jstr(l, keys[i]));
		v[i] = iso_to_ms(jstr(l, keys[i]));
		CHECK(v[i] >= t0 - 1000 && v[i] <= t1 + 1000);
	}
	int64_t dur = (int64_t)json_integer_value(json_object_get(l, "duration_ms"));
	CHECK(json_is_integer(json_object_get(l, "duration_ms")) && dur == v[2] - v[0]);
	if (established) {
		CHECK(json_integer_value(json_object_get(l, "setup_ms")) == v[1] - v[0]);
		CHECK(json_integer_value(json_object_get(l, "talk_ms")) == v[2] - v[1]);
		CHECK(v[0] <= v[1] && v[1] <= v[2]);
	} else {
		CHECK(json_is_null(json_object_get(l, "setup_ms")) && json_is_null(json_object_get(l, "talk_ms")));
	}
}

/* One line per call when it ends, with every field. */
TEST_CASE(cdr_lines)
{
	int64_t t0 = (int64_t)time(NULL) * 1000;
	CHECK(connect_as(SID, "https://www.example.com", "support") == 200);
	CHECK(post_status("/rest-hook/call", "{\"callId\":\"r1\",\"sessionId\":\"" SID "\"}") == 200);
	CHECK(call_event(SID, "r1", "RING", 180) == 200);
	usleep(20000);
	CHECK(call_event(SID, "r1", "ESTABLISHED", 200) == 200);
	usleep(30000);
	CHECK(call_event(SID2, "r1", "FINISH", 200) == 200); /* another session's event ends nothing */
	CHECK(call_event(SID, "r1", "FINISH", 200) == 200);
	CHECK(call_event(SID, "r1", "FINISH", 200) == 200); /* WCS resends: still one record */
	/* a site-callee call that was busy, never established; its session unknown to the hook: no origin */
	CHECK(post_status("/rest-hook/call", "{\"callId\":\"r2\",\"sessionId\":\"" SID "\","
					     "\"custom\":{\"button\":\"sales\"}}") == 200);
	CHECK(call_event(SID, "r2", "BUSY", 486) == 200);
	int64_t t1 = (int64_t)time(NULL) * 1000 + 999;
	json_t *l[4] = {0};
	size_t n = wait_lines(cdr_path, l, 4, 2);
	usleep(100000);
	for (size_t i = 0; i < n; i++)
		json_decref(l[i]);
	n = read_lines(cdr_path, l, 4);
	REQUIRE(n == 2);
	CHECK(json_object_size(l[0]) == 16);
	CHECK_STR(jstr(l[0], "record"), "hook");
	CHECK_STR(jstr(l[0], "site"), "shop");
	CHECK_STR(jstr(l[0], "button"), "support");
	CHECK_STR(jstr(l[0], "callee"), "10003");
	CHECK_STR(jstr(l[0], "client_ip"), "192.0.2.7");
	CHECK_STR(jstr(l[0], "session_id"), SID);
	CHECK_STR(jstr(l[0], "call_id"), "r1");
	CHECK_STR(jstr(l[0], "origin"), "https://www.example.com");
	CHECK_STR(jstr(l[0], "status"), "FINISH");
	CHECK(json_integer_value(json_object_get(l[0], "sip_status")) == 200);
	check_times(l[0], t0, t1, true);
	CHECK(json_integer_value(json_object_get(l[0], "talk_ms")) >= 25);
	CHECK_STR(jstr(l[1], "button"), "sales");
	CHECK_STR(jstr(l[1], "callee"), "10002");
	CHECK_STR(jstr(l[1], "call_id"), "r2");
	CHECK_STR(jstr(l[1], "status"), "BUSY");
	CHECK(json_integer_value(json_object_get(l[1], "sip_status")) == 486);
	check_times(l[1], t0, t1, false);
	for (size_t i = 0; i < n; i++)
		json_decref(l[i]);
}

static void one_call(const char *call_id)
{
	char b[256];
	snprintf(b, sizeof(b), "{\"callId\":\"%s\",\"sessionId\":\"" SID "\"}", call_id);
	CHECK(post_status("/rest-hook/call", b) == 200);
	CHECK(call_event(SID, call_id, "FAILED", 503) == 200);
}

/* logrotate: rename the file, SIGUSR1, the next record goes to a new file. */
TEST_CASE(cdr_reopen)
{
	CHECK(connect_as(SID, "https://www.example.com", "sales") == 200);
	one_call("o1");
	json_t *l[4] = {0};
	CHECK(wait_lines(cdr_path, l, 4, 1) == 1);
	json_decref(l[0]);
	char old[512];
	snprintf(old, sizeof(old), "%s.1", cdr_path);
	REQUIRE(rename(cdr_path, old) == 0);
	CHECK(chd_signal(&d, SIGUSR1) == 0);
	usleep(300000); /* the signal thread bumps the generation; nothing to wait on in the log */
	one_call("o2");
	CHECK(wait_lines(cdr_path, l, 4, 1) == 1);
	CHECK_STR(jstr(l[0], "call_id"), "o2");
	json_decref(l[0]);
	CHECK(read_lines(old, l, 4) == 1);
	CHECK_STR(jstr(l[0], "call_id"), "o1");
	CHECK_STR(jstr(l[0], "status"), "FAILED");
	json_decref(l[0]);
}

/* A record file that cannot take the line refuses no call: it counts and logs. */
static void lost_records(const char *log_needle)
{
	CHECK(connect_as(SID, "https://www.example.com", "sales") == 200);
	one_call("f1");
	one_call("f2");
	CHECK(chd_wait_log(&d, log_needle, 2000));
	char *m = metrics();
	CHECK_MSG(m && th_metric(m, "callhook_cdr_write_errors_total") == 2, "%s", m ? m : "");
	CHECK(m && strstr(m, "callhook_requests_total{method=\"call\",status=\"200\"} 2"));
	free(m);
	char *log = chd_log(&d);
	const char *first = strstr(log, "cdr: cannot");
	CHECK(first && !strstr(first + 1, "cdr: cannot")); /* once a minute at most */
	free(log);
}

TEST_CASE(cdr_full_disk)
{
	lost_records("cdr: cannot write to /dev/full: No space left on device");
}

TEST_CASE(cdr_unwritable_dir)
{
	lost_records("cdr: cannot open /nonexistent-callhook-dir/calls.jsonl: No such file or directory");
}

struct bad_conf {
	const char *button; /* the support button's body */
	const char *expect; /* the exact error line */
};

/* check_src: table */
static const struct bad_conf bad_confs[] = {
    {"callee = \"1\";\n hours = { tz = \"Europe/Berlin\";\n open = [ \"Mon-Fri 09:00-17:30\", \"Mon-Fri 9-5\" ]; };",
     "callhook.conf:6: sites.[0].buttons.support.hours.open.[1]: \"Mon-Fri 9-5\": times are HH:MM from 00:00 to "
     "23:59 (an end may be 24:00)"},
    {"callee = \"1\";\n hours = { tz = \"Europe/Berlin\"; open = [ ];\n closed = [ \"2026-02-30\" ]; };",
     "callhook.conf:6: sites.[0].buttons.support.hours.closed.[0]: \"2026-02-30\" is not a date (YYYY-MM-DD)"},
    {"callee = \"1\";\n hours = { tz = \"Mars/Olympus\"; open = [ ]; };",
     "callhook.conf:5: sites.[0].buttons.support.hours.tz: \"Mars/Olympus\" is not a time zone of the tz database "
     "(like \"Europe/Berlin\")"},
    {"callee = \"1\";\n invite_parameters = { X-Queue = \"a\\r\\nVia: x\"; };",
     "callhook.conf:5: sites.[0].buttons.support.invite_parameters.X-Queue: must be a non-empty UTF-8 string without "
     "control "
     "characters"},
    {"callee = \"1\";\n invite_parameters = { X-Queue = \"caf\xc3\xa9\"; };",
     "callhook.conf:5: sites.[0].buttons.support.invite_parameters.X-Queue: must be 1-256 bytes of visible ASCII "
     "and spaces (no CR, LF or other control characters, no space at either end)"},
    {"callee = \"1\";\n invite_parameters = { Call-ID = \"x\"; };",
     "callhook.conf:5: sites.[0].buttons.support.invite_parameters.Call-ID: Call-ID is written by the SIP stack; a "
     "button may not set it"},
    {"visible_name = \"Support\";", "callhook.conf:4: sites.[0].buttons.support.callee: required setting is missing"},
    {"callee = \"1\";\n visible_name = \"Say \\\"hi\\\"\";",
     "callhook.conf:5: sites.[0].buttons.support.visible_name: must be 1-128 bytes without '\"' or '\\'"},
};

/* Bad buttons and hours are refused at --check (and start) with file:line: path: message. */
TEST_CASE(check_refuses_bad_config)
{
	for (size_t i = 0; i < sizeof(bad_confs) / sizeof(bad_confs[0]); i++) {
		struct chd t = {0};
		char conf[2048], *out = NULL;
		snprintf(conf, sizeof(conf),
			 "hook = { listen = [ \"127.0.0.1:0\" ]; };\n"
			 "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ];\n"
			 " sip = { login = \"1\"; };\n"
			 " buttons = { support = { %s\n }; }; } );\n",
			 bad_confs[i].button);
		CHECK(chd_init(&t) == 0);
		char path[400];
		snprintf(path, sizeof(path), "%s/callhook.conf", t.dir);
		const char *args[] = {"--check", "-c", path, NULL};
		int st = chd_run(&t, conf, args, &out);
		CHECK(st != 0);
		char want[600];
		snprintf(want, sizeof(want), "%s/%s\n", t.dir, bad_confs[i].expect);
		CHECK_MSG(out && strstr(out, want), "want %s\ngot %s", want, out ? out : "");
		free(out);
		chd_cleanup(&t);
	}
	/* a good one prints the raise */
	struct chd t = {0};
	char *out = NULL;
	CHECK(chd_init(&t) == 0);
	char path[400];
	snprintf(path, sizeof(path), "%s/callhook.conf", t.dir);
	const char *args[] = {"--check", "-c", path, NULL};
	CHECK(chd_run(
		  &t,
		  "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ]; sip = { login = \"1\"; };\n"
		  " buttons = { support = { callee = \"2\"; visible_name = \"Web\"; }; }; } );\n",
		  args, &out) == 0);
	CHECK_MSG(out && strstr(out, "restClientConfig: raised call.restOverwrite: \"callee,inviteParameters\" -> "
				     "\"callee,inviteParameters,visibleName\"\n"),
		  "%s", out ? out : "");
	CHECK(out && strstr(out, "sites.[0].buttons.support.visible_name Web\n"));
	free(out);
	chd_cleanup(&t);
}
