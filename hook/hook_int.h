/* hook/hook_int.h: the hook's private pieces: compiled runtime, state store, verdicts, routes, pipeline, metrics,
 * watchdog. */
#ifndef HOOK_INT_H
#define HOOK_INT_H

#include "common/cdr.h"
#include "common/common.h"
#include "config/config.h"
#include "hook/forward.h"
#include "hook/hook.h"
#include "policy/policy.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

/* ---- compiled runtime (one per loaded config, read-only, refcounted) ---- */

/* A button of a site, compiled. */
struct hook_button {
	const struct cfg_button *cfg;  /* borrowed from rt->cfg */
	struct pol_hours *own_hours;   /* its hours group, or NULL */
	const struct pol_hours *hours; /* own_hours, else the site's, else NULL (always open) */
	char *invite_json;             /* its invite_parameters as one JSON object, "{}" when none */
};

struct hook_site {
	const struct cfg_site *cfg; /* borrowed from rt->cfg */
	struct pol_hours *hours;    /* the site's hours, or NULL (always open) */
	struct hook_button *buttons;
	size_t n_buttons;
	struct pol_origin_pattern *patterns;
	size_t n_patterns;
	/* The members every connect answer of this site appends (the SIP account
	 * and restClientConfig), serialised once per runtime, without braces. */
	char *connect_tail;
	size_t connect_tail_len;
};

struct hook_rt {
	int refs;        /* atomic */
	struct cfg *cfg; /* owned */
	struct hook_site *sites;
	size_t n_sites;
	json_t *rcc; /* raised restClientConfig (owned) */
	struct pol_cidr *allow_from;
	size_t n_allow_from;
	char *tls_cert;           /* PEM text of hook.tls, or NULL */
	char *tls_key;            /* secret */
	struct hook_fwd_ref *fwd; /* event forwarding, shared by runtimes with the same hook.forward; or NULL */
	struct ch_cdr *cdr;       /* hook.cdr.file's writer, or NULL */
};

/* A forwarder shared by every runtime that forwards the same way (reloads
 * that do not touch hook.forward keep it and its queue). */
struct hook_fwd_ref {
	int refs; /* atomic */
	struct hook_fwd *fw;
};
void hook_fwd_ref_release(struct hook_fwd_ref *r, unsigned grace_ms);

/* ---- state that survives reloads (sessions, budgets, replay cache) -----
 * One small interface so that a shared store can replace this in-memory one
 * without touching the pipeline. Every hs_* call except new/free requires
 * hs_lock() to be held: a decision reads and updates several entries
 * atomically. */

#define HS_NAME_MAX 64
#define HS_KEY_MAX  512

struct hs_session {
	char site[HS_NAME_MAX + 1];
	char button[HS_NAME_MAX + 1]; /* "" = none */
	bool button_locked;           /* set by a token's button claim */
	unsigned calls;               /* distinct callIds placed */
	int64_t created_ms;
};

/* What the call record of one WCS call says (docs/cdr.md), kept with the
 * call's slot from `call` to its end. Times are realtime ms, 0 = not reached. */
enum hs_end { HS_END_FINISH, HS_END_FAILED, HS_END_BUSY, HS_END_EXPIRED };
struct hs_cdr {
	struct hs_cdr *next;                                                      /* the store's list of ended calls */
	char *site, *button, *callee, *client_ip, *session_id, *call_id, *origin; /* new; NULL = unknown */
	int64_t call_ms, established_ms, end_ms;
	int64_t max_ms; /* when the slot lapses (call_max_s): the end of an EXPIRED call */
	enum hs_end end;
	int sip_status; /* 0 = none */
};
/* A new record (strings copied; NULL ones stay NULL), or NULL (ENOMEM). */
struct hs_cdr *hs_cdr_new(const char *site, const char *button, const char *callee, const char *client_ip,
			  const char *session_id, const char *call_id, const char *origin);
void hs_cdr_free(struct hs_cdr *r); /* one record, NULL-safe */
const char *hs_end_name(enum hs_end e);

/* A call record is keyed by callId, which the browser chooses; it records
 * whose call it is (site and sessionId), so that only that session can retry
 * it or end it. */
struct hs_call {
	char site[HS_NAME_MAX + 1];
	char button[HS_NAME_MAX + 1]; /* the button it was placed with, "" = the site's callee */
	int status;                   /* the answer given, so a retry gets the same */
	char reason[128];             /* for a refusal */
	bool active;                  /* holds a concurrent slot */
};

struct hook_store;
int hs_new(struct hook_store **out);
void hs_free(struct hook_store *st);
void hs_lock(struct hook_store *st);
void hs_unlock(struct hook_store *st);
/* Drop expired entries (cheap when called often: runs at most once a second). */
void hs_expire(struct hook_store *st, int64_t now_ms);

size_t hs_session_count(struct hook_store *st);
/* 0 or ENOENT (absent or expired). */
int hs_session_get(struct hook_store *st, const char *sid, int64_t now_ms, struct hs_session *out);
/* Insert or replace. 0, ENOSPC (max reached and sid is new, or store full), ENOMEM. */
int hs_session_put(struct hook_store *st, const char *sid, const struct hs_session *s, size_t max, int64_t expires_ms);
/* The origin of a session (copied), for its calls' records; 0, ENOENT or ENOMEM. */
int hs_session_set_origin(struct hook_store *st, const char *sid, const char *origin);
/* Borrowed until the lock is released; NULL when unknown. */
const char *hs_session_origin(struct hook_store *st, const char *sid);
void hs_session_del(struct hook_store *st, const char *sid);

/* Cap on all entries (sessions, calls, buckets, jtis): a flood of unique
 * callIds or forged client addresses cannot grow the store without bound.
 * Creating an entry past it (after dropping expired ones) fails with ENOSPC. */
void hs_set_max_entries(struct hook_store *st, size_t max);

/* Take a token from the bucket named key (created full): 0, EAGAIN (no token
 * left), ENOSPC (store full). With commit false, only say whether a token is
 * there (nothing changes). */
int hs_bucket_take(struct hook_store *st, const char *key, unsigned capacity, int64_t now_ms, bool commit);

/* Replay cache: bind jti to sid until expires_ms. 0 (new, or already bound
 * to this sid), EEXIST (bound to another sid), ENOSPC (store full). */
int hs_jti_bind(struct hook_store *st, const char *jti, const char *sid, int64_t expires_ms, bool commit);

/* Calls by callId. 0 with *out and *same_owner (the record was placed by
 * session sid of site site), or ENOENT. sid "" = a call without sessionId. */
int hs_call_get(struct hook_store *st, const char *call_id, const char *site, const char *sid, struct hs_call *out,
		bool *same_owner);
/* Insert or replace the record of call_id, owned by sid (copied; "" = none)
 * and c->site, with its call record cdr (taken on success; NULL = none). 0,
 * ENOSPC (store full) or ENOMEM (nothing changed, cdr not taken). */
int hs_call_put(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
		struct hs_cdr *cdr, int64_t expires_ms);
/* A call of sid (NULL = any) is up: its record notes wall_ms, the first time only. */
void hs_call_established(struct hook_store *st, const char *call_id, const char *sid, int64_t wall_ms);
/* Remove the record of call_id (and the slot it holds), as if never put. */
void hs_call_forget(struct hook_store *st, const char *call_id);
/* Release the concurrent slot of call_id (if held), but only when sid is NULL
 * (the event named no session) or the session that placed the call. True
 * when one was freed; its call record, ended with end, sip_status and
 * wall_ms, joins the ended list. A slot that lapses (call_max_s) joins it
 * too, ended HS_END_EXPIRED. */
bool hs_call_end(struct hook_store *st, const char *call_id, const char *sid, enum hs_end end, int sip_status,
		 int64_t wall_ms);
/* The releases of the events, which take the store lock themselves (not held by the caller): close a
 * session; end a call as hs_call_end does. With Redis, one round trip each; a release Redis does not take
 * goes to a bounded outbox, replayed (idempotent) when Redis answers again. */
void hs_release_session(struct hook_store *st, const char *sid);
/* A call attempt whose FCALL got no answer, or whose admission this instance did not use: the outbox asks Redis
 * to give back what it took, if it ran (hsr_call_cancel). */
void hs_cancel_call(struct hook_store *st, const char *call_id, const char *attempt);
/* The same for a connect attempt (hsr_connect_cancel). */
void hs_cancel_connect(struct hook_store *st, const char *sid, const char *attempt);
bool hs_release_call(struct hook_store *st, const char *call_id, const char *sid, enum hs_end end, int sip_status,
		     int64_t wall_ms);
/* The records of the calls that ended since the last call, oldest first
 * (taken: hs_cdr_free each), or NULL. */
struct hs_cdr *hs_take_ended(struct hook_store *st);
/* Active calls of a site. */
unsigned hs_site_active(struct hook_store *st, const char *site);

/* ---- verdicts (routes.c) --------------------------------------------------
 * Every answer the hook gives, and the two refusals that are not answers
 * (framing, timeout), is one of these. Each has one row in the table in
 * routes.c: its HTTP status and the label the log line and
 * callhook_verdicts_total carry. */
enum hook_verdict {
	HOOK_ALLOW,            /* 200 allow: connect or call accepted and rewritten */
	HOOK_MIRROR,           /* 200 mirror: any other WCS event, echoed */
	HOOK_HEALTH,           /* 200 health: /healthz on the hook's port */
	HOOK_DENY_METHOD,      /* 405 method */
	HOOK_DENY_PEER,        /* 403 auth: outside hook.wcs_auth.allow_from */
	HOOK_DENY_SIZE,        /* 413 size */
	HOOK_DENY_AUTH,        /* 403 auth: WCS credentials */
	HOOK_BAD_BODY,         /* 400 body */
	HOOK_DENY_ORIGIN,      /* 403 origin */
	HOOK_DENY_TOKEN,       /* 403 token */
	HOOK_DENY_BUTTON,      /* 403 button */
	HOOK_CLOSED,           /* 403 closed: a call outside the button's or site's opening hours */
	HOOK_DENY_SESSION,     /* 403 session: unknown session */
	HOOK_SESSION_CONFLICT, /* 409 session: a sessionId of another site */
	HOOK_CALLID_CONFLICT,  /* 409 callid: a callId of another session */
	HOOK_DENY_TRANSFER,    /* 403 transfer */
	HOOK_DENY_MESSAGE,     /* 403 message */
	HOOK_OVER_BUDGET,      /* 429 budget */
	HOOK_TABLE_FULL,       /* 503 sessions */
	HOOK_STORE_NOMEM,      /* 500 sessions: the store could not allocate */
	HOOK_STORE_DOWN,       /* 503 store: Redis did not answer (store.on_unavailable = "fail_closed") */
	HOOK_INTERNAL,         /* 500 internal */
	HOOK_FRAMING,          /* 400 framing: refused by web/ at the headers */
	HOOK_TIMEOUT,          /* no answer: the connection was cut */
	HOOK_VERDICT_COUNT
};
int hook_verdict_status(enum hook_verdict v);
const char *hook_verdict_label(enum hook_verdict v);

/* ---- the pipeline ----------------------------------------------------- */

struct hook_req {
	const char *http_method; /* "POST", "GET", ... */
	const char *path;        /* without the query string */
	const char *authz;       /* Authorization header or NULL */
	const char *peer_ip;     /* textual, or NULL */
	const char *body;
	size_t body_len;
	bool body_too_large;
	/* NULL, or the owner of the malloc'd buffer body is (NUL-terminated):
	 * an answer that is the body byte for byte (a mirror) takes it, setting
	 * *give to NULL, instead of copying it. */
	char **give;
};

struct hook_resp {
	int status;
	char *body; /* new (free) */
	size_t len;
	const char *allow; /* Allow header for 405, or NULL */
	char method[64];   /* the WCS method, for the log */
	char site[HS_NAME_MAX + 1];
	enum hook_verdict verdict;
	char sid[128];
	size_t route; /* hook_route_index(method) + 1 once looked up, 0 before */
};

/* A parsed body: Jansson's tree for reading, the scanner's members (raw
 * byte offsets, in order) for copying members byte for byte. */
struct hook_body {
	struct pol_json_doc doc; /* the validated body (pol_json_validate) */
	struct pol_member *m;    /* doc's members */
	const char **names;      /* decoded names, borrowed from doc */
	size_t n;
	const char *raw;
};

/* One request being decided: what a route handler gets. */
struct hook_ctx {
	struct hook_rt *rt;
	struct hook_store *st;
	const struct hook_req *rq;
	struct hook_body *b; /* not const: its decoded strings are cached on first read */
	int64_t now_ms, wall_s, wall_ms;
	struct hook_resp *out;
};

typedef void hook_route_fn(struct hook_ctx *x);
/* At most this many rows in the route table (routes.c checks it). */
#define HOOK_ROUTES_MAX 48
/* The row of a WCS method in the route table, or the row count when it has
 * none ("other"): what hook_route_fn_at and hook_route_name take. */
size_t hook_route_index(const char *method);
/* The handler of row i (the mirror past the table). */
hook_route_fn *hook_route_fn_at(size_t i);
/* The metric label of row i ("other" past the table). */
const char *hook_route_name(size_t i);
/* The handler of a WCS method: its row in the route table, else the mirror. */
hook_route_fn *hook_route_of(const char *method);
/* The metric label of a WCS method: a name in the route table, else "other"
 * (a client cannot grow the label set). */
const char *hook_route_label(const char *method);

/* The handlers (connect.c, call.c, pipeline.c). */
void hook_connect(struct hook_ctx *x);
void hook_call(struct hook_ctx *x);
void hook_transfer(struct hook_ctx *x);
void hook_send_message(struct hook_ctx *x);
void hook_connection_status(struct hook_ctx *x);
void hook_call_status(struct hook_ctx *x);
void hook_mirror(struct hook_ctx *x);

/* Answers (pipeline.c). The status and label come from the verdict table. */
void hook_answer_verdict(struct hook_resp *out, enum hook_verdict v, const char *reason);
/* Same with another status (a replayed refusal keeps the status it had). */
void hook_answer_verdict_as(struct hook_resp *out, enum hook_verdict v, int status, const char *reason);
/* 200 with the bytes of b (taken). */
void hook_answer_buf(struct hook_resp *out, struct ch_buf *b, enum hook_verdict v);

/* Helpers shared by the handlers (pipeline.c). */
const char *hook_str_member(struct hook_body *b, const char *name);
const char *hook_custom_str(struct hook_body *b, const char *name, bool *bad);
int hook_copy_member(struct ch_buf *o, const struct hook_body *b, size_t i, bool *first);
void hook_client_key(const char *sid, const struct hook_site *site, char *out, size_t cap);
const struct hook_button *hook_button_of(const struct hook_site *s, const char *name);
const struct hook_site *hook_session_site(const struct hook_rt *rt, struct hook_store *st, const char *sid,
					  int64_t now_ms, struct hs_session *sess, bool *known);
const struct hook_site *hook_site_by_name(const struct hook_rt *rt, const char *name);
/* The one site a call of an unknown session may go to (one site, no required token), or NULL. */
const struct hook_site *hook_fallback_site(const struct hook_rt *rt);
/* The cap of an answer built from a body: the body plus room for the added members. */
#define HOOK_ANSWER_SLACK 65536

/* Decide and build the answer. Thread-safe (rt read-only, st locked inside). */
void hook_process(struct hook_rt *rt, struct hook_store *st, const struct hook_req *rq, int64_t now_ms, int64_t wall_ms,
		  struct hook_resp *out);
/* Write the records of the calls that ended (hs_take_ended) to rt's record
 * file, or drop them when it has none. Takes the store lock. */
void hook_cdr_flush(struct hook_rt *rt, struct hook_store *st);
void hook_resp_free(struct hook_resp *r);
/* Is the peer allowed by hook.wcs_auth.allow_from (always, when unset)? */
bool hook_peer_allowed(const struct hook_rt *rt, const char *peer_ip);

/* ---- metrics (metrics.c) ------------------------------------------------ */

/* The gauges read at scrape time: sessions, per-site calls, forwarding. */
void hook_metrics_collect(struct hook_rt *rt, struct hook_store *st);
/* The log line and the counters of one answered request: id and peer
 * ("" = unknown) as the server numbered them, us since it started. */
void hook_metrics_request(uint64_t id, const char *peer, const char *http_method, const struct hook_resp *r,
			  int64_t us);
/* Count one verdict that has no answer of its own (timeout). */
void hook_metrics_verdict(enum hook_verdict v);

/* ---- the header watchdog (watchdog.c) ----------------------------------- */

struct hook_watchdog;
/* Start the thread; the limit is 2 x request_timeout_s. 0 or errno. */
int hook_watchdog_start(int64_t request_timeout_s, struct hook_watchdog **out);
/* A reload's new request_timeout_s. */
void hook_watchdog_set_limit(struct hook_watchdog *w, int64_t request_timeout_s);
/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the watchdog. */
void hook_watchdog_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe);
/* The current request's headers are complete (true) or it ended (false),
 * at now_ms (ch_now_ms). Lock-free; from the connection's thread. */
void hook_watchdog_phase(struct hook_watchdog *w, struct MHD_Connection *c, bool headers_done, int64_t now_ms);
/* Join and free; call after every listener stopped. NULL-safe. */
void hook_watchdog_stop(struct hook_watchdog *w);

#endif
