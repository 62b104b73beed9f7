/* tests/it/redis_pair.h: the fixture of the Redis store's tests: two daemons (a, b) on one real redis-server (rp). */
#ifndef CALLHOOK_TESTS_IT_REDIS_PAIR_H
#define CALLHOOK_TESTS_IT_REDIS_PAIR_H

#include "abuse.h"
#include "harness.h"
#include "redis_peer.h"
#include "tests/check.h"

#include <unistd.h>

#define O "https://www.example.com"

extern struct chd a, b;
extern struct redis_peer rp;
/* More servers a case may start (a replica, a sentinel): stopped by the teardown. */
extern struct redis_peer rp2, rsent;
/* Site limits far above what a case sends. */
extern const char *const wide;

/* A daemon with two sites (an unknown session's call is then refused: one site alone would take it) on rp;
 * lim: the first site's limits; mode: store.on_unavailable; hook_extra and redis_extra: more settings of
 * hook and of store.redis (with "sentinels" or "address" in it, not rp's address). */
int pair_start(struct chd *d, const char *lim, const char *mode, const char *hook_extra, const char *redis_extra);

/* An event POSTed as WCS would (no authorisation). */
struct chr event(int port, const char *path, const char *body);

/* Skips the case without redis-server, else opens the keep-alive handle. */
#define NEED_REDIS()                                                                                                   \
	do {                                                                                                           \
		if (access(REDIS_BIN, X_OK) != 0)                                                                      \
			SKIP("no %s (scripts/deps.sh --test installs redis-server)", REDIS_BIN);                       \
		c = curl_easy_init();                                                                                  \
	} while (0)

#endif
