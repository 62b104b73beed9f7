/* hook/forward.c: event forwarding: which entries want an event, the sanitised copy, one outbox per entry. */
#include "hook/forward.h"

#include "common/common.h"
#include "outbox/outbox.h"
#include "policy/policy.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct fwd_target {
	char *url;
	char **methods;
	size_t n_methods;
	int64_t timeout_ms;
	int64_t queue_max;
	int64_t retries;
	struct ob *ob;
};

struct hook_fwd {
	struct fwd_target *t;
	size_t n;
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

/* ---- submitting (any thread) ------------------------------------------- */

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
	char ev[sizeof("X-Callhook-Event: ") + HOOK_FWD_METHOD_MAX];
	char label[HOOK_FWD_METHOD_MAX + sizeof(" event")];
	if (ch_fmt(ev, sizeof(ev), "X-Callhook-Event: %s", wcs_method) != 0 ||
	    ch_fmt(label, sizeof(label), "%s event", wcs_method) != 0)
		return;
	for (size_t i = 0; i < fw->n; i++) {
		struct fwd_target *t = &fw->t[i];
		if (!target_wants(t, wcs_method))
			continue;
		/* the outbox takes its own copy; NULL is counted as dropped there */
		char *copy = len <= HOOK_FWD_QUEUE_BYTES_MAX ? ch_strndup(body, len) : NULL;
		(void)ob_post(t->ob, NULL, ev, label, copy, len);
	}
}

/* The outbox's prepare step: the copy is sanitised in its thread. */
static int prepare(const char *body, size_t len, char **out, size_t *out_len, const char **why, void *arg)
{
	(void)arg;
	int rc = hook_fwd_sanitize(body, len, out, out_len);
	if (rc)
		*why = rc == EINVAL ? "not a JSON object" : "out of memory";
	return rc;
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
	free(fw);
}

static int target_init(struct fwd_target *t, const struct cfg_forward *f, size_t idx)
{
	t->url = ch_strndup(f->url, strlen(f->url));
	t->methods = calloc(f->methods.n ? f->methods.n : 1, sizeof(*t->methods));
	if (!t->url || !t->methods)
		return ENOMEM;
	for (size_t j = 0; j < f->methods.n; j++) {
		t->methods[j] = ch_strndup(f->methods.v[j], strlen(f->methods.v[j]));
		if (!t->methods[j])
			return ENOMEM;
		t->n_methods++;
	}
	t->timeout_ms = f->timeout_ms;
	t->queue_max = f->queue_max;
	t->retries = f->retries;
	char name[64];
	ch_fmt(name, sizeof(name), "forward: hook.forward.[%zu]", idx);
	struct ob_params p = {.name = name, /* the url may carry credentials: the log names the entry */
			      .what = "event",
			      .url = f->url,
			      .concurrency = HOOK_FWD_CONCURRENCY,
			      .retries = f->retries >= 0 ? (unsigned)f->retries : 0,
			      .backoff_ms = HOOK_FWD_BACKOFF_MS,
			      .backoff_max_ms = HOOK_FWD_BACKOFF_MAX_MS,
			      .timeout_ms = f->timeout_ms > 0 ? f->timeout_ms : 5000,
			      .queue_max = f->queue_max > 0 ? (size_t)f->queue_max : 1,
			      .queue_bytes_max = HOOK_FWD_QUEUE_BYTES_MAX,
			      .drop_oldest = true,
			      .prepare = prepare};
	return ob_start(&p, &t->ob);
}

int hook_fwd_start(const struct cfg_forward *f, size_t n, struct hook_fwd **out)
{
	if (n == 0) {
		*out = NULL;
		return 0;
	}
	int rc = ENOMEM;
	struct hook_fwd *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return ENOMEM;
	fw->t = calloc(n, sizeof(*fw->t));
	if (!fw->t)
		goto out;
	for (size_t i = 0; i < n; i++) {
		fw->n++;
		rc = target_init(&fw->t[i], &f[i], i);
		if (rc)
			goto out;
	}
	*out = fw;
	return 0;
out:
	hook_fwd_stop(fw, 0);
	return rc;
}

void hook_fwd_stats(struct hook_fwd *fw, uint64_t *sent, uint64_t *failed, uint64_t *dropped)
{
	uint64_t s = 0, f = 0, d = 0;
	for (size_t i = 0; fw && i < fw->n; i++) {
		uint64_t a, b, c;
		ob_stats(fw->t[i].ob, &a, &b, &c);
		s += a;
		f += b;
		d += c;
	}
	if (sent)
		*sent = s;
	if (failed)
		*failed = f;
	if (dropped)
		*dropped = d;
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
	/* the outboxes deliver side by side: together they get grace_ms, not each */
	int64_t deadline = ch_now_ms() + grace_ms;
	for (size_t i = 0; i < fw->n; i++) {
		int64_t left = deadline - ch_now_ms();
		ob_stop(fw->t[i].ob, left > 0 ? (unsigned)left : 0);
	}
	fwd_free(fw);
}
