/* tests/it/test_ipv6_budget.c: the daemon on IPv6 loopback; per-IP budgets of IPv6 clients count by prefix. Skipped
 * (77) when ::1 is not available. */
#include "tests/check.h"
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static CURL *c;
static int port;

static bool ipv6_loopback(void)
{
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	if (s < 0)
		return false;
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static long connect_status(const char *sid, char *body, size_t cap)
{
	char url[128], b[512];
	snprintf(url, sizeof(url), "http://[::1]:%d/rest-hook/connect", port);
	snprintf(b, sizeof(b), "{\"sessionId\":\"%s\",\"origin\":\"https://v6.test\"}", sid);
	const char *hdr[] = {"Content-Type: application/json", NULL};
	struct chr r;
	int rc = th_http(c, "POST", url, hdr, b, strlen(b), &r);
	CHECK_MSG(rc == 0, "curl error %d", rc);
	snprintf(body, cap, "%s", r.body ? r.body : "");
	long st = r.status;
	chr_free(&r);
	return st;
}

/* want NULL: only the status is checked */
static void expect(const char *sid, long status, const char *want)
{
	char got[512];
	long st = connect_status(sid, got, sizeof(got));
	CHECK_MSG(st == status && (!want || strcmp(got, want) == 0), "%s: got %ld %s", sid, st, got);
}

TEST_CASE(prefix_budget)
{
	if (!ipv6_loopback())
		SKIP("no IPv6 loopback (::1)");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	struct chd d = {0};
	const char *conf =
	    "hook = { listen = [ \"[::1]:0\" ]; };\n"
	    "sites = ( { name = \"v6\"; domain = \"v6.test\"; sip = { login = \"1\"; }; callee = \"2\";\n"
	    "  limits = { connects_per_minute_per_ip = 2; }; } );\n";
	if (chd_start(&d, conf) != 0) {
		CHECK(!"daemon did not start on [::1]");
	} else {
		port = d.hook_port;
		CHECK(port > 0);
		const char *over = "{\"status\":429,\"reason\":\"connects_per_minute_per_ip exceeded\"}";
		/* a WCS that sees the visitor on ::1: the budget key is ::/64 (the default prefix) */
		expect("/[::1]:5000/a", 200, NULL);
		expect("/[::2]:5000/b", 200, NULL);
		expect("/[::ffff:ffff:ffff:ffff]:5000/c", 429, over);
		expect("/::1:5001/d", 429, over);
		/* the next /64 has its own budget; IPv4 loopback, mapped or not, is one more */
		expect("/[0:0:0:1::1]:5000/e", 200, NULL);
		expect("/[::ffff:127.0.0.1]:5000/f", 200, NULL);
		expect("/127.0.0.1:5001/g", 200, NULL);
		expect("/127.0.0.1:5002/h", 429, over);
		CHECK(chd_wait_log(&d, "peer=::1 http=POST method=connect site=v6 verdict=budget status=429", 1000));
		CHECK(chd_stop(&d) == 0);
	}
	chd_cleanup(&d);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}
