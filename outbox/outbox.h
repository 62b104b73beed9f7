/* outbox/outbox.h: one retrying POST queue on a libcurl multi handle, for event forwarding and status callbacks.
 *
 * The retry rule (one rule for every caller): a POST is delivered when the
 * receiver answers 2xx. A transport error (including a timeout: timeout_ms
 * bounds the whole request), 408, 429 or 5xx is retried, up to `retries`
 * more attempts, after an exponential backoff: backoff_ms, doubling with
 * each failed attempt up to backoff_max_ms, plus up to 25% jitter so that
 * copies failing together do not retry together. Any other answer (3xx, the
 * other 4xx: the receiver refuses this request and would refuse it again)
 * fails at once. Redirects are not followed; only http and https are used.
 *
 * One outbox is one thread, one queue and up to `concurrency` transfers at a
 * time; with concurrency 1, POSTs are delivered in the order they were queued.
 * Requires curl_global_init before the first ob_start (main does it). */
#ifndef OUTBOX_OUTBOX_H
#define OUTBOX_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OB_CONCURRENCY_MAX 16

/* Optional: turn a queued body into what is sent, in the outbox's thread,
 * before the first attempt (the forwarder strips secrets there, not in the
 * HTTP thread). 0 with a new string in *out; else the POST fails (counted)
 * and *why says why in the log. */
typedef int ob_prepare_fn(const char *body, size_t len, char **out, size_t *out_len, const char **why, void *arg);

/* Optional: deliver a queued body another way than an HTTP POST (the hook's store hands Redis the releases
 * it could not write), in the outbox's thread. 0 = delivered; EAGAIN = retry under the same rule (backoff,
 * retries); any other value fails at once. *why says why in the log. With deliver, url is not used. */
typedef int ob_deliver_fn(const char *body, size_t len, const char **why, void *arg);

struct ob_params {
	const char *name;     /* log prefix: "forward: hook.forward.[0]", "originator" */
	const char *what;     /* what one POST is, for the log: "event", "status callback" */
	const char *url;      /* used when ob_post gets NULL; copied */
	unsigned concurrency; /* 1..OB_CONCURRENCY_MAX */
	unsigned retries;     /* attempts after the first */
	unsigned backoff_ms;  /* before the first retry */
	unsigned backoff_max_ms;
	int64_t timeout_ms;         /* whole request */
	int64_t connect_timeout_ms; /* 0 = within timeout_ms */
	size_t queue_max;           /* POSTs waiting (not counting those being sent) */
	size_t queue_bytes_max;     /* bytes of bodies waiting; a bigger body is dropped */
	bool drop_oldest;           /* when full: drop the oldest waiting (true) or refuse the new one */
	ob_prepare_fn *prepare;     /* or NULL */
	void *prepare_arg;
	ob_deliver_fn *deliver; /* or NULL: POST */
	void *deliver_arg;
};

struct ob;

/* Start the thread. 0, ENOMEM, EINVAL (bad params) or pthread_create's
 * errno; *out written only on success. */
int ob_start(const struct ob_params *p, struct ob **out);

/* Queue a POST of body[0..len) (taken: freed by the outbox in every case)
 * as application/json to url (NULL = the params' url; copied), with one more
 * header line ("Name: value", copied) or NULL; label names it in the log
 * (copied, or NULL). Never blocks on the network. False when refused (full
 * without drop_oldest, stopping, out of memory); a drop is counted, a refusal
 * while stopping is not. Thread-safe. */
bool ob_post(struct ob *ob, const char *url, const char *header, const char *label, char *body, size_t len);

/* Totals since start: delivered (2xx), failed (retries exhausted, a
 * non-retryable answer, prepare failed), dropped (queue full, or undelivered
 * when ob_stop's grace ran out). Any pointer may be NULL; all zero for NULL
 * ob. Thread-safe. */
void ob_stats(struct ob *ob, uint64_t *sent, uint64_t *failed, uint64_t *dropped);

/* Entries not yet delivered, failed or dropped (queued and in hand). 0 for NULL ob. Thread-safe. */
size_t ob_pending(struct ob *ob);

/* Refuse new POSTs, keep delivering what is queued for up to grace_ms, then
 * abort the rest (dropped), join the thread and free. NULL-safe. */
void ob_stop(struct ob *ob, unsigned grace_ms);

#endif
