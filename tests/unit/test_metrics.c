/* tests/unit/test_metrics.c: the /metrics registry: families and series as rendered, histograms, and collectors
 * (a removal waits for a collect in progress, so that the collector's argument can be freed right after). */
#include "common/metrics.h"
#include "tests/check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

TEST_CASE(render)
{
	ch_metrics_reset();
	ch_metrics_declare("t_requests_total", "counter", "requests");
	ch_metrics_add("t_requests_total", "method=\"connect\"", 2);
	ch_metrics_add("t_requests_total", "method=\"connect\"", 1);
	ch_metrics_set("t_up", "", 1); /* undeclared: its name is its help */
	ch_metrics_observe("t_latency_seconds", "", 0.0002);
	size_t len = 0;
	char *t = ch_metrics_render(&len);
	REQUIRE(t != NULL);
	CHECK(len == strlen(t));
	CHECK_MSG(strstr(t, "# TYPE t_requests_total counter\nt_requests_total{method=\"connect\"} 3\n") != NULL, "%s",
		  t);
	CHECK_MSG(strstr(t, "\nt_up 1\n") != NULL, "%s", t);
	/* 0.2 ms: not in the 100 us bucket, in every one from 250 us up */
	CHECK_MSG(strstr(t, "t_latency_seconds_bucket{le=\"0.0001\"} 0\n") != NULL, "%s", t);
	CHECK_MSG(strstr(t, "t_latency_seconds_bucket{le=\"+Inf\"} 1\nt_latency_seconds_sum 0.0002") != NULL, "%s", t);
	CHECK(strstr(t, "t_latency_seconds_count 1\n") != NULL);
	free(t);
	ch_metrics_reset();
}

struct slow {
	atomic_int running;
	atomic_int done;
};
static atomic_int slow_calls;

static void slow_collect(void *arg)
{
	struct slow *s = arg;
	atomic_fetch_add(&slow_calls, 1);
	atomic_store(&s->running, 1);
	sleep_ms(200);
	ch_metrics_set("t_collected", "", 7);
	atomic_store(&s->done, 1);
}

static void *render_thread(void *arg)
{
	size_t len;
	char *t = ch_metrics_render(&len);
	*(char **)arg = t;
	return NULL;
}

TEST_CASE(collector_removal_waits)
{
	ch_metrics_reset();
	ch_metrics_declare("t_collected", "gauge", "set by a collector");
	struct slow *s = calloc(1, sizeof(*s));
	REQUIRE(s != NULL);
	ch_metrics_collector(5, slow_collect, s);
	char *text = NULL;
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, render_thread, &text) == 0);
	for (int i = 0; i < 2000 && !atomic_load(&s->running); i++)
		sleep_ms(1);
	REQUIRE(atomic_load(&s->running));
	/* the render is inside the collector: removing it must wait until the collector has returned */
	ch_metrics_collector(5, NULL, NULL);
	CHECK(atomic_load(&s->done) == 1);
	free(s); /* what an owner does right after the removal (ASan: a collector still running would use it) */
	REQUIRE(pthread_join(th, NULL) == 0);
	REQUIRE(text != NULL);
	CHECK_MSG(strstr(text, "\nt_collected 7\n") != NULL, "%s", text);
	free(text);
	/* removed: a later render runs it no more */
	size_t len;
	char *again = ch_metrics_render(&len);
	CHECK(again != NULL);
	free(again);
	CHECK(atomic_load(&slow_calls) == 1);
	/* slots past 7 are ignored */
	ch_metrics_collector(8, slow_collect, NULL);
	again = ch_metrics_render(&len);
	CHECK(again != NULL);
	free(again);
	ch_metrics_reset();
}
