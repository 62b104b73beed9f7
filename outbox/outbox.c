/* outbox/outbox.c: the retrying POST queue: one thread drives a libcurl multi handle over a bounded queue. */
#include "outbox/outbox.h"

#include "common/common.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define OB_LABEL_MAX 64

struct ob_item {
	struct ob_item *next;
	char *url;    /* NULL = the outbox's */
	char *header; /* or NULL */
	char label[OB_LABEL_MAX];
	char *body;
	size_t len;
};

/* One POST being delivered: taken from the queue, kept across retries. */
struct ob_slot {
	struct ob_item *item; /* NULL = free */
	char *payload;        /* prepared copy, or the body itself */
	size_t payload_len;
	CURL *easy; /* non-NULL while a transfer runs */
	struct curl_slist *hdrs;
	unsigned attempts; /* transfers finished */
	int64_t due_ms;    /* when the next attempt may start */
};

struct ob {
	struct ob_params p;
	char *url;
	pthread_mutex_t mu;
	bool stopping; /* under mu */
	unsigned grace_ms;
	struct ob_item *head, *tail; /* under mu */
	size_t count, bytes;         /* under mu */
	pthread_t thr;
	CURLM *multi;
	struct ob_slot slots[OB_CONCURRENCY_MAX]; /* the thread's only */
	unsigned rng;                             /* jitter, the thread's only */
	uint64_t sent, failed, dropped;           /* atomic */
	size_t in_hand;                           /* atomic: items in slots */
};

static void item_free(struct ob_item *it)
{
	if (!it)
		return;
	free(it->url);
	free(it->header);
	free(it->body);
	free(it);
}

/* under mu */
static struct ob_item *item_pop(struct ob *ob)
{
	struct ob_item *it = ob->head;
	if (!it)
		return NULL;
	ob->head = it->next;
	if (!ob->head)
		ob->tail = NULL;
	ob->count--;
	ob->bytes -= it->len;
	it->next = NULL;
	return it;
}

static bool dup_or_null(const char *s, char **out)
{
	*out = s ? ch_strndup(s, strlen(s)) : NULL;
	return !s || *out;
}

bool ob_post(struct ob *ob, const char *url, const char *header, const char *label, char *body, size_t len)
{
	struct ob_item *it = body ? calloc(1, sizeof(*it)) : NULL;
	if (!it) {
		free(body);
		__atomic_add_fetch(&ob->dropped, 1, __ATOMIC_RELAXED);
		return false;
	}
	it->body = body;
	it->len = len;
	if (len > ob->p.queue_bytes_max || !dup_or_null(url, &it->url) || !dup_or_null(header, &it->header)) {
		item_free(it);
		__atomic_add_fetch(&ob->dropped, 1, __ATOMIC_RELAXED);
		return false;
	}
	ch_fmt(it->label, sizeof(it->label), "%s", label ? label : ob->p.what);
	pthread_mutex_lock(&ob->mu);
	bool full = ob->count >= ob->p.queue_max || ob->bytes + len > ob->p.queue_bytes_max;
	if (ob->stopping || (full && !ob->p.drop_oldest)) {
		pthread_mutex_unlock(&ob->mu);
		item_free(it);
		if (full && !ob->stopping)
			__atomic_add_fetch(&ob->dropped, 1, __ATOMIC_RELAXED);
		return false;
	}
	while (ob->head && (ob->count >= ob->p.queue_max || ob->bytes + len > ob->p.queue_bytes_max)) {
		item_free(item_pop(ob));
		__atomic_add_fetch(&ob->dropped, 1, __ATOMIC_RELAXED);
	}
	if (ob->tail)
		ob->tail->next = it;
	else
		ob->head = it;
	ob->tail = it;
	ob->count++;
	ob->bytes += len;
	pthread_mutex_unlock(&ob->mu);
	curl_multi_wakeup(ob->multi);
	return true;
}

/* ---- the thread ------------------------------------------------------------ */

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static void slot_release(struct ob *ob, struct ob_slot *s)
{
	__atomic_sub_fetch(&ob->in_hand, 1, __ATOMIC_RELAXED);
	if (s->payload != s->item->body)
		free(s->payload);
	item_free(s->item);
	memset(s, 0, sizeof(*s));
}

static void slot_fail(struct ob *ob, struct ob_slot *s, const char *why)
{
	ch_warn("%s: %s not delivered after %u attempt(s): %s", ob->p.name, s->item->label, s->attempts, why);
	__atomic_add_fetch(&ob->failed, 1, __ATOMIC_RELAXED);
	slot_release(ob, s);
}

static void easy_drop(struct ob *ob, struct ob_slot *s)
{
	curl_multi_remove_handle(ob->multi, s->easy);
	curl_easy_cleanup(s->easy);
	s->easy = NULL;
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
}

static CURL *easy_for(struct ob *ob, struct ob_slot *s)
{
	CURL *e = curl_easy_init();
	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, s->item->url ? s->item->url : ob->url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->payload);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->payload_len);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ob->p.timeout_ms);
	if (ob->p.connect_timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ob->p.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "callhook/" CALLHOOK_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)s);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	return e;
}

/* Start the next attempt; 0, or the reason it cannot be made. */
static const char *slot_start(struct ob *ob, struct ob_slot *s)
{
	if (!s->payload && ob->p.prepare) {
		const char *why = "out of memory";
		if (ob->p.prepare(s->item->body, s->item->len, &s->payload, &s->payload_len, &why, ob->p.prepare_arg))
			return why;
	} else if (!s->payload) {
		s->payload = s->item->body;
		s->payload_len = s->item->len;
	}
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
	struct curl_slist *h3 = h2 && s->item->header ? curl_slist_append(h2, s->item->header) : h2;
	CURL *e = h3 ? easy_for(ob, s) : NULL;
	if (e)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (!e || curl_multi_add_handle(ob->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
		return "out of memory";
	}
	s->easy = e;
	s->hdrs = h;
	return NULL;
}

static int64_t backoff_ms(struct ob *ob, unsigned attempts)
{
	int64_t ms = ob->p.backoff_ms, max = ob->p.backoff_max_ms;
	for (unsigned i = 1; i < attempts && ms < max; i++)
		ms *= 2;
	if (ms > max)
		ms = max;
	/* jitter so that many POSTs failing together do not retry together */
	return ms + (int64_t)(rand_r(&ob->rng) % (unsigned)(ms / 4 + 1));
}

static bool retryable(CURLcode res, long status)
{
	return res != CURLE_OK || status == 408 || status == 429 || status >= 500;
}

static void slot_done(struct ob *ob, struct ob_slot *s, CURLcode res)
{
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	easy_drop(ob, s);
	s->attempts++;
	if (res == CURLE_OK && status >= 200 && status < 300) {
		__atomic_add_fetch(&ob->sent, 1, __ATOMIC_RELAXED);
		slot_release(ob, s);
		return;
	}
	char why[128];
	if (res != CURLE_OK)
		ch_fmt(why, sizeof(why), "%s", curl_easy_strerror(res));
	else
		ch_fmt(why, sizeof(why), "HTTP %ld", status);
	if (!retryable(res, status) || s->attempts > ob->p.retries) {
		slot_fail(ob, s, why);
		return;
	}
	s->due_ms = ch_now_ms() + backoff_ms(ob, s->attempts);
	ch_dbg("%s: %s: %s; retry %u in %lld ms", ob->p.name, s->item->label, why, s->attempts,
	       (long long)(s->due_ms - ch_now_ms()));
}

/* One attempt through the caller's deliver: settled at once. Whether the item is still in hand. */
static bool deliver_now(struct ob *ob, struct ob_slot *s)
{
	const char *why = "failed";
	int rc = ob->p.deliver(s->item->body, s->item->len, &why, ob->p.deliver_arg);
	s->attempts++;
	if (rc == 0) {
		__atomic_add_fetch(&ob->sent, 1, __ATOMIC_RELAXED);
		slot_release(ob, s);
		return false;
	}
	if (rc != EAGAIN || s->attempts > ob->p.retries) {
		slot_fail(ob, s, why);
		return false;
	}
	s->due_ms = ch_now_ms() + backoff_ms(ob, s->attempts);
	return true;
}

/* Move queued POSTs into free slots; whether stopping, and the grace. */
static bool fill_slots(struct ob *ob, unsigned *grace)
{
	pthread_mutex_lock(&ob->mu);
	bool stopping = ob->stopping;
	*grace = ob->grace_ms;
	for (unsigned j = 0; j < ob->p.concurrency && ob->head; j++) {
		if (!ob->slots[j].item) {
			ob->slots[j].item = item_pop(ob);
			__atomic_add_fetch(&ob->in_hand, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&ob->mu);
	return stopping;
}

/* Start the attempts that are due; whether anything is in hand, and when the next is due. */
static bool start_due(struct ob *ob, int64_t now, int64_t *next_due)
{
	bool busy = false;
	*next_due = INT64_MAX;
	for (unsigned j = 0; j < ob->p.concurrency; j++) {
		struct ob_slot *s = &ob->slots[j];
		if (!s->item || s->easy) {
			busy |= s->item != NULL;
			continue;
		}
		if (s->due_ms > now) {
			busy = true;
			if (s->due_ms < *next_due)
				*next_due = s->due_ms;
			continue;
		}
		if (ob->p.deliver) {
			busy |= deliver_now(ob, s);
			continue;
		}
		const char *why = slot_start(ob, s);
		if (why)
			slot_fail(ob, s, why);
		else
			busy = true;
	}
	return busy;
}

/* Run the transfers for up to wait ms and settle those that finished. */
static void harvest(struct ob *ob, int64_t wait)
{
	int running = 0;
	curl_multi_perform(ob->multi, &running);
	curl_multi_poll(ob->multi, NULL, 0, (int)(wait < 0 ? 0 : wait), NULL);
	curl_multi_perform(ob->multi, &running);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(ob->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURLcode res = msg->data.result;
		void *p = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
		slot_done(ob, p, res);
	}
}

/* Out of grace: abort what is left; new POSTs are refused already. */
static void abort_all(struct ob *ob)
{
	uint64_t left = 0;
	for (unsigned j = 0; j < ob->p.concurrency; j++) {
		struct ob_slot *s = &ob->slots[j];
		if (s->easy)
			easy_drop(ob, s);
		if (s->item) {
			left++;
			slot_release(ob, s);
		}
	}
	pthread_mutex_lock(&ob->mu);
	struct ob_item *it;
	while ((it = item_pop(ob)) != NULL) {
		left++;
		item_free(it);
	}
	pthread_mutex_unlock(&ob->mu);
	if (left) {
		__atomic_add_fetch(&ob->dropped, left, __ATOMIC_RELAXED);
		ch_warn("%s: stopping: %llu %s(s) not delivered", ob->p.name, (unsigned long long)left, ob->p.what);
	}
}

static void *ob_main(void *arg)
{
	struct ob *ob = arg;
	(void)pthread_setname_np(pthread_self(), "ch-outbox");
	int64_t deadline = -1;
	for (;;) {
		unsigned grace;
		bool stopping = fill_slots(ob, &grace);
		int64_t now = ch_now_ms();
		if (stopping && deadline < 0)
			deadline = now + grace;
		int64_t next_due;
		bool busy = start_due(ob, now, &next_due);
		if (stopping && (!busy || now >= deadline))
			break;
		int64_t wait = 1000;
		if (next_due != INT64_MAX && next_due - now < wait)
			wait = next_due - now;
		if (deadline >= 0 && deadline - now < wait)
			wait = deadline - now;
		harvest(ob, wait);
	}
	abort_all(ob);
	return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void ob_free(struct ob *ob)
{
	if (ob->multi)
		curl_multi_cleanup(ob->multi);
	pthread_mutex_destroy(&ob->mu);
	free(ob->url);
	free(ob);
}

int ob_start(const struct ob_params *p, struct ob **out)
{
	if (p->concurrency < 1 || p->concurrency > OB_CONCURRENCY_MAX || !p->name || !p->what || p->backoff_ms < 1)
		return EINVAL;
	struct ob *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return ENOMEM;
	ob->p = *p;
	pthread_mutex_init(&ob->mu, NULL);
	ob->rng = (unsigned)ch_now_us();
	int rc = ENOMEM;
	if (!dup_or_null(p->url, &ob->url) || !(ob->multi = curl_multi_init()))
		goto out;
	rc = pthread_create(&ob->thr, NULL, ob_main, ob);
	if (rc)
		goto out;
	*out = ob;
	return 0;
out:
	ob_free(ob);
	return rc;
}

void ob_stats(struct ob *ob, uint64_t *sent, uint64_t *failed, uint64_t *dropped)
{
	if (sent)
		*sent = ob ? __atomic_load_n(&ob->sent, __ATOMIC_RELAXED) : 0;
	if (failed)
		*failed = ob ? __atomic_load_n(&ob->failed, __ATOMIC_RELAXED) : 0;
	if (dropped)
		*dropped = ob ? __atomic_load_n(&ob->dropped, __ATOMIC_RELAXED) : 0;
}

size_t ob_pending(struct ob *ob)
{
	if (!ob)
		return 0;
	pthread_mutex_lock(&ob->mu);
	size_t n = ob->count;
	pthread_mutex_unlock(&ob->mu);
	return n + __atomic_load_n(&ob->in_hand, __ATOMIC_RELAXED);
}

void ob_stop(struct ob *ob, unsigned grace_ms)
{
	if (!ob)
		return;
	pthread_mutex_lock(&ob->mu);
	ob->stopping = true;
	ob->grace_ms = grace_ms;
	pthread_mutex_unlock(&ob->mu);
	curl_multi_wakeup(ob->multi);
	pthread_join(ob->thr, NULL);
	ob_free(ob);
}
