/* tests/unit/test_store_config.c: the store group: defaults (memory), the Redis settings, their errors. */
#include "tests/check.h"
#include "common/common.h"
#include "config/config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>

static const char *site = "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ];\n"
			  "  sip = { login = \"10001\"; password = \"pw-secret-1\"; }; callee = \"10002\"; } );\n";

/* Load site + extra; on error the formatted message (static), else NULL and *out. */
static const char *load(const char *extra, struct cfg **out)
{
	static char msg[1400];
	char text[4096];
	snprintf(text, sizeof(text), "%s%s", site, extra);
	struct cfg_error err;
	*out = NULL;
	if (cfg_load_string(text, "t.conf", "/tmp", out, &err) == 0)
		return NULL;
	cfg_error_format(&err, msg, sizeof(msg));
	return msg;
}

TEST_CASE(defaults_memory)
{
	struct cfg *c;
	CHECK(load("", &c) == NULL);
	if (!c)
		return;
	CHECK_STR(c->store.backend, "memory");
	CHECK_STR(c->store.on_unavailable, "fail_closed");
	CHECK(c->store.fail_open_share_pm == 500);
	CHECK_STR(c->store.redis.prefix, "callhook:");
	CHECK(c->store.redis.timeout_ms == 50 && c->store.redis.connect_timeout_ms == 200);
	CHECK(c->store.redis.address == NULL && c->store.redis.db == 0);
	cfg_free(c);
}

TEST_CASE(redis_settings)
{
	struct cfg *c;
	CHECK(load("store = { backend = \"redis\"; redis = { address = \"127.0.0.1:6380\"; db = 3; prefix = \"x:\";"
		   " timeout_ms = 20; }; on_unavailable = \"fail_open\"; fail_open_share = 0.25; };",
		   &c) == NULL);
	if (!c)
		return;
	CHECK_STR(c->store.backend, "redis");
	CHECK_STR(c->store.redis.address, "127.0.0.1:6380");
	CHECK(c->store.redis.db == 3 && c->store.redis.timeout_ms == 20);
	CHECK(c->store.fail_open_share_pm == 250);
	cfg_free(c);
	/* Sentinel discovery: no address; master_name defaults to "callhook" */
	CHECK(
	    load("store = { backend = \"redis\"; redis = { sentinels = [ \"127.0.0.1:26379\", \"[::1]:26380\" ]; }; };",
		 &c) == NULL);
	if (!c)
		return;
	CHECK(c->store.redis.sentinels.n == 2 && c->store.redis.address == NULL);
	CHECK_STR(c->store.redis.sentinels.v[1], "[::1]:26380");
	CHECK_STR(c->store.redis.master_name, "callhook");
	cfg_free(c);
}

struct err_case {
	const char *extra, *msg;
};

TEST_CASE(errors)
{
	static const struct err_case cases[] = {
	    {"store = { backend = \"redis\"; };",
	     "store.redis.address: backend \"redis\" needs address, unix or sentinels"},
	    {"store = { backend = \"etcd\"; };", "store.backend: \"etcd\" is not one of"},
	    {"store = { redis = { address = \"localhost\"; }; };", "is not host:port"},
	    {"store = { redis = { address = \"a:1\"; unix = \"/s\"; }; };", "set either address or unix"},
	    {"store = { redis = { sentinels = [ \"a:26379\" ]; address = \"a:1\"; }; };",
	     "store.redis.sentinels: set either sentinels"},
	    {"store = { redis = { sentinels = [ \"a:26379\", \"b\" ]; }; };",
	     "store.redis.sentinels: \"b\" is not host:port"},
	    {"store = { redis = { sentinels = [ \"a:26379\" ]; master_name = \"\"; }; };",
	     "store.redis.master_name: the master's name"},
	    {"store = { redis = { sentinels = [ \"a:26379\" ]; master_name = \"a b\"; }; };",
	     "store.redis.master_name: the master's name"},
	    {"store = { redis = { tls = { ca_file = \"/nonexistent/ca.pem\"; }; }; };",
	     "store.redis.tls.ca_file: cannot read /nonexistent/ca.pem"},
	    {"store = { redis = { unix = \"/run/r.sock\"; tls = { }; }; };",
	     "store.redis.tls: TLS is for a TCP address"},
	    {"store = { redis = { sentinels = [ \"a:1\" ]; tls = { }; }; };", "store.redis.tls: TLS with sentinels"},
	    {"store = { fail_open_share = 1.5; };", "store.fail_open_share: 1.5 is out of range [0, 1]"},
	    {"store = { redis = { timeout_ms = 0; }; };", "store.redis.timeout_ms: 0 is out of range"},
	    {"store = { redis = { password_file = \"/nonexistent/pw\"; }; };", "store.redis.password_file: cannot use"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg *c;
		const char *m = load(cases[i].extra, &c);
		CHECK(m != NULL);
		if (!m) {
			cfg_free(c);
			continue;
		}
		if (!strstr(m, cases[i].msg))
			fprintf(stderr, "case %zu: got '%s'\n", i, m);
		CHECK(strstr(m, cases[i].msg) != NULL);
	}
}

TEST_CASE(password_is_a_secret)
{
	char dir[] = "/tmp/ch-store-cfg-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char path[128], text[512];
	snprintf(path, sizeof(path), "%s/redis.pass", dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL);
	fputs("redis-secret-pw-42\n", f);
	fclose(f);
	chmod(path, 0600);
	snprintf(text, sizeof(text),
		 "store = { backend = \"redis\"; redis = { address = \"127.0.0.1:6379\"; user = \"callhook\";"
		 " password_file = \"%s\"; }; };",
		 path);
	struct cfg *c;
	CHECK(load(text, &c) == NULL);
	if (c) {
		CHECK_STR(c->store.redis.password, "redis-secret-pw-42");
		const char *secrets[8];
		size_t n = cfg_secrets(c, secrets, 8);
		bool found = false;
		for (size_t i = 0; i < n; i++)
			found |= strcmp(secrets[i], "redis-secret-pw-42") == 0;
		CHECK(found);
		cfg_free(c);
	}
	unlink(path);
	rmdir(dir);
}
