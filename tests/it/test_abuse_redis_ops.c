/* tests/it/test_abuse_redis_ops.c: store.backend = "redis": one round trip per decision (counted by Redis), a
 * refused request takes nothing, releases replayed from the outbox, slots that heal at their deadline, the
 * breaker and its prober. */
#include "tests/check.h"
#include "redis_pair.h"
#include "secrets.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int start_with(struct chd *d, const char *lim, const char *hook_extra)
{
	return pair_start(d, lim, "fail_closed", hook_extra, "");
}

/* The round trips Redis saw for one request r (an expression), with its status checked. */
#define TRIPS(r_, status_, want_)                                                                                      \
	do {                                                                                                           \
		REQUIRE(rp_cmd(&rp, "CONFIG RESETSTAT", "+OK"));                                                       \
		EXPECT_STATUS((r_), (status_));                                                                        \
		long long n_ = rp_calls(&rp);                                                                          \
		CHECK_MSG(n_ == (want_), "%s: %lld round trips, want %d", #r_, n_, (want_));                           \
	} while (0)

TEST_CASE(one_round_trip_per_decision)
{
	NEED_REDIS();
	REQUIRE(start_with(&a, wide, "") == 0 && start_with(&b, wide, "") == 0);
	/* the first FCALL loads the library (FUNCTION LOAD and the FCALL again): not counted below */
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.0.9:1/w", O, NULL), 200);
	TRIPS(do_connect(a.hook_port, NULL, "/10.8.0.1:1/t", O, NULL), 200, 1); /* new session */
	TRIPS(do_connect(a.hook_port, NULL, "/10.8.0.1:1/t", O, NULL), 200, 1); /* a WCS retry */
	TRIPS(do_call(a.hook_port, "t-1", "/10.8.0.1:1/t", NULL), 200, 1);
	TRIPS(do_call(a.hook_port, "t-1", "/10.8.0.1:1/t", NULL), 200, 1); /* a WCS retry */
	TRIPS(do_call(b.hook_port, "t-1", "/10.8.0.1:1/t", NULL), 200, 2); /* B: the session is new here */
	TRIPS(do_call(b.hook_port, "t-2", "/10.8.0.1:1/t", NULL), 200, 1); /* B knows it now */
	TRIPS(do_call(a.hook_port, "t-3", "/10.9.9.9:1/unknown", NULL), 403, 1);
	TRIPS(event(a.hook_port, "/rest-hook/CallStatusEvent",
		    "{\"callId\":\"t-1\",\"sessionId\":\"/10.8.0.1:1/t\",\"status\":\"ESTABLISHED\"}"),
	      200, 0);
	TRIPS(event(b.hook_port, "/rest-hook/CallStatusEvent",
		    "{\"callId\":\"t-1\",\"sessionId\":\"/10.8.0.1:1/t\",\"status\":\"FINISH\"}"),
	      200, 1);
	TRIPS(event(b.hook_port, "/rest-hook/ConnectionStatusEvent",
		    "{\"sessionId\":\"/10.8.0.1:1/t\",\"status\":\"DISCONNECTED\"}"),
	      200, 1);
	TRIPS(post(a.hook_port, "/rest-hook/transfer", NULL, "{\"sessionId\":\"/10.8.0.9:1/w\"}"), 403, 1);
}

TEST_CASE(refused_takes_nothing)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1; calls_per_minute_per_ip = 1; calls_per_session = 1000; "
			  "calls_per_minute = 2; concurrent_calls = 5;";
	REQUIRE(start_with(&a, lim, "max_sessions = 3;") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.1.1:1/x", O, NULL), 200);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.1.2:1/y", O, NULL), 200);
	EXPECT_STATUS(do_call(a.hook_port, "x-1", "/10.8.1.1:1/x", NULL), 200);
	/* the per-IP bucket refuses; the site's bucket (checked after it) and the slots are left alone */
	EXPECT_ERR(do_call(a.hook_port, "x-2", "/10.8.1.1:1/x", NULL), 429, "calls_per_minute_per_ip exceeded");
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
	CHECK(rp_int(&rp, "EXISTS callhook:c:x-2") == 0);
	EXPECT_STATUS(do_call(a.hook_port, "y-1", "/10.8.1.2:1/y", NULL), 200); /* the second of calls_per_minute */
	CHECK(rp_int(&rp, "ZCARD callhook:slots:shop") == 2);
	EXPECT_ERR(do_call(a.hook_port, "y-2", "/10.8.1.2:1/y", NULL), 429, "calls_per_minute_per_ip exceeded");
	/* a connect refused by max_sessions keeps no connect token of its IP: the same IP connects later */
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.1.3:1/z", O, NULL), 200);
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.8.1.4:1/full", O, NULL), 503, "session table full");
	CHECK(rp_int(&rp, "EXISTS callhook:b:connect|shop|10.8.1.4") == 0);
	EXPECT_STATUS(event(a.hook_port, "/rest-hook/ConnectionStatusEvent",
			    "{\"sessionId\":\"/10.8.1.3:1/z\",\"status\":\"DISCONNECTED\"}"),
		      200);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.1.4:1/full", O, NULL), 200);
	/* a connect refused by max_sessions binds no jti either */
	long long now = (long long)time(NULL);
	char t[2048], cu[2400];
	tok(t, sizeof(t), now, now + 100, "jti-ops-1", NULL);
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.8.1.5:1/j", O, tok_custom(cu, sizeof(cu), t, NULL)), 503,
		   "session table full");
	CHECK(rp_int(&rp, "EXISTS callhook:j:jti-ops-1") == 0); /* a refused connect binds no jti */
}

/* Poll until the integer reply of cmd is want (10 s at most: the outbox's backoff and the prober's). */
static bool wait_int(const char *cmd, long long want)
{
	for (int i = 0; i < 200; i++) {
		if (rp_int(&rp, cmd) == want)
			return true;
		usleep(50000);
	}
	return false;
}

TEST_CASE(release_replayed_from_outbox)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			  "1000; calls_per_minute = 1000; concurrent_calls = 1;";
	REQUIRE(start_with(&a, lim, "") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.2.1:1/o", O, NULL), 200);
	EXPECT_STATUS(do_call(a.hook_port, "o-1", "/10.8.2.1:1/o", NULL), 200);
	REQUIRE(rp_int(&rp, "ZCARD callhook:slots:shop") == 1);
	rp_kill(&rp); /* mid-call; appendfsync always: the slot survives the restart */
	EXPECT_STATUS(event(a.hook_port, "/rest-hook/CallStatusEvent",
			    "{\"callId\":\"o-1\",\"sessionId\":\"/10.8.2.1:1/o\",\"status\":\"FINISH\"}"),
		      200);
	EXPECT_ERR(do_call(a.hook_port, "o-2", "/10.8.2.1:1/o", NULL), 503, "state store unavailable");
	REQUIRE(rp_start(&rp, a.dir) == 0);
	CHECK(rp_int(&rp, "EXISTS callhook:c:o-1") == 1); /* the data came back with Redis */
	CHECK_MSG(wait_int("ZCARD callhook:slots:shop", 0), "the outbox did not free the slot");
	char up[96];
	snprintf(up, sizeof(up), "store: redis is up (127.0.0.1:%d) after", rp.port);
	CHECK(chd_wait_log(&a, up, 10000));
	EXPECT_STATUS(do_call(a.hook_port, "o-3", "/10.8.2.1:1/o", NULL), 200); /* the one slot is free */
}

TEST_CASE(slot_heals_at_its_deadline)
{
	NEED_REDIS();
	const char *lim = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			  "1000; calls_per_minute = 1000; concurrent_calls = 1; call_max_s = 60;";
	REQUIRE(start_with(&a, lim, "") == 0 && start_with(&b, lim, "") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.3.1:1/d", O, NULL), 200);
	EXPECT_STATUS(do_call(a.hook_port, "d-1", "/10.8.3.1:1/d", NULL), 200);
	/* the slot is the call id scored by its deadline: Redis TIME + call_max_s */
	char tm[128], sc[128];
	REQUIRE(rp_query(&rp, "TIME", tm, sizeof(tm)) == 0 &&
		rp_query(&rp, "ZSCORE callhook:slots:shop callhook:c:d-1", sc, sizeof(sc)) == 0);
	const char *nl = strchr(tm + 1, '\n'), *snl = strchr(sc + 1, '\n');
	REQUIRE(nl && snl);
	long long now_s = strtoll(strchr(nl + 1, '\n') + 1, NULL, 10), deadline_ms = strtoll(snl + 1, NULL, 10);
	CHECK_MSG(deadline_ms / 1000 >= now_s + 55 && deadline_ms / 1000 <= now_s + 60, "deadline %lld, now %lld",
		  deadline_ms, now_s);
	/* A dies mid-call: its slot still counts on B ... */
	REQUIRE(chd_signal(&a, SIGKILL) == 0);
	chd_stop(&a);
	EXPECT_STATUS(do_connect(b.hook_port, NULL, "/10.8.3.2:1/d", O, NULL), 200);
	EXPECT_ERR(do_call(b.hook_port, "d-2", "/10.8.3.2:1/d", NULL), 429, "concurrent_calls exceeded");
	/* ... until its deadline (call_max_s is at least 60 s: the test moves the deadline, not the clock) */
	REQUIRE(rp_cmd(&rp, "ZADD callhook:slots:shop XX 1000 callhook:c:d-1", ":0"));
	EXPECT_STATUS(do_call(b.hook_port, "d-3", "/10.8.3.2:1/d", NULL), 200);
}

/* The value of a metric line "name{labels} v" (or "name v") in the exposition, or -1. */
static long count_lines(struct chd *d, const char *needle)
{
	char *l = chd_log(d);
	long n = 0;
	for (const char *p = strstr(l, needle); p; p = strstr(p + 1, needle))
		n++;
	free(l);
	return n;
}

TEST_CASE(breaker_and_prober)
{
	NEED_REDIS();
	REQUIRE(start_with(&a, wide, "") == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.4.1:1/b", O, NULL), 200);
	rp_kill(&rp);
	char sid[64];
	for (int i = 0; i < 8; i++) {
		snprintf(sid, sizeof(sid), "/10.8.4.2:%d/b", i + 1);
		EXPECT_ERR(do_connect(a.hook_port, NULL, sid, O, NULL), 503, "state store unavailable");
	}
	struct chr m;
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", a.hook_port);
	m = req_url(c, "GET", url, NULL, NULL, 0);
	REQUIRE(m.status == 200 && m.body);
	CHECK(th_metric(m.body, "callhook_store_up") == 0);
	CHECK(th_metric(m.body, "callhook_store_breaker_open") == 1);
	CHECK(th_metric(m.body, "callhook_store_ops_total{op=\"connect\",result=\"breaker\"}") >= 6);
	CHECK(th_metric(m.body, "callhook_store_fallbacks_total{mode=\"fail_closed\"}") == 8);
	chr_free(&m);
	REQUIRE(rp_start(&rp, a.dir) == 0);
	char up[96];
	snprintf(up, sizeof(up), "store: redis is up (127.0.0.1:%d) after", rp.port);
	CHECK(chd_wait_log(&a, up, 10000));
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.4.3:1/b", O, NULL), 200);
	/* one line per change of state, not one per request */
	CHECK(count_lines(&a, "store: redis is unavailable") == 1);
	CHECK(count_lines(&a, "store: redis is up") == 2);
	m = req_url(c, "GET", url, NULL, NULL, 0);
	CHECK(m.body && th_metric(m.body, "callhook_store_up") == 1 &&
	      th_metric(m.body, "callhook_store_breaker_open") == 0);
	CHECK(m.body && th_metric(m.body, "callhook_store_probes_total{result=\"ok\"}") == 1);
	chr_free(&m);
}
