/* tests/it/test_hook_cases.c: plays one data case of tests/data/hook/<case>/ against the real daemon: the request
 * file is sent over libcurl, the answer must be the expect file's status and exact body (tests/data/hook/README.md). */
#include "common/common.h"
#include "harness.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES CH_TEST_DATA "/hook"

/* The file's bytes with one trailing newline dropped (so the files stay editable); new, NULL on error. */
static char *read_data(const char *path, size_t *len)
{
	char *s = NULL;
	if (ch_read_file(path, 1 << 20, &s, len) != 0)
		return NULL;
	if (*len && s[*len - 1] == '\n')
		s[--*len] = '\0';
	return s;
}

/* "@DATA@" in the config text becomes tests/data; new string. */
static char *expand_conf(const char *text)
{
	struct ch_buf b;
	ch_buf_init(&b, 1 << 20);
	for (const char *p = text; *p;) {
		const char *at = strstr(p, "@DATA@");
		size_t n = at ? (size_t)(at - p) : strlen(p);
		(void)ch_buf_add(&b, p, n);
		if (!at)
			break;
		(void)ch_buf_adds(&b, CH_TEST_DATA);
		p = at + 6;
	}
	(void)ch_buf_nul(&b);
	return b.data;
}

struct request {
	char method[16], path[512];
	const char *headers[16];
	char *raw;
	const char *body;
	size_t body_len;
};

/* "METHOD PATH\nheader\n...\n\nbody": parsed in place in raw (taken). 0 or -1. */
static int parse_request(char *raw, size_t len, struct request *rq)
{
	memset(rq, 0, sizeof *rq);
	rq->raw = raw;
	char *nl = strchr(raw, '\n');
	if (!nl || sscanf(raw, "%15s %511s", rq->method, rq->path) != 2)
		return -1;
	size_t nh = 0;
	char *p = nl + 1;
	for (;;) {
		char *e = memchr(p, '\n', len - (size_t)(p - raw));
		if (!e) { /* headers only, no body */
			if (*p && nh < 15)
				rq->headers[nh++] = p;
			rq->body = "";
			return 0;
		}
		*e = '\0';
		if (e == p)
			break;
		if (nh < 15)
			rq->headers[nh++] = p;
		p = e + 1;
	}
	rq->body = p + 1;
	rq->body_len = len - (size_t)(rq->body - raw);
	return 0;
}

static void play(const char *name)
{
	char path[512];
	size_t n = 0, rlen = 0, elen = 0;
	(void)ch_fmt(path, sizeof path, "%s/%s/conf", CASES, name);
	char *conf_name = read_data(path, &n);
	REQUIRE(conf_name != NULL);
	(void)ch_fmt(path, sizeof path, "%s/_conf/%s.conf", CASES, conf_name);
	free(conf_name);
	char *conf_text = read_data(path, &n), *conf = conf_text ? expand_conf(conf_text) : NULL;
	free(conf_text);
	(void)ch_fmt(path, sizeof path, "%s/%s/request", CASES, name);
	char *raw = read_data(path, &rlen);
	(void)ch_fmt(path, sizeof path, "%s/%s/expect", CASES, name);
	char *expect = read_data(path, &elen);
	struct request rq;
	CHECK(conf && raw && expect && parse_request(raw, rlen, &rq) == 0);
	struct chd d = {0};
	if (conf && raw && expect && chd_start(&d, conf) == 0) {
		CURL *c = curl_easy_init();
		char url[600];
		struct chr r;
		CHECK(th_http(c, rq.method, th_url(url, sizeof url, d.hook_port, rq.path), rq.headers, rq.body,
			      rq.body_len, &r) == CURLE_OK);
		char *eb = strchr(expect, '\n');
		long want = strtol(expect, NULL, 10);
		CHECK_MSG(r.status == want, "status %ld, want %ld", r.status, want);
		CHECK_MSG(strcmp(r.body, eb ? eb + 1 : "") == 0, "body\n  %s\nwant\n  %s", r.body, eb ? eb + 1 : "");
		chr_free(&r);
		curl_easy_cleanup(c);
		CHECK(chd_stop(&d) == 0);
	}
	chd_cleanup(&d);
	free(conf);
	free(raw);
	free(expect);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CASE (a folder of %s)\n", argv[0], CASES);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	play(argv[1]);
	curl_global_cleanup();
	return check_done();
}
