/* originator/callback.c: status_callback delivery: the URL rule, and each call state change POSTed as JSON through an
 * outbox. */
#include "originator/callback.h"

#include "common/common.h"

#include "outbox/outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Status callbacks go through an outbox (outbox/outbox.h) with its retry
 * rule: transport errors, 408, 429 and 5xx are retried, other answers are
 * final. One transfer at a time, so that a receiver sees a call's states in
 * order; a full queue refuses the new callback. */
#define CB_RETRIES            2 /* 3 attempts */
#define CB_BACKOFF_MS         500
#define CB_BACKOFF_MAX_MS     2000
#define CB_TIMEOUT_MS         5000
#define CB_CONNECT_TIMEOUT_MS 3000
#define CB_QUEUE_BYTES_MAX    (64u * 1024u * 1024u)

struct orig_cb {
	struct ob *ob;
};

/* The prefix test judges the URL as written, but libcurl removes "." and
 * ".." path segments before sending (and many servers decode %2e, %2f and
 * %5c before routing): "https://crm/cb/../admin" would pass a "https://crm/cb/"
 * prefix and reach /admin. So the path must have one reading: no such
 * segment and no such escape. url starts with http:// or https://. */
static bool path_plain(const char *url)
{
	const char *p = strstr(url, "://") + 3;
	const char *path = p + strcspn(p, "/?#");
	const char *end = path + strcspn(path, "?#");
	for (const char *q = path; q < end; q++) {
		if (*q == '%' && end - q >= 3 &&
		    ((q[1] == '2' && (q[2] == 'e' || q[2] == 'E' || q[2] == 'f' || q[2] == 'F')) ||
		     (q[1] == '5' && (q[2] == 'c' || q[2] == 'C'))))
			return false;
		if (*q != '/')
			continue;
		const char *seg = q + 1;
		size_t sl = strcspn(seg, "/?#");
		if ((sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
	}
	return true;
}

bool orig_cb_url_allowed(const char *url, char *const *prefixes, size_t n)
{
	if (!url)
		return false;
	size_t len = strnlen(url, ORIG_CB_URL_MAX + 1);
	if (len == 0 || len > ORIG_CB_URL_MAX)
		return false;
	if (strncasecmp(url, "https://", 8) != 0 && strncasecmp(url, "http://", 7) != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return false;
	}
	if (!path_plain(url))
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t pl = strlen(prefixes[i]);
		if (pl == 0 || pl > len || strncmp(url, prefixes[i], pl) != 0)
			continue;
		/* "https://crm.example.com" must not admit "https://crm.example.com.evil/" */
		if (prefixes[i][pl - 1] == '/' || url[pl] == '\0' || url[pl] == '/' || url[pl] == '?')
			return true;
	}
	return false;
}

int orig_cb_start(size_t queue_max, struct orig_cb **out)
{
	struct orig_cb *cb = calloc(1, sizeof(*cb));
	if (!cb)
		return ENOMEM;
	struct ob_params p = {.name = "originator",
			      .what = "status callback",
			      .concurrency = 1,
			      .retries = CB_RETRIES,
			      .backoff_ms = CB_BACKOFF_MS,
			      .backoff_max_ms = CB_BACKOFF_MAX_MS,
			      .timeout_ms = CB_TIMEOUT_MS,
			      .connect_timeout_ms = CB_CONNECT_TIMEOUT_MS,
			      .queue_max = queue_max ? queue_max : 1000,
			      .queue_bytes_max = CB_QUEUE_BYTES_MAX};
	int rc = ob_start(&p, &cb->ob);
	if (rc) {
		free(cb);
		return rc;
	}
	*out = cb;
	return 0;
}

bool orig_cb_post(struct orig_cb *cb, const char *url, char *body)
{
	if (!url || !body) {
		free(body);
		return false;
	}
	return ob_post(cb->ob, url, NULL, NULL, body, strlen(body));
}

void orig_cb_stop(struct orig_cb *cb, unsigned grace_ms)
{
	if (!cb)
		return;
	ob_stop(cb->ob, grace_ms);
	free(cb);
}
