/* tests/sip/test_orig_cdr.c: the originator's call records (originator.cdr.file, docs/cdr.md) through the real
 * daemon and SIPp phones: every field of a REFER call, an anchored call, a failed call and an XML call with
 * fallback; SIGUSR1 reopens the file; a full disk never refuses a call and is counted. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "harness.h"
#include "orig_fe.h"
#include "sipp_peer.h"
#include "tests/check.h"

#define CDR_EXTRA "  cdr = { file = \"@DIR@/calls.jsonl\"; };\n"

/* Every field of the record, in the order it is written (docs/cdr.md). */
static const char *const fields[] = {
    "record",
    "call_id",
    "front_end",
    "client_ip",
    "client_user",
    "initiator",
    "destination",
    "translated_initiator",
    "translated_destination",
    "callee",
    "anchor",
    "fallback",
    "fallback_code",
    "auto_answer",
    "initiator_status",
    "initiator_reason",
    "destination_status",
    "destination_reason",
    "result",
    "result_code",
    "result_reason",
    "result_leg",
    "ended_by",
    "status",
    "sip_status",
    "call_at",
    "initiator_answered_at",
    "destination_answered_at",
    "established_at",
    "ended_at",
    "initiator_setup_ms",
    "setup_ms",
    "talk_ms",
    "duration_ms",
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* The lines of the record file as JSON objects (a new array), waiting up to timeout_ms for at least want. */
static json_t *records(const char *path, size_t want, int timeout_ms)
{
	json_t *arr = json_array();
	for (int t = 0; t <= timeout_ms; t += 100) {
		json_array_clear(arr);
		char *data = NULL;
		size_t len = 0;
		if (ch_read_file(path, 1 << 20, &data, &len) == 0) {
			for (char *line = data; line && *line;) {
				char *nl = strchr(line, '\n');
				CHECK_MSG(nl != NULL, "a partial line: %s", line);
				if (!nl)
					break;
				json_error_t e;
				json_t *j = json_loadb(line, (size_t)(nl - line), 0, &e);
				CHECK_MSG(j != NULL, "not JSON: %.*s", (int)(nl - line), line);
				if (j)
					json_array_append_new(arr, j);
				line = nl + 1;
			}
			if (getenv("CDR_DUMP")) /* CDR_DUMP=1: print the lines read */
				printf("%s", data);
			free(data);
		}
		if (json_array_size(arr) >= want)
			break;
		usleep(100000);
	}
	return arr;
}

static const char *rec_path(char *buf, size_t cap)
{
	(void)ch_fmt(buf, cap, "%s/calls.jsonl", D.dir);
	return buf;
}

/* "2026-05-04T09:12:01.123Z" as ms since the epoch, -1 when it is not that form. */
static int64_t iso_ms(const json_t *j)
{
	const char *s = json_string_value(j);
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int ms = -1;
	if (!s || strlen(s) != 24 || s[19] != '.' || s[23] != 'Z' ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

static int64_t num(const json_t *rec, const char *k)
{
	const json_t *j = json_object_get(rec, k);
	return json_is_integer(j) ? (int64_t)json_integer_value(j) : -999999;
}

static bool is_null(const json_t *rec, const char *k)
{
	return json_is_null(json_object_get(rec, k));
}

/* Every field present, in order, none other; the times in order and the durations their differences. */
static void check_shape(const json_t *rec)
{
	CHECK_MSG(json_object_size(rec) == NFIELDS, "%zu fields", json_object_size(rec));
	for (size_t i = 0; i < NFIELDS; i++)
		CHECK_MSG(json_object_get(rec, fields[i]) != NULL, "no \"%s\"", fields[i]);
	CHECK_STR(sv(json_object_get(rec, "record")), "originator");
	int64_t c = iso_ms(json_object_get(rec, "call_at")), e = iso_ms(json_object_get(rec, "ended_at"));
	CHECK(c > 1600000000000 && e >= c);
	CHECK(num(rec, "duration_ms") == e - c);
	int64_t ia = iso_ms(json_object_get(rec, "initiator_answered_at"));
	int64_t da = iso_ms(json_object_get(rec, "destination_answered_at"));
	CHECK(is_null(rec, "initiator_answered_at") ? is_null(rec, "initiator_setup_ms")
						    : ia >= c && num(rec, "initiator_setup_ms") == ia - c);
	CHECK(is_null(rec, "destination_answered_at") ? is_null(rec, "setup_ms")
						      : da >= ia && ia > 0 && num(rec, "setup_ms") == da - c);
	CHECK(json_equal(json_object_get(rec, "established_at"), json_object_get(rec, "destination_answered_at")));
	CHECK_STR(sv(json_object_get(rec, "callee")), sv(json_object_get(rec, "translated_destination")));
}

/* The JSON API, REFER path: the initiator answers, the transfer succeeds. */
TEST_CASE(refer)
{
	start(&(struct opts){.extra = CDR_EXTRA});
	struct sipp_peer a;
	char ini[128], body[512], path[400];
	CHECK(peer_start(&a, "refer", "uas_refer.xml", "-set", "n1", "180", "-set", "n2", "200", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"%%39055551234\"}", ini);
	uint64_t id = post_call(body, 202);
	json_decref(wait_result(id, 20000));
	CHECK(sipp_peer_wait(&a, 15000));
	json_t *arr = records(rec_path(path, sizeof path), 1, 5000);
	REQUIRE(json_array_size(arr) == 1);
	json_t *r = json_array_get(arr, 0);
	check_shape(r);
	CHECK(num(r, "call_id") == (int64_t)id);
	CHECK_STR(sv(json_object_get(r, "front_end")), "json");
	CHECK_STR(sv(json_object_get(r, "client_ip")), "127.0.0.1");
	CHECK_STR(sv(json_object_get(r, "client_user")), "admin");
	CHECK_STR(sv(json_object_get(r, "initiator")), ini);
	CHECK_STR(sv(json_object_get(r, "destination")), "%39055551234");
	CHECK_STR(sv(json_object_get(r, "translated_initiator")), ini);
	CHECK_STR(sv(json_object_get(r, "translated_destination")), "sip:9055551234@127.0.0.1");
	CHECK(json_is_false(json_object_get(r, "anchor")) && json_is_false(json_object_get(r, "fallback")));
	CHECK(is_null(r, "fallback_code") && json_is_false(json_object_get(r, "auto_answer")));
	CHECK(num(r, "initiator_status") == 200 && num(r, "destination_status") == 200);
	CHECK_STR(sv(json_object_get(r, "initiator_reason")), "OK");
	CHECK(json_is_string(json_object_get(r, "destination_reason")));
	CHECK_STR(sv(json_object_get(r, "result")), "transferred");
	CHECK(num(r, "result_code") == 200);
	CHECK_STR(sv(json_object_get(r, "result_reason")), "Connected to destination");
	CHECK_STR(sv(json_object_get(r, "result_leg")), "destination");
	CHECK_STR(sv(json_object_get(r, "ended_by")), "transfer");
	CHECK_STR(sv(json_object_get(r, "status")), "FINISH");
	CHECK(!is_null(r, "initiator_answered_at") && !is_null(r, "destination_answered_at"));
	CHECK(is_null(r, "talk_ms")); /* the phones talk without us */
	json_decref(arr);
	stop();
}

/* The HTML page, anchored: both legs answer, the destination hangs up. */
TEST_CASE(anchored)
{
	start(&(struct opts){.extra = CDR_EXTRA});
	struct sipp_peer a, b;
	char ini[128], dst[128], url[512], path[400];
	CHECK(peer_start(&a, "initiator", "uas_anchor_init.xml", NULL));
	CHECK(peer_start(&b, "destination", "uas_dest_bye.xml", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	peer_uri(&b, "9055551234", dst, sizeof dst); /* uas_anchor_init.xml checks the display */
	(void)ch_fmt(url, sizeof url, "/clicktocall.html?initiator=%s&destination=%s&anchor=true", ini, dst);
	struct resp rs = req(A_DIGEST, "GET", url, NULL, NULL);
	CHECK_MSG(rs.status == 200, "%ld %s", rs.status, rs.body);
	resp_free(&rs);
	CHECK(sipp_peer_wait(&a, 20000));
	CHECK(sipp_peer_wait(&b, 20000));
	json_t *arr = records(rec_path(path, sizeof path), 1, 5000);
	REQUIRE(json_array_size(arr) == 1);
	json_t *r = json_array_get(arr, 0);
	check_shape(r);
	CHECK(num(r, "call_id") == 1);
	CHECK_STR(sv(json_object_get(r, "front_end")), "html");
	CHECK_STR(sv(json_object_get(r, "client_ip")), "127.0.0.1");
	CHECK_STR(sv(json_object_get(r, "client_user")), "admin");
	CHECK_STR(sv(json_object_get(r, "initiator")), ini);
	CHECK_STR(sv(json_object_get(r, "destination")), dst);
	CHECK_STR(sv(json_object_get(r, "translated_destination")), dst);
	CHECK(json_is_true(json_object_get(r, "anchor")) && json_is_false(json_object_get(r, "fallback")));
	CHECK(num(r, "initiator_status") == 200 && num(r, "destination_status") == 200);
	CHECK_STR(sv(json_object_get(r, "result")), "ended");
	CHECK(num(r, "result_code") == 200);
	CHECK_STR(sv(json_object_get(r, "result_reason")), "Call ended");
	CHECK(is_null(r, "result_leg"));
	CHECK_STR(sv(json_object_get(r, "ended_by")), "destination");
	CHECK_STR(sv(json_object_get(r, "status")), "FINISH");
	int64_t da = iso_ms(json_object_get(r, "destination_answered_at"));
	int64_t e = iso_ms(json_object_get(r, "ended_at"));
	CHECK(da > 0 && num(r, "talk_ms") == e - da);
	json_decref(arr);
	stop();
}

/* A busy initiator: a failed call, BUSY, the initiator's 486, nothing on the destination. */
TEST_CASE(failed)
{
	start(&(struct opts){.extra = CDR_EXTRA});
	struct sipp_peer a;
	char ini[128], body[512], path[400];
	CHECK(peer_start(&a, "busy", "uas_busy.xml", NULL));
	peer_uri(&a, "alice", ini, sizeof ini);
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"%s\",\"destination\":\"9055551234\",\"anchor\":true}", ini);
	uint64_t id = post_call(body, 202);
	json_decref(wait_result(id, 20000));
	json_t *arr = records(rec_path(path, sizeof path), 1, 5000);
	REQUIRE(json_array_size(arr) == 1);
	json_t *r = json_array_get(arr, 0);
	check_shape(r);
	CHECK(json_is_true(json_object_get(r, "anchor")));
	CHECK(num(r, "initiator_status") == 486);
	CHECK_STR(sv(json_object_get(r, "initiator_reason")), "Busy Here");
	CHECK(is_null(r, "destination_status") && is_null(r, "destination_reason"));
	CHECK_STR(sv(json_object_get(r, "result")), "failed");
	CHECK(num(r, "result_code") == 486);
	CHECK_STR(sv(json_object_get(r, "result_leg")), "initiator");
	CHECK_STR(sv(json_object_get(r, "ended_by")), "initiator");
	CHECK_STR(sv(json_object_get(r, "status")), "BUSY");
	CHECK(num(r, "sip_status") == 486);
	CHECK(is_null(r, "initiator_answered_at") && is_null(r, "destination_answered_at") && is_null(r, "talk_ms"));
	/* refused requests hold no record */
	expect_status(A_DIGEST, "POST", "/v1/calls", "application/json",
		      "{\"initiator\":\"1001001001\",\"destination\":\"9005551234\"}", 403, NULL);
	usleep(300000);
	json_decref(arr);
	arr = records(path, 2, 0);
	CHECK(json_array_size(arr) == 1);
	json_decref(arr);
	stop();
}

/* The XML port: the REFER is refused (501), the call is bridged; no HTTP user. */
TEST_CASE(xml)
{
	start(&(struct opts){.extra = CDR_EXTRA});
	struct sipp_peer a, b;
	char ia[128], db[128], rq[1024], path[400];
	CHECK(peer_start(&a, "refer501", "uas_refer_501.xml", NULL));
	CHECK(peer_start(&b, "dest", "uas_dest_bye.xml", NULL));
	peer_uri(&a, "alice", ia, sizeof ia);
	peer_uri(&b, "9055551234", db, sizeof db);
	(void)ch_fmt(rq, sizeof rq,
		     "<ClickToCall><Request><Initiator>%s</Initiator><Destination>%s</Destination></Request>"
		     "</ClickToCall>\n",
		     ia, db);
	int fd = xml_connect();
	REQUIRE(fd >= 0);
	xml_send(fd, rq);
	CHECK(sipp_peer_wait(&a, 20000));
	CHECK(sipp_peer_wait(&b, 20000));
	json_t *arr = records(rec_path(path, sizeof path), 1, 5000);
	REQUIRE(json_array_size(arr) == 1);
	json_t *r = json_array_get(arr, 0);
	check_shape(r);
	CHECK_STR(sv(json_object_get(r, "front_end")), "xml");
	CHECK_STR(sv(json_object_get(r, "client_ip")), "127.0.0.1");
	CHECK(is_null(r, "client_user"));
	CHECK(json_is_false(json_object_get(r, "anchor")) && json_is_true(json_object_get(r, "fallback")));
	CHECK(num(r, "fallback_code") == 501);
	CHECK_STR(sv(json_object_get(r, "result")), "ended");
	CHECK_STR(sv(json_object_get(r, "ended_by")), "destination");
	CHECK(num(r, "destination_status") == 200);
	close(fd);
	json_decref(arr);
	stop();
}

/* One call that fails at once (nobody listens on port 1). */
static void quick_call(const char *user)
{
	char body[256];
	(void)ch_fmt(body, sizeof body, "{\"initiator\":\"sip:%s@127.0.0.1:1\",\"destination\":\"9055551234\"}", user);
	uint64_t id = post_call(body, 202);
	json_decref(wait_result(id, 20000));
}

/* logrotate: rename the file, SIGUSR1, the next record goes to a new file of the old name. */
TEST_CASE(reopen)
{
	start(&(struct opts){.extra = CDR_EXTRA});
	char path[400], old[420];
	quick_call("a");
	json_t *arr = records(rec_path(path, sizeof path), 1, 5000);
	CHECK(json_array_size(arr) == 1);
	json_decref(arr);
	(void)ch_fmt(old, sizeof old, "%s.1", path);
	REQUIRE(rename(path, old) == 0);
	CHECK(chd_signal(&D, SIGUSR1) == 0);
	usleep(300000);
	quick_call("b");
	arr = records(path, 1, 5000);
	CHECK(json_array_size(arr) == 1);
	CHECK_STR(sv(json_object_get(json_array_get(arr, 0), "translated_initiator")), "sip:b@127.0.0.1:1");
	json_decref(arr);
	arr = records(old, 1, 0);
	CHECK(json_array_size(arr) == 1);
	json_decref(arr);
	stop();
}

/* /dev/full: the calls are placed all the same; each lost record is counted. */
TEST_CASE(full_disk)
{
	start(&(struct opts){.extra = "  cdr = { file = \"/dev/full\"; };\n"});
	quick_call("a");
	quick_call("b");
	usleep(300000);
	CURL *mc = curl_easy_init();
	struct chr m;
	char murl[128];
	th_http(mc, "GET", th_url(murl, sizeof murl, D.admin_port, "/metrics"), NULL, NULL, 0, &m);
	CHECK_MSG(m.status == 200 && th_metric(m.body, "callhook_cdr_write_errors_total") == 2, "%s",
		  m.body ? m.body : "");
	chr_free(&m);
	curl_easy_cleanup(mc);
	CHECK(chd_wait_log(&D, "cdr: cannot", 2000));
	stop();
}
