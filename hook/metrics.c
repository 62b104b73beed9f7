/* hook/metrics.c: the hook's metric families, the gauges read at scrape time, one log line and counters per request. */
#include "hook/hook_int.h"
#include "hook/store_redis.h"
#include "store/redis.h"

#include "common/metrics.h"

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

void hook_metrics_collect(struct hook_rt *rt, struct hook_store *st)
{
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

/* Append s at labels[at] (cut to cap): the label texts of every request, without printf. */
static size_t cat(char *labels, size_t cap, size_t at, const char *s)
{
	return at + ch_scopy(labels + at, cap - at, s) >= cap ? cap - 1 : at + strlen(s);
}

void hook_metrics_verdict(enum hook_verdict v)
{
	char labels[64];
	size_t n = cat(labels, sizeof(labels), 0, "verdict=\"");
	n = cat(labels, sizeof(labels), n, hook_verdict_label(v));
	cat(labels, sizeof(labels), n, "\"");
	ch_metrics_add("callhook_verdicts_total", labels, 1);
}

void hook_metrics_request(uint64_t id, const char *peer, const char *http_method, const struct hook_resp *r, int64_t us)
{
	ch_log(r->status >= 500 ? CH_LOG_WARN : CH_LOG_INFO,
	       "req=%llu peer=%s http=%s method=%s site=%s verdict=%s status=%d us=%lld sid=%s", (unsigned long long)id,
	       peer[0] ? peer : "-", http_method, r->method[0] ? r->method : "-", r->site[0] ? r->site : "-",
	       hook_verdict_label(r->verdict), r->status, (long long)us, r->sid[0] ? r->sid : "-");
	char labels[160];
	char st[4] = {'0', '0', '0', '\0'};
	for (int i = 2, v = r->status >= 0 && r->status <= 999 ? r->status : 0; i >= 0; i--, v /= 10)
		st[i] = (char)('0' + v % 10);
	size_t n = cat(labels, sizeof(labels), 0, "method=\"");
	n = cat(labels, sizeof(labels), n, hook_route_label(r->method));
	n = cat(labels, sizeof(labels), n, "\",status=\"");
	n = cat(labels, sizeof(labels), n, st);
	cat(labels, sizeof(labels), n, "\"");
	ch_metrics_add("callhook_requests_total", labels, 1);
	hook_metrics_verdict(r->verdict);
	ch_metrics_observe("callhook_request_duration_seconds", "", (double)us / 1e6);
}
