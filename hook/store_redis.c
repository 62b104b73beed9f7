/* hook/store_redis.c: the hook's Redis client: store/redis.c with the hook's function library and ops. */
#include "hook/store_redis_int.h"

#include "common/common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

struct hsr {
	struct st_redis *c;
	uint64_t nonce;    /* this instance's, in every attempt name */
	atomic_ullong seq; /* attempt names */
};

/* check_src: table */
static const char *const op_names[HSR_OP_COUNT] = {
    [HSR_OP_CONNECT] = "connect",
    [HSR_OP_CONNECT_CANCEL] = "connect_cancel",
    [HSR_OP_CALL] = "call",
    [HSR_OP_CALL_END] = "call_end",
    [HSR_OP_CALL_CANCEL] = "call_cancel",
    [HSR_OP_SESSION_CLOSE] = "session_close",
    [HSR_OP_SESSION_GET] = "session_get",
    [HSR_OP_STATS] = "stats",
};

static const struct st_lib lib = {.name = HSR_LIBRARY, .text = hsr_library, .version_fn = "ch3_version", .version = 3};

int hsr_new(const struct cfg_store *cfg, struct hsr **out)
{
	struct hsr *r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	const struct st_params p = {
	    .cfg = cfg, .lib = &lib, .ops = op_names, .nops = HSR_OP_COUNT, .decides = "connect and call"};
	int rc = st_redis_new(&p, &r->c);
	if (rc) {
		free(r);
		return rc;
	}
	if (getrandom(&r->nonce, sizeof(r->nonce), 0) != (ssize_t)sizeof(r->nonce))
		r->nonce = (uint64_t)ch_now_us() ^ ((uint64_t)getpid() << 32);
	*out = r;
	return 0;
}

void hsr_free(struct hsr *r)
{
	if (!r)
		return;
	st_redis_free(r->c);
	free(r);
}

bool hsr_fail_open(const struct hsr *r)
{
	return st_redis_fail_open(r->c);
}

unsigned hsr_share_pm(const struct hsr *r)
{
	return st_redis_share_pm(r->c);
}

void hsr_attempt(struct hsr *r, char buf[HSR_ATTEMPT_MAX])
{
	ch_fmt(buf, HSR_ATTEMPT_MAX, "%016" PRIx64 "-%llu", r->nonce, atomic_fetch_add(&r->seq, 1) + 1);
}

const char *hsr_prefix(const struct hsr *r)
{
	return st_redis_prefix(r->c);
}

void hsr_metrics(struct hsr *r)
{
	(void)r;
	st_metrics_collect();
}

redisReply *hsr_run(struct hsr *r, enum hsr_op op, int argc, const char **argv)
{
	return st_redis_run(r->c, (unsigned)op, argc, argv);
}

redisReply *hsr_fcall(struct hsr *r, enum hsr_op op, const char *fn, int nkeys, const char **kv, int nargs)
{
	return st_redis_fcall(r->c, (unsigned)op, fn, nkeys, kv, nargs);
}

redisReply *hsr_fcall_sent(struct hsr *r, enum hsr_op op, const char *fn, int nkeys, const char **kv, int nargs,
			   bool *sent)
{
	return st_redis_fcall_sent(r->c, (unsigned)op, fn, nkeys, kv, nargs, sent);
}
