/* tests/it/test_abuse_redis.c: store.backend = "redis": two daemons on one real redis-server share sessions,
 * budgets, the replay cache and retries; Redis killed and back (fail_closed, fail_open). */
#include "tests/check.h"
#include "redis_pair.h"
#include "secrets.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* start_with without more store.redis settings. */
static int start_one(struct chd *d, const char *lim, const char *mode)
{
	return pair_start(d, lim, mode, "", "");
}

static int start_with(struct chd *d, const char *lim, const char *mode, const char *redis_extra)
{
	return pair_start(d, lim, mode, "", redis_extra);
}

TEST_CASE(session_shared)
{
	NEED_REDIS();
	REQUIRE(start_one(&a, wide, "fail_closed") == 0 && start_one(&b, wide, "fail_closed") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.0.1:1/s", O, NULL), 200);
	struct chr r = do_call(b.hook_port, "k1", "/10.7.0.1:1/s", NULL);
	CHECK_MSG(r.status == 200 && has(&r, "\"callee\":\"60001\""), "got %ld %s", r.status, r.body);
	chr_free(&r);
	/* DISCONNECTED on B closes the session for A */
	EXPECT_STATUS(event(b.hook_port, "/rest-hook/ConnectionStatusEvent",
			    "{\"sessionId\":\"/10.7.0.1:1/s\",\"status\":\"DISCONNECTED\"}"),
		      200);
	EXPECT_ERR(do_call(a.hook_port, "k2", "/10.7.0.1:1/s", NULL), 403, "unknown session");
	CHECK(log_has(&a, "store: redis is up"));
}

TEST_CASE(jti_and_retry_shared)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			  "1000; calls_per_minute = 2; concurrent_calls = 1000;";
	REQUIRE(start_one(&a, lim, "fail_closed") == 0 && start_one(&b, lim, "fail_closed") == 0);
	long long now = (long long)time(NULL);
	char t[2048], cu[2400];
	tok(t, sizeof(t), now, now + 100, "jti-shared-1", NULL);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.1.1:1/j", O, tok_custom(cu, sizeof(cu), t, NULL)), 200);
	EXPECT_ERR(do_connect(b.hook_port, NULL, "/10.7.1.2:1/j", O, tok_custom(cu, sizeof(cu), t, NULL)), 403,
		   "token already used by another session");
	/* a WCS retry of a call on the other instance: the same answer, one budget token */
	struct chr r1 = do_call(a.hook_port, "rt-1", "/10.7.1.1:1/j", NULL);
	struct chr r2 = do_call(b.hook_port, "rt-1", "/10.7.1.1:1/j", NULL);
	CHECK(r1.status == 200 && r2.status == 200 && strcmp(r1.body, r2.body) == 0);
	chr_free(&r1);
	chr_free(&r2);
	EXPECT_STATUS(do_call(b.hook_port, "rt-2", "/10.7.1.1:1/j", NULL), 200); /* the second of two */
	EXPECT_STATUS(do_call(a.hook_port, "rt-3", "/10.7.1.1:1/j", NULL), 429); /* calls_per_minute = 2 */
}

struct racer {
	int port, idx, ok, other;
	const char *busy; /* the reason every loser must get */
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	CURL *h = curl_easy_init();
	char sid[64], body[1024], url[256], id[32];
	snprintf(sid, sizeof(sid), "/10.7.2.%d:1/r", rc->idx + 1);
	const char *hdr[] = {"Content-Type: application/json;charset=UTF-8", NULL};
	struct chr r;
	connect_body(body, sizeof(body), sid, O, NULL);
	th_http(h, "POST", th_url(url, sizeof(url), rc->port, "/rest-hook/connect"), hdr, body, strlen(body), &r);
	chr_free(&r);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "race-%d-%d", rc->idx, i);
		call_body(body, sizeof(body), id, sid, NULL);
		th_http(h, "POST", th_url(url, sizeof(url), rc->port, "/rest-hook/call"), hdr, body, strlen(body), &r);
		rc->ok += r.status == 200;
		/* losers of the race: 429 with the limit's reason, never 503 */
		rc->other += r.status != 200 && !(r.status == 429 && strstr(r.body, rc->busy));
		chr_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

TEST_CASE(budget_exact_across_instances)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			  "1000; calls_per_minute = 30; concurrent_calls = 1000;";
	REQUIRE(start_one(&a, lim, "fail_closed") == 0 && start_one(&b, lim, "fail_closed") == 0);
	struct racer rs[8];
	pthread_t th[8];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 8; i++) {
		rs[i] = (struct racer){.port = i % 2 ? b.hook_port : a.hook_port, .idx = i, .busy = "calls_per_minute"};
		pthread_create(&th[i], NULL, race, &rs[i]);
	}
	int total = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		total += rs[i].ok;
		CHECK(rs[i].other == 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* the bucket refills one call per 2 s: a slow run (a busy box, sanitizers) may see that many more */
	long refill = (long)(t1.tv_sec - t0.tv_sec) / 2;
	CHECK_MSG(total >= 30 && total <= 30 + refill, "%d calls passed, want exactly 30 of 80 (+%ld refilled)", total,
		  refill);
}

/* Every connect answered within ms; the status of the last. */
static long connect_timed(int port, const char *sid, int64_t *worst_ms)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct chr r = do_connect(port, NULL, sid, O, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (ms > *worst_ms)
		*worst_ms = ms;
	long st = r.status;
	if (st == 503)
		CHECK(th_is_error(&r, 503, "state store unavailable"));
	chr_free(&r);
	return st;
}

/* Connects (session ids "/IP:n/TAG", n = 1, 2...) every 100 ms for up to 6 s until one gets 200: Redis back.
 * The last status. */
static long connect_until_ok(int port, const char *ip, const char *tag, int64_t *worst_ms)
{
	char sid[64];
	long st = 0;
	for (int i = 0; i < 60 && st != 200; i++) {
		usleep(100000);
		snprintf(sid, sizeof(sid), "/%s:%d/%s", ip, i + 1, tag);
		st = connect_timed(port, sid, worst_ms);
	}
	return st;
}

TEST_CASE(redis_killed_and_back)
{
	NEED_REDIS();
	REQUIRE(start_one(&a, wide, "fail_closed") == 0 && start_one(&b, wide, "fail_open") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.3.1:1/k", O, NULL), 200);
	rp_kill(&rp);
	int64_t worst = 0;
	char sid[64];
	for (int i = 0; i < 6; i++) {
		snprintf(sid, sizeof(sid), "/10.7.3.2:%d/k", i + 1);
		CHECK(connect_timed(a.hook_port, sid, &worst) == 503);
		CHECK(connect_timed(b.hook_port, sid, &worst) == 200); /* fail_open: decided locally */
	}
	CHECK_MSG(worst < 1000, "a request waited %lld ms", (long long)worst);
	/* events keep their 200 */
	EXPECT_STATUS(event(a.hook_port, "/rest-hook/ConnectionStatusEvent",
			    "{\"sessionId\":\"/10.7.3.1:1/k\",\"status\":\"DISCONNECTED\"}"),
		      200);
	CHECK(log_has(&a, "store: redis is unavailable"));
	REQUIRE(rp_start(&rp, a.dir) == 0);
	CHECK(connect_until_ok(a.hook_port, "10.7.3.3", "k", &worst) == 200);
	CHECK(chd_wait_log(&a, "store: redis is up", 1000));
}

TEST_CASE(redis_paused_deadline)
{
	NEED_REDIS();
	REQUIRE(start_one(&a, wide, "fail_closed") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.4.1:1/p", O, NULL), 200);
	REQUIRE(rp_cmd(&rp, "CLIENT PAUSE 3000 ALL", "+OK"));
	int64_t worst = 0;
	char sid[64];
	for (int i = 0; i < 5; i++) {
		snprintf(sid, sizeof(sid), "/10.7.4.2:%d/p", i + 1);
		CHECK(connect_timed(a.hook_port, sid, &worst) == 503);
	}
	/* timeout_ms = 100: a connect has a few steps; none may hang on the paused Redis */
	CHECK_MSG(worst < 800, "a request waited %lld ms", (long long)worst);
	REQUIRE(rp_cmd(&rp, "CLIENT UNPAUSE", "+OK"));
	CHECK(connect_until_ok(a.hook_port, "10.7.4.3", "p", &worst) == 200);
}

TEST_CASE(acl_user_and_wrong_password)
{
	NEED_REDIS();
	REQUIRE(rp_cmd(&rp,
		       "ACL SETUSER callhook on >acl-pw-" CH_SECRET_TOKEN " resetkeys ~callhook:* resetchannels -@all"
		       " +fcall +function|load +hgetall +hmget +hset +hincrby +del +get +set +pexpire +zadd +zrem"
		       " +zremrangebyscore +zcard +zcount +time +select +ping",
		       "+OK"));
	REQUIRE(chd_write(&a, "redis.pass", "acl-pw-" CH_SECRET_TOKEN "\n", 0600) == 0);
	REQUIRE(chd_write(&b, "redis.pass", "wrong-" CH_SECRET_TOKEN "\n", 0600) == 0);
	const char *auth = "user = \"callhook\"; password_file = \"redis.pass\";";
	REQUIRE(start_with(&a, wide, "fail_closed", auth) == 0 && start_with(&b, wide, "fail_closed", auth) == 0);
	/* the least-rights user: connect, call, end, close */
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.5.1:1/u", O, NULL), 200);
	EXPECT_STATUS(do_call(a.hook_port, "acl-1", "/10.7.5.1:1/u", NULL), 200);
	EXPECT_STATUS(event(a.hook_port, "/rest-hook/CallStatusEvent",
			    "{\"callId\":\"acl-1\",\"sessionId\":\"/10.7.5.1:1/u\",\"status\":\"FINISH\"}"),
		      200);
	/* a wrong password: one clear line, and the instance behaves as with Redis unavailable */
	EXPECT_ERR(do_connect(b.hook_port, NULL, "/10.7.5.2:1/u", O, NULL), 503, "state store unavailable");
	CHECK(chd_wait_log(&b, "store: redis is unavailable", 1000));
	CHECK(log_has(&b, "WRONGPASS") || log_has(&b, "invalid username-password"));
}

TEST_CASE(redis_full_is_table_full)
{
	NEED_REDIS();
	REQUIRE(start_one(&a, wide, "fail_open") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.6.1:1/f", O, NULL), 200);
	REQUIRE(rp_cmd(&rp, "CONFIG SET maxmemory 1", "+OK"));
	/* at maxmemory (noeviction) Redis answers: full, even with fail_open; events keep their 200 */
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.7.6.2:1/f", O, NULL), 503, "state table full");
	EXPECT_ERR(do_call(a.hook_port, "full-1", "/10.7.6.1:1/f", NULL), 503, "state table full");
	EXPECT_STATUS(event(a.hook_port, "/rest-hook/CallStatusEvent",
			    "{\"callId\":\"full-1\",\"sessionId\":\"/10.7.6.1:1/f\",\"status\":\"FINISH\"}"),
		      200);
	REQUIRE(rp_cmd(&rp, "CONFIG SET maxmemory 0", "+OK"));
	EXPECT_STATUS(do_call(a.hook_port, "full-2", "/10.7.6.1:1/f", NULL), 200);
	CHECK(!log_has(&a, "store: redis is unavailable"));
}

TEST_CASE(starts_with_redis_down)
{
	NEED_REDIS();
	rp_kill(&rp);
	REQUIRE(start_one(&a, wide, "fail_closed") == 0); /* ready without Redis */
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.7.7.1:1/d", O, NULL), 503, "state store unavailable");
	REQUIRE(rp_start(&rp, a.dir) == 0);
	int64_t worst = 0;
	CHECK(connect_until_ok(a.hook_port, "10.7.7.2", "d", &worst) == 200);
}

TEST_CASE(fail_open_scales_limits)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			  "1000; calls_per_minute = 4; concurrent_calls = 1000;";
	REQUIRE(start_one(&b, lim, "fail_open") == 0);
	EXPECT_STATUS(do_connect(b.hook_port, NULL, "/10.7.8.1:1/o", O, NULL), 200); /* before the outage */
	rp_kill(&rp);
	/* this instance knows the sessions it accepted; calls_per_minute 4 x fail_open_share 0.5 = 2 */
	EXPECT_STATUS(do_call(b.hook_port, "fo-1", "/10.7.8.1:1/o", NULL), 200);
	EXPECT_STATUS(do_call(b.hook_port, "fo-2", "/10.7.8.1:1/o", NULL), 200);
	EXPECT_ERR(do_call(b.hook_port, "fo-3", "/10.7.8.1:1/o", NULL), 429, "calls_per_minute exceeded");
	EXPECT_ERR(do_call(b.hook_port, "fo-4", "/10.9.9.9:1/never", NULL), 403, "unknown session");
	CHECK(log_has(&b, "decided locally (fail_open)"));
}

TEST_CASE(concurrent_slots_exact_across_instances)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			  "1000; calls_per_minute = 1000; concurrent_calls = 5;";
	REQUIRE(start_one(&a, lim, "fail_closed") == 0 && start_one(&b, lim, "fail_closed") == 0);
	struct racer rs[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		rs[i] = (struct racer){.port = i % 2 ? b.hook_port : a.hook_port, .idx = i, .busy = "concurrent_calls"};
		pthread_create(&th[i], NULL, race, &rs[i]);
	}
	int total = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		total += rs[i].ok;
		CHECK(rs[i].other == 0);
	}
	CHECK_MSG(total == 5, "%d calls hold a slot, want exactly 5", total);
	/* a CallStatusEvent on either instance frees a slot for both */
	char ev[256];
	snprintf(ev, sizeof(ev), "{\"callId\":\"race-%d-0\",\"sessionId\":\"/10.7.2.%d:1/r\",\"status\":\"FINISH\"}", 0,
		 1);
	EXPECT_STATUS(event(b.hook_port, "/rest-hook/CallStatusEvent", ev), 200);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.9.1:1/z", O, NULL), 200);
	struct chr r = do_call(a.hook_port, "after-free", "/10.7.9.1:1/z", NULL);
	/* race-0-0 held a slot only if thread 0 won one; either way at most one new call fits */
	CHECK(r.status == 200 || r.status == 429);
	chr_free(&r);
	EXPECT_ERR(do_call(b.hook_port, "after-free-2", "/10.7.9.1:1/z", NULL), 429, "concurrent_calls exceeded");
}

/* ---- a call whose FCALL timed out but that Redis ran later gives back what it took ---- */

/* Whether a cancel's tombstone (<prefix>x:<attempt>) is in Redis within ms. */
static bool tombstone_within(int ms)
{
	for (int t = 0; t < ms; t += 50) {
		char out[512];
		if (rp_query(&rp, "KEYS callhook:x:*", out, sizeof(out)) == 0 && strstr(out, "callhook:x:"))
			return true;
		usleep(50000);
	}
	return false;
}

TEST_CASE(call_timed_out_then_run_gives_back)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			  "1000; calls_per_minute = 1; concurrent_calls = 1;";
	REQUIRE(start_one(&a, lim, "fail_closed") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.20.1:1/g", O, NULL), 200);
	long long before = rp_fcalls(&rp);
	struct rp_busy busy;
	REQUIRE(rp_busy_start(&busy, &rp, 700) == 0);
	/* timeout_ms = 100: refused while Redis spins; the FCALL waits in its socket and runs after the script */
	EXPECT_ERR(do_call(a.hook_port, "late-1", "/10.7.20.1:1/g", NULL), 503, "state store unavailable");
	rp_busy_join(&busy);
	/* the outbox's cancel: once it ran, its tombstone is there */
	bool cancelled = tombstone_within(5000);
	CHECK_MSG(cancelled, "no call cancel reached Redis");
	/* the late FCALL ran too (not dropped with its connection): two FCALLs, the call and its cancel */
	CHECK_MSG(rp_fcalls(&rp) - before >= 2, "%lld FCALLs after the stall", rp_fcalls(&rp) - before);
	/* the one slot and the one token of calls_per_minute are free: the next call passes, the one after not */
	struct chr r = do_call(a.hook_port, "late-2", "/10.7.20.1:1/g", NULL);
	CHECK_MSG(r.status == 200, "the timed-out call kept its slot or token: %ld %s", r.status, r.body);
	chr_free(&r);
	EXPECT_ERR(do_call(a.hook_port, "late-3", "/10.7.20.1:1/g", NULL), 429, "concurrent_calls exceeded");
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
}

/* ch3_call for callId id as attempt att (an unknown session on the fallback site, calls_per_minute = 1). */
static bool raw_call(const char *id, const char *att, const char *want)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "FCALL ch3_call 7 callhook:s:none callhook:c:%s callhook:slots:shop callhook:b:raw-ip "
		 "callhook:b:raw-site callhook:sessions:index callhook:x:%s 0 shop 1 \"\" - \"\" o 0 5 0 1 60000 "
		 "60000 \"\" %s",
		 id, att, att);
	return rp_cmd(&rp, cmd, want);
}

static long long raw_cancel(const char *id, const char *att)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "FCALL ch3_call_cancel 2 callhook:c:%s callhook:x:%s callhook: %s 3600000", id, att,
		 att);
	return rp_int(&rp, cmd);
}

TEST_CASE(call_cancel_owners_and_tombstone)
{
	NEED_REDIS();
	REQUIRE(start_one(&a, wide, "fail_closed") == 0);
	/* the daemon's first FCALL loads the library */
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.21.1:1/o", O, NULL), 200);
	REQUIRE(raw_call("own-1", "t1", "*5")); /* {'ok', ...}: admitted */
	REQUIRE(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
	/* a WCS retry of the same call (another attempt): the same answer, no second slot, and it owns the call */
	REQUIRE(raw_call("own-1", "t2", "*5"));
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
	/* the first answer was lost, the retry's was not: the call keeps its slot */
	CHECK(raw_cancel("own-1", "t1") == 0);
	CHECK(raw_cancel("own-1", "t1") == 0); /* idempotent */
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
	/* both lost: the slot and the token go back, the record with them (a later retry is a new call) */
	CHECK(raw_cancel("own-1", "t2") == 1);
	CHECK(raw_cancel("own-1", "t2") == 0);
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 0);
	CHECK(rp_int(&rp, "EXISTS callhook:c:own-1") == 0);
	/* a cancel that reaches Redis before its attempt: the attempt then takes nothing */
	CHECK(raw_cancel("own-2", "t3") == 0);
	CHECK(raw_call("own-2", "t3", "*3")); /* {'deny', ...} */
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 0);
	CHECK(rp_int(&rp, "EXISTS callhook:c:own-2") == 0);
	/* the token own-1 took came back: calls_per_minute = 1 lets exactly one more call through */
	CHECK(raw_call("own-3", "t4", "*5"));
	CHECK(raw_call("own-4", "t5", "*3"));
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
	/* a flood of retries does not grow the record: past 8 owners the call is pinned, no cancel frees it */
	char att[16];
	for (int i = 0; i < 20; i++) {
		snprintf(att, sizeof(att), "r%d", i);
		CHECK(raw_call("own-3", att, "*5"));
	}
	long long fields = rp_int(&rp, "HLEN callhook:c:own-3");
	/* 11 of the call, own, pin and the 8 owners */
	CHECK_MSG(fields > 0 && fields <= 21, "the call record has %lld fields", fields);
	CHECK(raw_cancel("own-3", "t4") == 0);
	for (int i = 0; i < 20; i++) {
		snprintf(att, sizeof(att), "r%d", i);
		CHECK(raw_cancel("own-3", att) == 0);
	}
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
}

/* The same for a connect: its session, its per-IP token and its jti binding. */
TEST_CASE(connect_timed_out_then_run_gives_back)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1; calls_per_minute_per_ip = 1000; calls_per_session = 1000; "
			  "calls_per_minute = 1000; concurrent_calls = 1000;";
	REQUIRE(start_one(&a, lim, "fail_closed") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.7.22.9:1/c", O, NULL), 200); /* loads the library */
	long long now = (long long)time(NULL);
	char t[2048], cu[2400];
	tok(t, sizeof(t), now, now + 100, "jti-late-1", NULL);
	long long before = rp_fcalls(&rp);
	struct rp_busy busy;
	REQUIRE(rp_busy_start(&busy, &rp, 700) == 0);
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.7.22.1:1/c", O, tok_custom(cu, sizeof(cu), t, NULL)), 503,
		   "state store unavailable");
	rp_busy_join(&busy);
	bool cancelled = tombstone_within(5000);
	CHECK_MSG(cancelled, "no connect cancel reached Redis");
	CHECK_MSG(rp_fcalls(&rp) - before >= 2, "%lld FCALLs after the stall", rp_fcalls(&rp) - before);
	CHECK(rp_int(&rp, "EXISTS callhook:s:/10.7.22.1:1/c") == 0);
	/* the IP's one connect of the minute and the token are free again: another session takes both */
	struct chr r = do_connect(a.hook_port, NULL, "/10.7.22.1:2/c", O, tok_custom(cu, sizeof(cu), t, NULL));
	CHECK_MSG(r.status == 200, "the timed-out connect kept its token or its jti: %ld %s", r.status, r.body);
	chr_free(&r);
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.7.22.1:3/c", O, NULL), 429,
		   "connects_per_minute_per_ip exceeded");
}
