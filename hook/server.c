/* hook/server.c: the hook's HTTP side: listeners through web/ (rebound on reload), capped body intake, the request
 * deadline, the runtime swap, the drain at stop. */
#include "hook/hook_int.h"
#include "hook/store_redis.h"

#include "common/metrics.h"
#include "web/web.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HOOK_MAX_LISTEN 16

struct listener {
	char addr[128];
	bool tls;
	struct web_listener *l;
};

struct hook {
	struct listener l[HOOK_MAX_LISTEN];
	size_t nl;
	struct hook_watchdog *wd;
	pthread_rwlock_t rt_lock; /* read: a request takes its reference; write: a reload swaps rt */
	struct hook_rt *rt;       /* current runtime; requests hold their own reference */
	struct hook_store *store;
	uint64_t next_id; /* atomic request id */
	int inflight;     /* atomic */
	bool admin_elsewhere;
	bool stopping; /* atomic: answers carry Connection: close */
};

/* An oversize body is read and dropped up to this much before the 413 goes
 * out, so that the client, still sending, reads the answer instead of a reset
 * (nginx's lingering close, bounded in bytes here and by request_timeout_s
 * in time). Nothing of it is kept. */
#define DRAIN_MAX ((uint64_t)16 << 20)

/* A body's buffer is sized from its Content-Length up to this much at once
 * (one allocation, no regrowth, and a mirror hands it on as the answer);
 * past it, it grows as bytes arrive, so a declared length costs no memory
 * before its bytes come. */
#define RESERVE_MAX ((int64_t)64 << 10)

struct req {
	struct hook_rt *rt;
	struct ch_buf body;
	int64_t start_us;
	int64_t end_us; /* when the answer was queued (the watchdog's next phase) */
	bool too_large;
	uint64_t drained; /* body bytes read and dropped once too_large */
	char peer[INET6_ADDRSTRLEN];
	uint64_t id;
};

static struct hook_rt *rt_acquire(struct hook *h)
{
	pthread_rwlock_rdlock(&h->rt_lock);
	struct hook_rt *rt = h->rt;
	__atomic_add_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL);
	pthread_rwlock_unlock(&h->rt_lock);
	return rt;
}

static void collect(void *arg)
{
	struct hook *h = arg;
	struct hook_rt *rt = rt_acquire(h);
	hook_metrics_collect(rt, h->store);
	hook_rt_release(rt);
}

static void log_request(struct req *rq, const struct hook_resp *r, const char *http_method)
{
	rq->end_us = ch_now_us();
	hook_metrics_request(rq->id, rq->peer, http_method, r, rq->end_us - rq->start_us);
}

/* /healthz and /metrics on the hook's port (when there is no admin
 * listener), answered by web/; WCS only POSTs, so a POST there stays a WCS
 * event. /healthz answers are logged and counted as the pipeline's are. */
static bool health_metrics(struct hook *h, struct MHD_Connection *c, struct req *rq, const char *url,
			   const char *method, enum MHD_Result *ret)
{
	if (h->admin_elsewhere || strcmp(method, "POST") == 0 || web_hm_of(url, method) == WEB_HM_NONE)
		return false;
	enum web_hm what;
	*ret = web_serve_health_metrics(c, url, method, __atomic_load_n(&h->stopping, __ATOMIC_RELAXED), &what);
	if (what == WEB_HM_METRICS)
		return true;
	struct hook_resp out = {.status = what == WEB_HM_HEALTH ? 200 : 405,
				.verdict = what == WEB_HM_HEALTH ? HOOK_HEALTH : HOOK_DENY_METHOD};
	ch_fmt(out.method, sizeof(out.method), "%s", url + 1);
	log_request(rq, &out, method);
	return true;
}

static enum MHD_Result finish(struct hook *h, struct MHD_Connection *c, struct req *rq, const char *url,
			      const char *method)
{
	enum MHD_Result ret;
	if (health_metrics(h, c, rq, url, method, &ret))
		return ret;
	struct hook_req in = {
	    .http_method = method,
	    .path = url,
	    .authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
	    .peer_ip = rq->peer[0] ? rq->peer : NULL,
	    .body = rq->body.data ? rq->body.data : "",
	    .body_len = rq->body.len,
	    .body_too_large = rq->too_large,
	    .give = rq->body.data ? &rq->body.data : NULL,
	};
	struct hook_resp out;
	hook_process(rq->rt, h->store, &in, ch_now_ms(), ch_wall_ms(), &out);
	log_request(rq, &out, method);
	/* copies go to a queue; WCS never waits for them. in.body stays valid
	 * until this returns even when the answer took it: MHD frees an answer
	 * in this connection's thread, after this callback. */
	if (rq->rt->fwd && out.status == 200)
		hook_fwd_submit(rq->rt->fwd->fw, out.method, in.body, in.body_len);
	/* while stopping, tell keep-alive clients not to send another request here */
	struct web_answer a = {.status = (unsigned)out.status,
			       .ctype = "application/json",
			       .body = out.body,
			       .len = out.len,
			       .take = out.body != NULL,
			       .allow = out.allow,
			       .close = __atomic_load_n(&h->stopping, __ATOMIC_RELAXED)};
	out.body = NULL; /* owned by MHD now */
	ret = web_send(c, &a);
	hook_resp_free(&out);
	return ret;
}

/* web/ refused the request for its framing: the log line and counters. */
static void on_refused(struct MHD_Connection *c, const char *method, const char *reason, void *arg)
{
	struct hook *h = arg;
	(void)reason;
	struct req rq = {.start_us = ch_now_us(), .id = __atomic_add_fetch(&h->next_id, 1, __ATOMIC_RELAXED)};
	hook_watchdog_phase(h->wd, c, true, rq.start_us / 1000);
	web_peer_ip(c, rq.peer, sizeof(rq.peer));
	struct hook_resp out = {.status = 400, .verdict = HOOK_FRAMING};
	ch_fmt(out.method, sizeof(out.method), "-");
	log_request(&rq, &out, method);
}

static enum MHD_Result on_first(struct hook *h, struct MHD_Connection *c, const char *url, const char *method,
				void **con_cls)
{
	int64_t now_us = ch_now_us();
	hook_watchdog_phase(h->wd, c, true, now_us / 1000);
	struct req *rq = calloc(1, sizeof(*rq));
	if (!rq)
		return MHD_NO;
	rq->rt = rt_acquire(h);
	rq->start_us = now_us;
	rq->id = __atomic_add_fetch(&h->next_id, 1, __ATOMIC_RELAXED);
	ch_buf_init(&rq->body, (size_t)rq->rt->cfg->hook.max_body_bytes);
	web_peer_ip(c, rq->peer, sizeof(rq->peer));
	*con_cls = rq;
	__atomic_add_fetch(&h->inflight, 1, __ATOMIC_RELAXED);
	/* answer at once what needs no body: wrong method, refused peer, a declared oversize body */
	bool post = strcmp(method, "POST") == 0;
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int64_t clen = -1;
	if (cl && ch_parse_i64(cl, strlen(cl), 0, INT64_MAX, &clen) != 0)
		clen = -1;
	if (post && clen > rq->rt->cfg->hook.max_body_bytes)
		rq->too_large = true;
	else if (post && clen > 0 && ch_buf_reserve(&rq->body, (size_t)(clen < RESERVE_MAX ? clen : RESERVE_MAX)) != 0)
		return MHD_NO;
	/* a client waiting for 100 Continue gets the 413 instead, before it sends
	 * anything (MHD sends no 100 once an answer is queued); any other client
	 * is already sending: drain first (DRAIN_MAX) */
	const char *expect =
	    rq->too_large ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT) : NULL;
	bool waits = expect && strcasecmp(expect, "100-continue") == 0;
	if (!post || !hook_peer_allowed(rq->rt, rq->peer) || (rq->too_large && (waits || (uint64_t)clen > DRAIN_MAX)))
		return finish(h, c, rq, url, method);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct hook *h = cls;
	struct req *rq = *con_cls;
	(void)version;
	if (!rq)
		return on_first(h, c, url, method, con_cls);
	if (*upload_size) {
		if (ch_now_us() - rq->start_us > rq->rt->cfg->hook.request_timeout_s * 1000000) {
			/* a client trickling its body is cut: the deadline is for the whole request */
			ch_warn("req=%llu peer=%s: request not complete within request_timeout_s, closing",
				(unsigned long long)rq->id, rq->peer);
			hook_metrics_verdict(HOOK_TIMEOUT);
			return MHD_NO;
		}
		if (!rq->too_large && ch_buf_add(&rq->body, upload_data, *upload_size) != 0) {
			rq->too_large = true;
			ch_buf_free(&rq->body);
		}
		if (rq->too_large)
			rq->drained += *upload_size;
		*upload_size = 0;
		/* past the drain bound: answer now, MHD closes after it */
		return rq->too_large && rq->drained > DRAIN_MAX ? finish(h, c, rq, url, method) : MHD_YES;
	}
	return finish(h, c, rq, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct hook *h = cls;
	struct req *rq = *con_cls;
	(void)toe;
	/* the request's end, else (a request refused for its framing, or none) now */
	hook_watchdog_phase(h->wd, c, false, rq && rq->end_us ? rq->end_us / 1000 : ch_now_ms());
	if (!rq)
		return;
	ch_buf_free(&rq->body);
	hook_rt_release(rq->rt);
	free(rq);
	*con_cls = NULL;
	__atomic_sub_fetch(&h->inflight, 1, __ATOMIC_RELAXED);
}

static unsigned thread_count(const struct cfg_hook *hc)
{
	if (hc->threads > 0)
		return (unsigned)hc->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* Listener i of hook.listen; NULL with err set. */
static struct web_listener *start_hook_listener(struct hook *h, const struct hook_rt *rt, size_t i,
						struct cfg_error *err)
{
	char path[48];
	(void)ch_fmt(path, sizeof path, "hook.listen.[%zu]", i);
	const struct cfg_hook *hc = &rt->cfg->hook;
	struct web_params p = {.name = "hook",
			       .handler = on_request,
			       .arg = h,
			       .completed = on_completed,
			       .notify = hook_watchdog_notify,
			       .notify_arg = h->wd,
			       .refused = on_refused,
			       .threads = thread_count(hc),
			       .timeout_s = (unsigned)hc->request_timeout_s,
			       .max_conn = (unsigned)hc->max_connections,
			       .per_ip = (unsigned)hc->max_connections_per_ip,
			       /* libmicrohttpd zeroes the per-connection pool between requests: 32 KiB
				* by default, a fifth of a connect's instructions. Headers and read buffers of
				* WCS requests fit 8 KiB; bodies are copied out as they arrive. */
			       .mem_limit = 8192,
			       .cert = rt->tls_cert,
			       .key = rt->tls_key,
			       .listen_fd = -1,
			       .cfg = rt->cfg,
			       .path = path};
	struct web_listener *l = NULL;
	return web_listen(hc->listen.v[i], &p, &l, err) == 0 ? l : NULL;
}

static void stop_listener(struct listener *l)
{
	web_stop(l->l);
	l->l = NULL;
}

int hook_start(struct hook_rt *rt, struct hook **out, struct cfg_error *err)
{
	const struct cfg_hook *hc = &rt->cfg->hook;
	struct hook *h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	pthread_rwlock_init(&h->rt_lock, NULL);
	h->rt = rt;
	h->admin_elsewhere = rt->cfg->has_admin;
	int rc = hs_new(&h->store);
	if (!rc && strcmp(rt->cfg->store.backend, "redis") == 0) {
		rc = hs_use_redis(h->store, &rt->cfg->store);
		if (rc)
			cfg_set_error(rt->cfg, err, "store", "cannot start the hook's Redis client: %s", strerror(rc));
	} else if (rc) {
		cfg_set_error(rt->cfg, err, "hook", "cannot create the state store: %s", strerror(rc));
	}
	if (rc)
		goto out;
	hs_set_max_entries(h->store, (size_t)hc->max_sessions * 4);
	if (hc->listen.n > HOOK_MAX_LISTEN) {
		cfg_set_error(rt->cfg, err, "hook.listen", "at most %d addresses", HOOK_MAX_LISTEN);
		rc = EINVAL;
		goto out;
	}
	rc = hook_watchdog_start(hc->request_timeout_s, &h->wd);
	if (rc) {
		cfg_set_error(rt->cfg, err, "hook", "cannot start the header watchdog thread");
		goto out;
	}
	for (size_t i = 0; i < hc->listen.n; i++) {
		struct listener *l = &h->l[h->nl];
		l->l = start_hook_listener(h, rt, i, err);
		if (!l->l) {
			rc = EADDRINUSE;
			goto out;
		}
		snprintf(l->addr, sizeof(l->addr), "%s", hc->listen.v[i]);
		l->tls = rt->tls_cert != NULL;
		h->nl++;
	}
	if (hc->n_forward) {
		rt->fwd = calloc(1, sizeof(*rt->fwd));
		if (!rt->fwd || hook_fwd_start(hc->forward, hc->n_forward, &rt->fwd->fw) != 0) {
			free(rt->fwd);
			rt->fwd = NULL;
			cfg_set_error(rt->cfg, err, "hook.forward", "cannot start the forwarding thread");
			rc = ENOMEM;
			goto out;
		}
		rt->fwd->refs = 1;
	}
	ch_metrics_collector(0, collect, h);
	*out = h;
	return 0;
out:
	for (size_t i = 0; i < h->nl; i++)
		stop_listener(&h->l[i]);
	hook_watchdog_stop(h->wd);
	hs_free(h->store);
	pthread_rwlock_destroy(&h->rt_lock);
	free(h);
	return rc;
}

static bool tls_same(const struct hook_rt *a, const struct hook_rt *b)
{
	if (!a->tls_cert || !b->tls_cert)
		return !a->tls_cert && !b->tls_cert;
	return strcmp(a->tls_cert, b->tls_cert) == 0 && strcmp(a->tls_key, b->tls_key) == 0;
}

/* The forwarder of the new runtime: the running one (another reference)
 * when hook.forward did not change, else a new one. 0 or ENOMEM. */
static int fwd_for(struct hook *h, const struct hook_rt *rt, struct hook_fwd_ref **out)
{
	const struct cfg_hook *nh = &rt->cfg->hook;
	struct hook_fwd_ref *fwd = NULL;
	if (hook_fwd_same(h->rt->fwd ? h->rt->fwd->fw : NULL, nh->forward, nh->n_forward)) {
		fwd = h->rt->fwd;
		if (fwd)
			__atomic_add_fetch(&fwd->refs, 1, __ATOMIC_ACQ_REL);
	} else if (nh->n_forward) {
		fwd = calloc(1, sizeof(*fwd));
		if (!fwd || hook_fwd_start(nh->forward, nh->n_forward, &fwd->fw) != 0) {
			free(fwd);
			return ENOMEM;
		}
		fwd->refs = 1;
	}
	*out = fwd;
	return 0;
}

/* Which running listeners the new runtime keeps (keep[j]), and the new ones
 * it needs, bound now: if one fails, nothing changes (those bound are
 * stopped) and EADDRINUSE is returned with err filled. */
static int listeners_diff(struct hook *h, const struct hook_rt *rt, bool *keep, struct listener *fresh, size_t *nfresh,
			  struct cfg_error *err)
{
	const struct cfg_strv *nl = &rt->cfg->hook.listen;
	bool tls_changed = !tls_same(h->rt, rt);
	size_t n = 0;
	for (size_t i = 0; i < nl->n; i++) {
		bool have = false;
		for (size_t j = 0; j < h->nl && !have && !tls_changed; j++) {
			if (strcmp(h->l[j].addr, nl->v[i]) == 0) {
				keep[j] = true;
				have = true;
			}
		}
		if (have)
			continue;
		struct web_listener *l = start_hook_listener(h, rt, i, err);
		if (!l) {
			for (size_t k = 0; k < n; k++)
				stop_listener(&fresh[k]);
			return EADDRINUSE;
		}
		snprintf(fresh[n].addr, sizeof(fresh[n].addr), "%s", nl->v[i]);
		fresh[n].tls = rt->tls_cert != NULL;
		fresh[n++].l = l;
	}
	*nfresh = n;
	return 0;
}

int hook_reload(struct hook *h, struct hook_rt *rt, struct cfg_error *err)
{
	if (rt->cfg->hook.listen.n > HOOK_MAX_LISTEN) {
		cfg_set_error(rt->cfg, err, "hook.listen", "at most %d addresses", HOOK_MAX_LISTEN);
		return EINVAL;
	}
	struct hook_fwd_ref *fwd = NULL;
	if (fwd_for(h, rt, &fwd) != 0) {
		cfg_set_error(rt->cfg, err, "hook.forward", "cannot start the forwarding thread");
		return ENOMEM;
	}
	struct listener fresh[HOOK_MAX_LISTEN];
	size_t nfresh = 0;
	bool keep[HOOK_MAX_LISTEN] = {false};
	if (listeners_diff(h, rt, keep, fresh, &nfresh, err) != 0) {
		hook_fwd_ref_release(fwd, 0);
		return EADDRINUSE;
	}
	rt->fwd = fwd;
	hs_lock(h->store);
	hs_set_max_entries(h->store, (size_t)rt->cfg->hook.max_sessions * 4);
	hs_unlock(h->store);
	hook_watchdog_set_limit(h->wd, rt->cfg->hook.request_timeout_s);
	pthread_rwlock_wrlock(&h->rt_lock);
	struct hook_rt *old = h->rt;
	h->rt = rt;
	pthread_rwlock_unlock(&h->rt_lock);
	/* close what is no longer configured; unchanged listeners never close */
	size_t n = 0;
	for (size_t j = 0; j < h->nl; j++) {
		if (keep[j]) {
			h->l[n++] = h->l[j];
		} else {
			ch_info("hook: closing listener %s", h->l[j].addr);
			stop_listener(&h->l[j]);
		}
	}
	for (size_t k = 0; k < nfresh; k++)
		h->l[n++] = fresh[k];
	h->nl = n;
	hook_rt_release(old);
	return 0;
}

void hook_stop(struct hook *h, unsigned grace_ms)
{
	if (!h)
		return;
	ch_metrics_collector(0, NULL, NULL);
	/* stop accepting first, then let requests in flight finish; keep-alive
	 * clients are told to close, and the drain ends after 100 ms of quiet */
	__atomic_store_n(&h->stopping, true, __ATOMIC_RELAXED);
	for (size_t i = 0; i < h->nl; i++)
		web_quiesce(h->l[i].l);
	unsigned quiet = 0;
	for (unsigned waited = 0; waited < grace_ms && quiet < 100; waited += 10) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
		quiet = __atomic_load_n(&h->inflight, __ATOMIC_RELAXED) > 0 ? 0 : quiet + 10;
	}
	for (size_t i = 0; i < h->nl; i++)
		stop_listener(&h->l[i]);
	hook_watchdog_stop(h->wd);
	hs_free(h->store);
	/* the listeners are gone: nothing submits any more; deliver what is queued */
	if (h->rt->fwd) {
		hook_fwd_ref_release(h->rt->fwd, grace_ms);
		h->rt->fwd = NULL;
	}
	hook_rt_release(h->rt);
	pthread_rwlock_destroy(&h->rt_lock);
	free(h);
}
