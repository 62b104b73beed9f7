/* hook/metrics.c: the hook's metric families, the gauges read at scrape time, one log line and counters per request. */
#include "hook/hook_int.h"
#include "hook/store_redis.h"
#include "store/redis.h"

#include "common/metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

void hook_metrics_declare(void)
{
	ch_metrics_declare("callhook_build_info", "gauge", "Version of this callhook build.");
	char labels[64];
	snprintf(labels, sizeof(labels), "version=\"%s\"", CALLHOOK_VERSION);
	ch_metrics_set("callhook_build_info", labels, 1);
	ch_metrics_declare("callhook_requests_total", "counter", "Hook requests by WCS method and HTTP status.");
	ch_metrics_declare("callhook_verdicts_total", "counter",
			   "Hook decisions by verdict (allow, mirror, origin, token, budget, auth, body, size, ...).");
	ch_metrics_declare("callhook_request_duration_seconds", "histogram", "Time to answer a hook request.");
	ch_metrics_declare("callhook_sessions_active", "gauge", "WCS sessions the hook accepted and still tracks.");
	ch_metrics_declare("callhook_site_concurrent_calls", "gauge", "Calls holding a concurrent slot, per site.");
	st_metrics_declare(); /* callhook_store_*: store/redis.c */
	ch_metrics_declare("callhook_reloads_total", "counter", "Configuration reloads by result.");
	ch_metrics_declare("callhook_forward_total", "counter",
			   "Forwarded event copies by outcome (sent, failed, dropped: queue full or stopped).");
	ch_metrics_declare("callhook_cdr_write_errors_total", "counter",
			   "Call records lost: the record file could not be opened or written (ENOSPC, EIO, ...).");
}

static void flush_counters(void);

void hook_metrics_collect(struct hook_rt *rt, struct hook_store *st)
{
	flush_counters();
	hs_lock(st);
	ch_metrics_set("callhook_sessions_active", "", (double)hs_session_count(st));
	for (size_t i = 0; i < rt->n_sites; i++) {
		char labels[128];
		snprintf(labels, sizeof(labels), "site=\"%s\"", rt->sites[i].cfg->name);
		ch_metrics_set("callhook_site_concurrent_calls", labels,
			       (double)hs_site_active(st, rt->sites[i].cfg->name));
	}
	hs_store_metrics(st);
	hs_unlock(st);
	if (rt->fwd) {
		uint64_t sent, failed, dropped;
		hook_fwd_stats(rt->fwd->fw, &sent, &failed, &dropped);
		ch_metrics_set("callhook_forward_total", "outcome=\"sent\"", (double)sent);
		ch_metrics_set("callhook_forward_total", "outcome=\"failed\"", (double)failed);
		ch_metrics_set("callhook_forward_total", "outcome=\"dropped\"", (double)dropped);
	}
}

/* The per-request counters are kept without a lock: each thread adds to a
 * shard of its own (relaxed atomics, so threads sharing a shard past
 * HM_SHARDS stay exact) and a scrape sums the shards into the registry.
 * The registry's lock and its label lookups cost a request three lock
 * round trips, contended between the HTTP threads. */
#define HM_SHARDS 16

/* The statuses the hook answers with; another one goes through the registry. */
static const int hm_status[] = {200, 400, 403, 405, 409, 413, 429, 500, 503};
#define HM_NSTATUS (sizeof(hm_status) / sizeof(hm_status[0]))

struct hm_shard {
	uint64_t req[HOOK_ROUTES_MAX + 1][HM_NSTATUS]; /* by route row ("other" included) and status */
	uint64_t verdict[HOOK_VERDICT_COUNT];
	uint64_t per_bucket[CH_METRICS_NBUCKETS + 1]; /* by ch_metrics_bucket */
	uint64_t sum_us;
} __attribute__((aligned(64)));

static struct hm_shard hm_shards[HM_SHARDS];
static unsigned hm_next_shard;
static _Thread_local int hm_my_shard = -1;

static struct hm_shard *my_shard(void)
{
	if (hm_my_shard < 0)
		hm_my_shard = (int)(__atomic_fetch_add(&hm_next_shard, 1, __ATOMIC_RELAXED) % HM_SHARDS);
	return &hm_shards[hm_my_shard];
}

static void bump(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t sum_of(size_t off)
{
	uint64_t t = 0;
	for (size_t i = 0; i < HM_SHARDS; i++)
		t += __atomic_load_n((const uint64_t *)(const void *)((const char *)&hm_shards[i] + off),
				     __ATOMIC_RELAXED);
	return t;
}

#define HM_SUM(field) sum_of(offsetof(struct hm_shard, field))

/* "method=\"<route>\",status=\"<status>\"" */
static void request_labels(char *labels, size_t cap, const char *route, int status)
{
	char st[4] = {'0', '0', '0', '\0'};
	for (int i = 2, v = status >= 0 && status <= 999 ? status : 0; i >= 0; i--, v /= 10)
		st[i] = (char)('0' + v % 10);
	size_t n = ch_scat(labels, cap, 0, "method=\"");
	n = ch_scat(labels, cap, n, route);
	n = ch_scat(labels, cap, n, "\",status=\"");
	n = ch_scat(labels, cap, n, st);
	ch_scat(labels, cap, n, "\"");
}

/* The shards into the registry (under no lock of ours: a request counted
 * meanwhile shows at the next scrape). */
static void flush_counters(void)
{
	char labels[160];
	for (size_t r = 0; r <= HOOK_ROUTES_MAX; r++) {
		for (size_t k = 0; k < HM_NSTATUS; k++) {
			uint64_t n = HM_SUM(req[r][k]);
			if (!n)
				continue;
			request_labels(labels, sizeof(labels), hook_route_name(r), hm_status[k]);
			ch_metrics_set("callhook_requests_total", labels, (double)n);
		}
	}
	/* two verdicts may share a label: their sum */
	for (size_t v = 0; v < HOOK_VERDICT_COUNT; v++) {
		const char *label = hook_verdict_label((enum hook_verdict)v);
		bool seen = false;
		for (size_t w = 0; w < v && !seen; w++)
			seen = strcmp(hook_verdict_label((enum hook_verdict)w), label) == 0;
		uint64_t n = 0;
		for (size_t w = v; w < HOOK_VERDICT_COUNT && !seen; w++) {
			if (strcmp(hook_verdict_label((enum hook_verdict)w), label) == 0)
				n += HM_SUM(verdict[w]);
		}
		if (seen || !n)
			continue;
		size_t at = ch_scat(labels, sizeof(labels), 0, "verdict=\"");
		at = ch_scat(labels, sizeof(labels), at, label);
		ch_scat(labels, sizeof(labels), at, "\"");
		ch_metrics_set("callhook_verdicts_total", labels, (double)n);
	}
	uint64_t per[CH_METRICS_NBUCKETS + 1], any = 0;
	for (size_t i = 0; i <= CH_METRICS_NBUCKETS; i++) {
		per[i] = HM_SUM(per_bucket[i]);
		any += per[i];
	}
	if (any)
		ch_metrics_set_histogram("callhook_request_duration_seconds", "", per, (double)HM_SUM(sum_us) / 1e6);
}

void hook_metrics_verdict(enum hook_verdict v)
{
	if ((size_t)v < HOOK_VERDICT_COUNT)
		bump(&my_shard()->verdict[v], 1);
}

void hook_metrics_request(uint64_t id, const char *peer, const char *http_method, const struct hook_resp *r, int64_t us)
{
	ch_log(r->status >= 500 ? CH_LOG_WARN : CH_LOG_INFO,
	       "req=%llu peer=%s http=%s method=%s site=%s verdict=%s status=%d us=%lld sid=%s", (unsigned long long)id,
	       peer[0] ? peer : "-", http_method, r->method[0] ? r->method : "-", r->site[0] ? r->site : "-",
	       hook_verdict_label(r->verdict), r->status, (long long)us, r->sid[0] ? r->sid : "-");
	size_t route = r->route ? r->route - 1 : hook_route_index(r->method);
	struct hm_shard *s = my_shard();
	size_t k = 0;
	while (k < HM_NSTATUS && hm_status[k] != r->status)
		k++;
	if (k < HM_NSTATUS && route <= HOOK_ROUTES_MAX) {
		bump(&s->req[route][k], 1);
	} else {
		char labels[160];
		request_labels(labels, sizeof(labels), hook_route_name(route), r->status);
		ch_metrics_add("callhook_requests_total", labels, 1);
	}
	hook_metrics_verdict(r->verdict);
	if (us < 0)
		us = 0;
	bump(&s->per_bucket[ch_metrics_bucket((double)us / 1e6)], 1);
	bump(&s->sum_us, (uint64_t)us);
}
