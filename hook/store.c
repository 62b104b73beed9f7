/* hook/store.c: the state store: in memory, or in Redis (store_redis.c) with this one as fail_open's fallback. */
#include "hook/hook_int.h"
#include "hook/store_redis.h"

#include "common/metrics.h"
#include "outbox/outbox.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Releases waiting for Redis (drop oldest beyond: their slots lapse at call_max_s, sessions at their TTL). */
#define HS_OUTBOX_MAX 10000

enum hs_kind { HS_SESSION, HS_CALL, HS_BUCKET, HS_JTI };

struct hs_entry {
	struct hs_entry *next;
	enum hs_kind kind;
	int64_t expires_ms; /* INT64_MAX = never (buckets, sessions use their own ttl) */
	union {
		struct {
			struct hs_session s;
			char *origin; /* new, freed with the entry; or NULL */
		} sess;
		struct {
			struct hs_call c;
			char *sid;          /* new, freed with the entry: the session that placed the call */
			struct hs_cdr *cdr; /* its call record, or NULL */
		} call;
		struct pol_bucket b;
		char *jti_sid; /* new, freed with the entry: a sessionId may be HS_KEY_MAX long */
	} u;
	char key[]; /* "<kind char><key>" */
};

struct site_count {
	char site[HS_NAME_MAX + 1];
	unsigned active;
};

struct hook_store {
	pthread_mutex_t lock;
	struct hs_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	size_t max_entries; /* 0 = no cap */
	size_t sessions;
	int64_t last_sweep_ms;
	int64_t last_now_ms; /* the newest time a caller told us */
	struct site_count *sites;
	size_t nsites;
	struct hs_cdr *ended, *ended_tail; /* records of ended calls, oldest first */
	struct hsr *rd;                    /* store.backend = "redis", or NULL */
	struct ob *outbox;                 /* with Redis: the releases Redis did not take, replayed */
	uint64_t fallbacks[2];             /* decisions Redis did not answer: refused (fail_closed), local */
};

/* This thread's current request found Redis unavailable; its hs_* calls stay local (fail_open). Both are
 * cleared by hs_request_begin. */
static _Thread_local bool tl_down, tl_local;

/* Ask Redis, or decide here: the memory backend, or fail_open's fallback. */
static bool remote(const struct hook_store *st)
{
	return st->rd && !tl_local;
}

bool hs_unavailable(struct hook_store *st)
{
	tl_down = true;
	bool open = hsr_fail_open(st->rd);
	st->fallbacks[open]++;
	tl_local = open;
	return !open;
}

struct hsr *hs_redis(struct hook_store *st)
{
	return st->rd;
}

static size_t share_of(const struct hook_store *st, size_t limit)
{
	return (size_t)(((unsigned long long)limit * hsr_share_pm(st->rd)) / 1000ULL);
}

/* The outbox's delivery of one release ("E" any call_id NUL sid, "S" sid, "C" call_id NUL attempt or "K" sid NUL
 * attempt: a call or connect attempt to cancel): 0, or EAGAIN (Redis did not answer: try again later; each is
 * idempotent). */
static int deliver(const char *body, size_t len, const char **why, void *arg)
{
	struct hsr *r = arg;
	bool freed;
	enum hsr_result res = HSR_DOWN;
	*why = "redis unavailable";
	if (len >= 2 && body[0] == 'E') {
		const char *call_id = body + 2;
		const char *sid = call_id + strlen(call_id) + 1;
		res = hsr_call_end(r, call_id, body[1] == '1' ? NULL : sid, &freed);
	} else if (len >= 1 && body[0] == 'S') {
		res = hsr_session_close(r, body + 1);
	} else if (len >= 1 && (body[0] == 'C' || body[0] == 'K')) {
		const char *id = body + 1, *attempt = id + strlen(id) + 1;
		res = body[0] == 'C' ? hsr_call_cancel(r, id, attempt, &freed)
				     : hsr_connect_cancel(r, id, attempt, &freed);
	}
	return res == HSR_OK ? 0 : EAGAIN;
}

int hs_use_redis(struct hook_store *st, const struct cfg_store *cfg)
{
	int rc = hsr_new(cfg, &st->rd);
	if (rc)
		return rc;
	struct ob_params p = {.name = "store: outbox",
			      .what = "release",
			      .concurrency = 1,
			      .retries = UINT_MAX - 1,
			      .backoff_ms = 250,
			      .backoff_max_ms = 2000,
			      .queue_max = HS_OUTBOX_MAX,
			      .queue_bytes_max = (size_t)HS_OUTBOX_MAX * (2 * HS_KEY_MAX + 4),
			      .drop_oldest = true,
			      .deliver = deliver,
			      .deliver_arg = st->rd};
	rc = ob_start(&p, &st->outbox);
	if (rc) {
		hsr_free(st->rd);
		st->rd = NULL;
	}
	return rc;
}

void hs_request_begin(void)
{
	tl_down = false;
	tl_local = false;
}

bool hs_request_refused(const struct hook_store *st)
{
	return st->rd && tl_down && !hsr_fail_open(st->rd);
}

void hs_store_metrics(struct hook_store *st)
{
	if (!st->rd)
		return;
	hsr_metrics(st->rd);
	ch_metrics_set("callhook_store_fallbacks_total", "mode=\"fail_closed\"", (double)st->fallbacks[0]);
	ch_metrics_set("callhook_store_fallbacks_total", "mode=\"fail_open\"", (double)st->fallbacks[1]);
	uint64_t sent, failed, dropped;
	ob_stats(st->outbox, &sent, &failed, &dropped);
	ch_metrics_set("callhook_store_outbox_pending", "", (double)ob_pending(st->outbox));
	ch_metrics_set("callhook_store_outbox_total", "result=\"sent\"", (double)sent);
	ch_metrics_set("callhook_store_outbox_total", "result=\"failed\"", (double)failed);
	ch_metrics_set("callhook_store_outbox_total", "result=\"dropped\"", (double)dropped);
}

static void entry_free(struct hs_entry *e)
{
	if (e->kind == HS_JTI)
		free(e->u.jti_sid);
	if (e->kind == HS_CALL) {
		free(e->u.call.sid);
		hs_cdr_free(e->u.call.cdr);
	}
	if (e->kind == HS_SESSION)
		free(e->u.sess.origin);
	free(e);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int hs_new(struct hook_store **out)
{
	struct hook_store *st = calloc(1, sizeof(*st));
	if (!st)
		return ENOMEM;
	st->nbuckets = 1024;
	st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
	if (!st->buckets) {
		free(st);
		return ENOMEM;
	}
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return 0;
}

void hs_free(struct hook_store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nbuckets; i++) {
		struct hs_entry *e = st->buckets[i];
		while (e) {
			struct hs_entry *n = e->next;
			entry_free(e);
			e = n;
		}
	}
	free(st->buckets);
	free(st->sites);
	while (st->ended) {
		struct hs_cdr *n = st->ended->next;
		hs_cdr_free(st->ended);
		st->ended = n;
	}
	ob_stop(st->outbox, 200); /* before the backend it delivers to */
	hsr_free(st->rd);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

void hs_lock(struct hook_store *st)
{
	pthread_mutex_lock(&st->lock);
}

void hs_unlock(struct hook_store *st)
{
	pthread_mutex_unlock(&st->lock);
}

static struct site_count *site_slot(struct hook_store *st, const char *site, bool create)
{
	for (size_t i = 0; i < st->nsites; i++) {
		if (strcmp(st->sites[i].site, site) == 0)
			return &st->sites[i];
	}
	if (!create)
		return NULL;
	struct site_count *n = realloc(st->sites, (st->nsites + 1) * sizeof(*n));
	if (!n)
		return NULL;
	st->sites = n;
	memset(&n[st->nsites], 0, sizeof(n[0]));
	snprintf(n[st->nsites].site, sizeof(n[0].site), "%s", site);
	return &n[st->nsites++];
}

static void entry_gone(struct hook_store *st, struct hs_entry *e)
{
	if (e->kind == HS_SESSION)
		st->sessions--;
	if (e->kind == HS_CALL && e->u.call.c.active) {
		struct site_count *sc = site_slot(st, e->u.call.c.site, false);
		if (sc && sc->active)
			sc->active--;
	}
	st->count--;
}

static struct hs_entry **find(struct hook_store *st, char kind, const char *key)
{
	char full[HS_KEY_MAX + 2];
	full[0] = kind;
	ch_scopy(full + 1, sizeof(full) - 1, key);
	struct hs_entry **pp = &st->buckets[hash(full) & (st->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, full) == 0)
			return pp;
	}
	return pp;
}

static void grow(struct hook_store *st)
{
	size_t nb = st->nbuckets * 2;
	struct hs_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* keep the longer chains */
	for (size_t i = 0; i < st->nbuckets; i++) {
		struct hs_entry *e = st->buckets[i];
		while (e) {
			struct hs_entry *n = e->next;
			size_t h = hash(e->key) & (nb - 1);
			e->next = b[h];
			b[h] = e;
			e = n;
		}
	}
	free(st->buckets);
	st->buckets = b;
	st->nbuckets = nb;
}

void hs_set_max_entries(struct hook_store *st, size_t max)
{
	st->max_entries = max;
}

static void sweep(struct hook_store *st, int64_t now_ms);

/* The slot for (kind, key): existing, or a new zeroed entry linked in.
 * NULL with *full set when the store is at its cap. */
static struct hs_entry *upsert(struct hook_store *st, enum hs_kind kind, char kc, const char *key, bool *created,
			       bool *full)
{
	*full = false;
	if (strlen(key) > HS_KEY_MAX)
		return NULL;
	struct hs_entry **pp = find(st, kc, key);
	*created = false;
	if (*pp)
		return *pp;
	if (st->max_entries && st->count >= st->max_entries) {
		sweep(st, st->last_now_ms);
		if (st->count >= st->max_entries) {
			*full = true;
			return NULL;
		}
		pp = find(st, kc, key);
	}
	size_t kl = strlen(key);
	struct hs_entry *e = calloc(1, sizeof(*e) + kl + 2);
	if (!e)
		return NULL;
	e->kind = kind;
	e->expires_ms = INT64_MAX;
	e->key[0] = kc;
	memcpy(e->key + 1, key, kl + 1);
	*pp = e;
	st->count++;
	*created = true;
	if (st->count > st->nbuckets * 2)
		grow(st);
	return e;
}

static void remove_at(struct hook_store *st, struct hs_entry **pp)
{
	struct hs_entry *e = *pp;
	*pp = e->next;
	entry_gone(st, e);
	entry_free(e);
}

void hs_expire(struct hook_store *st, int64_t now_ms)
{
	if (now_ms > st->last_now_ms)
		st->last_now_ms = now_ms;
	if (now_ms - st->last_sweep_ms < 1000)
		return;
	sweep(st, now_ms);
}

static void ended_push(struct hook_store *st, struct hs_cdr *r)
{
	r->next = NULL;
	if (st->ended_tail)
		st->ended_tail->next = r;
	else
		st->ended = r;
	st->ended_tail = r;
}

struct hs_cdr *hs_take_ended(struct hook_store *st)
{
	struct hs_cdr *r = st->ended;
	st->ended = st->ended_tail = NULL;
	return r;
}

static void sweep(struct hook_store *st, int64_t now_ms)
{
	st->last_sweep_ms = now_ms;
	for (size_t i = 0; i < st->nbuckets; i++) {
		struct hs_entry **pp = &st->buckets[i];
		while (*pp) {
			struct hs_entry *e = *pp;
			if (e->expires_ms <= now_ms && e->kind == HS_CALL && e->u.call.c.active && e->u.call.cdr) {
				/* the slot lapses at call_max_s: that is this call's end */
				e->u.call.cdr->end = HS_END_EXPIRED;
				e->u.call.cdr->end_ms = e->u.call.cdr->max_ms;
				ended_push(st, e->u.call.cdr);
				e->u.call.cdr = NULL;
			}
			if (e->expires_ms <= now_ms)
				remove_at(st, pp);
			else
				pp = &(*pp)->next;
		}
	}
}

size_t hs_session_count(struct hook_store *st)
{
	size_t n;
	if (remote(st))
		return hsr_session_count(st->rd, &n) == HSR_OK ? n : 0; /* the metrics' gauge */
	return st->sessions;
}

int hs_session_get(struct hook_store *st, const char *sid, int64_t now_ms, struct hs_session *out)
{
	int rc;
	if (remote(st) && hsr_session_get(st->rd, sid, out, &rc) == HSR_OK)
		return rc;
	if (remote(st) && hs_unavailable(st))
		return ENOENT;
	struct hs_entry **pp = find(st, 'S', sid);
	if (!*pp)
		return ENOENT;
	if ((*pp)->expires_ms <= now_ms) {
		remove_at(st, pp);
		return ENOENT;
	}
	*out = (*pp)->u.sess.s;
	return 0;
}

static int session_put_local(struct hook_store *st, const char *sid, const struct hs_session *s, size_t max,
			     int64_t expires_ms);

/* With Redis (fail_open's fallback), max_sessions x fail_open_share. */
int hs_session_put(struct hook_store *st, const char *sid, const struct hs_session *s, size_t max, int64_t expires_ms)
{
	if (st->rd && max != SIZE_MAX)
		max = share_of(st, max);
	return session_put_local(st, sid, s, max, expires_ms);
}

/* With Redis, the local copy of the sessions this instance accepted lets fail_open know them during an outage. */
void hs_remember_session(struct hook_store *st, const char *sid, const struct hs_session *s, int64_t expires_ms)
{
	(void)session_put_local(st, sid, s, SIZE_MAX, expires_ms);
}

bool hs_local_site(struct hook_store *st, const char *sid, char *site, size_t cap)
{
	struct hs_entry **pp = find(st, 'S', sid);
	if (!*pp || (*pp)->expires_ms <= st->last_now_ms)
		return false;
	ch_scopy(site, cap, (*pp)->u.sess.s.site);
	return true;
}

static int session_put_local(struct hook_store *st, const char *sid, const struct hs_session *s, size_t max,
			     int64_t expires_ms)
{
	struct hs_entry **pp = find(st, 'S', sid);
	if (!*pp && st->sessions >= max)
		return ENOSPC;
	bool created, full;
	struct hs_entry *e = upsert(st, HS_SESSION, 'S', sid, &created, &full);
	if (!e)
		return full ? ENOSPC : ENOMEM;
	if (created)
		st->sessions++;
	e->u.sess.s = *s;
	e->expires_ms = expires_ms;
	return 0;
}

int hs_session_set_origin(struct hook_store *st, const char *sid, const char *origin)
{
	struct hs_entry **pp = find(st, 'S', sid);
	if (!*pp)
		return ENOENT;
	char *copy = ch_strndup(origin, strlen(origin));
	if (!copy)
		return ENOMEM;
	free((*pp)->u.sess.origin);
	(*pp)->u.sess.origin = copy;
	return 0;
}

const char *hs_session_origin(struct hook_store *st, const char *sid)
{
	struct hs_entry **pp = find(st, 'S', sid);
	return *pp ? (*pp)->u.sess.origin : NULL;
}

void hs_session_del(struct hook_store *st, const char *sid)
{
	struct hs_entry **pp = find(st, 'S', sid);
	if (*pp)
		remove_at(st, pp);
}

int hs_bucket_take(struct hook_store *st, const char *key, unsigned capacity, int64_t now_ms, bool commit)
{
	if (st->rd)
		capacity = (unsigned)share_of(st, capacity);
	if (!commit) {
		struct hs_entry **pp = find(st, 'B', key);
		if (!*pp)
			return capacity > 0 ? 0 : EAGAIN;
		struct pol_bucket copy = (*pp)->u.b;
		return pol_bucket_take(&copy, capacity, now_ms) ? 0 : EAGAIN;
	}
	bool created, full;
	struct hs_entry *e = upsert(st, HS_BUCKET, 'B', key, &created, &full);
	if (!e)
		return full ? ENOSPC : ENOMEM; /* refuse rather than let a flood through */
	bool ok = pol_bucket_take(&e->u.b, capacity, now_ms);
	/* a bucket refills completely in 60 s: forget it after it would be full */
	e->expires_ms = now_ms + 61000;
	return ok ? 0 : EAGAIN;
}

int hs_jti_bind(struct hook_store *st, const char *jti, const char *sid, int64_t expires_ms, bool commit)
{
	if (!commit) {
		struct hs_entry **pp = find(st, 'J', jti);
		return *pp && strcmp((*pp)->u.jti_sid, sid) != 0 ? EEXIST : 0;
	}
	bool created, full;
	struct hs_entry *e = upsert(st, HS_JTI, 'J', jti, &created, &full);
	if (!e)
		return full ? ENOSPC : ENOMEM;
	if (created) {
		e->u.jti_sid = ch_strndup(sid, strlen(sid));
		if (!e->u.jti_sid) {
			remove_at(st, find(st, 'J', jti));
			return ENOMEM;
		}
		e->expires_ms = expires_ms;
		return 0;
	}
	return strcmp(e->u.jti_sid, sid) == 0 ? 0 : EEXIST;
}

int hs_call_get(struct hook_store *st, const char *call_id, const char *site, const char *sid, struct hs_call *out,
		bool *same_owner)
{
	struct hs_entry **pp = find(st, 'C', call_id);
	if (!*pp)
		return ENOENT;
	const struct hs_entry *e = *pp;
	*out = e->u.call.c;
	*same_owner = strcmp(e->u.call.c.site, site) == 0 && strcmp(e->u.call.sid, sid) == 0;
	return 0;
}

static int call_put_local(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
			  struct hs_cdr *cdr, int64_t expires_ms);

int hs_call_put(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
		struct hs_cdr *cdr, int64_t expires_ms)
{
	return call_put_local(st, call_id, sid, c, cdr, expires_ms);
}

/* With Redis, the record there is the truth; the local copy keeps the call record (hook.cdr.file) and is
 * fail_open's view of the calls. */
void hs_remember_call(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
		      struct hs_cdr *cdr, int64_t expires_ms, int64_t sess_expires_ms)
{
	if (call_put_local(st, call_id, sid, c, cdr, expires_ms) != 0)
		hs_cdr_free(cdr);
	struct hs_entry **pp = sid[0] ? find(st, 'S', sid) : NULL;
	if (pp && *pp) {
		(*pp)->u.sess.s.calls++;
		(*pp)->expires_ms = sess_expires_ms;
	}
}

static int call_put_local(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
			  struct hs_cdr *cdr, int64_t expires_ms)
{
	/* the owner first: a failed copy leaves the store as it was */
	char *owner = ch_strndup(sid, strlen(sid));
	if (!owner)
		return ENOMEM;
	bool created, full;
	struct hs_entry *e = upsert(st, HS_CALL, 'C', call_id, &created, &full);
	if (!e) {
		free(owner);
		return full ? ENOSPC : ENOMEM;
	}
	bool was_active = !created && e->u.call.c.active;
	if (was_active) {
		struct site_count *old = site_slot(st, e->u.call.c.site, false);
		if (old && old->active)
			old->active--;
	}
	free(e->u.call.sid);
	e->u.call.sid = owner;
	hs_cdr_free(e->u.call.cdr);
	e->u.call.cdr = cdr;
	e->u.call.c = *c;
	e->expires_ms = expires_ms;
	if (c->active) {
		struct site_count *sc = site_slot(st, c->site, true);
		if (sc)
			sc->active++;
	}
	return 0;
}

void hs_call_forget(struct hook_store *st, const char *call_id)
{
	struct hs_entry **pp = find(st, 'C', call_id);
	if (*pp)
		remove_at(st, pp);
}

void hs_call_established(struct hook_store *st, const char *call_id, const char *sid, int64_t wall_ms)
{
	struct hs_entry **pp = find(st, 'C', call_id);
	if (!*pp || !(*pp)->u.call.c.active || !(*pp)->u.call.cdr)
		return;
	if (sid && strcmp((*pp)->u.call.sid, sid) != 0)
		return;
	if (!(*pp)->u.call.cdr->established_ms)
		(*pp)->u.call.cdr->established_ms = wall_ms;
}

bool hs_call_end(struct hook_store *st, const char *call_id, const char *sid, enum hs_end end, int sip_status,
		 int64_t wall_ms)
{
	struct hs_entry **pp = find(st, 'C', call_id);
	if (!*pp || !(*pp)->u.call.c.active)
		return false;
	/* an event for the same callId from another session is not this call's end */
	if (sid && strcmp((*pp)->u.call.sid, sid) != 0)
		return false;
	struct site_count *sc = site_slot(st, (*pp)->u.call.c.site, false);
	if (sc && sc->active)
		sc->active--;
	(*pp)->u.call.c.active = false;
	struct hs_cdr *r = (*pp)->u.call.cdr;
	if (r) {
		r->end = end;
		r->sip_status = sip_status;
		r->end_ms = wall_ms;
		ended_push(st, r);
		(*pp)->u.call.cdr = NULL;
	}
	return true;
}

unsigned hs_site_active(struct hook_store *st, const char *site)
{
	unsigned n;
	if (remote(st))
		return hsr_site_active(st->rd, site, &n) == HSR_OK ? n : 0; /* the metrics' gauge */
	struct site_count *sc = site_slot(st, site, false);
	n = sc ? sc->active : 0;
	if (!st->rd)
		return n;
	/* fail_open: this instance alone may hold concurrent_calls x fail_open_share */
	unsigned pm = hsr_share_pm(st->rd);
	return pm ? (unsigned)(((unsigned long long)n * 1000ULL + pm - 1) / pm) : UINT_MAX;
}

/* A release Redis did not take: to the outbox, replayed when Redis answers again. */
static void queue_release(struct hook_store *st, char kind, bool any, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	size_t len = (kind == 'E' ? 2 : 1) + la + 1 + (b ? lb + 1 : 0);
	char *body = malloc(len);
	if (!body)
		return; /* it lapses with its TTL */
	size_t at = 0;
	body[at++] = kind;
	if (kind == 'E')
		body[at++] = any ? '1' : '0';
	memcpy(body + at, a, la + 1);
	at += la + 1;
	if (b)
		memcpy(body + at, b, lb + 1);
	(void)ob_post(st->outbox, NULL, NULL,
		      kind == 'E'   ? "slot release"
		      : kind == 'C' ? "call cancel"
		      : kind == 'K' ? "connect cancel"
				    : "session close",
		      body, len);
}

void hs_cancel_call(struct hook_store *st, const char *call_id, const char *attempt)
{
	if (st->rd)
		queue_release(st, 'C', false, call_id, attempt);
}

void hs_cancel_connect(struct hook_store *st, const char *sid, const char *attempt)
{
	if (st->rd)
		queue_release(st, 'K', false, sid, attempt);
}

void hs_release_session(struct hook_store *st, const char *sid)
{
	if (st->rd && hsr_session_close(st->rd, sid) != HSR_OK)
		queue_release(st, 'S', false, sid, NULL);
	hs_lock(st);
	hs_session_del(st, sid);
	hs_unlock(st);
}

bool hs_release_call(struct hook_store *st, const char *call_id, const char *sid, enum hs_end end, int sip_status,
		     int64_t wall_ms)
{
	bool freed = false;
	if (st->rd && hsr_call_end(st->rd, call_id, sid, &freed) != HSR_OK)
		queue_release(st, 'E', sid == NULL, call_id, sid ? sid : "");
	hs_lock(st);
	bool local = hs_call_end(st, call_id, sid, end, sip_status, wall_ms); /* the record, when placed here */
	hs_unlock(st);
	return st->rd ? freed : local;
}

static char *dup_or_null(const char *s, bool *fail)
{
	if (!s)
		return NULL;
	char *d = ch_strndup(s, strlen(s));
	*fail |= !d;
	return d;
}

struct hs_cdr *hs_cdr_new(const char *site, const char *button, const char *callee, const char *client_ip,
			  const char *session_id, const char *call_id, const char *origin)
{
	struct hs_cdr *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	bool fail = false;
	r->site = dup_or_null(site, &fail);
	r->button = dup_or_null(button, &fail);
	r->callee = dup_or_null(callee, &fail);
	r->client_ip = dup_or_null(client_ip, &fail);
	r->session_id = dup_or_null(session_id, &fail);
	r->call_id = dup_or_null(call_id, &fail);
	r->origin = dup_or_null(origin, &fail);
	if (fail) {
		hs_cdr_free(r);
		return NULL;
	}
	return r;
}

void hs_cdr_free(struct hs_cdr *r)
{
	if (!r)
		return;
	free(r->site);
	free(r->button);
	free(r->callee);
	free(r->client_ip);
	free(r->session_id);
	free(r->call_id);
	free(r->origin);
	free(r);
}

const char *hs_end_name(enum hs_end e)
{
	switch (e) {
	case HS_END_FINISH:
		return "FINISH";
	case HS_END_FAILED:
		return "FAILED";
	case HS_END_BUSY:
		return "BUSY";
	case HS_END_EXPIRED:
		return "EXPIRED";
	}
	return "?";
}
