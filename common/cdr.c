/* common/cdr.c: call record files: lazy open, one write(2) per line, reopen by generation, errors counted. */
#include "common/cdr.h"

#include "common/common.h"
#include "common/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CDR_ERROR_METRIC "callhook_cdr_write_errors_total"

/* Bumped by ch_cdr_reopen_all; a writer whose generation differs reopens. */
static unsigned reopen_gen;

struct ch_cdr {
	pthread_mutex_t lock; /* the fd and its generation; the write itself is one syscall */
	char *path;
	int fd; /* -1 = not open */
	unsigned gen;
	int64_t last_log_ms; /* monotonic; errors are logged at most once a minute */
};

int ch_cdr_new(const char *path, struct ch_cdr **out)
{
	struct ch_cdr *c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->path = ch_strndup(path, strlen(path));
	if (!c->path) {
		free(c);
		return ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->fd = -1;
	c->last_log_ms = INT64_MIN;
	*out = c;
	return 0;
}

void ch_cdr_reopen_all(void)
{
	__atomic_add_fetch(&reopen_gen, 1, __ATOMIC_RELEASE);
}

void ch_cdr_close(struct ch_cdr *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->lock);
	free(c->path);
	free(c);
}

/* Caller holds the lock. */
static void count_error(struct ch_cdr *c, const char *what, int err)
{
	ch_metrics_add(CDR_ERROR_METRIC, "", 1);
	int64_t now = ch_now_ms();
	if (c->last_log_ms != INT64_MIN && now - c->last_log_ms < 60000)
		return;
	c->last_log_ms = now;
	ch_err("cdr: cannot %s %s: %s (call records are lost until it works; counted in %s)", what, c->path,
	       strerror(err), CDR_ERROR_METRIC);
}

/* Caller holds the lock: the fd to write to, or -1 (counted). */
static int current_fd(struct ch_cdr *c, int *err)
{
	unsigned gen = __atomic_load_n(&reopen_gen, __ATOMIC_ACQUIRE);
	if (c->fd >= 0 && c->gen == gen)
		return c->fd;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = open(c->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	c->gen = gen;
	if (c->fd < 0) {
		*err = errno;
		count_error(c, "open", *err);
	}
	return c->fd;
}

int ch_cdr_write(struct ch_cdr *c, const char *line, size_t len)
{
	int err = 0;
	pthread_mutex_lock(&c->lock);
	int fd = current_fd(c, &err);
	if (fd >= 0) {
		ssize_t n;
		do
			n = write(fd, line, len);
		while (n < 0 && errno == EINTR);
		if (n < 0 || (size_t)n != len) {
			/* a short write is a full disk that took part of the line: counted, never retried (the
			 * rest would land after another writer's line) */
			err = n < 0 ? errno : ENOSPC;
			count_error(c, "write to", err);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

int ch_cdr_write_text(struct ch_cdr *c, const char *text)
{
	size_t n = strlen(text);
	char *line = malloc(n + 1);
	if (!line)
		return ENOMEM;
	memcpy(line, text, n);
	line[n] = '\n';
	int err = ch_cdr_write(c, line, n + 1);
	free(line);
	return err;
}

int ch_iso_utc_ms(int64_t unix_ms, char *buf, size_t cap)
{
	time_t s = (time_t)(unix_ms / 1000);
	int ms = (int)(unix_ms % 1000);
	if (ms < 0) {
		ms += 1000;
		s--;
	}
	struct tm tm;
	if (!gmtime_r(&s, &tm))
		return ENOSPC;
	return ch_fmt(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		      tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int64_t ch_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
