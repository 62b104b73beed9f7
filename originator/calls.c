/* originator/calls.c: the call registry (id -> state, legs, result), the call limits, and event fan-out to watchers and
 * callbacks. */
#include "originator/calls.h"

#include "originator/gauges.h"
#include "originator/hourly.h"

#include "common/common.h"
#include "common/metrics.h"
#include "policy/policy.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Per-initiator buckets: at most this many remembered at once (fail closed
 * past it), swept of idle ones once this many exist. */
#define IB_MAX      100000u
#define IB_SWEEP_AT 1024u

struct leg_rec {
	char *uri;
	int status;       /* last SIP status seen on the leg, 0 = none */
	char reason[128]; /* its phrase */
};

struct reg_call {
	uint64_t id;
	enum orig_state state;
	bool anchor;
	bool fallback;
	int fallback_code;
	bool ended;
	struct leg_rec leg[2]; /* initiator, destination */
	int res_code;
	char res_reason[128];
	enum orig_ended_by ended_by;
	int64_t duration_ms;
	int64_t created_wall_s;
	int64_t ended_ms; /* monotonic */
	/* for the record: who asked, how, and when each side answered (wall ms, 0 = not yet) */
	enum orig_front front;
	char *client_ip, *client_user, *ask_init, *ask_dest;
	bool auto_answer;
	int64_t call_at_ms, ini_answered_ms, dst_answered_ms;
	bool has_watch;
	struct orig_watch watch;
	char *cb_url;
	char *slot;                   /* the shared store's slot token, or NULL */
	struct reg_call *hnext;       /* hash chain */
	struct reg_call *prev, *next; /* active list, or ended FIFO */
};

struct ibucket {
	char *key;
	struct pol_bucket b;
	struct ibucket *next;
};

struct clist {
	struct reg_call *head, *tail;
	size_t n;
};

struct orig_calls {
	pthread_mutex_t mu;
	struct reg_call **tab;
	size_t nb; /* power of two */
	size_t count;
	struct clist active, ended;
	struct pol_bucket rate;
	struct ibucket **ib;
	size_t ib_nb;
	size_t ib_count;
	int64_t ib_swept_ms;
	struct orig_hourly *hourly;
	orig_slot_release_fn release;
	void *release_arg;
};

static void list_add(struct clist *l, struct reg_call *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->n++;
}

static void list_del(struct clist *l, struct reg_call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->n--;
}

static size_t hslot(const struct orig_calls *c, uint64_t id)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (c->nb - 1);
}

static struct reg_call *find(const struct orig_calls *c, uint64_t id)
{
	for (struct reg_call *k = c->tab[hslot(c, id)]; k; k = k->hnext) {
		if (k->id == id)
			return k;
	}
	return NULL;
}

static int grow(struct orig_calls *c)
{
	size_t nb = c->nb * 2;
	struct reg_call **t = calloc(nb, sizeof(*t));
	if (!t)
		return ENOMEM;
	struct reg_call **old = c->tab;
	size_t onb = c->nb;
	c->tab = t;
	c->nb = nb;
	for (size_t i = 0; i < onb; i++) {
		struct reg_call *k = old[i];
		while (k) {
			struct reg_call *n = k->hnext;
			size_t s = hslot(c, k->id);
			k->hnext = t[s];
			t[s] = k;
			k = n;
		}
	}
	free(old);
	return 0;
}

static void unhash(struct orig_calls *c, struct reg_call *k)
{
	struct reg_call **pp = &c->tab[hslot(c, k->id)];
	while (*pp && *pp != k)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = k->hnext;
	c->count--;
}

static void call_free(struct reg_call *k)
{
	if (!k)
		return;
	free(k->leg[0].uri);
	free(k->leg[1].uri);
	free(k->cb_url);
	free(k->slot);
	free(k->client_ip);
	free(k->client_user);
	free(k->ask_init);
	free(k->ask_dest);
	free(k);
}

/* strdup that keeps NULL; *bad when it ran out of memory. */
static char *dup_opt(const char *s, bool *bad)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*bad = true;
	return d;
}

/* A new registry entry for r and meta, not yet hashed; NULL (no memory). */
static struct reg_call *call_new(const struct orig_call_req *r, const struct orig_call_meta *meta, const char *cb_url)
{
	struct reg_call *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	bool bad = false;
	k->leg[0].uri = dup_opt(r->initiator, &bad);
	k->leg[1].uri = dup_opt(r->destination, &bad);
	k->cb_url = dup_opt(cb_url, &bad);
	k->client_ip = dup_opt(meta ? meta->client_ip : NULL, &bad);
	k->slot = dup_opt(meta ? meta->slot : NULL, &bad);
	k->client_user = dup_opt(meta ? meta->client_user : NULL, &bad);
	k->ask_init = dup_opt(meta && meta->initiator ? meta->initiator : r->initiator, &bad);
	k->ask_dest = dup_opt(meta && meta->destination ? meta->destination : r->destination, &bad);
	if (bad) {
		call_free(k);
		return NULL;
	}
	k->front = meta ? meta->front : ORIG_FE_JSON;
	k->auto_answer = meta && meta->auto_answer;
	k->anchor = r->anchor;
	k->state = ORIG_CALLING_INITIATOR;
	k->created_wall_s = ch_wall_s();
	k->call_at_ms = ch_wall_ms();
	return k;
}

int orig_calls_new(struct orig_calls **out)
{
	orig_gauges_init();
	ch_metrics_declare("callhook_originator_calls_total", "counter",
			   "Originator calls by final state and by who ended them.");
	struct orig_calls *c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->nb = 256;
	c->tab = calloc(c->nb, sizeof(*c->tab));
	c->ib_nb = 4096;
	c->ib = calloc(c->ib_nb, sizeof(*c->ib));
	if (!c->tab || !c->ib || orig_hourly_new(&c->hourly) != 0 || pthread_mutex_init(&c->mu, NULL) != 0) {
		orig_hourly_free(c->hourly);
		free(c->tab);
		free(c->ib);
		free(c);
		return ENOMEM;
	}
	*out = c;
	return 0;
}

void orig_calls_free(struct orig_calls *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nb; i++) {
		struct reg_call *k = c->tab[i];
		while (k) {
			struct reg_call *n = k->hnext;
			if (k->has_watch && k->watch.release)
				k->watch.release(k->watch.arg);
			if (!k->ended && k->slot && c->release)
				c->release(k->slot, c->release_arg);
			if (!k->ended)
				orig_gauge_add(ORIG_G_CALLS, -1);
			call_free(k);
			k = n;
		}
	}
	for (size_t i = 0; i < c->ib_nb; i++) {
		struct ibucket *b = c->ib[i];
		while (b) {
			struct ibucket *n = b->next;
			free(b->key);
			free(b);
			b = n;
		}
	}
	free(c->ib);
	free(c->tab);
	orig_hourly_free(c->hourly);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void orig_calls_set_release(struct orig_calls *c, orig_slot_release_fn fn, void *arg)
{
	c->release = fn;
	c->release_arg = arg;
}

/* Drop ended calls past keep_ended_s, and the oldest past the count cap. */
static void expire(struct orig_calls *c, int64_t keep_ended_s, int64_t now_ms)
{
	while (c->ended.head) {
		struct reg_call *k = c->ended.head;
		bool old = now_ms - k->ended_ms >= keep_ended_s * 1000;
		if (!old && c->ended.n <= ORIG_KEEP_ENDED_MAX)
			break;
		list_del(&c->ended, k);
		unhash(c, k);
		call_free(k);
	}
}

static size_t ib_slot(const char *key, size_t nb)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return (size_t)h & (nb - 1);
}

static void ib_sweep(struct orig_calls *c, int64_t now_ms)
{
	/* a bucket idle for a minute is full again: forgetting it changes nothing */
	for (size_t i = 0; i < c->ib_nb; i++) {
		struct ibucket **pp = &c->ib[i];
		while (*pp) {
			struct ibucket *b = *pp;
			if (now_ms - b->b.last_ms >= 60000) {
				*pp = b->next;
				free(b->key);
				free(b);
				c->ib_count--;
			} else {
				pp = &b->next;
			}
		}
	}
	c->ib_swept_ms = now_ms;
}

static struct ibucket *ib_get(struct orig_calls *c, const char *key, int64_t now_ms)
{
	size_t s = ib_slot(key, c->ib_nb);
	for (struct ibucket *b = c->ib[s]; b; b = b->next) {
		if (strcmp(b->key, key) == 0)
			return b;
	}
	if (c->ib_count >= IB_SWEEP_AT && now_ms - c->ib_swept_ms >= 1000)
		ib_sweep(c, now_ms);
	if (c->ib_count >= IB_MAX)
		return NULL;
	struct ibucket *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->key = strdup(key);
	if (!b->key) {
		free(b);
		return NULL;
	}
	b->next = c->ib[s];
	c->ib[s] = b;
	c->ib_count++;
	return b;
}

/* The hourly limits' keys (user@host after translation) and their prepared admission. */
static enum orig_admit hourly_prepare(struct orig_calls *c, const struct orig_limits *lim,
				      const struct orig_call_req *r, int64_t now_ms, struct orig_hourly_slot *slot)
{
	char ikey[sizeof(r->initiator)], dkey[sizeof(r->destination)];
	if (pol_sip_uri_limit_key(r->initiator, ikey, sizeof(ikey)) != 0 ||
	    pol_sip_uri_limit_key(r->destination, dkey, sizeof(dkey)) != 0)
		return lim->calls_per_hour_per_destination ? ORIG_ADMIT_DESTINATION : ORIG_ADMIT_DISTINCT;
	return orig_hourly_prepare(c->hourly, lim, ikey, dkey, now_ms, slot);
}

enum orig_admit orig_calls_admit(struct orig_calls *c, struct orig_sip *sip, const struct orig_limits *lim,
				 const struct orig_call_req *r, const struct orig_call_meta *meta, const char *cb_url,
				 const struct orig_watch *watch, int64_t now_ms, uint64_t *id)
{
	enum orig_admit res = ORIG_ADMIT_ENGINE;
	struct reg_call *k = call_new(r, meta, cb_url);
	if (!k)
		return ORIG_ADMIT_ENGINE;

	pthread_mutex_lock(&c->mu);
	expire(c, lim->keep_ended_s, now_ms);
	if (lim->concurrent_calls && c->active.n >= lim->concurrent_calls) {
		res = ORIG_ADMIT_CONCURRENT;
		goto out;
	}
	/* the per-initiator bucket first: one noisy initiator should not drain
	 * the shared budget with calls it is refused anyway */
	if (lim->calls_per_minute_per_initiator) {
		/* one budget per phone, however the URI reaches it (password,
		 * port, parameters); a URI without a key fails closed */
		char key[sizeof(r->initiator)];
		struct ibucket *b = NULL;
		if (pol_sip_uri_limit_key(r->initiator, key, sizeof(key)) == 0)
			b = ib_get(c, key, now_ms);
		if (!b || !pol_bucket_take(&b->b, lim->calls_per_minute_per_initiator, now_ms)) {
			res = ORIG_ADMIT_INITIATOR;
			goto out;
		}
	}
	if (lim->calls_per_minute && !pol_bucket_take(&c->rate, lim->calls_per_minute, now_ms)) {
		res = ORIG_ADMIT_RATE;
		goto out;
	}
	/* the hourly limits last: checked and recorded under this lock, so
	 * concurrent requests cannot both take the last place */
	struct orig_hourly_slot slot = {.at = -1};
	bool hourly = lim->calls_per_hour_per_destination || lim->distinct_destinations_per_hour_per_initiator;
	if (hourly && (res = hourly_prepare(c, lim, r, now_ms, &slot)) != ORIG_ADMIT_OK)
		goto out;
	res = ORIG_ADMIT_ENGINE;
	/* held across orig_sip_call: the SIP thread's first event for this id
	 * takes the same lock, so it finds the call recorded */
	uint64_t nid = 0;
	int rc = c->count + 1 > c->nb && grow(c) != 0 ? ENOMEM : orig_sip_call(sip, r, &nid);
	if (rc) {
		orig_hourly_abandon(&slot);
		if (rc == EAGAIN)
			res = ORIG_ADMIT_CONCURRENT;
		goto out;
	}
	if (hourly)
		orig_hourly_commit(&slot, now_ms);
	k->id = nid;
	if (watch) {
		k->watch = *watch;
		k->has_watch = true;
	}
	size_t s = hslot(c, nid);
	k->hnext = c->tab[s];
	c->tab[s] = k;
	c->count++;
	list_add(&c->active, k);
	orig_gauge_add(ORIG_G_CALLS, 1);
	*id = nid;
	k = NULL;
	res = ORIG_ADMIT_OK;
out:
	pthread_mutex_unlock(&c->mu);
	call_free(k);
	return res;
}

static json_t *leg_json(const struct leg_rec *l)
{
	return json_pack("{s:s, s:o, s:o}", "uri", l->uri, "status", l->status ? json_integer(l->status) : json_null(),
			 "reason", l->reason[0] ? json_string(l->reason) : json_null());
}

/* Caller holds the lock. New reference or NULL (no memory). */
static json_t *call_json(const struct reg_call *k)
{
	json_t *j = json_pack("{s:I, s:s, s:b, s:b, s:{s:o, s:o}, s:I}", "id", (json_int_t)k->id, "state",
			      orig_state_name(k->state), "anchor", k->anchor, "fallback", k->fallback, "legs",
			      "initiator", leg_json(&k->leg[0]), "destination", leg_json(&k->leg[1]), "created",
			      (json_int_t)k->created_wall_s);
	if (!j)
		return NULL;
	if (k->fallback)
		json_object_set_new(j, "fallback_code", json_integer(k->fallback_code));
	if (k->ended) {
		json_t *r = json_pack("{s:i, s:s, s:s, s:f}", "code", k->res_code, "reason", k->res_reason, "ended_by",
				      orig_ended_by_name(k->ended_by), "duration_s", (double)k->duration_ms / 1000.0);
		if (r)
			json_object_set_new(j, "result", r);
	}
	return j;
}

static void copy_reason(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The record of k, which ends with ev (at wall ms): a new JSON object or NULL. Caller holds the lock. */
static json_t *record_of(const struct reg_call *k, const struct orig_event *ev, int64_t at)
{
	struct orig_rec r = {
	    .id = k->id,
	    .front = k->front,
	    .client_ip = k->client_ip,
	    .client_user = k->client_user,
	    .initiator = k->ask_init,
	    .destination = k->ask_dest,
	    .tinit = k->leg[0].uri,
	    .tdest = k->leg[1].uri,
	    .anchor = k->anchor,
	    .fallback = k->fallback,
	    .fallback_code = k->fallback_code,
	    .auto_answer = k->auto_answer,
	    .leg_status = {k->leg[0].status, k->leg[1].status},
	    .leg_reason = {k->leg[0].reason, k->leg[1].reason},
	    .state = ev->state,
	    .leg = ev->leg,
	    .code = ev->code,
	    .reason = ev->reason,
	    .sip_code = ev->sip_code,
	    .ended_by = ev->ended_by,
	    .call_at_ms = k->call_at_ms,
	    .initiator_answered_ms = k->ini_answered_ms,
	    .destination_answered_ms = k->dst_answered_ms,
	    .ended_ms = at,
	};
	return orig_rec_json(&r);
}

/* The step into k: its state, the leg's last status, when each side answered. Caller holds the lock. */
static void apply(struct reg_call *k, const struct orig_event *ev, int64_t at)
{
	k->state = ev->state;
	if (ev->fallback) {
		k->fallback = true;
		k->fallback_code = ev->fallback_code;
	}
	if (ev->leg == ORIG_LEG_INITIATOR || ev->leg == ORIG_LEG_DESTINATION) {
		struct leg_rec *l = &k->leg[ev->leg == ORIG_LEG_INITIATOR ? 0 : 1];
		int st = ev->sip_code ? ev->sip_code : (ev->state == ORIG_FAILED ? ev->code : 0);
		/* the 181 fallback step is about the REFER, not the destination leg */
		if (st && ev->code != 181) {
			l->status = st;
			copy_reason(l->reason, sizeof(l->reason), ev->sip_reason[0] ? ev->sip_reason : ev->reason);
		}
	}
	if (ev->state == ORIG_INITIATOR_ANSWERED && !k->ini_answered_ms)
		k->ini_answered_ms = at;
	if ((ev->state == ORIG_CONNECTED || ev->state == ORIG_TRANSFERRED) && !k->dst_answered_ms)
		k->dst_answered_ms = at;
}

/* The final step: counted, moved to the ended list. Caller holds the lock. */
static void finish(struct orig_calls *c, struct reg_call *k, const struct orig_event *ev, int64_t now_ms)
{
	char labels[128];
	(void)ch_fmt(labels, sizeof(labels), "state=\"%s\",ended_by=\"%s\"", orig_state_name(ev->state),
		     orig_ended_by_name(ev->ended_by));
	ch_metrics_add("callhook_originator_calls_total", labels, 1);
	k->ended = true;
	k->res_code = ev->code;
	copy_reason(k->res_reason, sizeof(k->res_reason), ev->reason);
	k->ended_by = ev->ended_by;
	k->duration_ms = ev->duration_ms;
	k->ended_ms = now_ms;
	list_del(&c->active, k);
	orig_gauge_add(ORIG_G_CALLS, -1);
	list_add(&c->ended, k);
}

/* The status callback of this step (rec, borrowed, on the final one). Caller holds the lock. */
static void post_event(const struct reg_call *k, const struct orig_event *ev, json_t *rec, struct orig_cb *cb)
{
	json_t *j = call_json(k);
	if (!j)
		return;
	json_t *e = json_pack("{s:i, s:s, s:s, s:i, s:s, s:b}", "code", ev->code, "reason", ev->reason, "leg",
			      orig_leg_name(ev->leg), "sip_code", ev->sip_code, "sip_reason", ev->sip_reason, "final",
			      ev->final);
	if (e)
		json_object_set_new(j, "event", e);
	if (rec)
		json_object_set(j, "call_record", rec);
	char *body = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (body && !orig_cb_post(cb, k->cb_url, body))
		ch_warn("originator: call %llu: status callback queue full, event dropped", (unsigned long long)k->id);
}

void orig_calls_event(struct orig_calls *c, const struct orig_event *ev, struct orig_cb *cb, struct ch_cdr *cdr,
		      int64_t keep_ended_s, int64_t now_ms)
{
	pthread_mutex_lock(&c->mu);
	struct reg_call *k = find(c, ev->call_id);
	if (!k || k->ended) {
		pthread_mutex_unlock(&c->mu);
		ch_dbg("originator: event for unknown call %llu ignored", (unsigned long long)ev->call_id);
		return;
	}
	int64_t at = k->call_at_ms + ev->age_ms;
	apply(k, ev, at);
	if (k->has_watch && k->watch.on_event)
		k->watch.on_event(k->watch.arg, ev, k->leg[0].uri, k->leg[1].uri);
	json_t *rec = NULL;
	char *slot = NULL; /* taken from the call: it may be freed once the lock is released */
	if (ev->final) {
		slot = k->slot;
		k->slot = NULL;
		finish(c, k, ev, now_ms);
		rec = record_of(k, ev, at);
		if (!rec)
			ch_warn("originator: call %llu: out of memory, no call record", (unsigned long long)k->id);
	}
	if (k->cb_url && cb)
		post_event(k, ev, rec, cb);
	struct orig_watch w = k->watch;
	bool release = ev->final && k->has_watch;
	if (release)
		k->has_watch = false;
	if (ev->final)
		expire(c, keep_ended_s, now_ms);
	pthread_mutex_unlock(&c->mu);
	if (release && w.release)
		w.release(w.arg);
	if (slot && c->release)
		c->release(slot, c->release_arg);
	free(slot);
	/* the write outside the lock: a slow disk must not hold up the registry */
	char *line = rec && cdr ? orig_rec_text(rec) : NULL;
	if (line)
		(void)ch_cdr_write_text(cdr, line);
	free(line);
	json_decref(rec);
}

int orig_calls_check_active(struct orig_calls *c, uint64_t id)
{
	pthread_mutex_lock(&c->mu);
	struct reg_call *k = find(c, id);
	int rc = !k ? ENOENT : k->ended ? EALREADY : 0;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

json_t *orig_calls_get(struct orig_calls *c, uint64_t id, int64_t keep_ended_s, int64_t now_ms)
{
	pthread_mutex_lock(&c->mu);
	expire(c, keep_ended_s, now_ms);
	struct reg_call *k = find(c, id);
	json_t *j = k ? call_json(k) : NULL;
	pthread_mutex_unlock(&c->mu);
	return j;
}

json_t *orig_calls_list(struct orig_calls *c)
{
	json_t *arr = json_array();
	if (!arr)
		return NULL;
	pthread_mutex_lock(&c->mu);
	for (struct reg_call *k = c->active.head; k; k = k->next) {
		json_t *j = call_json(k);
		if (j)
			json_array_append_new(arr, j);
	}
	pthread_mutex_unlock(&c->mu);
	return json_pack("{s:o}", "calls", arr);
}
