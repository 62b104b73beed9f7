/* common/util.c: checked numbers, capped buffers, clocks, constant-time compare, file reads. */
#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ch_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	if (!s || len == 0 || len > 20)
		return EINVAL;
	size_t i = 0;
	bool neg = false;
	if (s[0] == '-') {
		if (min >= 0 || len == 1)
			return EINVAL;
		neg = true;
		i = 1;
	}
	uint64_t v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return EINVAL;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ERANGE;
		v = v * 10 + d;
	}
	int64_t r;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return ERANGE;
		r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return ERANGE;
		r = (int64_t)v;
	}
	if (r < min || r > max)
		return ERANGE;
	*out = r;
	return 0;
}

int ch_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		return ENOSPC;
	return 0;
}

bool ch_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *x = a, *y = b;
	/* compare over the longer length so the loop count does not depend on
	 * where the first difference is */
	size_t n = alen > blen ? alen : blen;
	unsigned char d = (unsigned char)(alen != blen);
	for (size_t i = 0; i < n; i++) {
		unsigned char cx = i < alen ? x[i] : 0;
		unsigned char cy = i < blen ? y[i] : 0;
		d |= (unsigned char)(cx ^ cy);
	}
	return d == 0;
}

bool ch_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p++;
		if (c < 0x80)
			continue;
		size_t n;
		unsigned min, cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) < n)
			return false;
		for (size_t i = 0; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += n;
	}
	return true;
}

bool ch_has_control(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return true;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

char *ch_strndup(const char *s, size_t len)
{
	char *r = malloc(len + 1);
	if (!r)
		return NULL;
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

size_t ch_scopy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	size_t k = n < cap ? n : cap - 1;
	memcpy(dst, src, k);
	dst[k] = '\0';
	return n;
}

size_t ch_scat(char *dst, size_t cap, size_t at, const char *src)
{
	size_t n = ch_scopy(dst + at, cap - at, src);
	return at + n >= cap ? cap - 1 : at + n;
}

void ch_ip4_text(const unsigned char a[4], char out[16])
{
	char *o = out;
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
		*o++ = i < 3 ? '.' : '\0';
	}
}

void ch_buf_init(struct ch_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

static int buf_reserve(struct ch_buf *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->limit + 1)
		ncap = b->limit + 1;
	if (ncap < need)
		return EFBIG;
	char *n = realloc(b->data, ncap);
	if (!n)
		return ENOMEM;
	b->data = n;
	b->cap = ncap;
	return 0;
}

int ch_buf_reserve(struct ch_buf *b, size_t n)
{
	if (n > b->limit)
		return EFBIG;
	if (n + 1 <= b->cap)
		return 0;
	char *d = realloc(b->data, n + 1);
	if (!d)
		return ENOMEM;
	b->data = d;
	b->cap = n + 1;
	return 0;
}

int ch_buf_add(struct ch_buf *b, const void *p, size_t n)
{
	if (n > b->limit - b->len)
		return EFBIG;
	int err = buf_reserve(b, b->len + n + 1);
	if (err)
		return err;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ch_buf_adds(struct ch_buf *b, const char *s)
{
	return ch_buf_add(b, s, strlen(s));
}

int ch_buf_nul(struct ch_buf *b)
{
	int err = buf_reserve(b, b->len + 1);
	if (err)
		return err;
	b->data[b->len] = '\0';
	return 0;
}

int ch_buf_add_escaped(struct ch_buf *b, const char *s)
{
	const char *run = s;
	for (const char *p = s;; p++) {
		const char *rep = NULL;
		switch (*p) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		case '\0':
			break;
		default:
			continue;
		}
		int rc = ch_buf_add(b, run, (size_t)(p - run));
		if (rc)
			return rc;
		if (!*p)
			return 0;
		rc = ch_buf_adds(b, rep);
		if (rc)
			return rc;
		run = p + 1;
	}
}

void ch_buf_free(struct ch_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int64_t ch_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ch_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ch_wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static int read_fd(int fd, size_t cap, char **out, size_t *len)
{
	struct ch_buf b;
	ch_buf_init(&b, cap);
	char tmp[4096];
	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			ch_buf_free(&b);
			return e;
		}
		if (r == 0)
			break;
		int err = ch_buf_add(&b, tmp, (size_t)r);
		if (err) {
			ch_buf_free(&b);
			return err;
		}
	}
	int err = ch_buf_nul(&b);
	if (err) {
		ch_buf_free(&b);
		return err;
	}
	*out = b.data;
	*len = b.len;
	return 0;
}

int ch_read_file(const char *path, size_t cap, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return EINVAL;
	}
	int err = read_fd(fd, cap, out, len);
	close(fd);
	return err;
}

int ch_read_secret_file(const char *path, const char *base_dir, size_t cap, char **out, bool *warn, const char **why)
{
	char full[PATH_MAX];
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	const char *use = path;
	*warn = false;
	*why = NULL;
	if (cred && *cred) {
		const char *base = strrchr(path, '/');
		base = base ? base + 1 : path;
		if (ch_fmt(full, sizeof(full), "%s/%s", cred, base) == 0 && access(full, R_OK) == 0)
			use = full;
	}
	if (use == path && path[0] != '/' && base_dir && *base_dir) {
		if (ch_fmt(full, sizeof(full), "%s/%s", base_dir, path) != 0) {
			*why = "path too long";
			return ENAMETOOLONG;
		}
		use = full;
	}
	int fd = open(use, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		*why = strerror(e);
		return e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return EINVAL;
	}
	if (st.st_mode & S_IROTH) {
		close(fd);
		*why = "secret file is readable by others (chmod o-r, or 0600)";
		return EACCES;
	}
	if (st.st_mode & S_IRGRP)
		*warn = true;
	char *data = NULL;
	size_t len = 0;
	int err = read_fd(fd, cap, &data, &len);
	close(fd);
	if (err) {
		*why = err == EFBIG ? "secret file too large" : strerror(err);
		return err;
	}
	if (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	if (len > 0 && data[len - 1] == '\r')
		data[--len] = '\0';
	if (len == 0) {
		free(data);
		*why = "secret file is empty";
		return EINVAL;
	}
	*out = data;
	return 0;
}

int ch_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return EINVAL;
	int64_t port;
	if (ch_parse_i64(colon + 1, strlen(colon + 1), 0, 65535, &port))
		return EINVAL;
	char host[128];
	size_t hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	struct sockaddr_storage tmp;
	memset(&tmp, 0, sizeof(tmp));
	unsigned l;
	if (host[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&tmp;
		if (hl < 3 || host[hl - 1] != ']')
			return EINVAL;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		l = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&tmp;
		if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &a4->sin_addr) != 1)
			return EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		l = sizeof(*a4);
	}
	if (ss)
		*ss = tmp;
	if (len)
		*len = l;
	return 0;
}

int ch_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
