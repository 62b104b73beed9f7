/* hook/server.c: libmicrohttpd glue: listeners, capped body intake, request deadline, runtime swap, one log line per request. */
#include "hook/hook_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOOK_MAX_LISTEN 16

struct hook {
	struct MHD_Daemon *d[HOOK_MAX_LISTEN];
	size_t nd;
	pthread_mutex_t rt_lock;
	struct hook_rt *rt; /* current runtime; requests hold their own reference */
	struct hook_store *store;
	uint64_t next_id;   /* atomic request id */
	int inflight;       /* atomic */
};

struct req {
	struct hook_rt *rt;
	struct ch_buf body;
	int64_t start_ms;
	int64_t start_us;
	bool too_large;
	bool timed_out;
	char peer[INET6_ADDRSTRLEN];
	uint64_t id;
};

static struct hook_rt *rt_acquire(struct hook *h)
{
	pthread_mutex_lock(&h->rt_lock);
	struct hook_rt *rt = h->rt;
	__atomic_add_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&h->rt_lock);
	return rt;
}

static void peer_ip(struct MHD_Connection *c, char *out, size_t cap)
{
	out[0] = '\0';
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
}

static enum MHD_Result respond(struct MHD_Connection *c, struct hook_resp *r)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"", r->body ? MHD_RESPMEM_MUST_FREE
												    : MHD_RESPMEM_PERSISTENT);
	r->body = NULL; /* owned by MHD now */
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void log_request(const struct req *rq, const struct hook_resp *r, const char *http_method)
{
	int64_t us = ch_now_us() - rq->start_us;
	ch_log(r->status >= 500 ? CH_LOG_WARN : CH_LOG_INFO,
	       "req=%llu peer=%s http=%s method=%s site=%s verdict=%s status=%d us=%lld sid=%s",
	       (unsigned long long)rq->id, rq->peer[0] ? rq->peer : "-", http_method,
	       r->method[0] ? r->method : "-", r->site[0] ? r->site : "-", r->verdict, r->status, (long long)us,
	       r->sid[0] ? r->sid : "-");
}

static enum MHD_Result finish(struct hook *h, struct MHD_Connection *c, struct req *rq, const char *url,
			      const char *method)
{
	struct hook_req in = {
		.http_method = method,
		.path = url,
		.authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
		.peer_ip = rq->peer[0] ? rq->peer : NULL,
		.body = rq->body.data ? rq->body.data : "",
		.body_len = rq->body.len,
		.body_too_large = rq->too_large,
		.timed_out = rq->timed_out,
	};
	struct hook_resp out;
	hook_process(rq->rt, h->store, &in, ch_now_ms(), ch_wall_s(), &out);
	log_request(rq, &out, method);
	enum MHD_Result ret = respond(c, &out);
	hook_resp_free(&out);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct hook *h = cls;
	struct req *rq = *con_cls;
	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->rt = rt_acquire(h);
		rq->start_ms = ch_now_ms();
		rq->start_us = ch_now_us();
		rq->id = __atomic_add_fetch(&h->next_id, 1, __ATOMIC_RELAXED);
		ch_buf_init(&rq->body, (size_t)rq->rt->cfg->hook.max_body_bytes);
		peer_ip(c, rq->peer, sizeof(rq->peer));
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
		if (!post || !hook_peer_allowed(rq->rt, rq->peer) || rq->too_large)
			return finish(h, c, rq, url, method);
		return MHD_YES;
	}
	if (*upload_size) {
		if (ch_now_ms() - rq->start_ms > rq->rt->cfg->hook.request_timeout_s * 1000) {
			/* a client trickling its body is cut: the deadline is for the whole request */
			ch_warn("req=%llu peer=%s: request not complete within request_timeout_s, closing",
				(unsigned long long)rq->id, rq->peer);
			return MHD_NO;
		}
		if (!rq->too_large && ch_buf_add(&rq->body, upload_data, *upload_size) != 0) {
			rq->too_large = true;
			ch_buf_free(&rq->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return finish(h, c, rq, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct hook *h = cls;
	struct req *rq = *con_cls;
	(void)c;
	(void)toe;
	if (!rq)
		return;
	ch_buf_free(&rq->body);
	hook_rt_release(rq->rt);
	free(rq);
	*con_cls = NULL;
	__atomic_sub_fetch(&h->inflight, 1, __ATOMIC_RELAXED);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	ch_dbg("libmicrohttpd: %s", buf);
}

/* "host:port" / "[v6]:port" -> sockaddr. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(s, ':');
	if (!colon)
		return EINVAL;
	int64_t port;
	if (ch_parse_i64(colon + 1, strlen(colon + 1), 0, 65535, &port))
		return EINVAL;
	char host[128];
	size_t hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof(host))
		return EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return EINVAL;
	a4->sin_family = AF_INET;
	a4->sin_port = htons((uint16_t)port);
	*len = sizeof(*a4);
	return 0;
}

static int bound_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	if (!di)
		return 0;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(di->listen_fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int hook_start(struct hook_rt *rt, struct hook **out, char *err, size_t errlen)
{
	const struct cfg_hook *hc = &rt->cfg->hook;
	struct hook *h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	pthread_mutex_init(&h->rt_lock, NULL);
	h->rt = rt;
	int rc = hs_new(&h->store);
	if (rc)
		goto fail;
	unsigned threads = (unsigned)hc->threads;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	for (size_t i = 0; i < hc->listen.n && i < HOOK_MAX_LISTEN; i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (parse_listen(hc->listen.v[i], &ss, &sl) != 0) {
			snprintf(err, errlen, "hook.listen: \"%s\" is not host:port", hc->listen.v[i]);
			rc = EINVAL;
			goto fail;
		}
		unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
		if (ss.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		h->d[h->nd] = MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)hc->request_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)hc->max_connections,
			MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)hc->max_connections_per_ip,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_END);
		if (!h->d[h->nd]) {
			snprintf(err, errlen, "hook.listen: cannot listen on %s (address in use or not local?)",
				 hc->listen.v[i]);
			rc = EADDRINUSE;
			goto fail;
		}
		int port = bound_port(h->d[h->nd]);
		char host[128];
		snprintf(host, sizeof(host), "%s", hc->listen.v[i]);
		char *colon = strrchr(host, ':');
		if (colon)
			*colon = '\0';
		ch_info("hook: listening on %s:%d", host, port);
		h->nd++;
	}
	*out = h;
	return 0;
fail:
	for (size_t i = 0; i < h->nd; i++)
		MHD_stop_daemon(h->d[i]);
	hs_free(h->store);
	pthread_mutex_destroy(&h->rt_lock);
	free(h);
	return rc;
}

void hook_reload(struct hook *h, struct hook_rt *rt)
{
	pthread_mutex_lock(&h->rt_lock);
	struct hook_rt *old = h->rt;
	h->rt = rt;
	pthread_mutex_unlock(&h->rt_lock);
	hook_rt_release(old);
}

void hook_stop(struct hook *h, unsigned grace_ms)
{
	if (!h)
		return;
	/* stop accepting first, then let requests in flight finish */
	for (size_t i = 0; i < h->nd; i++)
		MHD_quiesce_daemon(h->d[i]);
	for (unsigned waited = 0; waited < grace_ms && __atomic_load_n(&h->inflight, __ATOMIC_RELAXED) > 0;
	     waited += 10) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < h->nd; i++)
		MHD_stop_daemon(h->d[i]);
	hs_free(h->store);
	hook_rt_release(h->rt);
	pthread_mutex_destroy(&h->rt_lock);
	free(h);
}
