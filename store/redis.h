/* store/redis.h: the Redis client of the shared state store: a small pool, bounded commands, a breaker, a prober. */
#ifndef CALLHOOK_STORE_REDIS_H
#define CALLHOOK_STORE_REDIS_H

#include "config/config.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * One struct st_redis per user of Redis (the hook's state store, the originator's limits): it owns its
 * connections, its breaker and its prober thread, and knows one Redis function library, loaded (FUNCTION LOAD)
 * when a command finds a function of it missing. It knows nothing of the decisions: those are the library's
 * functions and their callers' (hook/store_redis_ops.c, originator/shared.c). Every function is thread-safe.
 */
struct st_redis;

/* A function library: its name (for the log lines), its text (FUNCTION LOAD's argument), and the no-writes
 * function that answers the integer version (the prober's check). All borrowed, static. */
struct st_lib {
	const char *name;
	const char *text;
	const char *version_fn;
	long long version;
};

struct st_params {
	const struct cfg_store *cfg; /* borrowed: what is needed is copied */
	const struct st_lib *lib;    /* borrowed, static */
	const char *const *ops;      /* the op label of each kind of round trip, borrowed, static */
	unsigned nops;               /* at most ST_OPS */
	const char *decides;         /* for the log lines: "connect and call", "originator calls" */
};
#define ST_OPS 8

/* Copies what it needs and starts the prober thread; does not connect (callhook starts when Redis is down).
 * 0, EINVAL (too many ops), ENOMEM or pthread_create's errno; *out untouched on failure. */
int st_redis_new(const struct st_params *p, struct st_redis **out);
/* Stops the prober, closes the connections. NULL-safe. */
void st_redis_free(struct st_redis *r);
bool st_redis_fail_open(const struct st_redis *r);
unsigned st_redis_share_pm(const struct st_redis *r);  /* fail_open_share in thousandths */
const char *st_redis_prefix(const struct st_redis *r); /* store.redis.prefix */

/* A reply that stands for "Redis is at maxmemory and refused the write" (never freed). */
extern redisReply st_oom_reply;

/* One command, one round trip (none while the breaker is open), at most timeout_ms: its reply
 * (freeReplyObject), &st_oom_reply, or NULL (Redis did not answer; the failure is counted and may open the
 * breaker). A missing function of the library loads it and sends the command once more. op < nops. */
redisReply *st_redis_run(struct st_redis *r, unsigned op, int argc, const char **argv);
/* FCALL fn with nkeys keys then nargs arguments (kv): as st_redis_run. */
redisReply *st_redis_fcall(struct st_redis *r, unsigned op, const char *fn, int nkeys, const char **kv, int nargs);
/* st_redis_fcall, and *sent: the command left this process (without an answer it may still run on Redis). */
redisReply *st_redis_fcall_sent(struct st_redis *r, unsigned op, const char *fn, int nkeys, const char **kv, int nargs,
				bool *sent);

/* The store's metric families (callhook_store_*), declared once; harmless twice. */
void st_metrics_declare(void);
/* callhook_store_up (every client up), callhook_store_breaker_open (any open), the ops counters by op and
 * result, full and probes (summed) over every live client of the process; for a scrape's collector. */
void st_metrics_collect(void);

#endif
