/* common/log.c: leveled, thread-safe log lines with secret redaction in one place. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define CH_LOG_LINE_MAX    4096
#define CH_LOG_MAX_SECRETS 64

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum ch_level log_level = CH_LOG_INFO;
static enum ch_log_format log_format = CH_LOG_TEXT;
static int log_fd = 2;
static bool log_syslog;
static char *secrets[CH_LOG_MAX_SECRETS];
static size_t n_secrets;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int ch_log_level_parse(const char *s, enum ch_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum ch_level)i;
			return 0;
		}
	}
	return EINVAL;
}

void ch_log_set_level(enum ch_level lvl)
{
	__atomic_store_n(&log_level, lvl, __ATOMIC_RELAXED);
}

enum ch_level ch_log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void ch_log_set_format(enum ch_log_format fmt)
{
	__atomic_store_n(&log_format, fmt, __ATOMIC_RELAXED);
}

int ch_log_open(const char *path)
{
	int fd = 2;
	if (path && strcmp(path, "syslog") == 0) {
		openlog("callhook", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		pthread_mutex_lock(&log_lock);
		log_syslog = true;
		pthread_mutex_unlock(&log_lock);
		return 0;
	}
	if (path) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return errno;
	}
	pthread_mutex_lock(&log_lock);
	int old = log_fd;
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	if (old != 2)
		close(old);
	return 0;
}

void ch_log_add_secret(const char *secret)
{
	if (!secret || !*secret)
		return;
	pthread_mutex_lock(&log_lock);
	for (size_t i = 0; i < n_secrets; i++) {
		if (strcmp(secrets[i], secret) == 0)
			goto out;
	}
	if (n_secrets < CH_LOG_MAX_SECRETS) {
		char *c = strdup(secret);
		if (c)
			secrets[n_secrets++] = c;
	}
out:
	pthread_mutex_unlock(&log_lock);
}

/* Caller holds log_lock. */
static void redact_locked(char *buf)
{
	for (size_t i = 0; i < n_secrets; i++) {
		size_t slen = strlen(secrets[i]);
		char *p = buf;
		while ((p = strstr(p, secrets[i])) != NULL) {
			/* "***" is never longer than a secret of 3+ bytes; shorter
			 * secrets are padded the same way so the line only shrinks. */
			size_t rest = strlen(p + slen);
			size_t star = slen < 3 ? slen : 3;
			memset(p, '*', star);
			memmove(p + star, p + slen, rest + 1);
			p += star;
		}
	}
}

/* Escape a message for a JSON string value. */
static size_t json_escape(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)in; *p && o + 7 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			out[o++] = '\\';
			out[o++] = (char)*p;
		} else if (*p < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return o;
}

void ch_logv(enum ch_level lvl, const char *fmt, va_list ap)
{
	if (lvl > ch_log_get_level())
		return;
	char msg[CH_LOG_LINE_MAX];
	char line[CH_LOG_LINE_MAX * 2];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	for (char *p = msg; *p; p++) {
		/* one event, one line: never let input split a log line */
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[96];
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	pthread_mutex_lock(&log_lock);
	redact_locked(msg);
	if (log_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		syslog(prio[lvl], "%s", msg);
		pthread_mutex_unlock(&log_lock);
		return;
	}
	size_t len;
	if (__atomic_load_n(&log_format, __ATOMIC_RELAXED) == CH_LOG_JSON) {
		char esc[CH_LOG_LINE_MAX * 2 - 128];
		json_escape(msg, esc, sizeof(esc));
		len = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", when,
				       level_names[lvl], esc);
	} else {
		len = (size_t)snprintf(line, sizeof(line), "%s %s %s\n", when, level_names[lvl], msg);
	}
	if (len >= sizeof(line)) {
		len = sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	ssize_t w = write(log_fd, line, len);
	(void)w;
	pthread_mutex_unlock(&log_lock);
}

void ch_log(enum ch_level lvl, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ch_logv(lvl, fmt, ap);
	va_end(ap);
}
