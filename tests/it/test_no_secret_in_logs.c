/* tests/it/test_no_secret_in_logs.c: after every daemon test (a ctest fixture cleanup), greps every log and --check
 * output they left for every secret they configured. */
#include "../check.h"
#include "secrets.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What is checked: the files the harness collected into CH_TEST_LOG_DIR
 * (every daemon's log, every `callhook --check` / failed start-up output).
 * Against: the secrets in tests/it/secrets.h, plus every secret of every
 * config the harness started (cfg_secrets, recorded in *.secrets). A match
 * fails the test and keeps the files; a clean run deletes them so the next
 * run starts empty. Secrets shorter than MIN_SECRET are not greppable
 * without false hits and are counted, not checked. */

#define MIN_SECRET  6
#define MAX_SECRETS 4096

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
	size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
	buf[got] = '\0';
	fclose(f);
	*len = got;
	return buf;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Line number of the first occurrence of secret in buf, or 0. */
static size_t find_line(const char *buf, size_t len, const char *secret)
{
	const char *hit = memmem(buf, len, secret, strlen(secret));
	if (!hit)
		return 0;
	size_t line = 1;
	for (const char *p = buf; p < hit; p++)
		line += *p == '\n';
	return line;
}

/* Print a secret without printing it: its first two bytes and length. */
static void masked(const char *s, char *out, size_t cap)
{
	snprintf(out, cap, "%.2s... (%zu bytes)", s, strlen(s));
}

struct secrets {
	const char *v[MAX_SECRETS];
	size_t n, from_configs, too_short;
	char *bufs[256];
	size_t nbufs;
};

static void add_secret(struct secrets *S, const char *s)
{
	if (strlen(s) < MIN_SECRET) {
		S->too_short++;
		return;
	}
	for (size_t i = 0; i < S->n; i++)
		if (strcmp(S->v[i], s) == 0)
			return;
	if (S->n < MAX_SECRETS)
		S->v[S->n++] = s;
}

/* The checker must be able to fail: a planted line is found, a clean one is not. */
static void self_test(const struct secrets *S)
{
	char planted[256];
	snprintf(planted, sizeof(planted), "2026-01-01T00:00:00Z info req=1 peer=127.0.0.1\nauth=%s\n", S->v[0]);
	CHECK(find_line(planted, strlen(planted), S->v[0]) == 2);
	const char *clean = "2026-01-01T00:00:00Z info password ***\n";
	for (size_t i = 0; i < S->n; i++)
		CHECK(find_line(clean, strlen(clean), S->v[i]) == 0);
}

/* The secrets recorded from every config the harness started (each .secrets file of the run). */
static void add_config_secrets(struct secrets *S, DIR *dir)
{
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (!ends_with(e->d_name, ".secrets") || S->nbufs >= 256)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", CH_TEST_LOG_DIR, e->d_name);
		size_t len;
		char *buf = slurp(path, &len);
		if (!buf)
			continue;
		S->bufs[S->nbufs++] = buf;
		for (size_t off = 0; off < len; off += strlen(buf + off) + 1) {
			size_t before = S->n;
			add_secret(S, buf + off);
			S->from_configs += S->n - before;
		}
	}
}

int main(void)
{
	struct secrets S = {0};
	const char *fixed[] = CH_TEST_SECRETS;
	for (size_t i = 0; fixed[i]; i++)
		add_secret(&S, fixed[i]);
	size_t n_fixed = S.n;

	DIR *dir = opendir(CH_TEST_LOG_DIR);
	if (!dir) {
		fprintf(stderr, "no log folder %s: run this after the http/sip tests (ctest orders it last)\n",
			CH_TEST_LOG_DIR);
		CHECK(!"no logs collected");
		return check_done();
	}
	struct dirent *e;
	add_config_secrets(&S, dir);
	self_test(&S);

	rewinddir(dir);
	size_t files = 0, bytes = 0, lines = 0, leaks = 0;
	char *checked[4096];
	size_t nchecked = 0;
	while ((e = readdir(dir)) != NULL) {
		if (!ends_with(e->d_name, ".log") && !ends_with(e->d_name, ".secrets"))
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", CH_TEST_LOG_DIR, e->d_name);
		if (nchecked < 4096)
			checked[nchecked++] = strdup(path);
		if (!ends_with(e->d_name, ".log"))
			continue;
		size_t len;
		char *buf = slurp(path, &len);
		if (!buf)
			continue;
		files++;
		bytes += len;
		for (size_t i = 0; i < len; i++)
			lines += buf[i] == '\n';
		for (size_t i = 0; i < S.n; i++) {
			size_t line = find_line(buf, len, S.v[i]);
			if (line) {
				char m[64];
				masked(S.v[i], m, sizeof(m));
				fprintf(stderr, "LEAK: %s:%zu: secret %s\n", path, line, m);
				leaks++;
			}
		}
		free(buf);
	}
	closedir(dir);
	printf(
	    "%zu logs (%zu bytes, %zu lines) checked for %zu secrets (%zu listed, %zu more from started configs; %zu "
	    "shorter than %d bytes not checked)\n",
	    files, bytes, lines, S.n, n_fixed, S.from_configs, S.too_short, MIN_SECRET);
	CHECK_MSG(files > 0, "no logs in %s: run this after the http/sip tests", CH_TEST_LOG_DIR);
	CHECK_MSG(leaks == 0, "%zu secret(s) found in logs; the files are kept in %s", leaks, CH_TEST_LOG_DIR);
	/* a clean run leaves an empty folder for the next one */
	for (size_t i = 0; i < nchecked; i++) {
		if (leaks == 0 && files > 0)
			unlink(checked[i]);
		free(checked[i]);
	}
	for (size_t i = 0; i < S.nbufs; i++)
		free(S.bufs[i]);
	return check_done();
}
