/* hook/store_redis.h: the Redis backend of the hook's state store (store.backend = "redis"): one call per hs_*. */
#ifndef HOOK_STORE_REDIS_H
#define HOOK_STORE_REDIS_H

#include "config/config.h"
#include "hook/hook_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every call either got Redis's answer (HSR_OK, the result in its outputs; a write refused at maxmemory is
 * an answer too: "full", ENOSPC) or did not (HSR_DOWN: a timeout, a lost connection, an error reply, or the
 * breaker is open and nothing was tried). The caller holds the store lock:
 * one connection, used by one thread at a time. */
enum hsr_result { HSR_OK, HSR_DOWN };

struct hsr;
/* Copies what it needs from cfg; does not connect (callhook starts when Redis is down). 0 or ENOMEM. */
int hsr_new(const struct cfg_store *cfg, struct hsr **out);
void hsr_free(struct hsr *r);
bool hsr_fail_open(const struct hsr *r);
unsigned hsr_share_pm(const struct hsr *r); /* fail_open_share in thousandths */
/* Metrics: callhook_store_up and the counters, set at scrape time. */
void hsr_metrics(struct hsr *r);

enum hsr_result hsr_session_get(struct hsr *r, const char *sid, struct hs_session *out, int *rc);
enum hsr_result hsr_session_put(struct hsr *r, const char *sid, const struct hs_session *s, size_t max, int64_t ttl_ms,
				int *rc);
enum hsr_result hsr_session_count(struct hsr *r, size_t *n);
enum hsr_result hsr_session_set_origin(struct hsr *r, const char *sid, const char *origin, int *rc);
/* *out is borrowed until the next hsr_ call, NULL when unknown. */
enum hsr_result hsr_session_origin(struct hsr *r, const char *sid, const char **out);
enum hsr_result hsr_session_del(struct hsr *r, const char *sid);
enum hsr_result hsr_bucket_take(struct hsr *r, const char *key, unsigned capacity, bool commit, int *rc);
enum hsr_result hsr_jti_bind(struct hsr *r, const char *jti, const char *sid, int64_t ttl_ms, bool commit, int *rc);
enum hsr_result hsr_call_get(struct hsr *r, const char *call_id, const char *site, const char *sid, struct hs_call *out,
			     bool *same_owner, int *rc);
/* *rc 0, ENOSPC (Redis is at maxmemory) or EAGAIN (c->active and the site already holds max_active slots;
 * 0 = no cap): nothing written. */
enum hsr_result hsr_call_put(struct hsr *r, const char *call_id, const char *sid, const struct hs_call *c,
			     int64_t ttl_ms, unsigned max_active, int *rc);
enum hsr_result hsr_call_forget(struct hsr *r, const char *call_id);
/* sid NULL = any session. *freed: a slot was released. */
enum hsr_result hsr_call_end(struct hsr *r, const char *call_id, const char *sid, bool *freed);
enum hsr_result hsr_site_active(struct hsr *r, const char *site, unsigned *n);

/* ---- the seam in store.c (struct hook_store holds the backend) ---- */

/* Use Redis for st (hook_start, store.backend = "redis"). 0 or ENOMEM. */
int hs_use_redis(struct hook_store *st, const struct cfg_store *cfg);
/* The pipeline: before a request, and after it: did a step find Redis unavailable under fail_closed? */
void hs_request_begin(void);
bool hs_request_refused(const struct hook_store *st);
/* The concurrent_calls of site (0 = none), which hs_call_put holds atomically in Redis (hook_start, reload). */
void hs_set_site_cap(struct hook_store *st, const char *site, unsigned concurrent_calls);
/* callhook_store_up, callhook_store_ops_total, callhook_store_fallbacks_total (with the store lock). */
void hs_store_metrics(struct hook_store *st);

#endif
