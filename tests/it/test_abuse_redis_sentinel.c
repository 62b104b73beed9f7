/* tests/it/test_abuse_redis_sentinel.c: store.redis.sentinels: the master is asked of Redis Sentinel; after a
 * failover (the master SIGKILLed, its replica promoted) callhook finds the new master by itself; sentinels that
 * cannot be reached or do not know the name are "Redis unavailable" (503, one log line), never a crash. */
#include "tests/check.h"
#include "redis_pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* REQUIRE that says why. */
#define REQUIRE_MSG(cond, ...)                                                                                         \
	do {                                                                                                           \
		bool req_ok_ = (cond);                                                                                 \
		CHECK_MSG(req_ok_, __VA_ARGS__);                                                                       \
		if (!req_ok_)                                                                                          \
			return;                                                                                        \
	} while (0)

/* The master port the sentinel reports for "callhook", or -1. */
static int sentinel_master_port(void)
{
	char out[256];
	if (rp_query(&rsent, "SENTINEL get-master-addr-by-name callhook", out, sizeof(out)) != 0)
		return -1;
	/* *2\r\n$9\r\n127.0.0.1\r\n$5\r\n12345\r\n */
	const char *p = strstr(out, "127.0.0.1\r\n$");
	p = p ? strstr(p + 11, "\r\n") : NULL;
	return p ? (int)strtol(p + 2, NULL, 10) : -1;
}

static bool replica_synced(void)
{
	char out[4096];
	return rp_query(&rp2, "INFO replication", out, sizeof(out)) == 0 && strstr(out, "master_link_status:up");
}

TEST_CASE(failover_to_the_promoted_replica)
{
	NEED_REDIS();
	char port[16];
	snprintf(port, sizeof(port), "%d", rp.port);
	const char *const replica[] = {"--replicaof", "127.0.0.1", port, NULL};
	REQUIRE(rp_start_with(&rp2, a.dir, replica) == 0);
	bool synced = false;
	for (int i = 0; i < 200 && !(synced = replica_synced()); i++)
		usleep(50000);
	REQUIRE_MSG(synced, "the replica did not sync with the master in 10 s");
	REQUIRE(rp_start_sentinel(&rsent, a.dir, rp.port, "callhook") == 0);
	REQUIRE(sentinel_master_port() == rp.port);
	char where[128];
	snprintf(where, sizeof(where), "sentinels = [ \"127.0.0.1:%d\" ]; master_name = \"callhook\";", rsent.port);
	REQUIRE(pair_start(&a, wide, "fail_closed", "", where) == 0);
	EXPECT_STATUS(do_connect(a.hook_port, NULL, "/10.8.7.1:1/s", O, NULL), 200);
	CHECK(rp_int(&rp, "EXISTS callhook:s:/10.8.7.1:1/s") == 1); /* written on the master the sentinel named */
	CHECK(chd_wait_log(&a, "store: redis is up (master callhook via 1 sentinel)", 5000));

	rp_kill(&rp);
	int now = -1;
	for (int i = 0; i < 300 && (now = sentinel_master_port()) != rp2.port; i++)
		usleep(100000);
	REQUIRE_MSG(now == rp2.port, "the sentinel did not promote the replica in 30 s (it says %d)", now);
	/* the pooled connections to the dead master fail, the breaker opens, the prober asks the sentinel again */
	long status = 0;
	char sid[64];
	for (int i = 0; i < 200 && status != 200; i++) {
		snprintf(sid, sizeof(sid), "/10.8.7.2:%d/s", i + 1);
		struct chr r = do_connect(a.hook_port, NULL, sid, O, NULL);
		status = r.status;
		CHECK_MSG(status == 200 || (status == 503 && strstr(r.body, "state store unavailable")),
			  "during the failover: %ld %s", status, r.body ? r.body : "");
		chr_free(&r);
		if (status != 200)
			usleep(100000);
	}
	REQUIRE_MSG(status == 200, "no 200 within 20 s of the promotion");
	char key[96];
	snprintf(key, sizeof(key), "EXISTS callhook:s:%s", sid);
	CHECK(rp_int(&rp2, key) == 1); /* on the promoted replica */
	/* its state is read back from the new master: the call has the session's callee */
	struct chr r = do_call(a.hook_port, "s-1", sid, NULL);
	CHECK_MSG(r.status == 200 && r.body && strstr(r.body, "\"callee\":\"60001\""), "%ld %s", r.status,
		  r.body ? r.body : "");
	chr_free(&r);
	/* a new connection asks the sentinel: usually the pool's failures (fewer than the breaker's 3) are all
	 * there is, and no request waits for the prober */
	char *log = chd_log(&a);
	CHECK_MSG(!strstr(log, " error ") && !strstr(log, "AddressSanitizer"), "%s", log);
	free(log);
}

TEST_CASE(sentinels_that_cannot_answer)
{
	NEED_REDIS();
	/* nothing listens on the first; the second is a sentinel that knows no master "elsewhere" */
	REQUIRE(rp_start_sentinel(&rsent, a.dir, rp.port, "callhook") == 0);
	int nobody = rp_free_port();
	char where[160];
	snprintf(where, sizeof(where),
		 "sentinels = [ \"127.0.0.1:%d\", \"127.0.0.1:%d\" ]; master_name = \"elsewhere\";", nobody,
		 rsent.port);
	REQUIRE(pair_start(&a, wide, "fail_closed", "", where) == 0); /* it starts: Redis may come later */
	EXPECT_ERR(do_connect(a.hook_port, NULL, "/10.8.8.1:1/s", O, NULL), 503, "state store unavailable");
	EXPECT_ERR(do_call(a.hook_port, "u-1", "/10.8.8.1:1/s", NULL), 503, "state store unavailable");
	char want[160];
	snprintf(want, sizeof(want), "sentinel 127.0.0.1:%d does not know master \"elsewhere\"", rsent.port);
	CHECK(chd_wait_log(&a, want, 2000));
	/* events still get their 200 */
	EXPECT_STATUS(event(a.hook_port, "/rest-hook/ConnectionStatusEvent",
			    "{\"sessionId\":\"/10.8.8.1:1/s\",\"status\":\"DISCONNECTED\"}"),
		      200);
	CHECK(rp_int(&rp, "DBSIZE") == 0); /* nothing reached the real server */
}
