/* hook/store_redis.c: the hook's state in Redis: one connection, bounded commands, a breaker, one FCALL per step. */
#include "hook/store_redis.h"

#include "common/common.h"
#include "common/metrics.h"
#include "hook/store_redis_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HSR_BREAK_AFTER 3    /* consecutive failures that open the breaker */
#define HSR_BACKOFF_MIN 250  /* ms */
#define HSR_BACKOFF_MAX 5000 /* ms */
#define HSR_ARGS        16

enum hsr_state { HSR_UNKNOWN, HSR_STATE_UP, HSR_STATE_DOWN };

struct hsr {
	char *host, *unix_path, *prefix, *user, *password;
	int port;
	int64_t db, connect_timeout_ms, timeout_ms;
	bool fail_open;
	unsigned share_pm;
	redisContext *c;
	unsigned fails;        /* consecutive */
	int64_t open_until_ms; /* the breaker decides at once until then */
	int64_t backoff_ms;
	enum hsr_state state;     /* for the one log line per change */
	uint64_t ok, err, broken; /* ops by result: ok, error (tried, failed), breaker (not tried) */
	uint64_t full;            /* of the ok: refused by Redis at maxmemory */
	char *origin;             /* hsr_session_origin's answer */
};

static char *dup_opt(const char *s, bool *fail)
{
	if (!s)
		return NULL;
	char *d = ch_strndup(s, strlen(s));
	*fail |= !d;
	return d;
}

int hsr_new(const struct cfg_store *cfg, struct hsr **out)
{
	struct hsr *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	const struct cfg_store_redis *rc = &cfg->redis;
	bool fail = false;
	r->unix_path = dup_opt(rc->unix_path, &fail);
	r->prefix = dup_opt(rc->prefix, &fail);
	r->user = dup_opt(rc->user, &fail);
	r->password = dup_opt(rc->password, &fail);
	if (rc->address) {
		/* checked "host:port" (config/checks.c); [v6] loses its brackets */
		const char *colon = strrchr(rc->address, ':');
		const char *h = rc->address;
		size_t hl = (size_t)(colon - h);
		if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
			h++;
			hl -= 2;
		}
		r->host = ch_strndup(h, hl);
		fail |= !r->host;
		r->port = (int)strtol(colon + 1, NULL, 10);
	}
	r->db = rc->db;
	r->connect_timeout_ms = rc->connect_timeout_ms;
	r->timeout_ms = rc->timeout_ms;
	r->fail_open = strcmp(cfg->on_unavailable, "fail_open") == 0;
	r->share_pm = (unsigned)cfg->fail_open_share_pm;
	r->backoff_ms = HSR_BACKOFF_MIN;
	if (fail) {
		hsr_free(r);
		return ENOMEM;
	}
	*out = r;
	return 0;
}

void hsr_free(struct hsr *r)
{
	if (!r)
		return;
	if (r->c)
		redisFree(r->c);
	if (r->password)
		memset(r->password, 0, strlen(r->password));
	free(r->host);
	free(r->unix_path);
	free(r->prefix);
	free(r->user);
	free(r->password);
	free(r->origin);
	free(r);
}

bool hsr_fail_open(const struct hsr *r)
{
	return r->fail_open;
}

unsigned hsr_share_pm(const struct hsr *r)
{
	return r->share_pm;
}

void hsr_metrics(struct hsr *r)
{
	ch_metrics_set("callhook_store_up", "", r->state == HSR_STATE_UP ? 1.0 : 0.0);
	ch_metrics_set("callhook_store_ops_total", "result=\"ok\"", (double)r->ok);
	ch_metrics_set("callhook_store_ops_total", "result=\"error\"", (double)r->err);
	ch_metrics_set("callhook_store_ops_total", "result=\"breaker\"", (double)r->broken);
	ch_metrics_set("callhook_store_full_total", "", (double)r->full);
}

static struct timeval tv_of(int64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)((ms % 1000) * 1000)};
	return tv;
}

static void set_state(struct hsr *r, enum hsr_state s, const char *why)
{
	if (r->state == s)
		return;
	r->state = s;
	if (s == HSR_STATE_UP)
		ch_info("store: redis is up (%s)", r->host ? r->host : r->unix_path);
	else
		ch_warn("store: redis is unavailable (%s): connect and call are decided %s", why,
			r->fail_open ? "locally (fail_open)" : "as 503 (fail_closed)");
}

/* A reply that is an error, or none: the connection is dropped (hiredis cannot resync after a timeout). */
static bool reply_bad(struct hsr *r, redisReply *rep, char *why, size_t cap)
{
	if (rep && rep->type != REDIS_REPLY_ERROR)
		return false;
	snprintf(why, cap, "%s", rep ? rep->str : (r->c && r->c->errstr[0] ? r->c->errstr : "no reply"));
	return true;
}

static int hello(struct hsr *r, char *why, size_t cap)
{
	redisReply *rep = NULL;
	if (r->password) {
		if (r->user)
			rep = redisCommand(r->c, "AUTH %s %s", r->user, r->password);
		else
			rep = redisCommand(r->c, "AUTH %s", r->password);
		bool bad = reply_bad(r, rep, why, cap);
		freeReplyObject(rep);
		if (bad)
			return EACCES;
	}
	if (r->db) {
		rep = redisCommand(r->c, "SELECT %" PRId64, r->db);
		bool bad = reply_bad(r, rep, why, cap);
		freeReplyObject(rep);
		if (bad)
			return EINVAL;
	}
	return 0;
}

static int connect_now(struct hsr *r, char *why, size_t cap)
{
	struct timeval ct = tv_of(r->connect_timeout_ms);
	r->c = r->unix_path ? redisConnectUnixWithTimeout(r->unix_path, ct)
			    : redisConnectWithTimeout(r->host, r->port, ct);
	if (!r->c || r->c->err) {
		snprintf(why, cap, "%s", r->c ? r->c->errstr : "out of memory");
		if (r->c)
			redisFree(r->c);
		r->c = NULL;
		return EIO;
	}
	if (redisSetTimeout(r->c, tv_of(r->timeout_ms)) != REDIS_OK || hello(r, why, cap) != 0) {
		redisFree(r->c);
		r->c = NULL;
		return EIO;
	}
	return 0;
}

static void failed(struct hsr *r, const char *why)
{
	r->err++;
	if (r->c) {
		redisFree(r->c);
		r->c = NULL;
	}
	if (++r->fails >= HSR_BREAK_AFTER) {
		/* decide at once for a while, then try again; jitter keeps instances from probing together */
		int64_t jitter = (int64_t)(ch_now_us() % (r->backoff_ms / 4 + 1));
		r->open_until_ms = ch_now_ms() + r->backoff_ms + jitter;
		r->backoff_ms = r->backoff_ms * 2 > HSR_BACKOFF_MAX ? HSR_BACKOFF_MAX : r->backoff_ms * 2;
	}
	set_state(r, HSR_STATE_DOWN, why);
}

static bool missing_function(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_ERROR && rep->str && strstr(rep->str, "Function not found");
}

static redisReply *load_and_retry(struct hsr *r, int argc, const char **argv, const size_t *lens)
{
	redisReply *lr = redisCommand(r->c, "FUNCTION LOAD %s", hsr_library);
	bool ok = lr && (lr->type == REDIS_REPLY_STRING ||
			 (lr->type == REDIS_REPLY_ERROR && strstr(lr->str, "already exists")));
	if (lr && !ok)
		ch_warn("store: cannot load the function library callhook_v1: %s", lr->str ? lr->str : "?");
	freeReplyObject(lr);
	if (!ok)
		return NULL;
	return redisCommandArgv(r->c, argc, argv, lens);
}

/* Redis at maxmemory (noeviction) refused a write: an answer ("full"), not an outage. */
static redisReply oom_reply;
#define HSR_OOM (-2)

static bool is_oom(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_ERROR && rep->str && strncmp(rep->str, "OOM", 3) == 0;
}

/* One command (an FCALL or a plain one). Its reply (freeReplyObject), &oom_reply (not to be freed), or NULL:
 * Redis did not answer. */
static redisReply *run(struct hsr *r, int argc, const char **argv)
{
	if (r->open_until_ms && ch_now_ms() < r->open_until_ms) {
		r->broken++;
		return NULL;
	}
	char why[256] = "";
	if (!r->c && connect_now(r, why, sizeof(why)) != 0) {
		failed(r, why);
		return NULL;
	}
	size_t lens[HSR_ARGS];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
	if (missing_function(rep)) {
		freeReplyObject(rep);
		rep = load_and_retry(r, argc, argv, lens);
	}
	if (is_oom(rep)) {
		freeReplyObject(rep);
		r->ok++;
		r->full++;
		return &oom_reply;
	}
	if (reply_bad(r, rep, why, sizeof(why))) {
		freeReplyObject(rep);
		failed(r, why);
		return NULL;
	}
	r->ok++;
	r->fails = 0;
	r->open_until_ms = 0;
	r->backoff_ms = HSR_BACKOFF_MIN;
	set_state(r, HSR_STATE_UP, "");
	return rep;
}

/* An FCALL whose answer is an integer. */
static enum hsr_result fcall_int(struct hsr *r, const char *fn, int nkeys, const char **kv, int nargs, long long *v)
{
	const char *argv[HSR_ARGS];
	char nk[8];
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[0] = "FCALL";
	argv[1] = fn;
	argv[2] = nk;
	if (3 + nkeys + nargs > HSR_ARGS)
		return HSR_DOWN; /* a programming error, not an answer */
	for (int i = 0; i < nkeys + nargs; i++)
		argv[i + 3] = kv[i];
	redisReply *rep = run(r, 3 + nkeys + nargs, argv);
	if (rep == &oom_reply) {
		*v = HSR_OOM;
		return HSR_OK;
	}
	if (!rep)
		return HSR_DOWN;
	bool ok = rep->type == REDIS_REPLY_INTEGER;
	if (ok)
		*v = rep->integer;
	freeReplyObject(rep);
	return ok ? HSR_OK : HSR_DOWN;
}

/* "<prefix><kind>:<name>" in a caller's buffer. */
static const char *key(const struct hsr *r, char *buf, size_t cap, const char *kind, const char *name)
{
	snprintf(buf, cap, "%s%s:%s", r->prefix, kind, name);
	return buf;
}

#define KEYCAP (HS_KEY_MAX + 160)

static const char *field(const redisReply *rep, const char *name)
{
	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
		if (rep->element[i]->type == REDIS_REPLY_STRING && strcmp(rep->element[i]->str, name) == 0)
			return rep->element[i + 1]->type == REDIS_REPLY_STRING ? rep->element[i + 1]->str : NULL;
	}
	return NULL;
}

static long long num(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

/* HGETALL of key: the reply (an array, maybe empty), or NULL (down). */
static redisReply *hgetall(struct hsr *r, const char *k)
{
	const char *argv[] = {"HGETALL", k};
	redisReply *rep = run(r, 2, argv);
	if (rep && rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

enum hsr_result hsr_session_get(struct hsr *r, const char *sid, struct hs_session *out, int *rc)
{
	char k[KEYCAP];
	redisReply *rep = hgetall(r, key(r, k, sizeof(k), "s", sid));
	if (!rep)
		return HSR_DOWN;
	const char *site = field(rep, "site");
	*rc = site ? 0 : ENOENT;
	if (site) {
		memset(out, 0, sizeof(*out));
		snprintf(out->site, sizeof(out->site), "%s", site);
		const char *b = field(rep, "button");
		snprintf(out->button, sizeof(out->button), "%s", b ? b : "");
		out->button_locked = num(field(rep, "locked")) != 0;
		out->calls = (unsigned)num(field(rep, "calls"));
		out->created_ms = num(field(rep, "created"));
	}
	freeReplyObject(rep);
	return HSR_OK;
}

static int64_t ttl_of(int64_t ttl_ms)
{
	return ttl_ms < 1 ? 1 : ttl_ms;
}

enum hsr_result hsr_session_put(struct hsr *r, const char *sid, const struct hs_session *s, size_t max, int64_t ttl_ms,
				int *rc)
{
	char k[KEYCAP], idx[KEYCAP], ttl[24], mx[24], calls[16], created[24];
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_of(ttl_ms));
	snprintf(mx, sizeof(mx), "%zu", max > (size_t)INT64_MAX ? (size_t)INT64_MAX : max);
	snprintf(calls, sizeof(calls), "%u", s->calls);
	snprintf(created, sizeof(created), "%" PRId64, s->created_ms);
	const char *kv[] = {key(r, k, sizeof(k), "s", sid),
			    key(r, idx, sizeof(idx), "sessions", "index"),
			    ttl,
			    mx,
			    sid,
			    s->site,
			    s->button,
			    s->button_locked ? "1" : "0",
			    calls,
			    created};
	long long v;
	if (fcall_int(r, "ch1_sess_put", 2, kv, 8, &v) != HSR_OK)
		return HSR_DOWN;
	*rc = v == 0 ? 0 : ENOSPC;
	return HSR_OK;
}

enum hsr_result hsr_session_count(struct hsr *r, size_t *n)
{
	char idx[KEYCAP];
	const char *kv[] = {key(r, idx, sizeof(idx), "sessions", "index")};
	long long v;
	if (fcall_int(r, "ch1_sess_count", 1, kv, 0, &v) != HSR_OK)
		return HSR_DOWN;
	*n = v > 0 ? (size_t)v : 0; /* read-only: answered at maxmemory too */
	return HSR_OK;
}

enum hsr_result hsr_session_set_origin(struct hsr *r, const char *sid, const char *origin, int *rc)
{
	char k[KEYCAP];
	const char *kv[] = {key(r, k, sizeof(k), "s", sid), origin};
	long long v;
	if (fcall_int(r, "ch1_sess_origin", 1, kv, 1, &v) != HSR_OK)
		return HSR_DOWN;
	*rc = v == 0 ? 0 : ENOENT;
	return HSR_OK;
}

enum hsr_result hsr_session_origin(struct hsr *r, const char *sid, const char **out)
{
	char k[KEYCAP];
	const char *argv[] = {"HGET", key(r, k, sizeof(k), "s", sid), "origin"};
	free(r->origin);
	r->origin = NULL;
	*out = NULL;
	redisReply *rep = run(r, 3, argv);
	if (!rep)
		return HSR_DOWN;
	if (rep->type == REDIS_REPLY_STRING)
		r->origin = ch_strndup(rep->str, rep->len);
	freeReplyObject(rep);
	*out = r->origin;
	return HSR_OK;
}

enum hsr_result hsr_session_del(struct hsr *r, const char *sid)
{
	char k[KEYCAP], idx[KEYCAP];
	const char *kv[] = {key(r, k, sizeof(k), "s", sid), key(r, idx, sizeof(idx), "sessions", "index"), sid};
	long long v;
	return fcall_int(r, "ch1_sess_del", 2, kv, 1, &v);
}

enum hsr_result hsr_bucket_take(struct hsr *r, const char *name, unsigned capacity, bool commit, int *rc)
{
	char k[KEYCAP], cap[16];
	snprintf(cap, sizeof(cap), "%u", capacity);
	const char *kv[] = {key(r, k, sizeof(k), "b", name), cap, commit ? "1" : "0"};
	long long v;
	if (fcall_int(r, "ch1_bucket", 1, kv, 2, &v) != HSR_OK)
		return HSR_DOWN;
	/* at maxmemory: the check cannot say, the take is refused as full */
	*rc = v == HSR_OOM ? (commit ? ENOSPC : 0) : v == 0 ? 0 : EAGAIN;
	return HSR_OK;
}

enum hsr_result hsr_jti_bind(struct hsr *r, const char *jti, const char *sid, int64_t ttl_ms, bool commit, int *rc)
{
	char k[KEYCAP], ttl[24];
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_of(ttl_ms));
	const char *kv[] = {key(r, k, sizeof(k), "j", jti), sid, ttl, commit ? "1" : "0"};
	long long v;
	if (fcall_int(r, "ch1_jti", 1, kv, 3, &v) != HSR_OK)
		return HSR_DOWN;
	*rc = v == HSR_OOM ? (commit ? ENOSPC : 0) : v == 0 ? 0 : EEXIST;
	return HSR_OK;
}

enum hsr_result hsr_call_get(struct hsr *r, const char *call_id, const char *site, const char *sid, struct hs_call *out,
			     bool *same_owner, int *rc)
{
	char k[KEYCAP];
	redisReply *rep = hgetall(r, key(r, k, sizeof(k), "c", call_id));
	if (!rep)
		return HSR_DOWN;
	const char *csite = field(rep, "site");
	*rc = csite ? 0 : ENOENT;
	if (csite) {
		memset(out, 0, sizeof(*out));
		snprintf(out->site, sizeof(out->site), "%s", csite);
		const char *b = field(rep, "button"), *why = field(rep, "reason"), *owner = field(rep, "sid");
		snprintf(out->button, sizeof(out->button), "%s", b ? b : "");
		snprintf(out->reason, sizeof(out->reason), "%s", why ? why : "");
		out->status = (int)num(field(rep, "status"));
		out->active = num(field(rep, "active")) != 0;
		*same_owner = strcmp(csite, site) == 0 && strcmp(owner ? owner : "", sid) == 0;
	}
	freeReplyObject(rep);
	return HSR_OK;
}

enum hsr_result hsr_call_put(struct hsr *r, const char *call_id, const char *sid, const struct hs_call *c,
			     int64_t ttl_ms, unsigned max_active, int *rc)
{
	char k[KEYCAP], slots[KEYCAP], ttl[24], status[16], cap[16];
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_of(ttl_ms));
	snprintf(cap, sizeof(cap), "%u", max_active);
	snprintf(status, sizeof(status), "%d", c->status);
	const char *kv[] = {key(r, k, sizeof(k), "c", call_id),
			    key(r, slots, sizeof(slots), "slots", c->site),
			    ttl,
			    sid,
			    c->site,
			    c->button,
			    status,
			    c->reason,
			    c->active ? "1" : "0",
			    r->prefix,
			    cap};
	long long v;
	if (fcall_int(r, "ch1_call_put", 2, kv, 9, &v) != HSR_OK)
		return HSR_DOWN;
	*rc = v == HSR_OOM ? ENOSPC : v == 1 ? EAGAIN : 0;
	return HSR_OK;
}

enum hsr_result hsr_call_forget(struct hsr *r, const char *call_id)
{
	char k[KEYCAP];
	const char *kv[] = {key(r, k, sizeof(k), "c", call_id), r->prefix};
	long long v;
	return fcall_int(r, "ch1_call_forget", 1, kv, 1, &v);
}

enum hsr_result hsr_call_end(struct hsr *r, const char *call_id, const char *sid, bool *freed)
{
	char k[KEYCAP];
	const char *kv[] = {key(r, k, sizeof(k), "c", call_id), r->prefix, sid ? "0" : "1", sid ? sid : ""};
	long long v;
	if (fcall_int(r, "ch1_call_end", 1, kv, 3, &v) != HSR_OK)
		return HSR_DOWN;
	*freed = v == 1; /* at maxmemory: not freed, the slot lapses at its deadline */
	return HSR_OK;
}

enum hsr_result hsr_site_active(struct hsr *r, const char *site, unsigned *n)
{
	char slots[KEYCAP];
	const char *kv[] = {key(r, slots, sizeof(slots), "slots", site)};
	long long v;
	if (fcall_int(r, "ch1_site_active", 1, kv, 0, &v) != HSR_OK)
		return HSR_DOWN;
	*n = v > 0 ? (unsigned)v : 0;
	return HSR_OK;
}
