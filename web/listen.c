/* web/listen.c: libmicrohttpd listeners: one option array for every caller, the RFC 9112 framing refusal in front of
 * every handler, the backlog-draining quiesce, the logger. */
#include "web/web.h"

#include "common/common.h"
#include "policy/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct web_listener {
	struct web_params p;
	struct MHD_Daemon *d;
	bool quiesced;
	MHD_socket listen_fd; /* handed back by MHD_quiesce_daemon: ours to close, after MHD_stop_daemon */
};

/* The request context of a request refused for its framing: the caller's
 * handler never sees it. */
static char refused_mark;

/* The request's header field names, as libmicrohttpd parsed them. */
struct hdr_names {
	const char **v; /* borrowed from the connection; in_place, or malloc'd past it */
	size_t n, cap;
	bool nomem;
	const char *in_place[32];
};

static enum MHD_Result collect_name(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct hdr_names *h = cls;
	(void)kind;
	(void)value;
	if (h->n == h->cap) {
		/* bounded: the headers fit MHD_OPTION_CONNECTION_MEMORY_LIMIT */
		size_t cap = h->cap * 2;
		const char **nv = malloc(cap * sizeof(*nv));
		if (!nv) {
			h->nomem = true;
			return MHD_NO;
		}
		memcpy(nv, h->v, h->n * sizeof(*nv));
		if (h->v != h->in_place)
			free(h->v);
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
	struct hdr_names h = {.cap = sizeof(h.in_place) / sizeof(h.in_place[0])};
	h.v = h.in_place;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_name, &h);
	enum pol_framing_verdict v = h.nomem ? POL_FRAMING_OK : pol_http_framing(h.v, NULL, h.n);
	bool nomem = h.nomem;
	if (h.v != h.in_place)
		free(h.v);
	if (nomem)
		return "out of memory";
	return v == POL_FRAMING_OK ? NULL : pol_framing_reason(v);
}

/* 400 with the JSON reason, and the connection closed after it: what follows
 * on it cannot be trusted to start a request. */
static enum MHD_Result refuse_framing(struct MHD_Connection *c, const char *reason)
{
	size_t len;
	char *body = web_error_body(400, reason, &len);
	if (!body)
		return MHD_NO;
	struct web_answer a = {
	    .status = 400, .ctype = "application/json", .body = body, .len = len, .take = true, .close = true};
	return web_send(c, &a);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				 const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct web_listener *l = cls;
	if (*con_cls == &refused_mark) {
		/* answered already; the connection closes after the answer */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!*con_cls) {
		const char *bad = framing_fault(c);
		if (bad) {
			*con_cls = &refused_mark;
			enum MHD_Result ret = refuse_framing(c, bad);
			if (l->p.refused)
				l->p.refused(c, method, bad, l->p.arg);
			return ret;
		}
	}
	return l->p.handler(l->p.arg, c, url, method, version, upload_data, upload_size, con_cls);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct web_listener *l = cls;
	if (*con_cls == &refused_mark) {
		*con_cls = NULL;
		return;
	}
	if (l->p.completed)
		l->p.completed(l->p.arg, c, con_cls, toe);
}

/* libmicrohttpd's printf-style messages (the format is the library's) */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (ch_log_get_level() < CH_LOG_DEBUG)
		return;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	ch_dbg("libmicrohttpd: %s", buf);
}

static int port_of(int fd, sa_family_t *family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (family)
		*family = ss.ss_family;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int web_bound_port(const struct web_listener *l)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_LISTEN_FD);
	return di ? port_of(di->listen_fd, NULL) : 0;
}

/* The options every listener shares, in o (room for 12). */
static void common_options(struct web_listener *l, struct sockaddr_storage *ss, struct MHD_OptionItem *o)
{
	const struct web_params *p = &l->p;
	size_t n = 0;
	if (p->listen_fd >= 0)
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, p->listen_fd, NULL};
	else
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ss};
	if (p->threads > 1)
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, p->threads, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, p->timeout_s, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, p->max_conn, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, p->per_ip, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, l};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
	if (p->notify)
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)p->notify, p->notify_arg};
	if (p->mem_limit)
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)p->mem_limit, NULL};
	if (p->cert) {
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)p->cert};
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)p->key};
	}
	o[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

static void log_listening(const struct web_listener *l, const char *addr)
{
	const char *tls = l->p.cert ? " (TLS)" : "";
	if (l->p.listen_fd >= 0) {
		ch_info("%s: listening on %s%s", l->p.name, addr, tls);
		return;
	}
	char host[128];
	ch_fmt(host, sizeof(host), "%s", addr);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	ch_info("%s: listening on %s:%d%s", l->p.name, host, web_bound_port(l), tls);
}

int web_listen(const char *addr, const struct web_params *p, struct web_listener **out, struct cfg_error *err)
{
	char dflt[64];
	(void)ch_fmt(dflt, sizeof dflt, "%s.listen", p->name);
	const char *path = p->path ? p->path : dflt;
	struct sockaddr_storage ss = {0};
	unsigned sl;
	sa_family_t family = AF_INET;
	if (p->listen_fd >= 0) {
		(void)port_of(p->listen_fd, &family);
	} else if (ch_parse_listen(addr, &ss, &sl) != 0) {
		cfg_set_error(p->cfg, err, path, "\"%s\" is not host:port", addr);
		return EINVAL;
	} else {
		family = ss.ss_family;
	}
	struct web_listener *l = calloc(1, sizeof(*l));
	if (!l) {
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		cfg_set_error(p->cfg, err, path, "out of memory");
		return ENOMEM;
	}
	l->listen_fd = MHD_INVALID_SOCKET;
	l->p = *p;
	l->p.cfg = NULL; /* both are the caller's, for this call's errors only */
	l->p.path = NULL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (p->cert)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[16];
	static const struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
	common_options(l, &ss, opts);
	l->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, l, MHD_OPTION_ARRAY, opts, MHD_OPTION_ARRAY,
				p->extra ? p->extra : none, MHD_OPTION_END);
	if (!l->d) {
		if (p->listen_fd >= 0)
			close(p->listen_fd);
		cfg_set_error(p->cfg, err, path, "cannot listen on %s (address in use, not local, or bad TLS files?)",
			      addr);
		free(l);
		return EADDRINUSE;
	}
	log_listening(l, addr);
	*out = l;
	return 0;
}

void web_quiesce(struct web_listener *l)
{
	if (!l || l->quiesced)
		return;
	l->quiesced = true;
	MHD_socket fd = MHD_quiesce_daemon(l->d);
	if (fd == MHD_INVALID_SOCKET)
		return;
	/* MHD's threads may still be taking the socket out of their epoll sets: it is closed only after
	 * MHD_stop_daemon has joined them (web_stop), never here; a shutdown below stops the listening */
	l->listen_fd = fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int c = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (c < 0)
			break;
		if (MHD_add_connection(l->d, c, (struct sockaddr *)&ss, sl) != MHD_YES)
			close(c);
	}
	/* stop listening now (a new client is refused, as after a close), keep the descriptor */
	(void)shutdown(fd, SHUT_RDWR);
}

void web_stop(struct web_listener *l)
{
	if (!l)
		return;
	web_quiesce(l);
	MHD_stop_daemon(l->d);
	if (l->listen_fd != MHD_INVALID_SOCKET)
		close(l->listen_fd);
	free(l);
}

void web_peer_ip(struct MHD_Connection *c, char *out, size_t cap)
{
	out[0] = '\0';
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET && cap >= 16)
		ch_ip4_text((const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr, out);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)cap);
}
