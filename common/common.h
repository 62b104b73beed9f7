/* common/common.h: logging with secret redaction, checked number parsing, capped buffers, clock. */
#ifndef CH_COMMON_H
#define CH_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- logging ----------------------------------------------------------
 * Thread-safe; each line is written with one write(2). Every registered
 * secret is replaced by "***" in every line before it is written, so call
 * sites never have to remember to redact. */

enum ch_level { CH_LOG_ERROR = 0, CH_LOG_WARN = 1, CH_LOG_INFO = 2, CH_LOG_DEBUG = 3 };
enum ch_log_format { CH_LOG_TEXT = 0, CH_LOG_JSON = 1 };

/* Parse "error" | "warn" | "info" | "debug". Returns 0 or EINVAL. */
int ch_log_level_parse(const char *s, enum ch_level *out);
void ch_log_set_level(enum ch_level lvl);
enum ch_level ch_log_get_level(void);
void ch_log_set_format(enum ch_log_format fmt);
/* Log to this file (append) instead of stderr; NULL = stderr. 0 or errno.
 * Call again with the same path to reopen (logrotate). */
int ch_log_open(const char *path);
/* Register a secret to redact (copied). Empty strings are ignored. */
void ch_log_add_secret(const char *secret);

__attribute__((format(printf, 2, 3))) void ch_log(enum ch_level lvl, const char *fmt, ...);
__attribute__((format(printf, 2, 0))) void ch_logv(enum ch_level lvl, const char *fmt, va_list ap);

#define ch_err(...)  ch_log(CH_LOG_ERROR, __VA_ARGS__)
#define ch_warn(...) ch_log(CH_LOG_WARN, __VA_ARGS__)
#define ch_info(...) ch_log(CH_LOG_INFO, __VA_ARGS__)
#define ch_dbg(...)                                                                                                    \
	do {                                                                                                           \
		if (ch_log_get_level() >= CH_LOG_DEBUG)                                                                \
			ch_log(CH_LOG_DEBUG, __VA_ARGS__);                                                             \
	} while (0)

/* ---- numbers ------------------------------------------------------------ */

/* Parse a whole decimal integer in [min, max]; no sign for min >= 0, no
 * trailing bytes, no whitespace. Returns 0, EINVAL or ERANGE; *out written
 * only on success. */
int ch_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* ---- strings ------------------------------------------------------------ */

/* snprintf that reports truncation: 0 or ENOSPC. */
__attribute__((format(printf, 3, 4))) int ch_fmt(char *buf, size_t cap, const char *fmt, ...);
/* Constant-time comparison of two byte strings (length leaks, content not). */
bool ch_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
bool ch_utf8_valid(const char *s, size_t len);
/* True when s[0..len) holds a control character: a C0 byte (NUL included), DEL, or the UTF-8 form of a C1
 * control (U+0080..U+009F, bytes C2 80..C2 9F). Meant for UTF-8 that ch_utf8_valid accepted. */
bool ch_has_control(const char *s, size_t len);
/* The value of one hex digit (either case), or -1. */
int ch_hex_value(unsigned char c);
/* Duplicate len bytes into a new NUL-terminated string (caller frees). */
char *ch_strndup(const char *s, size_t len);
/* Copy the C string src into dst[cap] (cap > 0), cut to fit, always
 * NUL-terminated: what snprintf(dst, cap, "%s", src) does, without printf's
 * cost on the request path. Returns strlen(src). */
size_t ch_scopy(char *dst, size_t cap, const char *src);
/* Append the C string src at dst[at] (at < cap, dst[at] the NUL of what is
 * there), cut to fit and NUL-terminated; returns the new length (cap - 1
 * when cut). ch_scat(d, cap, ch_scat(d, cap, ch_scopy(...), b), c) is
 * snprintf(d, cap, "%s%s%s", a, b, c) without printf. */
size_t ch_scat(char *dst, size_t cap, size_t at, const char *src);
/* The dotted-quad text of the IPv4 address a[0..4) into out (16 bytes),
 * as inet_ntop writes it; inet_ntop goes through sprintf. */
void ch_ip4_text(const unsigned char a[4], char out[16]);

/* ---- capped growable buffer ------------------------------------------- */

struct ch_buf {
	char *data;
	size_t len;
	size_t cap;   /* allocated */
	size_t limit; /* never grows past this many bytes */
};

void ch_buf_init(struct ch_buf *b, size_t limit);
/* Append; 0, ENOMEM, or EFBIG when the limit would be passed (nothing appended). */
int ch_buf_add(struct ch_buf *b, const void *p, size_t n);
int ch_buf_adds(struct ch_buf *b, const char *s);
/* Room for n bytes (and the NUL) in one allocation, exactly sized when it
 * grows: 0, ENOMEM, or EFBIG past the limit. */
int ch_buf_reserve(struct ch_buf *b, size_t n);
/* Keep data NUL-terminated past len (not counted). 0 or ENOMEM/EFBIG. */
int ch_buf_nul(struct ch_buf *b);
/* Append s with & < > " ' escaped (XML and HTML text and attributes). 0 or ch_buf_add's errors. */
int ch_buf_add_escaped(struct ch_buf *b, const char *s);
void ch_buf_free(struct ch_buf *b);

/* ---- time --------------------------------------------------------------- */

int64_t ch_now_ms(void); /* monotonic */
int64_t ch_now_us(void); /* monotonic, microseconds */
int64_t ch_wall_s(void); /* realtime, seconds since the epoch */

/* ---- addresses ---------------------------------------------------------- */

struct sockaddr_storage;
/* A listen address "host:port": host an IPv4 literal, "[IPv6]" or
 * "localhost" (127.0.0.1); port 0..65535 (0: any free port). Fills *ss and
 * *len (may be NULL to only validate). 0 or EINVAL. */
int ch_parse_listen(const char *s, struct sockaddr_storage *ss, unsigned *len);
/* A bound, listening TCP socket on "host:port" (ch_parse_listen): SO_REUSEADDR,
 * IPV6_V6ONLY, close-on-exec, non-blocking when nonblock. The real address goes
 * to text ("127.0.0.1:5090" / "[::1]:5090"; text may be NULL). *fd written only
 * on success. 0, EINVAL (not an address) or the errno of socket/bind/listen. */
int ch_listen_tcp(const char *hostport, bool nonblock, int *fd, char *text, size_t textcap);

/* ---- files -------------------------------------------------------------- */

/* Read a secret file: at most cap bytes, one trailing newline stripped.
 * Refuses (EACCES, with *why set) a file readable by others; sets *warn for a
 * group-readable one. A relative path is looked up in $CREDENTIALS_DIRECTORY
 * first (systemd LoadCredential=), then relative to base_dir. New string in
 * *out (caller frees). Returns 0 or errno; *why is a static message. */
int ch_read_secret_file(const char *path, const char *base_dir, size_t cap, char **out, bool *warn, const char **why);
/* Read a whole regular file of at most cap bytes. New buffer, NUL-terminated. */
int ch_read_file(const char *path, size_t cap, char **out, size_t *len);

#endif
