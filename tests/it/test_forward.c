/* tests/it/test_forward.c: event forwarding against a real HTTP receiver on 127.0.0.1 (slow, down, back, full); label
 * http: it starts libmicrohttpd and the outbox threads. */
#include "tests/check.h"
#include "tests/support/mock_http.h"
#include "common/common.h"
#include "hook/forward.h"

#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the receiver --------------------------------------------------------- */

static struct tm_rx rx = TM_RX_INIT;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static bool rx_has_body(const char *needle)
{
	bool found = false;
	pthread_mutex_lock(&rx.mu);
	for (size_t i = 0; i < rx.n && !found; i++)
		found = strstr(rx.msgs[i].body, needle) != NULL;
	pthread_mutex_unlock(&rx.mu);
	return found;
}

/* ---- helpers ------------------------------------------------------------------ */

static char url[128];
static char *methods_ev[] = {"ConnectionStatusEvent", "CallStatusEvent"};

static struct cfg_forward fwd_cfg(int64_t timeout_ms, int64_t queue_max, int64_t retries)
{
	struct cfg_forward f = {.url = url,
				.methods = {methods_ev, 2},
				.timeout_ms = timeout_ms,
				.queue_max = queue_max,
				.retries = retries};
	return f;
}

struct stats {
	uint64_t sent, failed, dropped;
};

static struct stats stats_of(struct hook_fwd *fw)
{
	struct stats s;
	hook_fwd_stats(fw, &s.sent, &s.failed, &s.dropped);
	return s;
}

/* Poll until sent/failed reach the given counts or ms pass. */
static bool wait_counts(struct hook_fwd *fw, uint64_t sent, uint64_t failed, int ms)
{
	for (int w = 0; w <= ms; w += 10) {
		struct stats s = stats_of(fw);
		if (s.sent >= sent && s.failed >= failed)
			return true;
		sleep_ms(10);
	}
	return false;
}

static const char ev_body[] = "{\"status\":\"ESTABLISHED\",\"sessionId\":\"s1\"}";

/* ---- cases ----------------------------------------------------------------------- */

TEST_CASE(sanitize)
{
	static const struct {
		const char *in, *out; /* out NULL = EINVAL */
	} cases[] = {
	    {"{}", "{}"},
	    {" { } ", "{}"},
	    {"{\"a\":1}", "{\"a\":1}"},
	    {"{\"sipLogin\":\"a\",\"sipPassword\":\"p\",\"sipProxy\":\"x\",\"sipRegisterRequired\":true}", "{}"},
	    {"{\"a\":1,\"sipPassword\":\"p\",\"b\":2}", "{\"a\":1,\"b\":2}"},
	    /* call data stays; the account and anything else named sip* goes */
	    {"{\"sipStatus\":486,\"sipCallId\":\"c@h\",\"sipPassword\":\"p\",\"SIPSTATUS\":1,\"sipMessageRaw\":\"x\"}",
	     "{\"sipStatus\":486,\"sipCallId\":\"c@h\"}"},
	    {"{\"\\u0073ipPassword\":\"p\",\"b\":2}", "{\"b\":2}"},
	    {"{\"SIPPort\":\"5060\",\"SipX\":1,\"si\":1}", "{\"si\":1}"},
	    {"{\"token\":\"t\",\"authToken\":\"at\",\"tokens\":1}", "{\"tokens\":1}"},
	    {"{\"custom\":{\"button\":\"sales\",\"token\":\"eyJ.x.y\",\"n\":1}}",
	     "{\"custom\":{\"button\":\"sales\",\"n\":1}}"},
	    {"{\"custom\":{\"token\":\"t\"}}", "{\"custom\":{}}"},
	    {"{\"custom\":\"token\"}", "{\"custom\":\"token\"}"},
	    {"{\"custom\":{\"sipLogin\":\"kept: only custom.token goes\"}}",
	     "{\"custom\":{\"sipLogin\":\"kept: only custom.token goes\"}}"},
	    {"{\"f\":0.1,\"big\":123456789012345678901234567890,\"e\":1E3,\"u\":\"\\u00e9\\n\"}",
	     "{\"f\":0.1,\"big\":123456789012345678901234567890,\"e\":1E3,\"u\":\"\\u00e9\\n\"}"},
	    {"{\"e\":1E400}", NULL}, /* Jansson refuses a real it cannot hold: so does the hook */
	    {"{ \"a\" : [1, {\"sipx\": 1}] ,\n \"sipY\" : 2 }", "{\"a\":[1, {\"sipx\": 1}]}"},
	    {"[]", NULL},
	    {"\"s\"", NULL},
	    {"", NULL},
	    {"{\"a\":1", NULL},
	    {"{\"a\":1,\"a\":2}", NULL},
	    {"{\"custom\":{\"t\":1,\"t\":2}}", NULL},
	    {"{\"a\":\"\xff\"}", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		size_t len = 0;
		int rc = hook_fwd_sanitize(cases[i].in, strlen(cases[i].in), &out, &len);
		if (!cases[i].out) {
			CHECK_MSG(rc == EINVAL, "case %zu: %s: rc %d", i, cases[i].in, rc);
			CHECK(out == NULL);
		} else {
			CHECK_MSG(rc == 0, "case %zu: %s: rc %d", i, cases[i].in, rc);
			if (rc == 0) {
				CHECK_STR(out, cases[i].out);
				CHECK(len == strlen(out));
			}
		}
		free(out);
	}
}

TEST_CASE(none)
{
	struct hook_fwd *fw = (struct hook_fwd *)&fw; /* must be overwritten with NULL */
	CHECK(hook_fwd_start(NULL, 0, &fw) == 0);
	CHECK(fw == NULL);
	hook_fwd_submit(NULL, "CallStatusEvent", ev_body, strlen(ev_body));
	struct stats s = {1, 1, 1};
	hook_fwd_stats(NULL, &s.sent, &s.failed, &s.dropped);
	CHECK(s.sent == 0 && s.failed == 0 && s.dropped == 0);
	hook_fwd_stats(NULL, NULL, NULL, NULL);
	CHECK(hook_fwd_same(NULL, NULL, 0));
	hook_fwd_stop(NULL, 100);
}

/* Only configured methods go; the copy is sanitised, typed and labelled. */
TEST_CASE(deliver)
{
	tm_rx_reset(&rx);
	/* a timeout no loaded machine reaches: a cut attempt is retried, and the receiver would count it twice */
	struct cfg_forward f = fwd_cfg(10000, 100, 2);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	CHECK(hook_fwd_same(fw, &f, 1));
	struct cfg_forward g = f;
	g.retries = 3;
	CHECK(!hook_fwd_same(fw, &g, 1));
	CHECK(!hook_fwd_same(fw, &f, 0));
	static const char in[] =
	    "{\"nodeId\":\"n1\",\"sipLogin\":\"alice\",\"sessionId\":\"s1\",\"sipPassword\":\"hunter2\","
	    "\"custom\":{\"button\":\"sales\",\"token\":\"eyJ.x.y\"},\"authToken\":\"at\","
	    "\"status\":\"ESTABLISHED\",\"big\":123456789012345678901234567890,\"f\":0.1}";
	static const char want[] = "{\"nodeId\":\"n1\",\"sessionId\":\"s1\",\"custom\":{\"button\":\"sales\"},"
				   "\"status\":\"ESTABLISHED\",\"big\":123456789012345678901234567890,\"f\":0.1}";
	hook_fwd_submit(fw, "call", in, strlen(in));                  /* not configured */
	hook_fwd_submit(fw, "callstatusevent", in, strlen(in));       /* case-sensitive */
	hook_fwd_submit(fw, "ConnectionStatusEvent", in, strlen(in)); /* goes */
	CHECK(wait_counts(fw, 1, 0, 3000));
	sleep_ms(200); /* nothing else may arrive */
	struct stats s = stats_of(fw);
	CHECK_MSG(s.sent == 1 && s.failed == 0 && s.dropped == 0, "sent %llu failed %llu dropped %llu",
		  (unsigned long long)s.sent, (unsigned long long)s.failed, (unsigned long long)s.dropped);
	CHECK(__atomic_load_n(&rx.total, __ATOMIC_SEQ_CST) == 1);
	pthread_mutex_lock(&rx.mu);
	if (rx.n == 1) {
		CHECK_STR(rx.msgs[0].body, want);
		CHECK_STR(rx.msgs[0].event, "ConnectionStatusEvent");
		CHECK_STR(rx.msgs[0].ctype, "application/json");
		CHECK(strstr(rx.msgs[0].body, "hunter2") == NULL);
		CHECK(strstr(rx.msgs[0].body, "eyJ") == NULL);
	} else {
		CHECK_MSG(false, "receiver kept %zu messages", rx.n);
	}
	pthread_mutex_unlock(&rx.mu);
	hook_fwd_stop(fw, 1000);
}

/* A receiver slower than timeout_ms: the attempt is cut and retried. */
TEST_CASE(slow)
{
	tm_rx_reset(&rx);
	pthread_mutex_lock(&rx.mu);
	rx.slow_left = 1;
	pthread_mutex_unlock(&rx.mu);
	__atomic_store_n(&rx.delay_ms, 4000, __ATOMIC_SEQ_CST);
	/* 1 s: the retry, answered at once, must not be cut too on a loaded machine (a third copy) */
	struct cfg_forward f = fwd_cfg(1000, 100, 3);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	int64_t t0 = ch_now_ms();
	hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	CHECK(wait_counts(fw, 1, 0, 8000));
	int64_t took = ch_now_ms() - t0;
	struct stats s = stats_of(fw);
	CHECK(s.sent == 1 && s.failed == 0);
	CHECK_MSG(took >= 1000 + HOOK_FWD_BACKOFF_MS, "delivered after %lld ms: not timed out and retried?",
		  (long long)took);
	CHECK_MSG(__atomic_load_n(&rx.total, __ATOMIC_SEQ_CST) == 2, "receiver saw %d",
		  __atomic_load_n(&rx.total, __ATOMIC_SEQ_CST));
	hook_fwd_stop(fw, 1000);
	__atomic_store_n(&rx.release, true, __ATOMIC_SEQ_CST);
}

/* Down (port closed), retried with backoff, then back: delivered. */
TEST_CASE(down_then_back)
{
	tm_rx_reset(&rx);
	tm_rx_stop(&rx);
	struct cfg_forward f = fwd_cfg(1000, 100, 6);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	int64_t t0 = ch_now_ms();
	hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	sleep_ms(450); /* attempts at 0 and ~200-250 ms are refused */
	struct stats s = stats_of(fw);
	CHECK(s.sent == 0 && s.failed == 0);
	tm_rx_reset(&rx);
	CHECK(tm_rx_start(&rx));
	CHECK(wait_counts(fw, 1, 0, 8000));
	int64_t took = ch_now_ms() - t0;
	s = stats_of(fw);
	CHECK(s.sent == 1 && s.failed == 0 && s.dropped == 0);
	/* backoff: the third attempt waits 200 + 400 ms at least */
	CHECK_MSG(took >= 3 * HOOK_FWD_BACKOFF_MS, "delivered after %lld ms", (long long)took);
	CHECK(__atomic_load_n(&rx.total, __ATOMIC_SEQ_CST) == 1);
	hook_fwd_stop(fw, 1000);
}

/* Down for good: retries, then one failure counted. */
TEST_CASE(down_fails)
{
	tm_rx_stop(&rx);
	struct cfg_forward f = fwd_cfg(1000, 100, 2);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	int64_t t0 = ch_now_ms();
	hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	CHECK(wait_counts(fw, 0, 1, 5000));
	int64_t took = ch_now_ms() - t0;
	struct stats s = stats_of(fw);
	CHECK(s.sent == 0 && s.failed == 1 && s.dropped == 0);
	CHECK_MSG(took >= 3 * HOOK_FWD_BACKOFF_MS, "gave up after %lld ms: no backoff?", (long long)took);
	hook_fwd_stop(fw, 0);
	tm_rx_reset(&rx);
	CHECK(tm_rx_start(&rx));
}

/* 4xx is final; 5xx is retried. */
TEST_CASE(status)
{
	tm_rx_reset(&rx);
	__atomic_store_n(&rx.status, 400, __ATOMIC_SEQ_CST);
	struct cfg_forward f = fwd_cfg(1000, 100, 3);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	CHECK(wait_counts(fw, 0, 1, 3000));
	CHECK(__atomic_load_n(&rx.total, __ATOMIC_SEQ_CST) == 1);
	hook_fwd_stop(fw, 0);

	tm_rx_reset(&rx);
	__atomic_store_n(&rx.status, 503, __ATOMIC_SEQ_CST);
	f = fwd_cfg(1000, 100, 1);
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	CHECK(wait_counts(fw, 0, 1, 3000));
	CHECK(__atomic_load_n(&rx.total, __ATOMIC_SEQ_CST) == 2);
	CHECK(stats_of(fw).sent == 0);
	hook_fwd_stop(fw, 0);
	tm_rx_reset(&rx);
}

/* Every transfer slot held by a slow receiver: the queue fills, the oldest go. */
TEST_CASE(full_queue)
{
	tm_rx_reset(&rx);
	pthread_mutex_lock(&rx.mu);
	rx.slow_left = HOOK_FWD_CONCURRENCY;
	pthread_mutex_unlock(&rx.mu);
	__atomic_store_n(&rx.delay_ms, 10000, __ATOMIC_SEQ_CST);
	struct cfg_forward f = fwd_cfg(15000, 3, 0);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	char body[64];
	/* one at a time: four at once would already overflow a queue of three */
	for (int i = 0; i < HOOK_FWD_CONCURRENCY; i++) {
		ch_fmt(body, sizeof(body), "{\"n\":\"A%d\"}", i);
		hook_fwd_submit(fw, "CallStatusEvent", body, strlen(body));
		for (int w = 0; w < 3000 && __atomic_load_n(&rx.in_slow, __ATOMIC_SEQ_CST) < i + 1; w += 10)
			sleep_ms(10);
	}
	CHECK_MSG(__atomic_load_n(&rx.in_slow, __ATOMIC_SEQ_CST) == HOOK_FWD_CONCURRENCY, "%d in flight",
		  __atomic_load_n(&rx.in_slow, __ATOMIC_SEQ_CST));
	int64_t t0 = ch_now_us();
	for (int i = 0; i < 5; i++) {
		ch_fmt(body, sizeof(body), "{\"n\":\"B%d\"}", i);
		hook_fwd_submit(fw, "CallStatusEvent", body, strlen(body));
	}
	int64_t us = ch_now_us() - t0;
	CHECK_MSG(us < 50000, "5 submits took %lld us", (long long)us);
	struct stats s = stats_of(fw);
	CHECK_MSG(s.dropped == 2, "dropped %llu", (unsigned long long)s.dropped);
	CHECK(s.sent == 0);
	__atomic_store_n(&rx.release, true, __ATOMIC_SEQ_CST);
	CHECK(wait_counts(fw, HOOK_FWD_CONCURRENCY + 3, 0, 5000));
	s = stats_of(fw);
	CHECK(s.sent == HOOK_FWD_CONCURRENCY + 3 && s.failed == 0 && s.dropped == 2);
	CHECK(!rx_has_body("\"B0\"") && !rx_has_body("\"B1\""));
	CHECK(rx_has_body("\"B2\"") && rx_has_body("\"B3\"") && rx_has_body("\"B4\""));
	CHECK(rx_has_body("\"A0\"") && rx_has_body("\"A3\""));
	hook_fwd_stop(fw, 1000);
}

/* Stop delivers what is queued within the grace... */
TEST_CASE(stop_delivers)
{
	tm_rx_reset(&rx);
	struct cfg_forward f = fwd_cfg(2000, 100, 0);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	for (int i = 0; i < 10; i++)
		hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	hook_fwd_stop(fw, 3000);
	CHECK_MSG(__atomic_load_n(&rx.total, __ATOMIC_SEQ_CST) == 10, "receiver saw %d",
		  __atomic_load_n(&rx.total, __ATOMIC_SEQ_CST));
}

/* ...and gives up when the grace runs out. */
TEST_CASE(stop_grace)
{
	tm_rx_stop(&rx);
	struct cfg_forward f = fwd_cfg(1000, 100, 10);
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(&f, 1, &fw) == 0);
	for (int i = 0; i < 10; i++)
		hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	sleep_ms(50);
	int64_t t0 = ch_now_ms();
	hook_fwd_stop(fw, 300);
	int64_t took = ch_now_ms() - t0;
	CHECK_MSG(took >= 250 && took < 2000, "stop took %lld ms", (long long)took);
	tm_rx_reset(&rx);
	CHECK(tm_rx_start(&rx));
}

/* Two entries: each gets its own copy of what it asked for. */
TEST_CASE(two_targets)
{
	tm_rx_reset(&rx);
	static char *only_call[] = {"CallStatusEvent"};
	struct cfg_forward f[2] = {fwd_cfg(2000, 100, 0), fwd_cfg(2000, 100, 0)};
	f[1].methods.v = only_call;
	f[1].methods.n = 1;
	struct hook_fwd *fw = NULL;
	CHECK(hook_fwd_start(f, 2, &fw) == 0);
	hook_fwd_submit(fw, "ConnectionStatusEvent", ev_body, strlen(ev_body));
	hook_fwd_submit(fw, "CallStatusEvent", ev_body, strlen(ev_body));
	CHECK(wait_counts(fw, 3, 0, 3000));
	sleep_ms(100);
	CHECK(stats_of(fw).sent == 3);
	CHECK(__atomic_load_n(&rx.total, __ATOMIC_SEQ_CST) == 3);
	hook_fwd_stop(fw, 1000);
}

/* Every case: a fresh receiver on 127.0.0.1 (the cases that send nothing leave it idle). */
int test_setup(const char *name)
{
	(void)name;
	ch_log_set_level(CH_LOG_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT); /* as main.c does, before any thread */
	tm_rx_reset(&rx);
	if (!tm_rx_start(&rx)) {
		CHECK_MSG(false, "cannot start the receiver on 127.0.0.1");
		return -1;
	}
	ch_fmt(url, sizeof(url), "http://127.0.0.1:%u/events", (unsigned)rx.port);
	return 0;
}

void test_teardown(void)
{
	tm_rx_stop(&rx);
	tm_rx_reset(&rx);
	curl_global_cleanup();
}
