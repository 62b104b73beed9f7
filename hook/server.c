/* hook/server.c: libmicrohttpd glue: listeners (rebound on reload), capped body intake, request deadline, runtime swap,
 * metrics, one log line per request. */
#include "hook/hook_int.h"

#include "common/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOOK_MAX_LISTEN 16

struct listener {
	char addr[128];
	bool tls;
	struct MHD_Daemon *d;
};

/* One TCP connection, for the header watchdog: libmicrohttpd's idle timeout
 * restarts with every byte, so a client sending one header line at a time
 * would never be cut without it. */
struct conn {
	struct conn *prev, *next;
	struct MHD_Connection *c;
	int64_t phase_ms;  /* when this connection started, or its last request ended */
	bool headers_done; /* the current request reached the access handler */
	bool cut;
};

struct hook {
	struct listener l[HOOK_MAX_LISTEN];
	pthread_mutex_t conn_lock;
	struct conn *conns;
	pthread_t watchdog;
	bool watchdog_running;
	bool watchdog_stop; /* under conn_lock */
	pthread_cond_t watchdog_cond;
	size_t nl;
	pthread_mutex_t rt_lock;
	struct hook_rt *rt; /* current runtime; requests hold their own reference */
	struct hook_store *store;
	uint64_t next_id; /* atomic request id */
	int inflight;     /* atomic */
	bool admin_elsewhere;
	bool stopping; /* atomic: answers carry Connection: close */
};

struct req {
	struct hook_rt *rt;
	struct ch_buf body;
	int64_t start_us;
	bool too_large;
	bool framing_bad; /* refused at the headers */
	char peer[INET6_ADDRSTRLEN];
	uint64_t id;
};

/* WCS method names used as metric labels; anything else is "other" so that a
 * client cannot grow the label set. */
static const char *const known_methods[] = {"connect",
					    "call",
					    "answer",
					    "hangup",
					    "hold",
					    "unhold",
					    "transfer",
					    "sendDtmf",
					    "sendMessage",
					    "publishStream",
					    "unPublishStream",
					    "playStream",
					    "stopStream",
					    "pauseStream",
					    "snapshot",
					    "OnDataEvent",
					    "submitBugReport",
					    "pushLogs",
					    "sessionDebug",
					    "OnCallEvent",
					    "OnTransferEvent",
					    "OnMessageEvent",
					    "ConnectionStatusEvent",
					    "RegistrationStatusEvent",
					    "CallStatusEvent",
					    "TransferStatusEvent",
					    "MessageStatusEvent",
					    "StreamStatusEvent",
					    "StreamKeepAliveEvent",
					    "DataStatusEvent",
					    "BugReportStatusEvent",
					    "SessionDebugStatusEvent",
					    "ErrorEvent",
					    "healthz",
					    "metrics",
					    NULL};

static const char *metric_method(const char *m)
{
	for (size_t i = 0; known_methods[i]; i++) {
		if (strcmp(known_methods[i], m) == 0)
			return known_methods[i];
	}
	return "other";
}

void hook_metrics_declare(void)
{
	ch_metrics_declare("callhook_build_info", "gauge", "Version of this callhook build.");
	char labels[64];
	snprintf(labels, sizeof(labels), "version=\"%s\"", CALLHOOK_VERSION);
	ch_metrics_set("callhook_build_info", labels, 1);
	ch_metrics_declare("callhook_requests_total", "counter", "Hook requests by WCS method and HTTP status.");
	ch_metrics_declare("callhook_verdicts_total", "counter",
			   "Hook decisions by verdict (allow, mirror, origin, token, budget, auth, body, size, ...).");
	ch_metrics_declare("callhook_request_duration_seconds", "histogram", "Time to answer a hook request.");
	ch_metrics_declare("callhook_sessions_active", "gauge", "WCS sessions the hook accepted and still tracks.");
	ch_metrics_declare("callhook_site_concurrent_calls", "gauge", "Calls holding a concurrent slot, per site.");
	ch_metrics_declare("callhook_reloads_total", "counter", "Configuration reloads by result.");
	ch_metrics_declare("callhook_forward_total", "counter",
			   "Forwarded event copies by outcome (sent, failed, dropped: queue full or stopped).");
}

static struct hook_rt *rt_acquire(struct hook *h)
{
	pthread_mutex_lock(&h->rt_lock);
	struct hook_rt *rt = h->rt;
	__atomic_add_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&h->rt_lock);
	return rt;
}

static void collect(void *arg)
{
	struct hook *h = arg;
	struct hook_rt *rt = rt_acquire(h);
	hs_lock(h->store);
	ch_metrics_set("callhook_sessions_active", "", (double)hs_session_count(h->store));
	for (size_t i = 0; i < rt->n_sites; i++) {
		char labels[128];
		snprintf(labels, sizeof(labels), "site=\"%s\"", rt->sites[i].cfg->name);
		ch_metrics_set("callhook_site_concurrent_calls", labels,
			       (double)hs_site_active(h->store, rt->sites[i].cfg->name));
	}
	hs_unlock(h->store);
	if (rt->fwd) {
		uint64_t sent, failed, dropped;
		hook_fwd_stats(rt->fwd->fw, &sent, &failed, &dropped);
		ch_metrics_set("callhook_forward_total", "outcome=\"sent\"", (double)sent);
		ch_metrics_set("callhook_forward_total", "outcome=\"failed\"", (double)failed);
		ch_metrics_set("callhook_forward_total", "outcome=\"dropped\"", (double)dropped);
	}
	hook_rt_release(rt);
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

static enum MHD_Result queue(struct MHD_Connection *c, int status, char *body, size_t len, const char *ctype,
			     const char *allow)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result respond_metrics(struct MHD_Connection *c)
{
	size_t len = 0;
	char *text = ch_metrics_render(&len);
	if (!text)
		return queue(c, 500, strdup("{\"status\":500,\"reason\":\"out of memory\"}"), 39, "application/json",
			     NULL);
	return queue(c, 200, text, len, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

static void log_request(const struct req *rq, const struct hook_resp *r, const char *http_method)
{
	int64_t us = ch_now_us() - rq->start_us;
	ch_log(r->status >= 500 ? CH_LOG_WARN : CH_LOG_INFO,
	       "req=%llu peer=%s http=%s method=%s site=%s verdict=%s status=%d us=%lld sid=%s",
	       (unsigned long long)rq->id, rq->peer[0] ? rq->peer : "-", http_method, r->method[0] ? r->method : "-",
	       r->site[0] ? r->site : "-", r->verdict, r->status, (long long)us, r->sid[0] ? r->sid : "-");
	char labels[160];
	snprintf(labels, sizeof(labels), "method=\"%s\",status=\"%d\"", metric_method(r->method), r->status);
	ch_metrics_add("callhook_requests_total", labels, 1);
	snprintf(labels, sizeof(labels), "verdict=\"%s\"", r->verdict);
	ch_metrics_add("callhook_verdicts_total", labels, 1);
	ch_metrics_observe("callhook_request_duration_seconds", "", (double)us / 1e6);
}

static enum MHD_Result finish(struct hook *h, struct MHD_Connection *c, struct req *rq, const char *url,
			      const char *method)
{
	bool get_like = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if (!h->admin_elsewhere && get_like && strcmp(url, "/metrics") == 0)
		return respond_metrics(c);
	struct hook_req in = {
	    .http_method = method,
	    .path = url,
	    .authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
	    .peer_ip = rq->peer[0] ? rq->peer : NULL,
	    .body = rq->body.data ? rq->body.data : "",
	    .body_len = rq->body.len,
	    .body_too_large = rq->too_large,
	    .admin_elsewhere = h->admin_elsewhere,
	};
	struct hook_resp out;
	hook_process(rq->rt, h->store, &in, ch_now_ms(), ch_wall_s(), &out);
	log_request(rq, &out, method);
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    out.len, out.body ? out.body : (char *)"", out.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	out.body = NULL; /* owned by MHD now */
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (out.allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out.allow);
	/* while stopping, tell keep-alive clients not to send another request here */
	if (__atomic_load_n(&h->stopping, __ATOMIC_RELAXED))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)out.status, resp);
	MHD_destroy_response(resp);
	/* copies go to a queue; WCS never waits for them */
	if (rq->rt->fwd && out.status == 200)
		hook_fwd_submit(rq->rt->fwd->fw, out.method, in.body, in.body_len);
	hook_resp_free(&out);
	return ret;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct hook *h = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn *k = calloc(1, sizeof(*k));
		if (!k)
			return;
		k->c = c;
		k->phase_ms = ch_now_ms();
		pthread_mutex_lock(&h->conn_lock);
		k->next = h->conns;
		if (h->conns)
			h->conns->prev = k;
		h->conns = k;
		pthread_mutex_unlock(&h->conn_lock);
		*socket_context = k;
		return;
	}
	struct conn *k = *socket_context;
	if (!k)
		return;
	pthread_mutex_lock(&h->conn_lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&h->conn_lock);
	free(k);
	*socket_context = NULL;
}

static void conn_phase(struct hook *h, struct MHD_Connection *c, bool headers_done)
{
	struct conn *k = conn_of(c);
	if (!k)
		return;
	pthread_mutex_lock(&h->conn_lock);
	k->headers_done = headers_done;
	k->phase_ms = ch_now_ms();
	pthread_mutex_unlock(&h->conn_lock);
}

/* Cut connections whose request headers are not complete within twice
 * request_timeout_s of the connection's start (or of its previous request's
 * end: an idle keep-alive connection is closed by libmicrohttpd after
 * request_timeout_s anyway). shutdown() wakes libmicrohttpd, which then
 * closes the connection in its own thread. */
static void *watchdog_loop(void *arg)
{
	struct hook *h = arg;
	pthread_mutex_lock(&h->conn_lock);
	while (!h->watchdog_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->watchdog_cond, &h->conn_lock, &ts);
		pthread_mutex_lock(&h->rt_lock);
		int64_t limit = h->rt->cfg->hook.request_timeout_s * 2000;
		pthread_mutex_unlock(&h->rt_lock);
		int64_t now = ch_now_ms();
		for (struct conn *k = h->conns; k; k = k->next) {
			if (k->headers_done || k->cut || now - k->phase_ms <= limit)
				continue;
			const union MHD_ConnectionInfo *ci =
			    MHD_get_connection_info(k->c, MHD_CONNECTION_INFO_CONNECTION_FD);
			if (ci) {
				shutdown(ci->connect_fd, SHUT_RDWR);
				k->cut = true;
				ch_warn("hook: request headers not complete within 2 x request_timeout_s, closing");
				ch_metrics_add("callhook_verdicts_total", "verdict=\"timeout\"", 1);
			}
		}
	}
	pthread_mutex_unlock(&h->conn_lock);
	return NULL;
}

/* The request's header field names, as libmicrohttpd parsed them. */
struct hdr_names {
	const char **v; /* borrowed from the connection */
	size_t n, cap;
	bool nomem;
};

static enum MHD_Result collect_name(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct hdr_names *h = cls;
	(void)kind;
	(void)value;
	if (h->n == h->cap) {
		/* bounded: the headers fit MHD_OPTION_CONNECTION_MEMORY_LIMIT */
		size_t cap = h->cap ? h->cap * 2 : 32;
		const char **nv = realloc(h->v, cap * sizeof(*nv));
		if (!nv) {
			h->nomem = true;
			return MHD_NO;
		}
		h->v = nv;
		h->cap = cap;
	}
	h->v[h->n++] = key ? key : "";
	return MHD_YES;
}

/* RFC 9112 framing a proxy in front of us could read differently (two
 * Content-Length fields, Transfer-Encoding with Content-Length, whitespace
 * between a field name and its colon): libmicrohttpd 0.9.75 takes the first
 * Content-Length, prefers chunked, and keeps "Content-Length " as a name of
 * its own, so we refuse these ourselves, before any body byte is used. NULL
 * when the framing is sound, else the reason. */
static const char *framing_fault(struct MHD_Connection *c)
{
	struct hdr_names h = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_name, &h);
	enum pol_framing_verdict v = h.nomem ? POL_FRAMING_OK : pol_http_framing(h.v, NULL, h.n);
	bool nomem = h.nomem;
	free(h.v);
	if (nomem)
		return "out of memory";
	return v == POL_FRAMING_OK ? NULL : pol_framing_reason(v);
}

/* 400 with the JSON reason, and the connection closed after it: what follows
 * on it cannot be trusted to start a request. */
static enum MHD_Result refuse_framing(struct MHD_Connection *c, const char *reason)
{
	char *body = NULL;
	json_t *o = json_pack("{s:i,s:s}", "status", 400, "reason", reason);
	if (o)
		body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!body)
		return MHD_NO;
	size_t len = strlen(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_BAD_REQUEST, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct hook *h = cls;
	struct req *rq = *con_cls;
	(void)version;
	if (!rq) {
		conn_phase(h, c, true);
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->rt = rt_acquire(h);
		rq->start_us = ch_now_us();
		rq->id = __atomic_add_fetch(&h->next_id, 1, __ATOMIC_RELAXED);
		ch_buf_init(&rq->body, (size_t)rq->rt->cfg->hook.max_body_bytes);
		peer_ip(c, rq->peer, sizeof(rq->peer));
		*con_cls = rq;
		__atomic_add_fetch(&h->inflight, 1, __ATOMIC_RELAXED);
		const char *bad = framing_fault(c);
		if (bad) {
			rq->framing_bad = true;
			struct hook_resp out = {.status = 400};
			snprintf(out.method, sizeof(out.method), "-");
			snprintf(out.verdict, sizeof(out.verdict), "framing");
			log_request(rq, &out, method);
			return refuse_framing(c, bad);
		}
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
	if (rq->framing_bad) {
		/* answered already; the connection closes after the answer */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		if (ch_now_us() - rq->start_us > rq->rt->cfg->hook.request_timeout_s * 1000000) {
			/* a client trickling its body is cut: the deadline is for the whole request */
			ch_warn("req=%llu peer=%s: request not complete within request_timeout_s, closing",
				(unsigned long long)rq->id, rq->peer);
			ch_metrics_add("callhook_verdicts_total", "verdict=\"timeout\"", 1);
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
	(void)toe;
	conn_phase(h, c, false);
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

struct mhd_params {
	MHD_AccessHandlerCallback handler;
	void *arg;
	MHD_RequestCompletedCallback completed;
	MHD_NotifyConnectionCallback connection; /* or NULL */
	unsigned threads;
	unsigned timeout_s;
	unsigned max_conn;
	unsigned per_ip;
	const char *cert; /* PEM or NULL */
	const char *key;
};

/* Start one libmicrohttpd daemon on addr; logs "<name>: listening on host:port". */
static struct MHD_Daemon *start_daemon(const char *name, const char *addr, const struct mhd_params *p, char *err,
				       size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned sl;
	if (ch_parse_listen(addr, &ss, &sl) != 0) {
		snprintf(err, errlen, "%s.listen: \"%s\" is not host:port", name, addr);
		return NULL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (p->cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem tls_opts[] = {
	    {p->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)p->cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)p->key},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, 0, NULL, NULL, p->handler, p->arg, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, p->threads, MHD_OPTION_CONNECTION_TIMEOUT, p->timeout_s,
	    MHD_OPTION_CONNECTION_LIMIT, p->max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT, p->per_ip,
	    MHD_OPTION_NOTIFY_COMPLETED, p->completed, p->arg, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, p->connection, p->arg,
	    /* libmicrohttpd zeroes the per-connection pool between requests: 32 KiB
	     * by default, a fifth of a connect's instructions. Headers and read buffers of
	     * WCS requests fit 8 KiB; bodies are copied out as they arrive. */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (!d) {
		snprintf(err, errlen, "%s.listen: cannot listen on %s (address in use, not local, or bad TLS files?)",
			 name, addr);
		return NULL;
	}
	char host[128];
	snprintf(host, sizeof(host), "%s", addr);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	ch_info("%s: listening on %s:%d%s", name, host, bound_port(d), p->cert ? " (TLS)" : "");
	return d;
}

static unsigned thread_count(const struct cfg_hook *hc)
{
	if (hc->threads > 0)
		return (unsigned)hc->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

static struct MHD_Daemon *start_hook_listener(struct hook *h, const struct hook_rt *rt, const char *addr, char *err,
					      size_t errlen)
{
	const struct cfg_hook *hc = &rt->cfg->hook;
	struct mhd_params p = {.handler = on_request,
			       .arg = h,
			       .completed = on_completed,
			       .connection = on_connection,
			       .threads = thread_count(hc),
			       .timeout_s = (unsigned)hc->request_timeout_s,
			       .max_conn = (unsigned)hc->max_connections,
			       .per_ip = (unsigned)hc->max_connections_per_ip,
			       .cert = rt->tls_cert,
			       .key = rt->tls_key};
	return start_daemon("hook", addr, &p, err, errlen);
}

/* Stop accepting without resetting clients: connections already queued in the
 * kernel's backlog are handed to libmicrohttpd and answered, and only then is
 * the listening socket closed (new attempts are refused, not reset). */
static void quiesce(struct MHD_Daemon *d)
{
	MHD_socket fd = MHD_quiesce_daemon(d);
	if (fd == MHD_INVALID_SOCKET)
		return;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (c < 0)
			break;
		if (MHD_add_connection(d, c, (struct sockaddr *)&ss, sl) != MHD_YES)
			close(c);
	}
	close(fd);
}

static void stop_listener(struct listener *l)
{
	quiesce(l->d);
	MHD_stop_daemon(l->d);
	l->d = NULL;
}

int hook_start(struct hook_rt *rt, struct hook **out, char *err, size_t errlen)
{
	const struct cfg_hook *hc = &rt->cfg->hook;
	struct hook *h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	pthread_mutex_init(&h->rt_lock, NULL);
	pthread_mutex_init(&h->conn_lock, NULL);
	pthread_cond_init(&h->watchdog_cond, NULL);
	h->rt = rt;
	h->admin_elsewhere = rt->cfg->has_admin;
	int rc = hs_new(&h->store);
	if (rc)
		goto fail;
	hs_set_max_entries(h->store, (size_t)hc->max_sessions * 4);
	if (hc->listen.n > HOOK_MAX_LISTEN) {
		snprintf(err, errlen, "hook.listen: at most %d addresses", HOOK_MAX_LISTEN);
		rc = EINVAL;
		goto fail;
	}
	for (size_t i = 0; i < hc->listen.n; i++) {
		struct listener *l = &h->l[h->nl];
		l->d = start_hook_listener(h, rt, hc->listen.v[i], err, errlen);
		if (!l->d) {
			rc = EADDRINUSE;
			goto fail;
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
			snprintf(err, errlen, "hook.forward: cannot start the forwarding thread");
			rc = ENOMEM;
			goto fail;
		}
		rt->fwd->refs = 1;
	}
	if (pthread_create(&h->watchdog, NULL, watchdog_loop, h) != 0) {
		snprintf(err, errlen, "hook: cannot start the header watchdog thread");
		rc = EAGAIN;
		goto fail;
	}
	h->watchdog_running = true;
	ch_metrics_collector(0, collect, h);
	*out = h;
	return 0;
fail:
	for (size_t i = 0; i < h->nl; i++)
		stop_listener(&h->l[i]);
	hs_free(h->store);
	pthread_mutex_destroy(&h->rt_lock);
	free(h);
	return rc;
}

static bool tls_same(const struct hook_rt *a, const struct hook_rt *b)
{
	if (!a->tls_cert || !b->tls_cert)
		return !a->tls_cert && !b->tls_cert;
	return strcmp(a->tls_cert, b->tls_cert) == 0 && strcmp(a->tls_key, b->tls_key) == 0;
}

int hook_reload(struct hook *h, struct hook_rt *rt, char *err, size_t errlen)
{
	const struct cfg_strv *nl = &rt->cfg->hook.listen;
	if (nl->n > HOOK_MAX_LISTEN) {
		snprintf(err, errlen, "hook.listen: at most %d addresses", HOOK_MAX_LISTEN);
		return EINVAL;
	}
	bool tls_changed = !tls_same(h->rt, rt);
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
			snprintf(err, errlen, "hook.forward: cannot start the forwarding thread");
			return ENOMEM;
		}
		fwd->refs = 1;
	}
	/* bind the new addresses first: if one fails, nothing changes */
	struct listener fresh[HOOK_MAX_LISTEN];
	size_t nfresh = 0;
	bool keep[HOOK_MAX_LISTEN] = {false};
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
		struct MHD_Daemon *d = start_hook_listener(h, rt, nl->v[i], err, errlen);
		if (!d) {
			for (size_t k = 0; k < nfresh; k++)
				stop_listener(&fresh[k]);
			hook_fwd_ref_release(fwd, 0);
			return EADDRINUSE;
		}
		snprintf(fresh[nfresh].addr, sizeof(fresh[nfresh].addr), "%s", nl->v[i]);
		fresh[nfresh].tls = rt->tls_cert != NULL;
		fresh[nfresh++].d = d;
	}
	rt->fwd = fwd;
	hs_lock(h->store);
	hs_set_max_entries(h->store, (size_t)nh->max_sessions * 4);
	hs_unlock(h->store);
	pthread_mutex_lock(&h->rt_lock);
	struct hook_rt *old = h->rt;
	h->rt = rt;
	pthread_mutex_unlock(&h->rt_lock);
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
		quiesce(h->l[i].d);
	unsigned quiet = 0;
	for (unsigned waited = 0; waited < grace_ms && quiet < 100; waited += 10) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
		quiet = __atomic_load_n(&h->inflight, __ATOMIC_RELAXED) > 0 ? 0 : quiet + 10;
	}
	for (size_t i = 0; i < h->nl; i++)
		MHD_stop_daemon(h->l[i].d);
	if (h->watchdog_running) {
		pthread_mutex_lock(&h->conn_lock);
		h->watchdog_stop = true;
		pthread_cond_signal(&h->watchdog_cond);
		pthread_mutex_unlock(&h->conn_lock);
		pthread_join(h->watchdog, NULL);
	}
	hs_free(h->store);
	/* the listeners are gone: nothing submits any more; deliver what is queued */
	if (h->rt->fwd) {
		hook_fwd_ref_release(h->rt->fwd, grace_ms);
		h->rt->fwd = NULL;
	}
	hook_rt_release(h->rt);
	pthread_mutex_destroy(&h->rt_lock);
	free(h);
}

/* ---- admin listener ------------------------------------------------------ */

struct hook_admin {
	struct MHD_Daemon *d[HOOK_MAX_LISTEN];
	size_t nd;
	char *cert;
	char *key;
};

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	if (!*con_cls) {
		const char *bad = framing_fault(c);
		*con_cls = bad ? (void *)2 : (void *)1; /* answer after the (ignored) body */
		return bad ? refuse_framing(c, bad) : MHD_YES;
	}
	if (*con_cls == (void *)2) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	bool get_like = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	bool known = strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0;
	if (!known)
		return queue(c, 404, strdup("{\"status\":404,\"reason\":\"not found: use /healthz or /metrics\"}"), 60,
			     "application/json", NULL);
	if (!get_like)
		return queue(c, 405, strdup("{\"status\":405,\"reason\":\"use GET or HEAD\"}"), 41, "application/json",
			     "GET, HEAD");
	if (strcmp(url, "/metrics") == 0)
		return respond_metrics(c);
	return queue(c, 200, strdup("{\"status\":\"ok\"}"), 15, "application/json", NULL);
}

int hook_admin_start(const struct cfg *cfg, struct hook_admin **out, char *err, size_t errlen)
{
	struct hook_admin *a = calloc(1, sizeof(*a));
	if (!a)
		return ENOMEM;
	int rc = EINVAL;
	if (cfg->admin.tls.cert) {
		struct cfg_error e;
		if (hook_tls_load(cfg, "admin.tls", &cfg->admin.tls, &a->cert, &a->key, &e) != 0) {
			cfg_error_format(&e, err, errlen);
			goto fail;
		}
	}
	struct mhd_params p = {.handler = on_admin,
			       .threads = 1,
			       .timeout_s = 10,
			       .max_conn = 64,
			       .per_ip = 0,
			       .cert = a->cert,
			       .key = a->key};
	for (size_t i = 0; i < cfg->admin.listen.n && i < HOOK_MAX_LISTEN; i++) {
		a->d[a->nd] = start_daemon("admin", cfg->admin.listen.v[i], &p, err, errlen);
		if (!a->d[a->nd]) {
			rc = EADDRINUSE;
			goto fail;
		}
		a->nd++;
	}
	*out = a;
	return 0;
fail:
	hook_admin_stop(a);
	return rc;
}

void hook_admin_stop(struct hook_admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->nd; i++)
		MHD_stop_daemon(a->d[i]);
	free(a->cert);
	if (a->key)
		memset(a->key, 0, strlen(a->key));
	free(a->key);
	free(a);
}
