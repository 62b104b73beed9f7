/* hook/store_redis_int.h: what the Redis store's files share: the function library, one round trip, the ops. */
#ifndef HOOK_STORE_REDIS_INT_H
#define HOOK_STORE_REDIS_INT_H

#include "hook/store_redis.h"

#include "store/redis.h"

extern const char hsr_library[];
#define HSR_LIBRARY "callhook_v3"

/* The kinds of round trip, for the metrics (op="..."). */
enum hsr_op {
	HSR_OP_CONNECT,
	HSR_OP_CONNECT_CANCEL,
	HSR_OP_CALL,
	HSR_OP_CALL_END,
	HSR_OP_CALL_CANCEL,
	HSR_OP_SESSION_CLOSE,
	HSR_OP_SESSION_GET,
	HSR_OP_STATS,
	HSR_OP_COUNT
};

/* The reply that stands for "Redis is at maxmemory and refused the write" (store/redis.h). */
#define hsr_oom_reply st_oom_reply

/* One command, one round trip: st_redis_run on the hook's client (its reply, &hsr_oom_reply or NULL). */
redisReply *hsr_run(struct hsr *r, enum hsr_op op, int argc, const char **argv);
/* FCALL fn with nkeys keys then nargs arguments (kv), through the shared client (st_redis_fcall). */
redisReply *hsr_fcall(struct hsr *r, enum hsr_op op, const char *fn, int nkeys, const char **kv, int nargs);
/* hsr_fcall, and *sent: the command left this process (st_redis_fcall_sent). */
redisReply *hsr_fcall_sent(struct hsr *r, enum hsr_op op, const char *fn, int nkeys, const char **kv, int nargs,
			   bool *sent);
/* The key prefix (store.redis.prefix). */
const char *hsr_prefix(const struct hsr *r);

#endif
