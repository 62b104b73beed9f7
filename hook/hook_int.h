/* hook/hook_int.h: the hook's private pieces: compiled runtime, state store, pipeline. */
#ifndef HOOK_INT_H
#define HOOK_INT_H

#include "common/common.h"
#include "config/config.h"
#include "hook/forward.h"
#include "hook/hook.h"
#include "policy/policy.h"

#include <jansson.h>
#include <pthread.h>

/* ---- compiled runtime (one per loaded config, read-only, refcounted) ---- */

struct hook_site {
	const struct cfg_site *cfg; /* borrowed from rt->cfg */
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
 * and c->site. 0, ENOSPC (store full), ENOMEM (nothing changed). */
int hs_call_put(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
		int64_t expires_ms);
/* Remove the record of call_id (and the slot it holds), as if never put. */
void hs_call_forget(struct hook_store *st, const char *call_id);
/* Release the concurrent slot of call_id (if held), but only when sid is NULL
 * (the event named no session) or the session that placed the call. True
 * when one was freed. */
bool hs_call_end(struct hook_store *st, const char *call_id, const char *sid);
/* Active calls of a site. */
unsigned hs_site_active(struct hook_store *st, const char *site);

/* ---- the pipeline ----------------------------------------------------- */

struct hook_req {
	const char *http_method; /* "POST", "GET", ... */
	const char *path;        /* without the query string */
	const char *authz;       /* Authorization header or NULL */
	const char *peer_ip;     /* textual, or NULL */
	const char *body;
	size_t body_len;
	bool body_too_large;
	bool admin_elsewhere; /* /healthz and /metrics live on the admin listener */
};

struct hook_resp {
	int status;
	char *body; /* new (free) */
	size_t len;
	const char *allow; /* Allow header for 405, or NULL */
	char method[64];   /* the WCS method, for the log */
	char site[HS_NAME_MAX + 1];
	char verdict[48];
	char sid[128];
};

/* Decide and build the answer. Thread-safe (rt read-only, st locked inside). */
void hook_process(struct hook_rt *rt, struct hook_store *st, const struct hook_req *rq, int64_t now_ms, int64_t wall_s,
		  struct hook_resp *out);
void hook_resp_free(struct hook_resp *r);
/* Is the peer allowed by hook.wcs_auth.allow_from (always, when unset)? */
bool hook_peer_allowed(const struct hook_rt *rt, const char *peer_ip);

#endif
