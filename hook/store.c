/* hook/store.c: the state store: in memory, or in Redis (store_redis.c) with this one as fail_open's fallback. */
#include "hook/hook_int.h"
#include "hook/store_redis.h"

#include "common/metrics.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

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
	unsigned cap; /* concurrent_calls, held in Redis by hs_call_put (0 = none) */
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
	uint64_t fallbacks;                /* fail_open: steps decided here because Redis did not answer */
};

/* A step of this thread's current request found Redis unavailable (hs_request_begin clears it). */
static _Thread_local bool tl_down;

/* Redis did not answer: true when the step is refused (fail_closed: the pipeline answers 503), false when
 * the memory store decides it (fail_open, each limit scaled by fail_open_share). */
static bool refuse(struct hook_store *st)
{
	tl_down = true;
	if (hsr_fail_open(st->rd)) {
		st->fallbacks++;
		return false;
	}
	return true;
}

static size_t share_of(const struct hook_store *st, size_t limit)
{
	return (size_t)(((unsigned long long)limit * hsr_share_pm(st->rd)) / 1000ULL);
}

int hs_use_redis(struct hook_store *st, const struct cfg_store *cfg)
{
	return hsr_new(cfg, &st->rd);
}

void hs_request_begin(void)
{
	tl_down = false;
}

bool hs_request_refused(const struct hook_store *st)
{
	return st->rd && tl_down && !hsr_fail_open(st->rd);
}

static struct site_count *site_slot(struct hook_store *st, const char *site, bool create);

void hs_set_site_cap(struct hook_store *st, const char *site, unsigned concurrent_calls)
{
	struct site_count *sc = site_slot(st, site, true);
	if (sc)
		sc->cap = concurrent_calls;
}

void hs_store_metrics(struct hook_store *st)
{
	if (!st->rd)
		return;
	hsr_metrics(st->rd);
	ch_metrics_set("callhook_store_fallbacks_total", "", (double)st->fallbacks);
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
	if (st->rd && hsr_session_count(st->rd, &n) == HSR_OK)
		return n;
	if (st->rd && refuse(st))
		return SIZE_MAX;
	return st->sessions;
}

int hs_session_get(struct hook_store *st, const char *sid, int64_t now_ms, struct hs_session *out)
{
	int rc;
	if (st->rd && hsr_session_get(st->rd, sid, out, &rc) == HSR_OK)
		return rc;
	if (st->rd && refuse(st))
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

/* With Redis, the local copy of the sessions this instance accepted lets fail_open know them during an outage. */
int hs_session_put(struct hook_store *st, const char *sid, const struct hs_session *s, size_t max, int64_t expires_ms)
{
	int rc;
	if (st->rd && hsr_session_put(st->rd, sid, s, max, expires_ms - st->last_now_ms, &rc) == HSR_OK) {
		if (rc == 0)
			(void)session_put_local(st, sid, s, SIZE_MAX, expires_ms);
		return rc;
	}
	if (st->rd && refuse(st))
		return ENOSPC;
	if (st->rd && max != SIZE_MAX)
		max = share_of(st, max);
	return session_put_local(st, sid, s, max, expires_ms);
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
	int rc;
	if (st->rd && hsr_session_set_origin(st->rd, sid, origin, &rc) == HSR_OK)
		return rc;
	if (st->rd && refuse(st))
		return ENOENT;
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
	const char *o;
	if (st->rd && hsr_session_origin(st->rd, sid, &o) == HSR_OK)
		return o;
	if (st->rd && refuse(st))
		return NULL;
	struct hs_entry **pp = find(st, 'S', sid);
	return *pp ? (*pp)->u.sess.origin : NULL;
}

void hs_session_del(struct hook_store *st, const char *sid)
{
	if (st->rd && hsr_session_del(st->rd, sid) != HSR_OK)
		(void)refuse(st); /* an event: its 200 stands; the session lapses at session_ttl_s */
	struct hs_entry **pp = find(st, 'S', sid);
	if (*pp)
		remove_at(st, pp);
}

int hs_bucket_take(struct hook_store *st, const char *key, unsigned capacity, int64_t now_ms, bool commit)
{
	int rc;
	if (st->rd && hsr_bucket_take(st->rd, key, capacity, commit, &rc) == HSR_OK)
		return rc;
	if (st->rd && refuse(st))
		return EAGAIN;
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
	int rc;
	if (st->rd && hsr_jti_bind(st->rd, jti, sid, expires_ms - st->last_now_ms, commit, &rc) == HSR_OK)
		return rc;
	if (st->rd && refuse(st))
		return EEXIST;
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
	int rc;
	if (st->rd && hsr_call_get(st->rd, call_id, site, sid, out, same_owner, &rc) == HSR_OK)
		return rc;
	if (st->rd && refuse(st))
		return ENOENT;
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

/* With Redis, the record there is the truth; the local copy keeps the call record (hook.cdr.file) and is
 * fail_open's view of the calls. */
int hs_call_put(struct hook_store *st, const char *call_id, const char *sid, const struct hs_call *c,
		struct hs_cdr *cdr, int64_t expires_ms)
{
	int rc;
	struct site_count *cap = st->rd && c->active ? site_slot(st, c->site, true) : NULL;
	unsigned max_active = cap ? cap->cap : 0;
	if (st->rd && hsr_call_put(st->rd, call_id, sid, c, expires_ms - st->last_now_ms, max_active, &rc) == HSR_OK) {
		if (rc)
			return rc; /* cdr not taken */
		if (call_put_local(st, call_id, sid, c, cdr, expires_ms) != 0)
			hs_cdr_free(cdr);
		return 0;
	}
	if (st->rd && refuse(st))
		return ENOSPC;
	return call_put_local(st, call_id, sid, c, cdr, expires_ms);
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
	if (st->rd && hsr_call_forget(st->rd, call_id) != HSR_OK)
		(void)refuse(st);
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

static bool call_end_local(struct hook_store *st, const char *call_id, const char *sid, enum hs_end end, int sip_status,
			   int64_t wall_ms);

bool hs_call_end(struct hook_store *st, const char *call_id, const char *sid, enum hs_end end, int sip_status,
		 int64_t wall_ms)
{
	bool freed = false;
	if (st->rd && hsr_call_end(st->rd, call_id, sid, &freed) == HSR_OK) {
		(void)call_end_local(st, call_id, sid, end, sip_status, wall_ms); /* the record, when placed here */
		return freed;
	}
	if (st->rd)
		(void)refuse(st); /* an event: its 200 stands; the slot lapses at call_max_s */
	return call_end_local(st, call_id, sid, end, sip_status, wall_ms);
}

static bool call_end_local(struct hook_store *st, const char *call_id, const char *sid, enum hs_end end, int sip_status,
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
	if (st->rd && hsr_site_active(st->rd, site, &n) == HSR_OK)
		return n;
	if (st->rd && refuse(st))
		return UINT_MAX;
	struct site_count *sc = site_slot(st, site, false);
	n = sc ? sc->active : 0;
	if (!st->rd)
		return n;
	/* fail_open: this instance alone may hold concurrent_calls x fail_open_share */
	unsigned pm = hsr_share_pm(st->rd);
	return pm ? (unsigned)(((unsigned long long)n * 1000ULL + pm - 1) / pm) : UINT_MAX;
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
