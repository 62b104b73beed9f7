/* common/cdr.h: call record files: one JSON line per call, appended with one write(2), reopened on SIGUSR1. */
#ifndef CH_CDR_H
#define CH_CDR_H

#include <stddef.h>
#include <stdint.h>

/* The format of the lines is docs/cdr.md; this module only owns the file.
 * A record file never refuses a call: a file that cannot be opened or
 * written (ENOSPC, EIO, a read-only directory) costs one count of
 * callhook_cdr_write_errors_total and at most one log line a minute per
 * file, and the line is lost. */

struct ch_cdr;

/* A writer for path (copied). The file is opened at the first write, with
 * O_APPEND|O_CREAT (mode 0640), so that a --check or a reload that is
 * refused creates nothing. 0 or ENOMEM; *out is new (ch_cdr_close). */
int ch_cdr_new(const char *path, struct ch_cdr **out);

/* Append line[0..len) (it ends with '\n') with one write(2): a reader never
 * sees half a line from a whole write, whatever its length. Thread-safe.
 * 0, or the errno of the open or the write (counted and logged, see above). */
int ch_cdr_write(struct ch_cdr *c, const char *line, size_t len);
/* The same for a record given without its '\n' (a NUL-terminated JSON text): the newline is added here. */
int ch_cdr_write_text(struct ch_cdr *c, const char *text);

/* Every writer reopens its file before its next write (logrotate: the file
 * was renamed, SIGUSR1). Async-safe enough for the signal thread: it only
 * bumps a counter. */
void ch_cdr_reopen_all(void);

/* Close and free. NULL-safe. */
void ch_cdr_close(struct ch_cdr *c);

/* unix_ms as UTC ISO 8601 with milliseconds, "2026-05-04T09:12:01.123Z".
 * 0 or ENOSPC (cap < 25). */
int ch_iso_utc_ms(int64_t unix_ms, char *buf, size_t cap);

/* Realtime milliseconds since the epoch. */
int64_t ch_wall_ms(void);

#endif
