/* store/redis.c: the Redis client of the state store: a small connection pool, bounded commands, a breaker, a prober.
 */
#include "store/redis.h"
#include "store/redis_tls.h"

#include "common/common.h"
#include "common/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HSR_BREAK_AFTER 3    /* consecutive failed commands that open the breaker (a failed connect opens it) */
#define HSR_BACKOFF_MIN 250  /* ms: the prober's first wait, doubling */
#define HSR_BACKOFF_MAX 5000 /* ms */
#define HSR_POOL        16   /* connections: more than the hook's threads plus the outbox's */
#define HSR_ARGS        40
#define HSR_SENTINELS   16 /* config/checks.c caps store.redis.sentinels at this */

enum hsr_res { HSR_RES_OK, HSR_RES_ERROR, HSR_RES_BREAKER, HSR_RES_COUNT };

static const char *const res_names[HSR_RES_COUNT] = {"ok", "error", "breaker"};

struct st_redis {
	struct st_redis *next; /* the process's live clients, for the metrics */
	const struct st_lib *lib;
	const char *const *op_names;
	unsigned nops;
	const char *decides;
	char op_labels[ST_OPS][48];
	char *host, *unix_path, *prefix, *user, *password;
	int port;
	/* Sentinel discovery (store.redis.sentinels): the master's address is asked of them for each connection */
	char *sent_host[HSR_SENTINELS];
	int sent_port[HSR_SENTINELS];
	unsigned nsent;
	char *master_name;
	atomic_uint sent_good; /* the sentinel that answered last: asked first */
	char where[200];       /* for the log: the address, the socket, or the master's name and its sentinels */
	struct st_tls *tls;    /* store.redis.tls: every connection through a GnuTLS tunnel, or NULL */
	int64_t db, connect_timeout_ms, timeout_ms;
	bool fail_open;
	unsigned share_pm;
	pthread_mutex_t mu;
	pthread_cond_t freed; /* a connection went back to the pool */
	pthread_cond_t wake;  /* the prober: the breaker opened, or stop */
	redisContext *idle[HSR_POOL];
	unsigned nidle, nopen; /* open = idle + in use */
	unsigned fails;        /* consecutive */
	bool open;             /* the breaker: requests decide at once, the prober reconnects */
	bool was_up;           /* for the one log line per change */
	int64_t down_since_ms;
	int64_t backoff_ms;
	unsigned rng;
	bool stopping;
	pthread_t prober;
	uint64_t ops[ST_OPS][HSR_RES_COUNT];
	uint64_t full;      /* of the ok: refused by Redis at maxmemory */
	uint64_t probes[2]; /* the prober's attempts: failed, succeeded */
};

redisReply st_oom_reply;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct st_redis *reg_head;

static char *dup_opt(const char *s, bool *fail)
{
	if (!s)
		return NULL;
	char *d = ch_strndup(s, strlen(s));
	*fail |= !d;
	return d;
}

static void *prober_main(void *arg);

static int parse_address(const char *address, char **host, int *port)
{
	/* checked "host:port" (config/checks.c); [v6] loses its brackets */
	const char *colon = strrchr(address, ':');
	const char *h = address;
	size_t hl = (size_t)(colon - h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	*host = ch_strndup(h, hl);
	*port = (int)strtol(colon + 1, NULL, 10);
	return *host ? 0 : ENOMEM;
}

int st_redis_new(const struct st_params *p, struct st_redis **out)
{
	if (p->nops > ST_OPS)
		return EINVAL;
	struct st_redis *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	const struct cfg_store *cfg = p->cfg;
	const struct cfg_store_redis *rc = &cfg->redis;
	bool fail = false;
	r->lib = p->lib;
	r->op_names = p->ops;
	r->nops = p->nops;
	r->decides = p->decides;
	for (unsigned i = 0; i < p->nops; i++)
		ch_fmt(r->op_labels[i], sizeof(r->op_labels[i]), "op=\"%s\"", p->ops[i]);
	r->unix_path = dup_opt(rc->unix_path, &fail);
	r->prefix = dup_opt(rc->prefix, &fail);
	r->user = dup_opt(rc->user, &fail);
	r->password = dup_opt(rc->password, &fail);
	if (rc->address)
		fail |= parse_address(rc->address, &r->host, &r->port) != 0;
	for (size_t i = 0; i < rc->sentinels.n && i < HSR_SENTINELS; i++) {
		fail |= parse_address(rc->sentinels.v[i], &r->sent_host[i], &r->sent_port[i]) != 0;
		r->nsent++;
	}
	/* master_name: set and checked by config/checks.c whenever there are sentinels (its default is there) */
	if (r->nsent)
		r->master_name = dup_opt(rc->master_name, &fail);
	if (r->nsent)
		ch_fmt(r->where, sizeof(r->where), "master %s via %u sentinel%s", rc->master_name, r->nsent,
		       r->nsent > 1 ? "s" : "");
	else
		ch_fmt(r->where, sizeof(r->where), "%s",
		       rc->address     ? rc->address
		       : rc->unix_path ? rc->unix_path
				       : "?");
	r->db = rc->db;
	r->connect_timeout_ms = rc->connect_timeout_ms;
	r->timeout_ms = rc->timeout_ms;
	r->fail_open = strcmp(cfg->on_unavailable, "fail_open") == 0;
	r->share_pm = (unsigned)cfg->fail_open_share_pm;
	r->backoff_ms = HSR_BACKOFF_MIN;
	r->rng = (unsigned)ch_now_us();
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->freed, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	bool tls_bad = false;
	if (!fail && rc->has_tls) {
		char why[256] = "";
		tls_bad = st_tls_new(rc->tls.ca_file, rc->tls.server_name, &r->tls, why, sizeof(why)) != 0;
		if (tls_bad)
			ch_err("store: redis tls: %s", why);
	}
	int rc2 = fail ? ENOMEM : tls_bad ? EINVAL : pthread_create(&r->prober, NULL, prober_main, r);
	if (rc2) {
		r->stopping = true; /* no thread to join */
		st_redis_free(r);
		return rc2;
	}
	st_metrics_declare();
	pthread_mutex_lock(&reg_mu);
	r->next = reg_head;
	reg_head = r;
	pthread_mutex_unlock(&reg_mu);
	*out = r;
	return 0;
}

static void unregister(struct st_redis *r)
{
	pthread_mutex_lock(&reg_mu);
	for (struct st_redis **pp = &reg_head; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&reg_mu);
}

void st_redis_free(struct st_redis *r)
{
	if (!r)
		return;
	unregister(r);
	pthread_mutex_lock(&r->mu);
	bool joined = r->stopping;
	r->stopping = true;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->mu);
	if (!joined)
		pthread_join(r->prober, NULL);
	for (unsigned i = 0; i < r->nidle; i++)
		redisFree(r->idle[i]);
	pthread_cond_destroy(&r->freed);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->mu);
	st_tls_free(r->tls); /* after the connections: their pumps end when hiredis closes its ends */
	if (r->password)
		memset(r->password, 0, strlen(r->password));
	free(r->host);
	for (unsigned i = 0; i < r->nsent; i++)
		free(r->sent_host[i]);
	free(r->master_name);
	free(r->unix_path);
	free(r->prefix);
	free(r->user);
	free(r->password);
	free(r);
}

bool st_redis_fail_open(const struct st_redis *r)
{
	return r->fail_open;
}

unsigned st_redis_share_pm(const struct st_redis *r)
{
	return r->share_pm;
}

const char *st_redis_prefix(const struct st_redis *r)
{
	return r->prefix;
}

void st_metrics_declare(void)
{
	ch_metrics_declare("callhook_store_up", "gauge", "1 while Redis answers the state store (breaker closed).");
	ch_metrics_declare("callhook_store_breaker_open", "gauge",
			   "1 while the breaker is open: requests decide at once, the prober reconnects.");
	ch_metrics_declare("callhook_store_ops_total", "counter",
			   "Redis round trips of the state store by op and result (ok, error, breaker: not tried).");
	ch_metrics_declare("callhook_store_op_duration_seconds", "histogram", "Time of one Redis round trip, by op.");
	ch_metrics_declare("callhook_store_full_total", "counter",
			   "Redis round trips refused because Redis is at maxmemory (answered as state table full).");
	ch_metrics_declare(
	    "callhook_store_fallbacks_total", "counter",
	    "Decisions Redis did not answer, by on_unavailable mode (fail_closed: 503, fail_open: local).");
	ch_metrics_declare("callhook_store_probes_total", "counter",
			   "The prober's reconnection attempts while the breaker is open, by result.");
	ch_metrics_declare("callhook_store_outbox_pending", "gauge",
			   "Releases (slot frees, session closes) waiting for Redis in the outbox.");
	ch_metrics_declare("callhook_store_outbox_total", "counter",
			   "Releases of the outbox by result (sent, failed, dropped: the outbox was full).");
}

void st_metrics_collect(void)
{
	pthread_mutex_lock(&reg_mu);
	if (!reg_head) {
		pthread_mutex_unlock(&reg_mu);
		return;
	}
	bool up = true, open = false;
	uint64_t full = 0, probes[2] = {0, 0};
	char labels[96];
	for (struct st_redis *r = reg_head; r; r = r->next) {
		pthread_mutex_lock(&r->mu);
		up &= r->was_up && !r->open;
		open |= r->open;
		full += r->full;
		probes[0] += r->probes[0];
		probes[1] += r->probes[1];
		for (unsigned o = 0; o < r->nops; o++) {
			for (int s = 0; s < HSR_RES_COUNT; s++) {
				ch_fmt(labels, sizeof(labels), "op=\"%s\",result=\"%s\"", r->op_names[o], res_names[s]);
				ch_metrics_set("callhook_store_ops_total", labels, (double)r->ops[o][s]);
			}
		}
		pthread_mutex_unlock(&r->mu);
	}
	pthread_mutex_unlock(&reg_mu);
	ch_metrics_set("callhook_store_up", "", up ? 1.0 : 0.0);
	ch_metrics_set("callhook_store_breaker_open", "", open ? 1.0 : 0.0);
	ch_metrics_set("callhook_store_full_total", "", (double)full);
	ch_metrics_set("callhook_store_probes_total", "result=\"failed\"", (double)probes[0]);
	ch_metrics_set("callhook_store_probes_total", "result=\"ok\"", (double)probes[1]);
}

static struct timeval tv_of(int64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)((ms % 1000) * 1000)};
	return tv;
}

/* A reply that is an error, or none: the connection is dropped (hiredis cannot resync after a timeout). */
static bool reply_bad(redisContext *c, redisReply *rep, char *why, size_t cap)
{
	if (rep && rep->type != REDIS_REPLY_ERROR)
		return false;
	ch_fmt(why, cap, "%s", rep ? rep->str : (c && c->errstr[0] ? c->errstr : "no reply"));
	return true;
}

/* AUTH (the password never reaches a log: Redis's errors do not repeat it) and SELECT. */
static int hello(const struct st_redis *r, redisContext *c, char *why, size_t cap)
{
	redisReply *rep = NULL;
	if (r->password) {
		if (r->user)
			rep = redisCommand(c, "AUTH %s %s", r->user, r->password);
		else
			rep = redisCommand(c, "AUTH %s", r->password);
		bool bad = reply_bad(c, rep, why, cap);
		freeReplyObject(rep);
		if (bad)
			return EACCES;
	}
	if (r->db) {
		rep = redisCommand(c, "SELECT %" PRId64, r->db);
		bool bad = reply_bad(c, rep, why, cap);
		freeReplyObject(rep);
		if (bad)
			return EINVAL;
	}
	return 0;
}

/* The master's address, from the first sentinel that knows it (the one that answered last is asked first);
 * 0, or -1 with why (what the last sentinel asked said). Each sentinel takes at most connect_timeout_ms to
 * connect and timeout_ms to answer. */
static int ask_sentinels(struct st_redis *r, char *host, size_t hcap, int *port, char *why, size_t cap)
{
	unsigned first = atomic_load(&r->sent_good);
	for (unsigned k = 0; k < r->nsent; k++) {
		unsigned i = (first + k) % r->nsent;
		redisContext *sc =
		    redisConnectWithTimeout(r->sent_host[i], r->sent_port[i], tv_of(r->connect_timeout_ms));
		if (!sc || sc->err) {
			ch_fmt(why, cap, "sentinel %s:%d: %s", r->sent_host[i], r->sent_port[i],
			       sc ? sc->errstr : "out of memory");
			if (sc)
				redisFree(sc);
			continue;
		}
		redisReply *rep = redisSetTimeout(sc, tv_of(r->timeout_ms)) == REDIS_OK
				      ? redisCommand(sc, "SENTINEL get-master-addr-by-name %s", r->master_name)
				      : NULL;
		bool ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
			  rep->element[0]->type == REDIS_REPLY_STRING && rep->element[1]->type == REDIS_REPLY_STRING;
		int p = ok ? (int)strtol(rep->element[1]->str, NULL, 10) : 0;
		ok = ok && p > 0 && p < 65536 && ch_scopy(host, hcap, rep->element[0]->str) < hcap;
		if (ok) {
			*port = p;
			atomic_store(&r->sent_good, i);
		} else if (rep && rep->type == REDIS_REPLY_NIL) {
			ch_fmt(why, cap, "sentinel %s:%d does not know master \"%s\"", r->sent_host[i], r->sent_port[i],
			       r->master_name);
		} else {
			ch_fmt(why, cap, "sentinel %s:%d: %s", r->sent_host[i], r->sent_port[i],
			       rep && rep->type == REDIS_REPLY_ERROR ? rep->str
			       : sc->errstr[0]                       ? sc->errstr
					       : "unexpected answer to SENTINEL get-master-addr-by-name");
		}
		freeReplyObject(rep);
		redisFree(sc);
		if (ok)
			return 0;
	}
	return -1;
}

/* A new connection, ready for commands; NULL with why. Without the lock: it may take connect_timeout_ms (and,
 * with sentinels, as long again per sentinel asked). */
static redisContext *connect_now(struct st_redis *r, char *why, size_t cap)
{
	struct timeval ct = tv_of(r->connect_timeout_ms);
	char mhost[256];
	int mport = 0;
	if (r->nsent && ask_sentinels(r, mhost, sizeof(mhost), &mport, why, cap) != 0)
		return NULL;
	redisContext *c;
	if (r->tls) {
		int fd = st_tls_open(r->tls, r->nsent ? mhost : r->host, r->nsent ? mport : r->port,
				     r->connect_timeout_ms, why, cap);
		if (fd < 0)
			return NULL;
		c = redisConnectFd(fd);
		if (!c)
			close(fd); /* ends its pump; redisFree closes it otherwise */
	} else {
		c = r->nsent       ? redisConnectWithTimeout(mhost, mport, ct)
		    : r->unix_path ? redisConnectUnixWithTimeout(r->unix_path, ct)
				   : redisConnectWithTimeout(r->host, r->port, ct);
	}
	if (!c || c->err) {
		if (r->nsent)
			ch_fmt(why, cap, "master %s:%d (from the sentinels): %s", mhost, mport,
			       c ? c->errstr : "out of memory");
		else
			ch_fmt(why, cap, "%s", c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv_of(r->timeout_ms)) != REDIS_OK || hello(r, c, why, cap) != 0) {
		if (!why[0])
			ch_fmt(why, cap, "%s", c->errstr[0] ? c->errstr : "cannot set the timeout");
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Under mu: one more failure; a failed connect (hard) or the HSR_BREAK_AFTER-th in a row opens the breaker. */
static void failed_locked(struct st_redis *r, unsigned op, const char *why, bool hard)
{
	r->ops[op][HSR_RES_ERROR]++;
	if (++r->fails < HSR_BREAK_AFTER && !hard)
		return;
	if (r->open)
		return;
	r->open = true;
	r->down_since_ms = ch_now_ms();
	r->backoff_ms = HSR_BACKOFF_MIN;
	for (unsigned i = 0; i < r->nidle; i++)
		redisFree(r->idle[i]);
	r->nopen -= r->nidle;
	r->nidle = 0;
	ch_warn("store: redis is unavailable (%s): %s are decided %s until it answers again", why, r->decides,
		r->fail_open ? "locally (fail_open)" : "as 503 (fail_closed)");
	pthread_cond_broadcast(&r->wake);
}

/* Under mu: a command got its answer. */
static void answered_locked(struct st_redis *r, unsigned op)
{
	r->ops[op][HSR_RES_OK]++;
	r->fails = 0;
	if (!r->was_up) {
		r->was_up = true;
		ch_info("store: redis is up (%s)", r->where);
	}
}

/* A connection from the pool (opened here when none is idle), or NULL: the breaker is open, or none came
 * free within timeout_ms, or a new one could not be made (which opens the breaker). */
static redisContext *acquire(struct st_redis *r, unsigned op)
{
	pthread_mutex_lock(&r->mu);
	int64_t deadline = ch_now_ms() + r->timeout_ms;
	while (!r->open && !r->nidle && r->nopen >= HSR_POOL && ch_now_ms() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 5 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->freed, &r->mu, &ts);
	}
	if (r->open || (!r->nidle && r->nopen >= HSR_POOL)) {
		r->ops[op][r->open ? HSR_RES_BREAKER : HSR_RES_ERROR]++;
		pthread_mutex_unlock(&r->mu);
		return NULL;
	}
	if (r->nidle) {
		redisContext *c = r->idle[--r->nidle];
		pthread_mutex_unlock(&r->mu);
		return c;
	}
	r->nopen++;
	pthread_mutex_unlock(&r->mu);
	char why[256] = "";
	redisContext *c = connect_now(r, why, sizeof(why));
	if (!c) {
		pthread_mutex_lock(&r->mu);
		r->nopen--;
		failed_locked(r, op, why, true);
		pthread_mutex_unlock(&r->mu);
	}
	return c;
}

/* Back to the pool after an answer; closed after a failure (hiredis cannot resync after a timeout). A hard
 * failure opens the breaker at once. */
static void release(struct st_redis *r, unsigned op, redisContext *c, const char *why, bool hard)
{
	pthread_mutex_lock(&r->mu);
	if (why) {
		redisFree(c);
		r->nopen--;
		failed_locked(r, op, why, hard);
	} else {
		answered_locked(r, op);
		if (r->open || r->nidle >= HSR_POOL) {
			redisFree(c); /* opened while this command ran: the prober makes the next one */
			r->nopen--;
		} else {
			r->idle[r->nidle++] = c;
		}
	}
	pthread_cond_signal(&r->freed);
	pthread_mutex_unlock(&r->mu);
}

static bool missing_function(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_ERROR && rep->str && strstr(rep->str, "Function not found");
}

static bool is_oom(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_ERROR && rep->str && strncmp(rep->str, "OOM", 3) == 0;
}

/* FUNCTION LOAD of the library; true when it is there now. */
static bool load_library(const struct st_redis *r, redisContext *c)
{
	redisReply *lr = redisCommand(c, "FUNCTION LOAD %s", r->lib->text);
	bool ok = lr && (lr->type == REDIS_REPLY_STRING ||
			 (lr->type == REDIS_REPLY_ERROR && strstr(lr->str, "already exists")));
	if (lr && !ok)
		ch_warn("store: cannot load the function library %s: %s", r->lib->name, lr->str ? lr->str : "?");
	freeReplyObject(lr);
	return ok;
}

static redisReply *run(struct st_redis *r, unsigned op, int argc, const char **argv, bool *sent)
{
	*sent = false;
	if (argc > HSR_ARGS || op >= r->nops)
		return NULL; /* a programming error, not an answer */
	redisContext *c = acquire(r, op);
	if (!c)
		return NULL;
	*sent = true;
	size_t lens[HSR_ARGS];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	int64_t t0 = ch_now_us();
	redisReply *rep = redisCommandArgv(c, argc, argv, lens);
	if (missing_function(rep)) {
		freeReplyObject(rep);
		rep = load_library(r, c) ? redisCommandArgv(c, argc, argv, lens) : NULL;
	}
	ch_metrics_observe("callhook_store_op_duration_seconds", r->op_labels[op], (double)(ch_now_us() - t0) / 1e6);
	char why[256] = "";
	if (is_oom(rep)) {
		freeReplyObject(rep);
		release(r, op, c, NULL, false);
		pthread_mutex_lock(&r->mu);
		r->full++;
		pthread_mutex_unlock(&r->mu);
		return &st_oom_reply;
	}
	/* READONLY: this server is a replica now (a failover demoted it): every pooled connection goes, and the
	 * prober finds the master again (with sentinels, asking them) */
	bool readonly = rep && rep->type == REDIS_REPLY_ERROR && rep->str && strncmp(rep->str, "READONLY", 8) == 0;
	if (reply_bad(c, rep, why, sizeof(why))) {
		freeReplyObject(rep);
		release(r, op, c, why, readonly);
		return NULL;
	}
	release(r, op, c, NULL, false);
	return rep;
}

redisReply *st_redis_run(struct st_redis *r, unsigned op, int argc, const char **argv)
{
	bool sent;
	return run(r, op, argc, argv, &sent);
}

/* ---- the prober: while the breaker is open, it alone talks to Redis ---- */

/* A fresh connection that answers the library's version function (the library loaded if missing); NULL with
 * why. */
static redisContext *probe(struct st_redis *r, char *why, size_t cap)
{
	redisContext *c = connect_now(r, why, cap);
	if (!c)
		return NULL;
	redisReply *rep = redisCommand(c, "FCALL %s 0", r->lib->version_fn);
	if (missing_function(rep)) {
		freeReplyObject(rep);
		rep = load_library(r, c) ? redisCommand(c, "FCALL %s 0", r->lib->version_fn) : NULL;
	}
	bool ok = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == r->lib->version;
	if (!ok && !reply_bad(c, rep, why, cap))
		ch_fmt(why, cap, "unexpected answer to FCALL %s", r->lib->version_fn);
	freeReplyObject(rep);
	if (!ok) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Under mu: wait ms (or until stop) on the monotonic clock. */
static void nap_locked(struct st_redis *r, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&r->wake, &r->mu, &ts);
}

static void *prober_main(void *arg)
{
	struct st_redis *r = arg;
	char last[256] = "";
	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		if (!r->open) {
			pthread_cond_wait(&r->wake, &r->mu);
			continue;
		}
		/* exponential backoff with +-20% jitter, so that instances do not probe in step */
		int64_t span = r->backoff_ms * 2 / 5 + 1;
		nap_locked(r, r->backoff_ms - r->backoff_ms / 5 + (int64_t)(rand_r(&r->rng) % (unsigned)span));
		if (r->stopping || !r->open)
			continue;
		pthread_mutex_unlock(&r->mu);
		char why[256] = "";
		redisContext *c = probe(r, why, sizeof(why));
		pthread_mutex_lock(&r->mu);
		r->probes[c != NULL]++;
		if (!c) {
			if (strcmp(why, last) != 0)
				ch_dbg("store: redis probe failed: %s", why);
			ch_scopy(last, sizeof(last), why);
			r->backoff_ms = r->backoff_ms * 2 > HSR_BACKOFF_MAX ? HSR_BACKOFF_MAX : r->backoff_ms * 2;
			continue;
		}
		if (r->nopen < HSR_POOL) {
			r->idle[r->nidle++] = c;
			r->nopen++;
		} else {
			redisFree(c);
		}
		r->open = false;
		r->fails = 0;
		r->was_up = true;
		last[0] = '\0';
		ch_info("store: redis is up (%s) after %.1f s unavailable", r->where,
			(double)(ch_now_ms() - r->down_since_ms) / 1000.0);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

redisReply *st_redis_fcall_sent(struct st_redis *r, unsigned op, const char *fn, int nkeys, const char **kv, int nargs,
				bool *sent)
{
	const char *argv[HSR_ARGS];
	char nk[8];
	*sent = false;
	if (3 + nkeys + nargs > HSR_ARGS)
		return NULL;
	ch_fmt(nk, sizeof(nk), "%d", nkeys);
	argv[0] = "FCALL";
	argv[1] = fn;
	argv[2] = nk;
	for (int i = 0; i < nkeys + nargs; i++)
		argv[i + 3] = kv[i];
	return run(r, op, 3 + nkeys + nargs, argv, sent);
}

redisReply *st_redis_fcall(struct st_redis *r, unsigned op, const char *fn, int nkeys, const char **kv, int nargs)
{
	bool sent;
	return st_redis_fcall_sent(r, op, fn, nkeys, kv, nargs, &sent);
}
