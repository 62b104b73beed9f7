/* hook/store_redis.h: the Redis backend of the hook's state store (store.backend = "redis"): one FCALL per decision. */
#ifndef HOOK_STORE_REDIS_H
#define HOOK_STORE_REDIS_H

#include "config/config.h"
#include "hook/hook_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every call either got Redis's answer (HSR_OK, the result in its outputs; a write refused at maxmemory is
 * an answer too: "full") or did not (HSR_DOWN: a timeout, a lost connection, an error reply, or the breaker
 * is open and nothing was tried). Every hsr_ call is thread-safe and makes exactly one round trip (none while
 * the breaker is open), on one of a small pool of connections; callers need not hold the store lock. */
enum hsr_result { HSR_OK, HSR_DOWN };

struct hsr;
/* Copies what it needs from cfg and starts the prober thread; does not connect (callhook starts when Redis
 * is down). 0, ENOMEM or pthread_create's errno. */
int hsr_new(const struct cfg_store *cfg, struct hsr **out);
/* Stops the prober, closes the connections. NULL-safe. */
void hsr_free(struct hsr *r);
bool hsr_fail_open(const struct hsr *r);
unsigned hsr_share_pm(const struct hsr *r); /* fail_open_share in thousandths */
/* Metrics: callhook_store_up, callhook_store_breaker_open and the ops counters, set at scrape time. */
void hsr_metrics(struct hsr *r);

/* What a decision answered. */
enum hsr_deny {
	HSR_ADMIT,    /* accepted */
	HSR_FULL,     /* 503: session table full, or state table full (Redis at maxmemory) */
	HSR_CONFLICT, /* 409: sessionId of another site */
	HSR_TOKEN,    /* 403: jti bound to another session */
	HSR_BUDGET,   /* 429 */
	HSR_SESSION,  /* 403: unknown session */
	HSR_CALLID,   /* 409: callId of another session */
	HSR_BUTTON,   /* 403 */
	HSR_CLOSED,   /* 403: outside opening hours */
	HSR_REPLAY,   /* a WCS retry of a refused call: status and reason as given then */
	HSR_WHERE,    /* call: the session belongs to another site than asked (sess filled); nothing written */
};
struct hsr_verdict {
	enum hsr_deny deny;
	int status;        /* HSR_REPLAY */
	char reason[128];  /* of a denial */
	bool retry, known; /* the request was a WCS retry; call: the session is known */
	char button[HS_NAME_MAX + 1];
	char origin[320];       /* call: the session's origin, "" = unknown */
	struct hs_session sess; /* HSR_WHERE: the session as Redis has it; connect: its calls */
	bool sent;              /* the FCALL left this process (without an answer it may still run) */
};

/* One connect: every check (site of an existing session, max_sessions, the jti, the per-IP bucket) before
 * any write. */
struct hsr_connect_req {
	const char *sid, *site, *button; /* button "" = none */
	bool locked;
	int64_t ttl_ms;
	size_t max_sessions;
	unsigned limit;     /* connects_per_minute_per_ip, 0 = none */
	const char *bucket; /* its bucket's name */
	const char *jti;    /* or NULL */
	int64_t jti_ttl_ms;
	const char *origin;  /* stored for the call records, or NULL */
	const char *attempt; /* this attempt's name (hsr_attempt), for a cancel */
};
enum hsr_result hsr_connect(struct hsr *r, const struct hsr_connect_req *q, struct hsr_verdict *v);

/* One call, for the session's site as the caller believes it (HSR_WHERE when Redis knows better). */
struct hsr_call_req {
	const char *sid;        /* or NULL */
	bool lookup;            /* look the session up (false: treat it as unknown) */
	const char *site;       /* the site asked for */
	bool fallback;          /* an unknown session may call this site */
	const char *owner;      /* sid or "" */
	const char *call_id;    /* */
	const char *req_button; /* custom.button, or NULL */
	const char *buttons;    /* the site's buttons: "o:name c:name" (open or closed now) */
	char dflt;              /* the site's own callee: 'o' open, 'c' closed, 'n' none */
	unsigned cps, conc, per_ip, per_site;
	int64_t call_max_ms, ttl_ms;
	const char *ipkey, *sitekey; /* bucket names */
	const char *attempt;         /* this attempt's name (hsr_attempt), for a cancel */
};
enum hsr_result hsr_call(struct hsr *r, const struct hsr_call_req *q, struct hsr_verdict *v);

/* A name no other attempt of any instance has (this instance's random nonce, a counter), in buf. */
#define HSR_ATTEMPT_MAX 40
void hsr_attempt(struct hsr *r, char buf[HSR_ATTEMPT_MAX]);
/* Give back what call attempt `attempt` of call_id took, if Redis ran it after all (its answer was lost) and no
 * other answer owns the call; an attempt Redis has not run yet never will. *given: something was given back.
 * Idempotent. */
enum hsr_result hsr_call_cancel(struct hsr *r, const char *call_id, const char *attempt, bool *given);
/* The same for connect attempt `attempt` of session sid: a session no other answer owns and no call used goes,
 * with its per-IP token and its jti binding. Idempotent. */
enum hsr_result hsr_connect_cancel(struct hsr *r, const char *sid, const char *attempt, bool *given);

/* Release the slot of call_id, when sid (NULL = any) placed it. *freed: a slot was released. Idempotent. */
enum hsr_result hsr_call_end(struct hsr *r, const char *call_id, const char *sid, bool *freed);
/* Close a session. Idempotent. */
enum hsr_result hsr_session_close(struct hsr *r, const char *sid);
/* transfer, sendMessage: 0 or ENOENT in *rc. */
enum hsr_result hsr_session_get(struct hsr *r, const char *sid, struct hs_session *out, int *rc);
/* Metrics: live sessions, and a site's slots. */
enum hsr_result hsr_session_count(struct hsr *r, size_t *n);
enum hsr_result hsr_site_active(struct hsr *r, const char *site, unsigned *n);

/* The pipeline's verdict of a denial (pipeline.c). */
enum hook_verdict hook_store_verdict(enum hsr_deny d);

/* ---- the seam in store.c (struct hook_store holds the backend) ---- */

/* Use Redis for st (hook_start, store.backend = "redis"): the backend and the outbox of its releases.
 * 0, ENOMEM or an errno of a thread's start. */
int hs_use_redis(struct hook_store *st, const struct cfg_store *cfg);
/* The Redis backend, or NULL (memory). */
struct hsr *hs_redis(struct hook_store *st);
/* The pipeline: before a request, and after it: did the decision find Redis unavailable under fail_closed? */
void hs_request_begin(void);
bool hs_request_refused(const struct hook_store *st);
/* Redis did not answer this request's decision: true when it is refused (fail_closed: the pipeline answers
 * 503); false when the memory store decides it (fail_open): the hs_* calls of this thread's request then stay
 * local, each limit scaled by fail_open_share. Counted and logged as a fallback. Caller holds the lock. */
bool hs_unavailable(struct hook_store *st);
/* After Redis admitted a connect: this instance's local copy of the session (fail_open knows it). */
void hs_remember_session(struct hook_store *st, const char *sid, const struct hs_session *s, int64_t expires_ms);
/* The site of sid by this instance's local copy, copied into site (cap bytes); false when unknown. */
bool hs_local_site(struct hook_store *st, const char *sid, char *site, size_t cap);
/* After Redis admitted a call: the local record (the call record file, fail_open's view; cdr taken), and
 * one more call in the local copy of its session sid ("" = none), which then lapses at sess_expires_ms. */
void hs_remember_call(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
		      struct hs_cdr *cdr, int64_t expires_ms, int64_t sess_expires_ms);
/* callhook_store_* (with the store lock). */
void hs_store_metrics(struct hook_store *st);

#endif
