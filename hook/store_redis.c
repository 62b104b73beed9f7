/* hook/store_redis.c: the hook's Redis client: store/redis.c with the hook's function library and ops. */
#include "hook/store_redis_int.h"

#include <errno.h>
#include <stdlib.h>

struct hsr {
	struct st_redis *c;
};

/* check_src: table */
static const char *const op_names[HSR_OP_COUNT] = {
    [HSR_OP_CONNECT] = "connect",         [HSR_OP_CALL] = "call",
    [HSR_OP_CALL_END] = "call_end",       [HSR_OP_SESSION_CLOSE] = "session_close",
    [HSR_OP_SESSION_GET] = "session_get", [HSR_OP_STATS] = "stats",
};

static const struct st_lib lib = {.name = HSR_LIBRARY, .text = hsr_library, .version_fn = "ch2_version", .version = 2};

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
