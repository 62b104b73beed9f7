/* tests/it/harness.h: start the real callhook daemon on loopback and talk to it with libcurl. */
#ifndef CH_HARNESS_H
#define CH_HARNESS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct chd {
	pid_t pid;
	char dir[256]; /* private temp dir: callhook.conf, callhook.log, any files */
	char conf[320];
	char log[320];
	int hook_port; /* first port of each listener, parsed from the log */
	int admin_port;
	int orig_http_port;
	int orig_xml_port;
	int sip_port;
};

/* Make the temp dir (once per struct). 0 or errno. */
int chd_init(struct chd *d);
/* Write a file into d->dir with mode; "@DIR@" in text is replaced by d->dir. */
int chd_write(struct chd *d, const char *name, const char *text, unsigned mode);
/* Write conf_text (with "@DIR@" replaced) as callhook.conf and start
 * CALLHOOK_BIN -c it, stderr to callhook.log; wait until it logs "ready"
 * (10 s at most). 0 on success; on failure prints the log. */
int chd_start(struct chd *d, const char *conf_text);
/* Start with extra argv (NULL-terminated), wait for "ready" or exit. */
int chd_start_args(struct chd *d, const char *const *extra);
/* Run callhook with args and the given config text to completion; returns
 * the exit status, output (stdout+stderr) in *out (caller frees). */
int chd_run(struct chd *d, const char *conf_text, const char *const *args, char **out);
/* SIGTERM and wait (5 s, then SIGKILL). Returns the exit status, or -1. */
int chd_stop(struct chd *d);
/* Send a signal. */
int chd_signal(struct chd *d, int sig);
/* The whole log so far; new string. */
char *chd_log(struct chd *d);
/* Wait until the log contains needle (timeout_ms). */
bool chd_wait_log(struct chd *d, const char *needle, int timeout_ms);
/* Remove the temp dir. With CH_TEST_LOG_DIR defined, the daemon log (and
 * each chd_run output, and a log about to be replaced by a restart) is first
 * copied into that run-wide folder, and the secrets of each config the
 * harness starts are recorded there, for tests/it/test_zz_secrets.c. */
void chd_cleanup(struct chd *d);

struct chr {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	char ctype[128];
	char allow[128];
	char *headers; /* raw response headers */
};

/* One request on a reusable easy handle (keep-alive). headers: NULL-terminated
 * list or NULL. body may be NULL. Returns the CURLcode. */
int th_http(CURL *c, const char *method, const char *url, const char *const *headers, const char *body, size_t len,
	    struct chr *out);
void chr_free(struct chr *r);
/* URL for the hook: "http://127.0.0.1:<port><path>" into buf. */
const char *th_url(char *buf, size_t cap, int port, const char *path);

/* The value of one series of a /metrics text: the line that starts with series (its name and labels as
 * written, e.g. `callhook_store_up` or `callhook_verdicts_total{verdict="closed"}`) and a space; -1 when no
 * line does. th_metric_at GETs http://127.0.0.1:port/metrics first (-1 when that fails). */
double th_metric(const char *text, const char *series);
double th_metric_at(int port, const char *series);

/* Whether r is exactly the hook's error answer: status, application/json, {"status":N,"reason":"..."}
 * (prints what it got when not). */
bool th_is_error(const struct chr *r, long status, const char *reason);

/* For a request expression r_: exactly that error (EXPECT_ERR) or that status (EXPECT_STATUS), then freed.
 * They CHECK: include tests/check.h where they are used. */
#define EXPECT_ERR(r_, status_, reason_)                                                                               \
	do {                                                                                                           \
		struct chr r__ = (r_);                                                                                 \
		CHECK(th_is_error(&r__, (status_), (reason_)));                                                        \
		chr_free(&r__);                                                                                        \
	} while (0)
#define EXPECT_STATUS(r_, status_)                                                                                     \
	do {                                                                                                           \
		struct chr r__ = (r_);                                                                                 \
		CHECK_MSG(r__.status == (status_), "got %ld %s", r__.status, r__.body);                                \
		chr_free(&r__);                                                                                        \
	} while (0)
#endif
