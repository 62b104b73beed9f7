/* originator/callback.c: status_callback delivery: a bounded queue and one libcurl thread that POSTs each call state
 * change as JSON. */
#include "originator/orig_fe_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CB_TRIES              3
#define CB_TIMEOUT_MS         5000L
#define CB_CONNECT_TIMEOUT_MS 3000L

struct cb_item {
	char *url;
	char *body;
	struct cb_item *next;
};

struct orig_cb {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	bool started;
	bool stop;
	int64_t deadline_ms; /* once stopping: give up on the queue after this */
	struct cb_item *head, *tail;
	size_t n, max;
};

static void item_free(struct cb_item *it)
{
	if (!it)
		return;
	free(it->url);
	free(it->body);
	free(it);
}

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

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* Wait up to ms unless stopping; true when stop was asked (caller holds mu). */
static bool wait_ms(struct orig_cb *cb, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!cb->stop) {
		if (pthread_cond_timedwait(&cb->cv, &cb->mu, &ts) == ETIMEDOUT)
			break;
	}
	return cb->stop;
}

static bool deliver(CURL *h, struct curl_slist *hdrs, const struct cb_item *it)
{
	curl_easy_setopt(h, CURLOPT_URL, it->url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, it->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(it->body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status >= 200 && status < 300)
		return true;
	ch_dbg("originator: status callback: %s (HTTP %ld)", rc == CURLE_OK ? "refused" : curl_easy_strerror(rc),
	       status);
	return false;
}

static void *cb_main(void *arg)
{
	struct orig_cb *cb = arg;
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (h) {
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, CB_TIMEOUT_MS);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CB_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "callhook/" CALLHOOK_VERSION);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
		curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	}
	pthread_mutex_lock(&cb->mu);
	for (;;) {
		while (!cb->head && !cb->stop)
			pthread_cond_wait(&cb->cv, &cb->mu);
		if (!cb->head)
			break; /* stopping and nothing left */
		if (cb->stop && ch_now_ms() >= cb->deadline_ms)
			break;
		struct cb_item *it = cb->head;
		cb->head = it->next;
		if (!cb->head)
			cb->tail = NULL;
		cb->n--;
		pthread_mutex_unlock(&cb->mu);
		bool ok = false;
		for (int t = 0; t < CB_TRIES && h && !ok; t++) {
			ok = deliver(h, hdrs, it);
			if (!ok && t + 1 < CB_TRIES) {
				pthread_mutex_lock(&cb->mu);
				bool stopping = wait_ms(cb, t == 0 ? 500 : 2000);
				pthread_mutex_unlock(&cb->mu);
				if (stopping && ch_now_ms() >= cb->deadline_ms)
					break;
			}
		}
		if (!ok)
			ch_warn("originator: status callback not delivered after %d tries", CB_TRIES);
		item_free(it);
		pthread_mutex_lock(&cb->mu);
	}
	size_t dropped = 0;
	while (cb->head) {
		struct cb_item *it = cb->head;
		cb->head = it->next;
		item_free(it);
		dropped++;
	}
	cb->tail = NULL;
	cb->n = 0;
	pthread_mutex_unlock(&cb->mu);
	if (dropped)
		ch_warn("originator: %zu status callback(s) dropped at shutdown", dropped);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return NULL;
}

int orig_cb_start(size_t queue_max, struct orig_cb **out)
{
	struct orig_cb *cb = calloc(1, sizeof(*cb));
	if (!cb)
		return ENOMEM;
	cb->max = queue_max ? queue_max : 1000;
	if (pthread_mutex_init(&cb->mu, NULL) != 0) {
		free(cb);
		return ENOMEM;
	}
	if (pthread_cond_init(&cb->cv, NULL) != 0) {
		pthread_mutex_destroy(&cb->mu);
		free(cb);
		return ENOMEM;
	}
	int rc = pthread_create(&cb->thr, NULL, cb_main, cb);
	if (rc) {
		pthread_cond_destroy(&cb->cv);
		pthread_mutex_destroy(&cb->mu);
		free(cb);
		return rc;
	}
	cb->started = true;
	*out = cb;
	return 0;
}

bool orig_cb_post(struct orig_cb *cb, const char *url, char *body)
{
	struct cb_item *it = calloc(1, sizeof(*it));
	if (!it || !url || !body) {
		free(it);
		free(body);
		return false;
	}
	it->body = body;
	it->url = strdup(url);
	if (!it->url) {
		item_free(it);
		return false;
	}
	pthread_mutex_lock(&cb->mu);
	if (cb->stop || cb->n >= cb->max) {
		pthread_mutex_unlock(&cb->mu);
		item_free(it);
		return false;
	}
	if (cb->tail)
		cb->tail->next = it;
	else
		cb->head = it;
	cb->tail = it;
	cb->n++;
	pthread_cond_signal(&cb->cv);
	pthread_mutex_unlock(&cb->mu);
	return true;
}

void orig_cb_stop(struct orig_cb *cb, unsigned grace_ms)
{
	if (!cb)
		return;
	pthread_mutex_lock(&cb->mu);
	cb->stop = true;
	cb->deadline_ms = ch_now_ms() + grace_ms;
	pthread_cond_broadcast(&cb->cv);
	pthread_mutex_unlock(&cb->mu);
	if (cb->started)
		pthread_join(cb->thr, NULL);
	pthread_cond_destroy(&cb->cv);
	pthread_mutex_destroy(&cb->mu);
	free(cb);
}
