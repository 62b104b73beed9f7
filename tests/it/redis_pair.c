/* tests/it/redis_pair.c: the fixture of the Redis store's tests (redis_pair.h): setup starts redis-server in a's
 * temp dir (with persistence for the outbox case, which restarts it), teardown stops all three. */
#include "redis_pair.h"

#include "secrets.h"

#include <stdio.h>
#include <string.h>

struct chd a, b;
struct redis_peer rp, rp2, rsent;
const char *const wide = "connects_per_minute_per_ip = 1000; calls_per_minute_per_ip = 1000; calls_per_session = "
			 "1000; calls_per_minute = 1000; concurrent_calls = 1000;";

int pair_start(struct chd *d, const char *lim, const char *mode, const char *hook_extra, const char *redis_extra)
{
	char conf[4096], where[64];
	/* with sentinels in redis_extra the daemon asks them for the master; an address there is the one */
	if (strstr(redis_extra, "sentinels") || strstr(redis_extra, "address"))
		where[0] = '\0';
	else
		snprintf(where, sizeof(where), "address = \"127.0.0.1:%d\";", rp.port);
	CHECK(chd_write(d, "token.key", CH_SECRET_TOKEN "\n", 0600) == 0);
	snprintf(conf, sizeof(conf),
		 "log = { level = \"debug\"; };\n"
		 "hook = { listen = [ \"127.0.0.1:0\" ]; %s };\n"
		 "store = { backend = \"redis\"; redis = { %s timeout_ms = 100; %s };\n"
		 "  on_unavailable = \"%s\"; fail_open_share = 0.5; };\n"
		 "sites = ( { name = \"shop\"; origins = [ \"" O "\" ];\n"
		 "  sip = { login = \"60000\"; password = \"%s\"; }; callee = \"60001\";\n"
		 "  token = { secret_file = \"token.key\"; required = false; max_age_s = 300; leeway_s = 30; };\n"
		 "  limits = { %s }; },\n"
		 " { name = \"other\"; origins = [ \"https://other.example.net\" ];\n"
		 "  sip = { login = \"61000\"; password = \"%s\"; }; callee = \"61001\"; } );\n",
		 hook_extra, where, redis_extra, mode, CH_SECRET_SIP_ABUSE, lim, CH_SECRET_SIP_ABUSE);
	return chd_start(d, conf);
}

struct chr event(int port, const char *path, const char *body)
{
	return post(port, path, NULL, body);
}

int test_setup(const char *name)
{
	if (access(REDIS_BIN, X_OK) != 0)
		return 0; /* each case skips */
	if (chd_init(&a) != 0 || chd_init(&b) != 0)
		return 1;
	rp.port = 0;
	rp.aof = strcmp(name, "release_replayed_from_outbox") == 0;
	return rp_start(&rp, a.dir) == 0 ? 0 : 1;
}

void test_teardown(void)
{
	if (a.pid > 0)
		chd_stop(&a);
	if (b.pid > 0)
		chd_stop(&b);
	rp_kill(&rp);
	rp_kill(&rp2);
	rp_kill(&rsent);
	rp2.port = rsent.port = 0;
	chd_cleanup(&a);
	chd_cleanup(&b);
	if (c)
		curl_easy_cleanup(c);
	c = NULL;
}
