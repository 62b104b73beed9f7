/* tests/it/test_json_suite.c: every JSONTestSuite file posted to the daemon as an event, on one keep-alive connection.
 */
#include "tests/check.h"
#include "harness.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *conf =
    "log = { level = \"info\"; };\n"
    "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 1048576; max_json_depth = 512;\n"
    "  rest_client_config = \"" CH_TEST_DATA "/wcs/rest_client_config.json\"; };\n"
    "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ];\n"
    "   sip = { login = \"10001\"; password = \"Shop-Secret-77\"; domain = \"sip.example.com\"; };\n"
    "   callee = \"10002\"; } );\n";

static struct chd d;
static CURL *c;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	return buf;
}

/* What the hook must answer for a y_ file: an object that our policy takes
 * (no duplicate key, no \u0000: Jansson with the hook's flags) comes back. */
static bool y_mirrors(const char *b, size_t len)
{
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", b[i]))
		i++;
	json_t *j = json_loadb(b, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL);
	bool ok = j && json_is_object(j) && i < len && b[i] == '{';
	json_decref(j);
	return ok;
}

static void post_file(const char *dir, const char *name, size_t *n200, size_t *n400)
{
	char path[1024], url[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	size_t len = 0;
	char *b = slurp(path, &len);
	REQUIRE(b != NULL);
	const char *hdr[] = {"Content-Type: application/json;charset=UTF-8", NULL};
	struct chr r;
	int rc =
	    th_http(c, "POST", th_url(url, sizeof(url), d.hook_port, "/rest-hook/CallStatusEvent"), hdr, b, len, &r);
	CHECK_MSG(rc == CURLE_OK && (r.status == 200 || r.status == 400), "%s: curl %d, HTTP %ld", name, rc, r.status);
	if (name[0] == 'y' && y_mirrors(b, len))
		CHECK_MSG(r.status == 200 && r.len == len && memcmp(r.body, b, len) == 0, "%s: %ld %s", name, r.status,
			  r.body);
	else if (name[0] == 'y' || name[0] == 'n')
		CHECK_MSG(r.status == 400, "%s: %ld %s", name, r.status, r.body);
	*n200 += r.status == 200;
	*n400 += r.status == 400;
	chr_free(&r);
	free(b);
}

TEST_CASE(every_file)
{
	const char *dir = CH_TEST_DATA "/JSONTestSuite/test_parsing";
	DIR *dp = opendir(dir);
	REQUIRE(dp != NULL);
	size_t files = 0, n200 = 0, n400 = 0;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 7 || strcmp(e->d_name + l - 5, ".json") != 0 || e->d_name[1] != '_')
			continue;
		post_file(dir, e->d_name, &n200, &n400);
		files++;
	}
	closedir(dp);
	CHECK_MSG(files > 300, "%zu files", files);
	printf("%zu files: %zu answered 200, %zu answered 400\n", files, n200, n400);
	/* still alive, still answering */
	char url[256];
	struct chr r;
	CHECK(th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/healthz"), NULL, NULL, 0, &r) == CURLE_OK &&
	      r.status == 200);
	chr_free(&r);
}

int test_setup(const char *name)
{
	(void)name;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	if (chd_start(&d, conf) != 0)
		return -1;
	return 0;
}

void test_teardown(void)
{
	if (d.pid > 0)
		CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}
