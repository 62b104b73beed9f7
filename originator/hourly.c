/* originator/hourly.c: the hourly call limits: per destination key, the times of its calls in the last hour; per
 * initiator key, the destinations it called in the last hour and when it last did. Exact, bounded, fail closed. */
#include "originator/hourly.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HW_BUCKETS  4096u
#define HW_MAX      200000u /* windows remembered at once; past it new keys are refused */
#define HW_SWEEP_AT 1024u

struct hw_ent {
	int64_t t;
	char *sub; /* the destination (initiator windows), NULL (destination windows) */
};

struct orig_hwin {
	char *key; /* "d:user@host" or "i:user@host" */
	struct hw_ent *e;
	unsigned n, cap;
	int64_t last_ms;
	struct orig_hwin *next;
};

struct orig_hourly {
	struct orig_hwin *tab[HW_BUCKETS];
	size_t count;
	int64_t swept_ms;
};

static void win_free(struct orig_hwin *w)
{
	for (unsigned i = 0; i < w->n; i++)
		free(w->e[i].sub);
	free(w->e);
	free(w->key);
	free(w);
}

int orig_hourly_new(struct orig_hourly **out)
{
	struct orig_hourly *h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	*out = h;
	return 0;
}

void orig_hourly_free(struct orig_hourly *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < HW_BUCKETS; i++) {
		while (h->tab[i]) {
			struct orig_hwin *n = h->tab[i]->next;
			win_free(h->tab[i]);
			h->tab[i] = n;
		}
	}
	free(h);
}

static size_t slot_of(const char *a, const char *b)
{
	uint64_t x = 1469598103934665603ull; /* FNV-1a over a then b */
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		x = (x ^ *p) * 1099511628211ull;
	for (const unsigned char *p = (const unsigned char *)b; *p; p++)
		x = (x ^ *p) * 1099511628211ull;
	return (size_t)x & (HW_BUCKETS - 1);
}

/* Drop the entries an hour old or older (a clock read before the lock may be a little behind: compare values). */
static void prune(struct orig_hwin *w, int64_t now_ms)
{
	unsigned o = 0;
	for (unsigned i = 0; i < w->n; i++) {
		if (now_ms - w->e[i].t >= ORIG_HOUR_MS) {
			free(w->e[i].sub);
			continue;
		}
		w->e[o++] = w->e[i];
	}
	w->n = o;
}

static void sweep(struct orig_hourly *h, int64_t now_ms)
{
	for (size_t i = 0; i < HW_BUCKETS; i++) {
		struct orig_hwin **pp = &h->tab[i];
		while (*pp) {
			struct orig_hwin *w = *pp;
			if (now_ms - w->last_ms >= ORIG_HOUR_MS) {
				*pp = w->next;
				win_free(w);
				h->count--;
			} else {
				pp = &w->next;
			}
		}
	}
	h->swept_ms = now_ms;
}

/* The window of kind ("d:" or "i:") and key, created when missing, with room for one more entry. NULL: no
 * memory, or the table is full. */
static struct orig_hwin *win_get(struct orig_hourly *h, const char *kind, const char *key, int64_t now_ms)
{
	size_t s = slot_of(kind, key);
	struct orig_hwin *w = h->tab[s];
	while (w && (strncmp(w->key, kind, 2) != 0 || strcmp(w->key + 2, key) != 0))
		w = w->next;
	if (!w) {
		if (h->count >= HW_SWEEP_AT && now_ms - h->swept_ms >= 1000)
			sweep(h, now_ms);
		if (h->count >= HW_MAX || !(w = calloc(1, sizeof(*w))))
			return NULL;
		size_t kl = strlen(key);
		if (!(w->key = malloc(kl + 3))) {
			free(w);
			return NULL;
		}
		memcpy(w->key, kind, 2);
		memcpy(w->key + 2, key, kl + 1);
		w->next = h->tab[s];
		h->tab[s] = w;
		h->count++;
	}
	w->last_ms = now_ms; /* touched: a sweep for the other window of this admission must not free it */
	prune(w, now_ms);
	if (w->n == w->cap) {
		unsigned cap = w->cap ? w->cap * 2 : 4;
		struct hw_ent *e = realloc(w->e, cap * sizeof(*e));
		if (!e)
			return NULL;
		w->e = e;
		w->cap = cap;
	}
	return w;
}

enum orig_admit orig_hourly_prepare(struct orig_hourly *h, const struct orig_limits *lim, const char *ikey,
				    const char *dkey, int64_t now_ms, struct orig_hourly_slot *slot)
{
	struct orig_hourly_slot sl = {.at = -1};
	if (lim->calls_per_hour_per_destination) {
		sl.dest = win_get(h, "d:", dkey, now_ms);
		if (!sl.dest || sl.dest->n >= lim->calls_per_hour_per_destination)
			return ORIG_ADMIT_DESTINATION;
	}
	if (lim->distinct_destinations_per_hour_per_initiator) {
		sl.ini = win_get(h, "i:", ikey, now_ms);
		if (!sl.ini)
			return ORIG_ADMIT_DISTINCT;
		for (unsigned i = 0; i < sl.ini->n && sl.at < 0; i++) {
			if (strcmp(sl.ini->e[i].sub, dkey) == 0)
				sl.at = (long)i;
		}
		if (sl.at < 0) {
			if (sl.ini->n >= lim->distinct_destinations_per_hour_per_initiator || !(sl.sub = strdup(dkey)))
				return ORIG_ADMIT_DISTINCT;
		}
	}
	*slot = sl;
	return ORIG_ADMIT_OK;
}

void orig_hourly_commit(struct orig_hourly_slot *slot, int64_t now_ms)
{
	if (slot->dest) {
		slot->dest->e[slot->dest->n++] = (struct hw_ent){.t = now_ms};
	}
	if (slot->ini) {
		if (slot->at >= 0)
			slot->ini->e[slot->at].t = now_ms; /* the hour starts again from the last call */
		else
			slot->ini->e[slot->ini->n++] = (struct hw_ent){.t = now_ms, .sub = slot->sub};
	}
	slot->sub = NULL;
}

void orig_hourly_abandon(struct orig_hourly_slot *slot)
{
	free(slot->sub);
	slot->sub = NULL;
}
