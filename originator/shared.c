/* originator/shared.c: the originator's limits in Redis: admit, release and abort, each one FCALL. */
#include "originator/shared.h"

#include "common/common.h"
#include "common/metrics.h"
#include "outbox/outbox.h"
#include "policy/policy.h"
#include "store/redis.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define OUTBOX_MAX 10000 /* releases waiting for Redis (drop oldest beyond: their slots lapse at the deadline) */
#define KEY_MAX    600   /* a limit key is at most a URI (512) */
#define TOKEN_MAX  40
/* An aborted token's tombstone outlives any stall of Redis a command could wait out and still run. */
#define TOMB_TTL_MS "3600000"

enum { OP_ADMIT, OP_RELEASE, OP_ABORT, OP_COUNT };

/* check_src: table */
static const char *const op_names[OP_COUNT] = {"orig_admit", "orig_release", "orig_abort"};

static const struct st_lib lib = {
    .name = "callhook_orig_v2", .text = orig_shared_library, .version_fn = "cho2_version", .version = 2};

struct orig_shared {
	struct st_redis *rd;
	struct ob *outbox;
	int64_t life_ms;            /* a slot's deadline after admission, without the ring time */
	unsigned ring_s;            /* the configured ring time */
	uint64_t nonce;             /* this instance's, in every token */
	atomic_ullong seq;          /* tokens */
	atomic_ullong fallbacks[2]; /* Redis did not answer: refused (fail_closed), decided here (fail_open) */
};

static const char *key(const struct orig_shared *sh, char *buf, size_t cap, const char *kind, const char *name)
{
	ch_fmt(buf, cap, "%sorig:%s%s", st_redis_prefix(sh->rd), kind, name);
	return buf;
}

/* An FCALL whose answer is an integer: 0 with it in *n, or EAGAIN (no answer; at maxmemory: nothing written). */
static int fcall_int(struct orig_shared *sh, unsigned op, const char *fn, int nkeys, const char **kv, int nargs,
		     long long *n)
{
	redisReply *rep = st_redis_fcall(sh->rd, op, fn, nkeys, kv, nargs);
	bool ok = rep && rep != &st_oom_reply && rep->type == REDIS_REPLY_INTEGER;
	if (ok)
		*n = rep->integer;
	if (rep && rep != &st_oom_reply)
		freeReplyObject(rep);
	return ok ? 0 : EAGAIN;
}

/* What an abort needs, in the outbox's body too: "A" token NUL ikey NUL dkey NUL rate NUL per_ini NUL dnew. */
struct abort_q {
	const char *token, *ikey, *dkey, *rate, *pini, *dnew;
};

static int send_abort(struct orig_shared *sh, const struct abort_q *q)
{
	char ks[KEY_MAX], kr[KEY_MAX], ki[KEY_MAX], kd[KEY_MAX], kn[KEY_MAX], kx[KEY_MAX];
	const char *kv[] = {key(sh, ks, sizeof(ks), "slots", ""),
			    key(sh, kr, sizeof(kr), "b:rate", ""),
			    key(sh, ki, sizeof(ki), "b:i:", q->ikey),
			    key(sh, kd, sizeof(kd), "dh:", q->dkey),
			    key(sh, kn, sizeof(kn), "di:", q->ikey),
			    key(sh, kx, sizeof(kx), "x:", q->token),
			    q->token,
			    q->rate,
			    q->pini,
			    q->dnew,
			    q->dkey,
			    TOMB_TTL_MS};
	long long n;
	return fcall_int(sh, OP_ABORT, "cho2_abort", 6, kv, 6, &n);
}

static int send_release(struct orig_shared *sh, const char *token)
{
	char ks[KEY_MAX];
	const char *kv[] = {key(sh, ks, sizeof(ks), "slots", ""), token};
	long long n;
	return fcall_int(sh, OP_RELEASE, "cho2_release", 1, kv, 1, &n);
}

/* The outbox's delivery: "R" token, or an abort; 0, or EAGAIN (try again: both are idempotent). */
static int deliver(const char *body, size_t len, const char **why, void *arg)
{
	struct orig_shared *sh = arg;
	*why = "redis unavailable";
	if (len >= 1 && body[0] == 'R')
		return send_release(sh, body + 1);
	const char *f[6];
	const char *p = body + 1, *end = body + len;
	for (int i = 0; i < 6; i++) {
		if (p >= end)
			return 0; /* malformed: drop it (it lapses at its deadline) */
		f[i] = p;
		p += strlen(p) + 1;
	}
	const struct abort_q q = {f[0], f[1], f[2], f[3], f[4], f[5]};
	return send_abort(sh, &q);
}

/* Into the outbox: kind 'R' (one field) or 'A' (six); dropped when out of memory (it lapses at its deadline). */
static void queue(struct orig_shared *sh, char kind, const char *const *fields, int n)
{
	size_t len = 1;
	for (int i = 0; i < n; i++)
		len += strlen(fields[i]) + 1;
	char *body = malloc(len);
	if (!body)
		return;
	size_t at = 0;
	body[at++] = kind;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(fields[i]) + 1;
		memcpy(body + at, fields[i], l);
		at += l;
	}
	(void)ob_post(sh->outbox, NULL, NULL, kind == 'R' ? "slot release" : "slot abort", body, len);
}

void orig_shared_release(const char *token, void *arg)
{
	struct orig_shared *sh = arg;
	if (send_release(sh, token) != 0)
		queue(sh, 'R', &token, 1);
}

static void abort_or_queue(struct orig_shared *sh, const struct abort_q *q)
{
	if (send_abort(sh, q) == 0)
		return;
	const char *f[6] = {q->token, q->ikey, q->dkey, q->rate, q->pini, q->dnew};
	queue(sh, 'A', f, 6);
}

int orig_shared_new(const struct cfg *cfg, struct orig_shared **out)
{
	if (strcmp(cfg->store.backend, "redis") != 0) {
		*out = NULL;
		return 0;
	}
	struct orig_shared *sh = calloc(1, sizeof(*sh));
	if (!sh)
		return ENOMEM;
	const struct cfg_orig_timers *t = &cfg->orig.timers;
	sh->life_ms = (t->max_call_s > 0 ? t->max_call_s : 86400) * 1000 + 60000; /* + a minute for the teardown */
	sh->ring_s = t->ring_timeout_s > 0 ? (unsigned)t->ring_timeout_s : 45;
	if (getrandom(&sh->nonce, sizeof(sh->nonce), 0) != (ssize_t)sizeof(sh->nonce))
		sh->nonce = (uint64_t)ch_now_us() ^ ((uint64_t)getpid() << 32);
	const struct st_params p = {
	    .cfg = &cfg->store, .lib = &lib, .ops = op_names, .nops = OP_COUNT, .decides = "originator calls"};
	int rc = st_redis_new(&p, &sh->rd);
	if (rc) {
		free(sh);
		return rc;
	}
	struct ob_params op = {.name = "originator: store outbox",
			       .what = "release",
			       .concurrency = 1,
			       .retries = UINT_MAX - 1,
			       .backoff_ms = 250,
			       .backoff_max_ms = 2000,
			       .queue_max = OUTBOX_MAX,
			       .queue_bytes_max = (size_t)OUTBOX_MAX * (2 * KEY_MAX + 64),
			       .drop_oldest = true,
			       .deliver = deliver,
			       .deliver_arg = sh};
	rc = ob_start(&op, &sh->outbox);
	if (rc) {
		st_redis_free(sh->rd);
		free(sh);
		return rc;
	}
	*out = sh;
	return 0;
}

void orig_shared_free(struct orig_shared *sh)
{
	if (!sh)
		return;
	ob_stop(sh->outbox, 200); /* before the client it delivers through */
	st_redis_free(sh->rd);
	free(sh);
}

static enum orig_admit deny_of(const char *which)
{
	static const struct {
		const char *name;
		enum orig_admit a;
	} t[] = {{"concurrent", ORIG_ADMIT_CONCURRENT},
		 {"initiator", ORIG_ADMIT_INITIATOR},
		 {"rate", ORIG_ADMIT_RATE},
		 {"destination", ORIG_ADMIT_DESTINATION},
		 {"distinct", ORIG_ADMIT_DISTINCT}};
	for (size_t i = 0; which && i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(which, t[i].name) == 0)
			return t[i].a;
	}
	return ORIG_ADMIT_STORE; /* not an answer we know */
}

static const char *el(const redisReply *rep, size_t i)
{
	if (!rep || rep == &st_oom_reply || rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
		return NULL;
	const redisReply *e = rep->element[i];
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS ? e->str : NULL;
}

/* Each limit x fail_open_share, at least 1 (0 stays "no cap"). */
static unsigned share(const struct orig_shared *sh, unsigned limit)
{
	if (!limit)
		return 0;
	unsigned long long v = (unsigned long long)limit * st_redis_share_pm(sh->rd) / 1000ULL;
	return v ? (unsigned)v : 1u;
}

/* Redis did not answer: refuse (fail_closed), or the local registry decides with the limits scaled. A token
 * whose admit was sent (q, else NULL) is aborted, in case Redis runs it after all (an abort is idempotent). */
static enum orig_admit unavailable(struct orig_shared *sh, const struct abort_q *q, struct orig_calls *c,
				   struct orig_sip *sip, const struct orig_limits *lim, const struct orig_call_req *r,
				   const struct orig_call_meta *meta, const char *cb_url,
				   const struct orig_watch *watch, int64_t now_ms, uint64_t *id)
{
	if (q)
		abort_or_queue(sh, q);
	bool open = st_redis_fail_open(sh->rd);
	atomic_fetch_add(&sh->fallbacks[open], 1);
	if (!open)
		return ORIG_ADMIT_STORE;
	struct orig_limits l = *lim;
	l.concurrent_calls = share(sh, lim->concurrent_calls);
	l.calls_per_minute = share(sh, lim->calls_per_minute);
	l.calls_per_minute_per_initiator = share(sh, lim->calls_per_minute_per_initiator);
	l.calls_per_hour_per_destination = share(sh, lim->calls_per_hour_per_destination);
	l.distinct_destinations_per_hour_per_initiator = share(sh, lim->distinct_destinations_per_hour_per_initiator);
	return orig_calls_admit(c, sip, &l, r, meta, cb_url, watch, now_ms, id);
}

/* The limit keys (user@host after translation); false with the local registry's refusal of a URI without one. */
static bool keys_of(const struct orig_limits *lim, const struct orig_call_req *r, char *ikey, char *dkey, size_t cap,
		    enum orig_admit *why)
{
	bool ik = pol_sip_uri_limit_key(r->initiator, ikey, cap) == 0;
	bool dk = pol_sip_uri_limit_key(r->destination, dkey, cap) == 0;
	if (!ik)
		ikey[0] = '\0';
	if (!dk)
		dkey[0] = '\0';
	bool hourly = lim->calls_per_hour_per_destination || lim->distinct_destinations_per_hour_per_initiator;
	if (!ik && lim->calls_per_minute_per_initiator)
		*why = ORIG_ADMIT_INITIATOR;
	else if ((!ik || !dk) && hourly)
		*why = lim->calls_per_hour_per_destination ? ORIG_ADMIT_DESTINATION : ORIG_ADMIT_DISTINCT;
	else
		return true;
	return false;
}

static redisReply *admit_call(struct orig_shared *sh, const struct orig_limits *lim, const char *token,
			      const char *ikey, const char *dkey, int64_t life_ms, bool *sent)
{
	char ks[KEY_MAX], kr[KEY_MAX], ki[KEY_MAX], kd[KEY_MAX], kn[KEY_MAX], kx[KEY_MAX];
	char life[24], conc[16], rate[16], pini[16], pdest[16], dist[16];
	ch_fmt(life, sizeof(life), "%" PRId64, life_ms);
	ch_fmt(conc, sizeof(conc), "%u", lim->concurrent_calls);
	ch_fmt(rate, sizeof(rate), "%u", lim->calls_per_minute);
	ch_fmt(pini, sizeof(pini), "%u", lim->calls_per_minute_per_initiator);
	ch_fmt(pdest, sizeof(pdest), "%u", lim->calls_per_hour_per_destination);
	ch_fmt(dist, sizeof(dist), "%u", lim->distinct_destinations_per_hour_per_initiator);
	const char *kv[] = {key(sh, ks, sizeof(ks), "slots", ""),
			    key(sh, kr, sizeof(kr), "b:rate", ""),
			    key(sh, ki, sizeof(ki), "b:i:", ikey),
			    key(sh, kd, sizeof(kd), "dh:", dkey),
			    key(sh, kn, sizeof(kn), "di:", ikey),
			    key(sh, kx, sizeof(kx), "x:", token),
			    token,
			    life,
			    conc,
			    rate,
			    pini,
			    pdest,
			    dist,
			    dkey};
	return st_redis_fcall_sent(sh->rd, OP_ADMIT, "cho2_admit", 6, kv, 8, sent);
}

enum orig_admit orig_shared_admit(struct orig_shared *sh, struct orig_calls *c, struct orig_sip *sip,
				  const struct orig_limits *lim, const struct orig_call_req *r,
				  const struct orig_call_meta *meta, const char *cb_url, const struct orig_watch *watch,
				  unsigned ring_s, int64_t now_ms, uint64_t *id)
{
	char ikey[KEY_MAX], dkey[KEY_MAX], token[TOKEN_MAX], rate[16], pini[16];
	enum orig_admit res;
	if (!keys_of(lim, r, ikey, dkey, sizeof(ikey), &res))
		return res;
	ch_fmt(token, sizeof(token), "%016" PRIx64 "-%llu", sh->nonce,
	       (unsigned long long)atomic_fetch_add(&sh->seq, 1));
	ch_fmt(rate, sizeof(rate), "%u", lim->calls_per_minute);
	ch_fmt(pini, sizeof(pini), "%u", lim->calls_per_minute_per_initiator);
	/* both legs may ring in turn (anchored), then the call lasts at most max_call_s */
	int64_t life_ms = sh->life_ms + 2000LL * (ring_s > sh->ring_s ? ring_s : sh->ring_s);
	bool sent;
	redisReply *rep = admit_call(sh, lim, token, ikey, dkey, life_ms, &sent);
	const char *what = el(rep, 0);
	struct abort_q q = {token, ikey, dkey, rate, pini, "0"};
	if (!what || (strcmp(what, "ok") != 0 && strcmp(what, "deny") != 0)) {
		if (rep && rep != &st_oom_reply)
			freeReplyObject(rep);
		return unavailable(sh, sent ? &q : NULL, c, sip, lim, r, meta, cb_url, watch, now_ms, id);
	}
	bool ok = strcmp(what, "ok") == 0;
	res = ok ? ORIG_ADMIT_OK : deny_of(el(rep, 1));
	q.dnew = ok && el(rep, 1) && strcmp(el(rep, 1), "1") == 0 ? "1" : "0";
	freeReplyObject(rep);
	if (!ok)
		return res; /* nothing was taken */
	/* Redis decided every limit: the registry records the call (and its slot) without counting again */
	struct orig_limits none = {.keep_ended_s = lim->keep_ended_s};
	struct orig_call_meta m = *meta;
	m.slot = token;
	res = orig_calls_admit(c, sip, &none, r, &m, cb_url, watch, now_ms, id);
	if (res != ORIG_ADMIT_OK)
		abort_or_queue(sh, &q);
	return res;
}

void orig_shared_collect(void *arg)
{
	struct orig_shared *sh = arg;
	st_metrics_collect();
	ch_metrics_set("callhook_store_fallbacks_total", "mode=\"fail_closed\",op=\"orig_admit\"",
		       (double)atomic_load(&sh->fallbacks[0]));
	ch_metrics_set("callhook_store_fallbacks_total", "mode=\"fail_open\",op=\"orig_admit\"",
		       (double)atomic_load(&sh->fallbacks[1]));
	uint64_t sent, failed, dropped;
	ob_stats(sh->outbox, &sent, &failed, &dropped);
	ch_metrics_set("callhook_store_outbox_pending", "op=\"orig_release\"", (double)ob_pending(sh->outbox));
	ch_metrics_set("callhook_store_outbox_total", "op=\"orig_release\",result=\"sent\"", (double)sent);
	ch_metrics_set("callhook_store_outbox_total", "op=\"orig_release\",result=\"failed\"", (double)failed);
	ch_metrics_set("callhook_store_outbox_total", "op=\"orig_release\",result=\"dropped\"", (double)dropped);
}
