/* tests/sip/test_orig_redis.c: two originator daemons on one real redis-server share every limit (issue 12). */
#include "harness.h"
#include "redis_peer.h"
#include "tests/check.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PASSWORD "s3cret-Pw-42"
#define SLOTS    "ZCARD callhook:orig:slots"

static struct chd a, b;
static struct redis_peer rp;
static int hole = -1; /* a UDP socket that never answers: the initiator's phone, ringing until hung up */
static int hole_port;

static size_t grow(char *p, size_t sz, size_t n, void *arg)
{
	return ch_buf_add(arg, p, sz * n) == 0 ? sz * n : 0;
}

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* A daemon with the originator alone on rp; limits: the originator's limits group body; mode: on_unavailable. */
static int orig_start(struct chd *d, const char *limits, const char *mode)
{
	char conf[4096];
	int rc = ch_fmt(conf, sizeof(conf),
			"log = { level = \"debug\"; };\nshutdown_grace_s = 1;\n"
			"store = { backend = \"redis\"; redis = { address = \"127.0.0.1:%d\"; timeout_ms = 100; };\n"
			"  on_unavailable = \"%s\"; fail_open_share = 0.5; };\n"
			"originator = {\n"
			"  identity = \"sip:c2c@127.0.0.1\";\n"
			"  listen = \"sip:127.0.0.1:0\";\n"
			"  translations = (\n"
			"    { pattern = \"^(\\\\d{10})$\"; output = \"sip:$1@127.0.0.1\"; },\n"
			"    { pattern = \"^(sip:[a-z0-9]+@127\\\\.0\\\\.0\\\\.1:\\\\d+)$\"; output = \"$1\"; } );\n"
			"  timers = { ring_timeout_s = 30; max_call_s = 60; };\n"
			"  limits = { %s };\n"
			"  http = { listen = [ \"127.0.0.1:0\" ]; user = \"admin\"; password = \"" PASSWORD "\"; };\n"
			"};\n",
			rp.port, mode, limits);
	CHECK(rc == 0);
	return chd_start(d, conf);
}

/* POST /v1/calls on d from the silent phone to destination: the status, and the reason or the id. */
static long place(const struct chd *d, const char *destination, char *reason, size_t cap, uint64_t *id)
{
	char url[128], body[256];
	ch_fmt(url, sizeof(url), "http://127.0.0.1:%d/v1/calls", d->orig_http_port);
	ch_fmt(body, sizeof(body), "{\"initiator\":\"sip:alice@127.0.0.1:%d\",\"destination\":\"%s\",\"anchor\":false}",
	       hole_port, destination);
	struct ch_buf out;
	ch_buf_init(&out, 1 << 16);
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
	curl_easy_setopt(c, CURLOPT_USERPWD, "admin:" PASSWORD);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	json_t *j = out.len ? json_loadb(out.data, out.len, 0, NULL) : NULL;
	const char *r = json_string_value(json_object_get(j, "reason"));
	if (reason)
		ch_fmt(reason, cap, "%s", r ? r : "");
	if (id)
		*id = (uint64_t)json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	ch_buf_free(&out);
	return status;
}

/* DELETE /v1/calls/id on d: the status. */
static long hang_up(const struct chd *d, uint64_t id)
{
	char url[128];
	ch_fmt(url, sizeof(url), "http://127.0.0.1:%d/v1/calls/%llu", d->orig_http_port, (unsigned long long)id);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
	curl_easy_setopt(c, CURLOPT_USERPWD, "admin:" PASSWORD);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	long status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* POST /v1/calls on d to destination every 100 ms until a 202, for up to ms (the prober reconnecting); whether
 * one came. */
static bool placed_within(const struct chd *d, const char *destination, int ms)
{
	for (int t = 0; t < ms; t += 100) {
		if (place(d, destination, NULL, 0, NULL) == 202)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

/* Wait up to ms for the integer reply of cmd to be want. */
static bool wait_int(const char *cmd, long long want, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		if (rp_int(&rp, cmd) == want)
			return true;
		usleep(50 * 1000);
	}
	return rp_int(&rp, cmd) == want;
}

#define NEED_REDIS()                                                                                                   \
	do {                                                                                                           \
		if (access(REDIS_BIN, X_OK) != 0)                                                                      \
			SKIP("no %s (scripts/deps.sh --test installs redis-server)", REDIS_BIN);                       \
	} while (0)

int test_setup(const char *name)
{
	if (access(REDIS_BIN, X_OK) != 0)
		return 0; /* each case skips */
	if (chd_init(&a) != 0 || chd_init(&b) != 0)
		return 1;
	hole = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	if (hole < 0 || bind(hole, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(hole, (struct sockaddr *)&sa, &sl) != 0)
		return 1;
	hole_port = ntohs(sa.sin_port);
	rp.port = 0;
	rp.aof = strcmp(name, "release_replayed_from_outbox") == 0; /* it restarts Redis: keep the slot */
	return rp_start(&rp, a.dir) == 0 ? 0 : 1;
}

void test_teardown(void)
{
	/* killed, not stopped: a graceful stop waits out the INVITE transactions to the silent phone (timer B) */
	if (a.pid > 0 && chd_signal(&a, SIGKILL) == 0)
		(void)chd_stop(&a);
	if (b.pid > 0 && chd_signal(&b, SIGKILL) == 0)
		(void)chd_stop(&b);
	rp_kill(&rp);
	chd_cleanup(&a);
	chd_cleanup(&b);
	if (hole >= 0)
		close(hole);
	hole = -1;
}

/* Both started on rp with the same limits, or the case ends. */
#define START_BOTH(limits, mode)                                                                                       \
	do {                                                                                                           \
		REQUIRE(orig_start(&a, limits, mode) == 0);                                                            \
		REQUIRE(orig_start(&b, limits, mode) == 0);                                                            \
	} while (0)

TEST_CASE(calls_per_minute_shared)
{
	NEED_REDIS();
	START_BOTH("calls_per_minute = 3; concurrent_calls = 20;", "fail_closed");
	char why[160];
	long st[4] = {place(&a, "9055550001", NULL, 0, NULL), place(&b, "9055550002", NULL, 0, NULL),
		      place(&a, "9055550003", NULL, 0, NULL), place(&b, "9055550004", why, sizeof(why), NULL)};
	int ok = 0;
	for (int i = 0; i < 4; i++)
		ok += st[i] == 202;
	CHECK_MSG(ok == 3, "accepted %d of 4 (%ld %ld %ld %ld), want exactly 3", ok, st[0], st[1], st[2], st[3]);
	CHECK_MSG(st[3] == 429, "the 4th: %ld", st[3]);
	CHECK_STR(why, "calls per minute limit reached");
	/* the refused call took no slot */
	CHECK(rp_int(&rp, SLOTS) == 3);
}

TEST_CASE(per_initiator_shared)
{
	NEED_REDIS();
	START_BOTH("calls_per_minute_per_initiator = 1;", "fail_closed");
	char why[160];
	CHECK(place(&a, "9055550001", NULL, 0, NULL) == 202);
	CHECK(place(&b, "9055550002", why, sizeof(why), NULL) == 429);
	CHECK_STR(why, "calls per minute limit reached for this initiator");
	CHECK(rp_int(&rp, SLOTS) == 1);
}

TEST_CASE(concurrent_shared_and_released)
{
	NEED_REDIS();
	START_BOTH("concurrent_calls = 1;", "fail_closed");
	char why[160];
	uint64_t id = 0;
	CHECK(place(&a, "9055550001", NULL, 0, &id) == 202);
	CHECK(place(&b, "9055550002", why, sizeof(why), NULL) == 429);
	CHECK_STR(why, "too many concurrent calls");
	CHECK(place(&a, "9055550003", NULL, 0, NULL) == 429);
	CHECK(rp_int(&rp, SLOTS) == 1);
	/* the call ends on A: its slot is free for B */
	CHECK(hang_up(&a, id) == 202 || hang_up(&a, id) == 204);
	CHECK_MSG(wait_int(SLOTS, 0, 5000), "the slot was not released: %lld", rp_int(&rp, SLOTS));
	CHECK(place(&b, "9055550002", NULL, 0, NULL) == 202);
	CHECK(rp_int(&rp, SLOTS) == 1);
}

TEST_CASE(hourly_per_destination_shared)
{
	NEED_REDIS();
	START_BOTH("calls_per_hour_per_destination = 1;", "fail_closed");
	char why[160];
	CHECK(place(&a, "9055550001", NULL, 0, NULL) == 202);
	CHECK(place(&b, "9055550001", why, sizeof(why), NULL) == 429);
	CHECK_STR(why, "calls per hour limit reached for this destination");
	CHECK(place(&b, "9055550002", NULL, 0, NULL) == 202);
	CHECK(rp_int(&rp, "ZCARD callhook:orig:dh:9055550001@127.0.0.1") == 1);
}

TEST_CASE(distinct_destinations_shared)
{
	NEED_REDIS();
	START_BOTH("distinct_destinations_per_hour_per_initiator = 2;", "fail_closed");
	char why[160];
	CHECK(place(&a, "9055550001", NULL, 0, NULL) == 202);
	CHECK(place(&b, "9055550002", NULL, 0, NULL) == 202);
	CHECK(place(&a, "9055550001", NULL, 0, NULL) == 202); /* one already called: not a new one */
	CHECK(place(&b, "9055550003", why, sizeof(why), NULL) == 429);
	CHECK_STR(why, "distinct destinations per hour limit reached for this initiator");
}

TEST_CASE(redis_down_fail_closed)
{
	NEED_REDIS();
	START_BOTH("concurrent_calls = 5;", "fail_closed");
	CHECK(place(&a, "9055550001", NULL, 0, NULL) == 202);
	rp_kill(&rp);
	char why[160];
	int64_t t0 = ch_now_ms();
	CHECK(place(&a, "9055550002", why, sizeof(why), NULL) == 503);
	CHECK_STR(why, "state store unavailable");
	CHECK_MSG(ch_now_ms() - t0 < 2000, "took %lld ms", (long long)(ch_now_ms() - t0));
	CHECK(place(&b, "9055550003", why, sizeof(why), NULL) == 503);
	CHECK(chd_wait_log(&a, "store: redis is unavailable", 3000));
	/* back: decided by Redis again, and the slot of A's first call is still counted */
	REQUIRE(rp_start(&rp, a.dir) == 0);
	CHECK_MSG(placed_within(&b, "9055550004", 10000), "B did not recover after Redis came back");
}

TEST_CASE(redis_down_fail_open_local_share)
{
	NEED_REDIS();
	START_BOTH("concurrent_calls = 2;", "fail_open");
	rp_kill(&rp);
	char why[160];
	/* each instance alone: concurrent_calls x 0.5 = 1 */
	CHECK(place(&a, "9055550001", NULL, 0, NULL) == 202);
	CHECK(place(&a, "9055550002", why, sizeof(why), NULL) == 429);
	CHECK_STR(why, "too many concurrent calls");
	CHECK(place(&b, "9055550003", NULL, 0, NULL) == 202);
	CHECK(chd_wait_log(&a, "decided locally (fail_open)", 3000));
}

TEST_CASE(release_replayed_from_outbox)
{
	NEED_REDIS();
	START_BOTH("concurrent_calls = 1;", "fail_closed");
	uint64_t id = 0;
	REQUIRE(place(&a, "9055550001", NULL, 0, &id) == 202);
	REQUIRE(rp_int(&rp, SLOTS) == 1);
	rp_kill(&rp); /* mid-call; appendfsync always: the slot survives the restart */
	/* the call ends while Redis is down: its release waits in A's outbox, the answer does not */
	int64_t t0 = ch_now_ms();
	CHECK(hang_up(&a, id) == 202);
	CHECK_MSG(ch_now_ms() - t0 < 2000, "DELETE took %lld ms", (long long)(ch_now_ms() - t0));
	char why[160];
	CHECK(place(&b, "9055550002", why, sizeof(why), NULL) == 503);
	CHECK_STR(why, "state store unavailable");
	REQUIRE(rp_start(&rp, a.dir) == 0);
	CHECK_MSG(wait_int(SLOTS, 0, 10000), "the outbox did not free the slot: %lld", rp_int(&rp, SLOTS));
	/* the one slot is B's to take now */
	CHECK_MSG(placed_within(&b, "9055550003", 10000), "B could not place a call after the replay");
	CHECK(rp_int(&rp, SLOTS) == 1);
}

/* An admit that timed out (Redis busy, not down) but that Redis ran later, before or after its abort: the call
 * was refused, so it keeps no slot and no calls_per_minute token. */
TEST_CASE(admit_timed_out_then_run_takes_nothing)
{
	NEED_REDIS();
	START_BOTH("concurrent_calls = 1; calls_per_minute = 1;", "fail_closed");
	long long before = rp_fcalls(&rp);
	struct rp_busy busy;
	REQUIRE(rp_busy_start(&busy, &rp, 700) == 0);
	char why[160];
	CHECK(place(&a, "9055550001", why, sizeof(why), NULL) == 503);
	CHECK_STR(why, "state store unavailable");
	rp_busy_join(&busy);
	/* the abort's tombstone is written, and the late admit ran (not dropped with its connection) */
	CHECK_MSG(wait_int("EVAL \"return #redis.call('KEYS', 'callhook:orig:x:*')\" 0", 1, 5000),
		  "no abort reached Redis");
	CHECK_MSG(rp_fcalls(&rp) - before >= 2, "%lld FCALLs after the stall", rp_fcalls(&rp) - before);
	CHECK(rp_int(&rp, SLOTS) == 0);
	/* the one slot and the one token are there for B, once */
	CHECK_MSG(placed_within(&b, "9055550002", 5000), "the refused call kept its slot or its token");
	CHECK(place(&a, "9055550003", why, sizeof(why), NULL) == 429);
}

/* The order the test above cannot force: the abort reaches Redis before its admit; the admit then takes nothing. */
TEST_CASE(abort_before_admit_tombstone)
{
	NEED_REDIS();
	START_BOTH("concurrent_calls = 1;", "fail_closed");
	REQUIRE(place(&a, "9055550001", NULL, 0, NULL) == 202); /* loads the library; holds the one slot */
	const char *keys = "6 callhook:orig:slots callhook:orig:b:rate callhook:orig:b:i:raw callhook:orig:dh:raw "
			   "callhook:orig:di:raw callhook:orig:x:raw-1 raw-1";
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "FCALL cho2_abort %s 0 0 0 raw 3600000", keys);
	CHECK(rp_int(&rp, cmd) == 0); /* nothing to give back yet */
	snprintf(cmd, sizeof(cmd), "FCALL cho2_admit %s 60000 0 0 0 0 0 raw", keys);
	char out[256];
	CHECK(rp_query(&rp, cmd, out, sizeof(out)) == 0 && strstr(out, "aborted"));
	CHECK(rp_cmd(&rp, "ZSCORE callhook:orig:slots raw-1", "$-1") && rp_int(&rp, SLOTS) == 1);
	/* another token is admitted as usual (concurrent_calls = 0 here: no cap) and aborted whole */
	const char *keys2 = "6 callhook:orig:slots callhook:orig:b:rate callhook:orig:b:i:raw callhook:orig:dh:raw "
			    "callhook:orig:di:raw callhook:orig:x:raw-2 raw-2";
	snprintf(cmd, sizeof(cmd), "FCALL cho2_admit %s 60000 0 0 0 0 0 raw", keys2);
	CHECK(rp_query(&rp, cmd, out, sizeof(out)) == 0 && strstr(out, "ok"));
	CHECK(rp_int(&rp, SLOTS) == 2);
	snprintf(cmd, sizeof(cmd), "FCALL cho2_abort %s 0 0 0 raw 3600000", keys2);
	CHECK(rp_int(&rp, cmd) == 1);
	CHECK(rp_int(&rp, cmd) == 0); /* idempotent */
	CHECK(rp_int(&rp, SLOTS) == 1);
}
