/* hook/forward.h: event forwarding (private to the hook): copies of matching WCS events POSTed to other services. */
#ifndef HOOK_FORWARD_H
#define HOOK_FORWARD_H

#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every hook.forward entry has its own outbox (outbox/outbox.h): a bounded
 * queue of copies, drop-oldest when full, and a few transfers at a time
 * (HOOK_FWD_CONCURRENCY). A copy is POSTed as application/json with the
 * header "X-Callhook-Event: <wcs method>"; it is delivered when the receiver
 * answers 2xx, and retried by the outbox's rule (transport errors, timeouts:
 * timeout_ms for the whole request, 408, 429 and 5xx, up to `retries` times,
 * backoff HOOK_FWD_BACKOFF_MS doubling up to HOOK_FWD_BACKOFF_MAX_MS plus up
 * to 25% jitter); any other answer, or the last retry failing, counts as
 * failed. Redirects are not followed. Order of delivery is not guaranteed
 * once a copy is being retried. */

#define HOOK_FWD_CONCURRENCY    4
#define HOOK_FWD_BACKOFF_MS     200
#define HOOK_FWD_BACKOFF_MAX_MS 30000
/* Besides queue_max entries, a queue never holds more than this many bytes
 * of bodies: drop-oldest applies to whichever cap is reached first. */
#define HOOK_FWD_QUEUE_BYTES_MAX (64u * 1024u * 1024u)
#define HOOK_FWD_METHOD_MAX      63

struct hook_fwd;

/* Start forwarding to the n entries of f (copied: f may be freed after the
 * call). n == 0 is not an error: *out is set to NULL and every other
 * hook_fwd_* function accepts that NULL. 0, ENOMEM, or the errno of
 * pthread_create; *out written only on success. Not thread-safe against
 * other calls on the same object (call from the thread that owns it). */
int hook_fwd_start(const struct cfg_forward *f, size_t n, struct hook_fwd **out);

/* Hand over a copy of an event the hook has answered. Every entry whose
 * methods list names wcs_method (exact, case-sensitive) gets its own copy of
 * body[0..len) (borrowed; copied before return). Never blocks on the
 * network: the copy goes into the entry's queue; when the queue is full the
 * oldest queued copy is dropped and counted. The copy is sanitised in the
 * forwarding thread before it is sent: see hook_fwd_sanitize. Thread-safe;
 * a no-op when fw is NULL or stopping. */
void hook_fwd_submit(struct hook_fwd *fw, const char *wcs_method, const char *body, size_t len);

/* Totals since start, summed over entries: copies delivered (2xx), copies
 * given up on (retries exhausted, a non-retryable answer, or a body that is
 * not a JSON object), copies dropped (queue full, or still undelivered when
 * hook_fwd_stop's grace ran out). Any pointer may be NULL. Thread-safe; all
 * zero when fw is NULL. */
void hook_fwd_stats(struct hook_fwd *fw, uint64_t *sent, uint64_t *failed, uint64_t *dropped);

/* True when fw forwards exactly the n entries of f (same urls, methods,
 * timeouts, queue sizes, retries, in order): a reload needs no new
 * forwarder. NULL fw equals n == 0. */
bool hook_fwd_same(const struct hook_fwd *fw, const struct cfg_forward *f, size_t n);

/* Stop accepting copies, keep delivering what is queued for up to grace_ms,
 * then abort what is left (counted as dropped), join the thread and free.
 * NULL-safe. Call after the HTTP listeners that submit have stopped. */
void hook_fwd_stop(struct hook_fwd *fw, unsigned grace_ms);

/* The copy that is sent: body must be a JSON object (validated with Jansson,
 * JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL). Removed: every top-level
 * member whose (decoded) name starts with "sip", case-insensitively (the
 * injected SIP account, whatever the browser sent), except exactly
 * "sipStatus" and "sipCallId" (call data a receiver needs), the top-level "token"
 * and "authToken" (WCS's reconnect token), and "token" inside a top-level
 * "custom" object (the visitor token). Every other member is copied byte for
 * byte, so numbers, floats and strings reach the receiver as WCS sent them.
 * New NUL-terminated string in *out, its length in *out_len (caller frees).
 * 0, EINVAL (not a JSON object), ENOMEM. Pure; exposed for tests. */
int hook_fwd_sanitize(const char *body, size_t len, char **out, size_t *out_len);

#endif
