/* originator/xml_port.c: the XML port's poll() thread: listeners, connections, their input to the framer and their
 * queued output. */
#include "originator/xml.h"
#include "originator/xml_int.h"
#include "originator/gauges.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK     (16 * 1024)
#define OUT_MAX        (1024 * 1024) /* queued output per connection; past it the client is dropped */
#define DOC_TIMEOUT_MS 30000         /* a started request must be complete within this */

struct xconn {
	/* shared with the SIP thread (sinks), under mu */
	pthread_mutex_t mu;
	int refs;
	bool closed;
	struct ch_buf out;
	size_t out_off;
	bool overflow;
	struct orig_xml *x;
	/* XML thread only */
	int fd;
	struct xml_frame *fr;
	int64_t doc_started_ms;
	bool eof;
	bool broken_flag;
	bool close_after_flush;
	char peer[INET6_ADDRSTRLEN];
	struct xconn *next;
};

struct xl {
	int fd;
	char text[80];
};

struct orig_xml {
	struct xl *l;
	size_t nl;
	int wakefd;
	pthread_t thr;
	bool started;
	struct orig_svc *v;
	unsigned max_conns;
	/* under mu: stop requests */
	pthread_mutex_t mu;
	bool draining;
	int64_t drain_deadline_ms;
	/* XML thread only */
	struct xconn *conns;
	unsigned nconns;
};

/* ---- connections and their output ----------------------------------------------- */

void xml_conn_ref(struct xconn *c)
{
	pthread_mutex_lock(&c->mu);
	c->refs++;
	pthread_mutex_unlock(&c->mu);
}

void xml_conn_unref(struct xconn *c)
{
	pthread_mutex_lock(&c->mu);
	bool last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	ch_buf_free(&c->out);
	xml_frame_free(c->fr);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void wake(struct orig_xml *x)
{
	uint64_t one = 1;
	ssize_t r = write(x->wakefd, &one, sizeof(one));
	(void)r; /* a full counter is still a wake-up */
}

void xml_conn_send(struct xconn *c, const char *data, size_t len)
{
	pthread_mutex_lock(&c->mu);
	if (!c->closed && !c->overflow) {
		if (ch_buf_add(&c->out, data, len) != 0)
			c->overflow = true;
		wake(c->x);
	}
	pthread_mutex_unlock(&c->mu);
}

const char *xml_conn_peer(const struct xconn *c)
{
	return c->peer;
}

static void conn_close(struct orig_xml *x, struct xconn *c)
{
	pthread_mutex_lock(&c->mu);
	c->closed = true;
	pthread_mutex_unlock(&c->mu);
	close(c->fd);
	c->fd = -1;
	x->nconns--;
	orig_gauge_add(ORIG_G_XML_CONNS, -1);
	xml_conn_unref(c);
}

/* Frame and answer every complete document the new bytes finish. */
static void process_input(struct orig_xml *x, struct xconn *c, const char *buf, size_t len)
{
	bool was_in_doc = xml_frame_in_doc(c->fr), framed = false;
	struct xml_request rq;
	for (;;) {
		enum xml_frame_status st = xml_frame_feed(c->fr, buf, len, &rq);
		len = 0;
		switch (st) {
		case XML_FRAME_NEED_MORE:
			/* a document started by these bytes gets its own 30 s */
			if (xml_frame_in_doc(c->fr) && (!was_in_doc || framed))
				c->doc_started_ms = ch_now_ms();
			return;
		case XML_FRAME_COMPLETE:
			xml_handle_request(x->v, c, &rq);
			framed = true;
			continue;
		case XML_FRAME_FATAL:
			xml_send_bare(c, rq.code, rq.error);
			c->close_after_flush = true;
			return;
		}
	}
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int orig_xml_bind(const struct cfg *cfg, struct orig_xml **out, struct cfg_error *err)
{
	const struct cfg_orig_xml *xc = &cfg->orig.xml;
	int rc = ENOMEM;
	struct orig_xml *x = calloc(1, sizeof(*x));
	if (!x)
		goto out;
	x->wakefd = -1;
	x->l = calloc(xc->listen.n, sizeof(*x->l));
	if (!x->l || pthread_mutex_init(&x->mu, NULL) != 0)
		goto out;
	for (size_t i = 0; i < xc->listen.n; i++)
		x->l[i].fd = -1;
	x->nl = xc->listen.n;
	x->max_conns = (unsigned)xc->max_connections; /* the table: 1 to 100000, default 256 */
	x->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (x->wakefd < 0) {
		rc = errno;
		cfg_set_error(cfg, err, "originator.xml", "eventfd: %s", strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < xc->listen.n; i++) {
		rc = ch_listen_tcp(xc->listen.v[i], true, &x->l[i].fd, x->l[i].text, sizeof(x->l[i].text));
		if (rc) {
			char path[64];
			(void)ch_fmt(path, sizeof(path), "originator.xml.listen.[%zu]", i);
			cfg_set_error(cfg, err, path, "cannot listen on %s: %s", xc->listen.v[i], strerror(rc));
			goto out;
		}
	}
	*out = x;
	x = NULL;
	rc = 0;
out:
	if (rc == ENOMEM)
		cfg_set_error(cfg, err, "originator.xml", "out of memory");
	orig_xml_stop(x, 0);
	return rc;
}

/* ---- the poll() thread ------------------------------------------------------------------------- */

static void refuse(int fd, int code, const char *text)
{
	static const struct xml_echo bare = {"<ClickToCall>", sizeof("<ClickToCall>") - 1, "\n</ClickToCall>",
					     sizeof("\n</ClickToCall>") - 1};
	struct ch_buf b;
	ch_buf_init(&b, 1024);
	if (xml_build_doc(&b, &bare, &(struct xml_result){.code = code, .text = text}) == 0) {
		/* best effort on a fresh socket: its send buffer is empty */
		ssize_t r = send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)r;
	}
	ch_buf_free(&b);
	close(fd);
}

static void peer_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	out[0] = '\0';
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)cap);
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out, (socklen_t)cap);
}

static void do_accept(struct orig_xml *x, int lfd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: poll again */
		char peer[INET6_ADDRSTRLEN];
		peer_text(&ss, peer, sizeof(peer));
		struct orig_snap *s = orig_svc_snap_get(x->v);
		bool allowed = pol_cidr_match(s->xml_allow, s->n_xml_allow, peer);
		orig_svc_snap_put(x->v, s);
		if (!allowed) {
			ch_warn("originator-xml: connection from %s refused: not in xml.allow_from", peer);
			refuse(fd, 403, "Forbidden: this address may not use the XML port");
			continue;
		}
		if (x->nconns >= x->max_conns) {
			ch_warn("originator-xml: connection from %s refused: %u connections open (xml.max_connections)",
				peer, x->nconns);
			refuse(fd, 503, "Too many connections, try again later");
			continue;
		}
		struct xconn *c = calloc(1, sizeof(*c));
		if (!c || xml_frame_new(&c->fr) != 0 || pthread_mutex_init(&c->mu, NULL) != 0) {
			if (c)
				xml_frame_free(c->fr);
			free(c);
			refuse(fd, 503, "out of memory");
			continue;
		}
		c->refs = 1;
		c->fd = fd;
		c->x = x;
		ch_buf_init(&c->out, OUT_MAX);
		(void)ch_fmt(c->peer, sizeof(c->peer), "%s", peer);
		c->next = x->conns;
		x->conns = c;
		x->nconns++;
		orig_gauge_add(ORIG_G_XML_CONNS, 1);
		ch_dbg("originator-xml: connection from %s", peer);
	}
}

static void do_read(struct orig_xml *x, struct xconn *c)
{
	char buf[READ_CHUNK];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	if (n == 0) {
		c->eof = true;
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->eof = c->close_after_flush = true;
		return;
	}
	process_input(x, c, buf, (size_t)n);
}

/* Write what is queued; false when the connection is broken. */
static bool do_write(struct xconn *c)
{
	pthread_mutex_lock(&c->mu);
	bool ok = true;
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			ok = errno == EAGAIN || errno == EINTR;
			break;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		c->out.len = 0;
		c->out_off = 0;
	} else if (c->out_off > c->out.len / 2) {
		memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
		c->out.len -= c->out_off;
		c->out_off = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* The poll set: the wake-up fd, the listeners (unless draining), every connection. Returns its size. */
static size_t xml_pollset(struct orig_xml *x, struct pollfd *pf, struct xconn **pc, size_t cap, bool draining,
			  bool *pending_any)
{
	size_t n = 0;
	pf[n++] = (struct pollfd){.fd = x->wakefd, .events = POLLIN};
	if (!draining) {
		for (size_t i = 0; i < x->nl; i++) {
			pc[n] = NULL;
			pf[n++] = (struct pollfd){.fd = x->l[i].fd, .events = POLLIN};
		}
	}
	*pending_any = false;
	for (struct xconn *c = x->conns; c && n < cap; c = c->next) {
		pthread_mutex_lock(&c->mu);
		bool pending = c->out_off < c->out.len;
		pthread_mutex_unlock(&c->mu);
		*pending_any |= pending;
		short ev = 0;
		if (!draining && !c->eof && !c->close_after_flush)
			ev |= POLLIN;
		if (pending)
			ev |= POLLOUT;
		pc[n] = c;
		pf[n++] = (struct pollfd){.fd = c->fd, .events = ev};
	}
	return n;
}

/* A request left half-sent holds a connection slot: time it out. Returns poll's timeout. */
static int xml_expire_docs(struct orig_xml *x, int64_t now, bool draining)
{
	int timeout = draining ? 50 : -1;
	for (struct xconn *c = x->conns; c; c = c->next) {
		if (!xml_frame_in_doc(c->fr) || c->close_after_flush)
			continue;
		if (now - c->doc_started_ms >= DOC_TIMEOUT_MS) {
			char m[64];
			(void)ch_fmt(m, sizeof(m), "request incomplete after %d s", DOC_TIMEOUT_MS / 1000);
			xml_send_bare(c, 400, m);
			c->close_after_flush = true;
			timeout = 0;
		} else if (timeout != 0) {
			timeout = 1000;
		}
	}
	return timeout;
}

static void xml_dispatch(struct orig_xml *x, const struct pollfd *pf, struct xconn *const *pc, size_t n, bool draining)
{
	if (pf[0].revents & POLLIN) {
		uint64_t v;
		ssize_t rr = read(x->wakefd, &v, sizeof(v));
		(void)rr;
	}
	size_t i = 1;
	if (!draining) {
		for (; i <= x->nl; i++) {
			if (pf[i].revents & POLLIN)
				do_accept(x, pf[i].fd);
		}
	}
	for (; i < n; i++) {
		struct xconn *c = pc[i];
		short re = pf[i].revents;
		bool broken = false;
		if (re & POLLIN)
			do_read(x, c);
		if (re & POLLOUT)
			broken = !do_write(c);
		if (re & (POLLERR | POLLNVAL))
			broken = true;
		if ((re & POLLHUP) && !(re & POLLIN))
			broken = true;
		c->broken_flag = broken;
	}
}

/* Close what is finished: broken, overflowing, or done and quiet. */
static void xml_reap(struct orig_xml *x)
{
	struct xconn **pp = &x->conns;
	while (*pp) {
		struct xconn *c = *pp;
		pthread_mutex_lock(&c->mu);
		bool empty = c->out_off >= c->out.len;
		bool overflow = c->overflow;
		bool idle = c->refs == 1;
		pthread_mutex_unlock(&c->mu);
		bool done = c->broken_flag || overflow || (c->close_after_flush && empty) || (c->eof && empty && idle);
		if (overflow)
			ch_warn("originator-xml: %s does not read its responses; connection closed", c->peer);
		if (done) {
			*pp = c->next;
			conn_close(x, c);
		} else {
			pp = &c->next;
		}
	}
}

static void *xml_main(void *arg)
{
	struct orig_xml *x = arg;
	(void)pthread_setname_np(pthread_self(), "ch-orig-xml"); /* top -H, ps -L: docs/operations.md */
	size_t cap = 1 + x->nl + x->max_conns;
	struct pollfd *pf = calloc(cap, sizeof(*pf));
	struct xconn **pc = calloc(cap, sizeof(*pc));
	if (!pf || !pc) {
		ch_err("originator-xml: out of memory, XML port stopped");
		goto out;
	}
	for (;;) {
		pthread_mutex_lock(&x->mu);
		bool draining = x->draining;
		int64_t deadline = x->drain_deadline_ms;
		pthread_mutex_unlock(&x->mu);
		bool pending_any;
		size_t n = xml_pollset(x, pf, pc, cap, draining, &pending_any);
		if (draining && (!pending_any || ch_now_ms() >= deadline))
			break;
		int timeout = xml_expire_docs(x, ch_now_ms(), draining);
		int r = poll(pf, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			ch_err("originator-xml: poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		xml_dispatch(x, pf, pc, n, draining);
		xml_reap(x);
	}
out:
	free(pf);
	free(pc);
	return NULL;
}

int orig_xml_run(struct orig_xml *x, struct orig_svc *v, struct cfg_error *err)
{
	x->v = v;
	int rc = pthread_create(&x->thr, NULL, xml_main, x);
	if (rc) {
		(void)ch_fmt(err->path, sizeof(err->path), "originator.xml");
		(void)ch_fmt(err->msg, sizeof(err->msg), "cannot start its thread: %s", strerror(rc));
		return rc;
	}
	x->started = true;
	for (size_t i = 0; i < x->nl; i++)
		ch_info("originator-xml: listening on %s", x->l[i].text);
	return 0;
}

void orig_xml_stop(struct orig_xml *x, unsigned flush_ms)
{
	if (!x)
		return;
	if (x->started) {
		pthread_mutex_lock(&x->mu);
		x->draining = true;
		x->drain_deadline_ms = ch_now_ms() + flush_ms;
		pthread_mutex_unlock(&x->mu);
		wake(x);
		pthread_join(x->thr, NULL);
	}
	while (x->conns) {
		struct xconn *c = x->conns;
		x->conns = c->next;
		conn_close(x, c);
	}
	for (size_t i = 0; i < x->nl; i++) {
		if (x->l[i].fd >= 0)
			close(x->l[i].fd);
	}
	free(x->l);
	if (x->wakefd >= 0)
		close(x->wakefd);
	pthread_mutex_destroy(&x->mu);
	free(x);
}
