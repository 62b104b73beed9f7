/* originator/callback.h: status_callback delivery (private to originator/): the URL rule and the POST queue. */
#ifndef CALLHOOK_ORIGINATOR_CALLBACK_H
#define CALLHOOK_ORIGINATOR_CALLBACK_H

#include <stdbool.h>
#include <stddef.h>

#define ORIG_CB_URL_MAX 2048

struct orig_cb;

/* Start the delivery thread; queue_max events at most waiting. 0 or errno. */
int orig_cb_start(size_t queue_max, struct orig_cb **out);
/* Queue a POST of body (taken: freed by the queue) to url (copied). Never
 * blocks; false (body freed) when the queue is full or stopping. Any thread. */
bool orig_cb_post(struct orig_cb *cb, const char *url, char *body);
/* Deliver what is queued for up to grace_ms, then stop. NULL-safe. */
void orig_cb_stop(struct orig_cb *cb, unsigned grace_ms);
/* Is url acceptable: http(s), printable, under one of the prefixes (a prefix
 * that does not end in '/' must be followed by '/', '?' or the end), and a
 * path libcurl sends as written: no "." or ".." segment, no %2e %2f %5c. */
bool orig_cb_url_allowed(const char *url, char *const *prefixes, size_t n);

#endif
