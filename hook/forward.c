/* hook/forward.c: event forwarding: bounded queues drained by one libcurl multi thread, with retries and backoff. */
#include "hook/forward.h"

#include "common/common.h"
#include "policy/policy.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct fwd_item {
	struct fwd_item *next;
	size_t len;
	char method[HOOK_FWD_METHOD_MAX + 1];
	char body[]; /* len bytes, NUL-terminated */
};

/* One copy being delivered: taken from the queue, kept across retries. */
struct fwd_slot {
	struct fwd_target *t;
	struct fwd_item *item; /* NULL = free */
	char *payload;         /* sanitised copy, made before the first attempt */
	size_t payload_len;
	CURL *easy; /* non-NULL while a transfer runs */
	struct curl_slist *hdrs;
	unsigned attempts; /* transfers finished */
	int64_t due_ms;    /* when the next attempt may start */
};

struct fwd_target {
	size_t idx; /* position in hook.forward, for the log (the url may carry credentials) */
	char *url;
	char **methods;
	size_t n_methods;
	int64_t timeout_ms;
	int64_t queue_max;
	int64_t retries;
	/* under hook_fwd.mu */
	struct fwd_item *head, *tail;
	size_t count, bytes;
	/* forwarding thread only */
	struct fwd_slot slots[HOOK_FWD_CONCURRENCY];
};

struct hook_fwd {
	pthread_mutex_t mu;
	bool stopping; /* under mu */
	unsigned grace_ms;
	pthread_t thr;
	CURLM *multi;
	struct fwd_target *t;
	size_t n;
	unsigned rng;                   /* jitter, forwarding thread only */
	uint64_t sent, failed, dropped; /* atomic */
};

/* ---- sanitising -------------------------------------------------------- */

enum fwd_act { FWD_KEEP, FWD_DROP, FWD_CUSTOM };

static bool key_is(const char *k, size_t kl, const char *name)
{
	size_t nl = strlen(name);
	return kl == nl && memcmp(k, name, nl) == 0;
}

/* Copy the object buf[0..len) (nexp members per Jansson) into out, leaving
 * out the members the rules drop; top = the event itself, else its custom. */
static int strip_object(const char *buf, size_t len, size_t nexp, const json_t *obj, bool top, struct ch_buf *out)
{
	int rc = 0;
	size_t max = nexp ? nexp : 1, n = 0;
	struct pol_member *m = calloc(max, sizeof(*m));
	if (!m)
		return ENOMEM;
	if (pol_json_members(buf, len, m, max, &n) != 0 || n != nexp) {
		rc = EINVAL;
		goto out;
	}
	bool first = true;
	rc = ch_buf_adds(out, "{");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		/* decode the name: "\u0073ipPassword" is sipPassword too */
		json_t *k = json_loadb(buf + m[i].key_off, m[i].key_len, JSON_DECODE_ANY, NULL);
		if (!json_is_string(k)) {
			json_decref(k);
			rc = EINVAL;
			break;
		}
		const char *ks = json_string_value(k);
		size_t kl = json_string_length(k);
		enum fwd_act act = FWD_KEEP;
		const json_t *custom = NULL;
		if (top) {
			/* sipStatus and sipCallId describe the call, not the account: a CRM needs them */
			bool call_data = key_is(ks, kl, "sipStatus") || key_is(ks, kl, "sipCallId");
			if ((kl >= 3 && strncasecmp(ks, "sip", 3) == 0 && !call_data) || key_is(ks, kl, "token") ||
			    key_is(ks, kl, "authToken")) {
				act = FWD_DROP;
			} else if (key_is(ks, kl, "custom")) {
				custom = json_object_get(obj, "custom");
				if (json_is_object(custom))
					act = FWD_CUSTOM;
			}
		} else if (key_is(ks, kl, "token")) {
			act = FWD_DROP;
		}
		json_decref(k);
		if (act == FWD_DROP)
			continue;
		if (!first)
			rc = ch_buf_adds(out, ",");
		first = false;
		if (rc == 0)
			rc = ch_buf_add(out, buf + m[i].key_off, m[i].key_len);
		if (rc == 0)
			rc = ch_buf_adds(out, ":");
		if (rc == 0 && act == FWD_CUSTOM)
			rc = strip_object(buf + m[i].val_off, m[i].val_len, json_object_size(custom), custom, false,
					  out);
		else if (rc == 0)
			rc = ch_buf_add(out, buf + m[i].val_off, m[i].val_len);
	}
	if (rc == 0)
		rc = ch_buf_adds(out, "}");
out:
	free(m);
	return rc == EFBIG ? ENOMEM : rc;
}

int hook_fwd_sanitize(const char *body, size_t len, char **out, size_t *out_len)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return EINVAL;
	}
	struct ch_buf b;
	/* the copy only ever shrinks: "{" + members + "," between them + "}" */
	ch_buf_init(&b, len + 2);
	int rc = strip_object(body, len, json_object_size(root), root, true, &b);
	if (rc == 0)
		rc = ch_buf_nul(&b);
	json_decref(root);
	if (rc != 0) {
		ch_buf_free(&b);
		return rc;
	}
	*out = b.data;
	*out_len = b.len;
	return 0;
}

/* ---- queues (any thread, under mu) ------------------------------------- */

static void item_drop_oldest(struct hook_fwd *fw, struct fwd_target *t)
{
	struct fwd_item *it = t->head;
	t->head = it->next;
	if (!t->head)
		t->tail = NULL;
	t->count--;
	t->bytes -= it->len;
	free(it);
	__atomic_add_fetch(&fw->dropped, 1, __ATOMIC_RELAXED);
}

static struct fwd_item *item_pop(struct fwd_target *t)
{
	struct fwd_item *it = t->head;
	if (!it)
		return NULL;
	t->head = it->next;
	if (!t->head)
		t->tail = NULL;
	t->count--;
	t->bytes -= it->len;
	it->next = NULL;
	return it;
}

static bool method_ok(const char *m)
{
	size_t n = strnlen(m, HOOK_FWD_METHOD_MAX + 1);
	if (n == 0 || n > HOOK_FWD_METHOD_MAX)
		return false;
	/* it goes into a header: WCS method names are letters, digits and '_' */
	for (size_t i = 0; i < n; i++) {
		char c = m[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static bool target_wants(const struct fwd_target *t, const char *m)
{
	for (size_t i = 0; i < t->n_methods; i++)
		if (strcmp(t->methods[i], m) == 0)
			return true;
	return false;
}

void hook_fwd_submit(struct hook_fwd *fw, const char *wcs_method, const char *body, size_t len)
{
	if (!fw || !wcs_method || !body || !method_ok(wcs_method))
		return;
	bool queued = false;
	for (size_t i = 0; i < fw->n; i++) {
		struct fwd_target *t = &fw->t[i];
		if (!target_wants(t, wcs_method))
			continue;
		if (len > HOOK_FWD_QUEUE_BYTES_MAX) {
			__atomic_add_fetch(&fw->dropped, 1, __ATOMIC_RELAXED);
			continue;
		}
		/* allocate outside the lock: HTTP threads contend for it */
		struct fwd_item *it = malloc(sizeof(*it) + len + 1);
		if (!it) {
			__atomic_add_fetch(&fw->dropped, 1, __ATOMIC_RELAXED);
			continue;
		}
		it->next = NULL;
		it->len = len;
		ch_fmt(it->method, sizeof(it->method), "%s", wcs_method);
		memcpy(it->body, body, len);
		it->body[len] = '\0';
		pthread_mutex_lock(&fw->mu);
		if (fw->stopping) {
			pthread_mutex_unlock(&fw->mu);
			free(it);
			return;
		}
		while (t->head && ((int64_t)t->count >= t->queue_max || t->bytes + len > HOOK_FWD_QUEUE_BYTES_MAX))
			item_drop_oldest(fw, t);
		if (t->tail)
			t->tail->next = it;
		else
			t->head = it;
		t->tail = it;
		t->count++;
		t->bytes += len;
		pthread_mutex_unlock(&fw->mu);
		queued = true;
	}
	if (queued)
		curl_multi_wakeup(fw->multi);
}

/* ---- the forwarding thread ---------------------------------------------- */

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static void slot_release(struct fwd_slot *s)
{
	free(s->item);
	s->item = NULL;
	free(s->payload);
	s->payload = NULL;
	s->payload_len = 0;
	s->attempts = 0;
	s->due_ms = 0;
}

static void slot_fail(struct hook_fwd *fw, struct fwd_slot *s, const char *why)
{
	ch_warn("forward: hook.forward.[%zu]: %s event not delivered after %u attempt(s): %s", s->t->idx,
		s->item->method, s->attempts, why);
	__atomic_add_fetch(&fw->failed, 1, __ATOMIC_RELAXED);
	slot_release(s);
}

/* Start the next attempt; 0 or ENOMEM. */
static int slot_start(struct hook_fwd *fw, struct fwd_slot *s)
{
	if (!s->payload) {
		int rc = hook_fwd_sanitize(s->item->body, s->item->len, &s->payload, &s->payload_len);
		if (rc != 0)
			return rc;
	}
	char ev[sizeof("X-Callhook-Event: ") + HOOK_FWD_METHOD_MAX];
	if (ch_fmt(ev, sizeof(ev), "X-Callhook-Event: %s", s->item->method) != 0)
		return EINVAL;
	CURL *e = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
	struct curl_slist *h3 = h2 ? curl_slist_append(h2, ev) : NULL;
	if (!e || !h3) {
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
		return ENOMEM;
	}
	curl_easy_setopt(e, CURLOPT_URL, s->t->url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, s->payload);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->payload_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->t->timeout_ms);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "callhook/" CALLHOOK_VERSION);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)s);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (curl_multi_add_handle(fw->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		curl_slist_free_all(h);
		return ENOMEM;
	}
	s->easy = e;
	s->hdrs = h;
	return 0;
}

static int64_t backoff_ms(struct hook_fwd *fw, unsigned attempts)
{
	int64_t ms = HOOK_FWD_BACKOFF_MS;
	for (unsigned i = 1; i < attempts && ms < HOOK_FWD_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > HOOK_FWD_BACKOFF_MAX_MS)
		ms = HOOK_FWD_BACKOFF_MAX_MS;
	/* jitter so that many copies failing together do not retry together */
	return ms + (int64_t)(rand_r(&fw->rng) % (unsigned)(ms / 4 + 1));
}

static void slot_done(struct hook_fwd *fw, struct fwd_slot *s, CURLcode res)
{
	long status = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(fw->multi, s->easy);
	curl_easy_cleanup(s->easy);
	s->easy = NULL;
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	s->attempts++;
	if (res == CURLE_OK && status >= 200 && status < 300) {
		__atomic_add_fetch(&fw->sent, 1, __ATOMIC_RELAXED);
		slot_release(s);
		return;
	}
	char why[128];
	if (res != CURLE_OK)
		ch_fmt(why, sizeof(why), "%s", curl_easy_strerror(res));
	else
		ch_fmt(why, sizeof(why), "HTTP %ld", status);
	bool retry = res != CURLE_OK || status == 408 || status == 429 || status >= 500;
	if (!retry || (int64_t)s->attempts > s->t->retries) {
		slot_fail(fw, s, why);
		return;
	}
	s->due_ms = ch_now_ms() + backoff_ms(fw, s->attempts);
	ch_dbg("forward: hook.forward.[%zu]: %s event: %s; retry %u in %lld ms", s->t->idx, s->item->method, why,
	       s->attempts, (long long)(s->due_ms - ch_now_ms()));
}

static void *fwd_main(void *arg)
{
	struct hook_fwd *fw = arg;
	int64_t deadline = -1;
	for (;;) {
		pthread_mutex_lock(&fw->mu);
		bool stopping = fw->stopping;
		unsigned grace = fw->grace_ms;
		for (size_t i = 0; i < fw->n; i++) {
			struct fwd_target *t = &fw->t[i];
			for (size_t j = 0; j < HOOK_FWD_CONCURRENCY && t->head; j++)
				if (!t->slots[j].item)
					t->slots[j].item = item_pop(t);
		}
		pthread_mutex_unlock(&fw->mu);
		int64_t now = ch_now_ms();
		if (stopping && deadline < 0)
			deadline = now + grace;
		bool busy = false;
		int64_t next_due = INT64_MAX;
		for (size_t i = 0; i < fw->n; i++) {
			for (size_t j = 0; j < HOOK_FWD_CONCURRENCY; j++) {
				struct fwd_slot *s = &fw->t[i].slots[j];
				if (!s->item || s->easy) {
					busy |= s->item != NULL;
					continue;
				}
				if (s->due_ms > now) {
					busy = true;
					if (s->due_ms < next_due)
						next_due = s->due_ms;
					continue;
				}
				int rc = slot_start(fw, s);
				if (rc != 0)
					slot_fail(fw, s, rc == EINVAL ? "not a JSON object" : "out of memory");
				else
					busy = true;
			}
		}
		if (stopping && (!busy || now >= deadline))
			break;
		int64_t wait = 1000;
		if (next_due != INT64_MAX && next_due - now < wait)
			wait = next_due - now;
		if (deadline >= 0 && deadline - now < wait)
			wait = deadline - now;
		if (wait < 0)
			wait = 0;
		int running = 0;
		curl_multi_perform(fw->multi, &running);
		curl_multi_poll(fw->multi, NULL, 0, (int)wait, NULL);
		curl_multi_perform(fw->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(fw->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURLcode res = msg->data.result;
			void *p = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
			slot_done(fw, p, res);
		}
	}
	/* out of grace: abort what is left; new submits are refused already */
	uint64_t left = 0;
	for (size_t i = 0; i < fw->n; i++) {
		struct fwd_target *t = &fw->t[i];
		for (size_t j = 0; j < HOOK_FWD_CONCURRENCY; j++) {
			struct fwd_slot *s = &t->slots[j];
			if (s->easy) {
				curl_multi_remove_handle(fw->multi, s->easy);
				curl_easy_cleanup(s->easy);
				s->easy = NULL;
				curl_slist_free_all(s->hdrs);
				s->hdrs = NULL;
			}
			if (s->item) {
				left++;
				slot_release(s);
			}
		}
		pthread_mutex_lock(&fw->mu);
		struct fwd_item *it;
		while ((it = item_pop(t)) != NULL) {
			left++;
			free(it);
		}
		pthread_mutex_unlock(&fw->mu);
	}
	if (left) {
		__atomic_add_fetch(&fw->dropped, left, __ATOMIC_RELAXED);
		ch_warn("forward: stopping: %llu event(s) not delivered", (unsigned long long)left);
	}
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void fwd_free(struct hook_fwd *fw)
{
	for (size_t i = 0; i < fw->n; i++) {
		struct fwd_target *t = &fw->t[i];
		free(t->url);
		for (size_t j = 0; j < t->n_methods; j++)
			free(t->methods[j]);
		free(t->methods);
	}
	free(fw->t);
	if (fw->multi)
		curl_multi_cleanup(fw->multi);
	pthread_mutex_destroy(&fw->mu);
	free(fw);
}

int hook_fwd_start(const struct cfg_forward *f, size_t n, struct hook_fwd **out)
{
	if (n == 0) {
		*out = NULL;
		return 0;
	}
	/* thread-safe since libcurl 7.84; reference counted, undone in hook_fwd_stop */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ENOMEM;
	int rc = ENOMEM;
	struct hook_fwd *fw = calloc(1, sizeof(*fw));
	if (!fw)
		goto fail_global;
	pthread_mutex_init(&fw->mu, NULL);
	fw->rng = (unsigned)ch_now_us();
	fw->t = calloc(n, sizeof(*fw->t));
	if (!fw->t)
		goto fail;
	fw->n = n;
	for (size_t i = 0; i < n; i++) {
		struct fwd_target *t = &fw->t[i];
		t->idx = i;
		t->url = ch_strndup(f[i].url, strlen(f[i].url));
		t->methods = calloc(f[i].methods.n ? f[i].methods.n : 1, sizeof(*t->methods));
		if (!t->url || !t->methods)
			goto fail;
		for (size_t j = 0; j < f[i].methods.n; j++) {
			t->methods[j] = ch_strndup(f[i].methods.v[j], strlen(f[i].methods.v[j]));
			if (!t->methods[j])
				goto fail;
			t->n_methods++;
		}
		t->timeout_ms = f[i].timeout_ms > 0 ? f[i].timeout_ms : 5000;
		t->queue_max = f[i].queue_max > 0 ? f[i].queue_max : 1;
		t->retries = f[i].retries >= 0 ? f[i].retries : 0;
		for (size_t j = 0; j < HOOK_FWD_CONCURRENCY; j++)
			t->slots[j].t = t;
	}
	fw->multi = curl_multi_init();
	if (!fw->multi)
		goto fail;
	rc = pthread_create(&fw->thr, NULL, fwd_main, fw);
	if (rc != 0)
		goto fail;
	*out = fw;
	return 0;
fail:
	fwd_free(fw);
fail_global:
	curl_global_cleanup();
	return rc;
}

void hook_fwd_stats(struct hook_fwd *fw, uint64_t *sent, uint64_t *failed, uint64_t *dropped)
{
	if (sent)
		*sent = fw ? __atomic_load_n(&fw->sent, __ATOMIC_RELAXED) : 0;
	if (failed)
		*failed = fw ? __atomic_load_n(&fw->failed, __ATOMIC_RELAXED) : 0;
	if (dropped)
		*dropped = fw ? __atomic_load_n(&fw->dropped, __ATOMIC_RELAXED) : 0;
}

bool hook_fwd_same(const struct hook_fwd *fw, const struct cfg_forward *f, size_t n)
{
	if (!fw)
		return n == 0;
	if (fw->n != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct fwd_target *t = &fw->t[i];
		if (strcmp(t->url, f[i].url) != 0 || t->timeout_ms != f[i].timeout_ms ||
		    t->queue_max != f[i].queue_max || t->retries != f[i].retries || t->n_methods != f[i].methods.n)
			return false;
		for (size_t j = 0; j < t->n_methods; j++)
			if (strcmp(t->methods[j], f[i].methods.v[j]) != 0)
				return false;
	}
	return true;
}

void hook_fwd_stop(struct hook_fwd *fw, unsigned grace_ms)
{
	if (!fw)
		return;
	pthread_mutex_lock(&fw->mu);
	fw->stopping = true;
	fw->grace_ms = grace_ms;
	pthread_mutex_unlock(&fw->mu);
	curl_multi_wakeup(fw->multi);
	pthread_join(fw->thr, NULL);
	fwd_free(fw);
	curl_global_cleanup();
}
