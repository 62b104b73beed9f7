/* originator/xml.c: the reSIProcate-compatible XML port: one poll() thread, Expat framing of <ClickToCall> requests,
 * progress documents per call. */
#include "originator/xml.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <expat.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define DOC_MAX        (16 * 1024) /* one request document, bytes */
#define READ_CHUNK     (16 * 1024)
#define OUT_MAX        (1024 * 1024) /* queued output per connection; past it the client is dropped */
#define VAL_MAX        1024          /* one element's text */
#define DEPTH_MAX      16
#define DOC_TIMEOUT_MS 30000 /* a started request must be complete within this */

enum field { F_NONE = -1, F_INI = 0, F_DST = 1, F_ANC = 2 };
static const char *const field_name[3] = {"Initiator", "Destination", "AnchorCall"};

struct xdoc {
	int depth;
	bool complete;
	bool fatal;    /* framing lost: answer and close */
	char err[160]; /* first semantic error (400), or the fatal reason */
	size_t root_start;
	bool root_empty;
	size_t root_end_start;
	size_t doc_end;
	bool has_req_end;
	size_t req_end;
	int nrequests;
	bool in_request;
	enum field field;
	size_t last_start_index, last_start_count;
	bool seen[3];
	bool too_long[3];
	struct ch_buf val[3];
};

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
	struct ch_buf in;
	XML_Parser p;
	struct xdoc doc;
	size_t fed; /* bytes of in given to p */
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

static void conn_unref(struct xconn *c)
{
	pthread_mutex_lock(&c->mu);
	bool last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	ch_buf_free(&c->out);
	ch_buf_free(&c->in);
	for (int i = 0; i < 3; i++)
		ch_buf_free(&c->doc.val[i]);
	if (c->p)
		XML_ParserFree(c->p);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void wake(struct orig_xml *x)
{
	uint64_t one = 1;
	ssize_t r = write(x->wakefd, &one, sizeof(one));
	(void)r; /* a full counter is still a wake-up */
}

/* Queue bytes for the client, from any thread. */
static void conn_send(struct xconn *c, const char *data, size_t len)
{
	pthread_mutex_lock(&c->mu);
	if (!c->closed && !c->overflow) {
		if (ch_buf_add(&c->out, data, len) != 0)
			c->overflow = true;
		wake(c->x);
	}
	pthread_mutex_unlock(&c->mu);
}

/* One response document: the request echo split at the insertion point. */
static int build_doc(struct ch_buf *b, const char *pre, size_t plen, const char *suf, size_t slen, const char *tinit,
		     const char *tdest, int code, const char *leg, const char *text)
{
	char num[16];
	int e = ch_fmt(num, sizeof(num), "%d", code);
	e = e ? e : ch_buf_add(b, pre, plen);
	e = e ? e : ch_buf_adds(b, "\n<Response>\n");
	if (tinit && tdest) {
		e = e ? e : ch_buf_adds(b, "<TranslatedInitiator>");
		e = e ? e : ch_buf_add_escaped(b, tinit);
		e = e ? e : ch_buf_adds(b, "</TranslatedInitiator>\n<TranslatedDestination>");
		e = e ? e : ch_buf_add_escaped(b, tdest);
		e = e ? e : ch_buf_adds(b, "</TranslatedDestination>\n");
	}
	e = e ? e : ch_buf_adds(b, "<Result Code=\"");
	e = e ? e : ch_buf_adds(b, num);
	if (leg) {
		e = e ? e : ch_buf_adds(b, "\" Leg=\"");
		e = e ? e : ch_buf_adds(b, leg);
	}
	e = e ? e : ch_buf_adds(b, "\">");
	e = e ? e : ch_buf_add_escaped(b, text);
	e = e ? e : ch_buf_adds(b, "</Result>\n</Response>");
	e = e ? e : ch_buf_add(b, suf, slen);
	e = e ? e : ch_buf_adds(b, "\n");
	return e;
}

static void send_doc(struct xconn *c, const char *pre, size_t plen, const char *suf, size_t slen, const char *tinit,
		     const char *tdest, int code, const char *leg, const char *text)
{
	struct ch_buf b;
	ch_buf_init(&b, DOC_MAX * 2 + 4096);
	if (build_doc(&b, pre, plen, suf, slen, tinit, tdest, code, leg, text) == 0)
		conn_send(c, b.data, b.len);
	ch_buf_free(&b);
}

static const char bare_pre[] = "<ClickToCall>";
static const char bare_suf[] = "\n</ClickToCall>";

/* ---- per-call sink (the watch of orig_place) ------------------------------------- */

struct sink {
	struct xconn *c; /* one reference */
	char *pre;
	size_t plen;
	char *suf;
	size_t slen;
	bool sent100;
	bool done;
};

static void sink_free(struct sink *s)
{
	if (!s)
		return;
	if (s->c)
		conn_unref(s->c);
	free(s->pre);
	free(s->suf);
	free(s);
}

static void sink_event(void *arg, const struct orig_event *ev, const char *tinit, const char *tdest)
{
	struct sink *s = arg;
	if (s->done)
		return;
	if (!s->sent100) {
		/* the 100 with the translated URIs always comes first */
		s->sent100 = true;
		send_doc(s->c, s->pre, s->plen, s->suf, s->slen, tinit, tdest, 100, NULL, "In progress");
		if (ev->code == 100)
			return;
	}
	if (ev->code == 0 || ev->code == 100)
		return;
	const char *leg = ev->leg == ORIG_LEG_INITIATOR     ? "Initiator"
			  : ev->leg == ORIG_LEG_DESTINATION ? "Destination"
							    : NULL;
	send_doc(s->c, s->pre, s->plen, s->suf, s->slen, NULL, NULL, ev->code, leg, ev->reason);
	/* what the client treats as the end of its request: nothing after it */
	if (ev->code >= 300 || (ev->leg == ORIG_LEG_DESTINATION && ev->code >= 200))
		s->done = true;
}

static void sink_release(void *arg)
{
	sink_free(arg);
}

/* ---- Expat handlers ------------------------------------------------------------------ */

static void doc_fail(struct xconn *c, bool fatal, const char *msg)
{
	if (!c->doc.err[0])
		(void)ch_fmt(c->doc.err, sizeof(c->doc.err), "%s", msg);
	if (fatal) {
		/* a fatal reason replaces a semantic one */
		(void)ch_fmt(c->doc.err, sizeof(c->doc.err), "%s", msg);
		c->doc.fatal = true;
		XML_StopParser(c->p, XML_FALSE);
	}
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	(void)atts;
	struct xconn *c = ud;
	struct xdoc *d = &c->doc;
	if (d->complete || d->fatal)
		return;
	d->depth++;
	d->last_start_index = (size_t)XML_GetCurrentByteIndex(c->p);
	d->last_start_count = (size_t)XML_GetCurrentByteCount(c->p);
	if (d->depth > DEPTH_MAX) {
		doc_fail(c, true, "parse error: nesting too deep");
		return;
	}
	if (d->depth == 1) {
		d->root_start = d->last_start_index;
		if (strcmp(name, "ClickToCall") != 0)
			doc_fail(c, false, "unknown method");
		return;
	}
	if (d->depth == 2 && strcmp(name, "Request") == 0) {
		if (++d->nrequests > 1)
			doc_fail(c, false, "more than one Request");
		d->in_request = true;
		return;
	}
	if (d->depth == 3 && d->in_request) {
		d->field = F_NONE;
		for (int i = 0; i < 3; i++) {
			if (strcmp(name, field_name[i]) == 0) {
				if (d->seen[i]) {
					char m[64];
					(void)ch_fmt(m, sizeof(m), "duplicate %s", field_name[i]);
					doc_fail(c, false, m);
				}
				d->seen[i] = true;
				d->field = (enum field)i;
			}
		}
		return;
	}
	if (d->depth > 3 && d->in_request && d->field != F_NONE) {
		/* markup inside a value */
		char m[64];
		(void)ch_fmt(m, sizeof(m), "invalid %s", field_name[d->field]);
		doc_fail(c, false, m);
	}
}

static void on_end(void *ud, const XML_Char *name)
{
	(void)name;
	struct xconn *c = ud;
	struct xdoc *d = &c->doc;
	if (d->complete || d->fatal)
		return;
	size_t idx = (size_t)XML_GetCurrentByteIndex(c->p);
	size_t cnt = (size_t)XML_GetCurrentByteCount(c->p);
	bool empty = cnt == 0; /* <x/>: the start event covered the whole tag */
	size_t end = empty ? d->last_start_index + d->last_start_count : idx + cnt;
	if (d->depth == 3)
		d->field = F_NONE;
	if (d->depth == 2 && d->in_request) {
		d->in_request = false;
		if (!d->has_req_end) {
			d->has_req_end = true;
			d->req_end = end;
		}
	}
	if (d->depth == 1) {
		d->root_empty = empty;
		d->root_end_start = empty ? end : idx;
		d->doc_end = end;
		d->complete = true;
		XML_StopParser(c->p, XML_FALSE);
	}
	d->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct xconn *c = ud;
	struct xdoc *d = &c->doc;
	if (d->complete || d->fatal || !d->in_request || d->depth != 3 || d->field == F_NONE || len <= 0)
		return;
	if (d->too_long[d->field])
		return;
	if (ch_buf_add(&d->val[d->field], s, (size_t)len) != 0)
		d->too_long[d->field] = true;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	doc_fail(ud, true, "parse error: DOCTYPE not allowed");
}

static int parser_new(struct xconn *c)
{
	for (int i = 0; i < 3; i++)
		ch_buf_free(&c->doc.val[i]);
	memset(&c->doc, 0, sizeof(c->doc));
	c->doc.field = F_NONE;
	for (int i = 0; i < 3; i++)
		ch_buf_init(&c->doc.val[i], VAL_MAX);
	c->p = XML_ParserCreate(NULL);
	if (!c->p)
		return ENOMEM;
	XML_SetUserData(c->p, c);
	XML_SetElementHandler(c->p, on_start, on_end);
	XML_SetCharacterDataHandler(c->p, on_text);
	XML_SetStartDoctypeDeclHandler(c->p, on_doctype);
	return 0;
}

/* ---- one complete request ---------------------------------------------------------------- */

static bool is_xml_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The trimmed value of a field, NUL-terminated in place (or ""). */
static const char *field_value(struct xdoc *d, enum field f)
{
	struct ch_buf *b = &d->val[f];
	if (ch_buf_nul(b) != 0 || !b->data)
		return "";
	char *s = b->data;
	size_t n = b->len;
	while (n && is_xml_space(s[n - 1]))
		n--;
	s[n] = '\0';
	while (*s && is_xml_space(*s))
		s++;
	return s;
}

/* The Result Code of a refusal: the protocol borrows HTTP's numbers. */
static int xml_code_of(enum orig_refusal r)
{
	switch (r) {
	case ORIG_PLACED:
		return 100;
	case ORIG_BAD_ADDRESS:
		return 400;
	case ORIG_DENIED:
		return 403;
	case ORIG_OVER_LIMIT:
		return 429;
	case ORIG_UNAVAILABLE:
		return 503;
	}
	return 503;
}

static void handle_request(struct orig_xml *x, struct xconn *c, const char *buf)
{
	struct xdoc *d = &c->doc;
	const char *pre = bare_pre, *suf = bare_suf;
	size_t plen = sizeof(bare_pre) - 1, slen = sizeof(bare_suf) - 1;
	/* the echo: the request as received, the Response block right after
	 * </Request> (or before the root's end tag when there is no Request) */
	if (d->has_req_end && d->req_end >= d->root_start && d->req_end <= d->doc_end) {
		pre = buf + d->root_start;
		plen = d->req_end - d->root_start;
		suf = buf + d->req_end;
		slen = d->doc_end - d->req_end;
	} else if (!d->root_empty && d->root_end_start > d->root_start) {
		pre = buf + d->root_start;
		plen = d->root_end_start - d->root_start;
		suf = buf + d->root_end_start;
		slen = d->doc_end - d->root_end_start;
	}

	char why[200];
	why[0] = '\0';
	if (d->err[0]) {
		(void)ch_fmt(why, sizeof(why), "%s", d->err);
	} else if (!d->nrequests) {
		(void)ch_fmt(why, sizeof(why), "missing Request");
	} else {
		for (int i = 0; i < 3 && !why[0]; i++) {
			if (d->too_long[i])
				(void)ch_fmt(why, sizeof(why), "%s too long", field_name[i]);
			else if (i < 2 && (!d->seen[i] || !*field_value(d, (enum field)i)))
				(void)ch_fmt(why, sizeof(why), "missing %s", field_name[i]);
		}
	}
	if (why[0]) {
		send_doc(c, pre, plen, suf, slen, NULL, NULL, 400, NULL, why);
		return;
	}
	struct sink *s = calloc(1, sizeof(*s));
	if (!s || !(s->pre = ch_strndup(pre, plen)) || !(s->suf = ch_strndup(suf, slen))) {
		sink_free(s);
		send_doc(c, pre, plen, suf, slen, NULL, NULL, 503, NULL, "out of memory");
		return;
	}
	s->plen = plen;
	s->slen = slen;
	pthread_mutex_lock(&c->mu);
	c->refs++;
	pthread_mutex_unlock(&c->mu);
	s->c = c;
	const char *anc = d->seen[F_ANC] ? field_value(d, F_ANC) : "";
	struct orig_place_req rq = {
	    .initiator = field_value(d, F_INI),
	    .destination = field_value(d, F_DST),
	    .anchor = strcasecmp(anc, "true") == 0,
	};
	struct orig_watch w = {.on_event = sink_event, .release = sink_release, .arg = s};
	struct orig_place_res res;
	orig_svc_place(x->v, &rq, &w, &res);
	if (res.refusal != ORIG_PLACED) {
		send_doc(c, pre, plen, suf, slen, NULL, NULL, xml_code_of(res.refusal), NULL, res.reason);
		sink_free(s);
	}
	/* placed: the sink now belongs to the call and writes its 100 first */
}

/* Frame and handle every complete document in c->in. */
static void process_input(struct orig_xml *x, struct xconn *c)
{
	for (;;) {
		if (!c->p) {
			size_t skip = 0;
			while (skip < c->in.len && is_xml_space(c->in.data[skip]))
				skip++;
			if (skip) {
				memmove(c->in.data, c->in.data + skip, c->in.len - skip);
				c->in.len -= skip;
			}
			if (c->in.len == 0)
				return;
			if (parser_new(c) != 0) {
				send_doc(c, bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1, NULL, NULL,
					 503, NULL, "out of memory");
				c->close_after_flush = true;
				return;
			}
			c->fed = 0;
			c->doc_started_ms = ch_now_ms();
		}
		if (c->fed < c->in.len) {
			size_t n = c->in.len - c->fed;
			enum XML_Status st = XML_Parse(c->p, c->in.data + c->fed, (int)n, XML_FALSE);
			c->fed = c->in.len;
			if (c->doc.fatal) {
				send_doc(c, bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1, NULL, NULL,
					 400, NULL, c->doc.err);
				c->close_after_flush = true;
				return;
			}
			if (c->doc.complete) {
				handle_request(x, c, c->in.data);
				size_t end = c->doc.doc_end;
				if (end > c->in.len)
					end = c->in.len;
				memmove(c->in.data, c->in.data + end, c->in.len - end);
				c->in.len -= end;
				XML_ParserFree(c->p);
				c->p = NULL;
				continue;
			}
			if (st == XML_STATUS_ERROR) {
				char m[160];
				(void)ch_fmt(m, sizeof(m), "parse error: %s at line %lu",
					     XML_ErrorString(XML_GetErrorCode(c->p)),
					     (unsigned long)XML_GetCurrentLineNumber(c->p));
				send_doc(c, bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1, NULL, NULL,
					 400, NULL, m);
				c->close_after_flush = true;
				return;
			}
		}
		if (c->in.len > DOC_MAX) {
			send_doc(c, bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1, NULL, NULL, 400,
				 NULL, "request too large");
			c->close_after_flush = true;
		}
		return;
	}
}

static void conn_close(struct orig_xml *x, struct xconn *c)
{
	pthread_mutex_lock(&c->mu);
	c->closed = true;
	pthread_mutex_unlock(&c->mu);
	close(c->fd);
	c->fd = -1;
	x->nconns--;
	conn_unref(c);
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
	struct ch_buf b;
	ch_buf_init(&b, 1024);
	if (build_doc(&b, bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1, NULL, NULL, code, NULL,
		      text) == 0) {
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
		if (!c || pthread_mutex_init(&c->mu, NULL) != 0) {
			free(c);
			refuse(fd, 503, "out of memory");
			continue;
		}
		c->refs = 1;
		c->fd = fd;
		c->x = x;
		ch_buf_init(&c->out, OUT_MAX);
		ch_buf_init(&c->in, DOC_MAX + READ_CHUNK + 1);
		for (int i = 0; i < 3; i++)
			ch_buf_init(&c->doc.val[i], VAL_MAX);
		(void)ch_fmt(c->peer, sizeof(c->peer), "%s", peer);
		c->next = x->conns;
		x->conns = c;
		x->nconns++;
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
	if (ch_buf_add(&c->in, buf, (size_t)n) != 0) {
		send_doc(c, bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1, NULL, NULL, 400, NULL,
			 "request too large");
		c->close_after_flush = true;
		return;
	}
	process_input(x, c);
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

static void *xml_main(void *arg)
{
	struct orig_xml *x = arg;
	size_t cap = 1 + x->nl + x->max_conns;
	struct pollfd *pf = calloc(cap, sizeof(*pf));
	struct xconn **pc = calloc(cap, sizeof(*pc));
	if (!pf || !pc) {
		ch_err("originator-xml: out of memory, XML port stopped");
		free(pf);
		free(pc);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&x->mu);
		bool draining = x->draining;
		int64_t deadline = x->drain_deadline_ms;
		pthread_mutex_unlock(&x->mu);
		size_t n = 0;
		pf[n++] = (struct pollfd){.fd = x->wakefd, .events = POLLIN};
		if (!draining) {
			for (size_t i = 0; i < x->nl; i++) {
				pc[n] = NULL;
				pf[n++] = (struct pollfd){.fd = x->l[i].fd, .events = POLLIN};
			}
		}
		bool pending_any = false;
		for (struct xconn *c = x->conns; c && n < cap; c = c->next) {
			pthread_mutex_lock(&c->mu);
			bool pending = c->out_off < c->out.len;
			pthread_mutex_unlock(&c->mu);
			pending_any |= pending;
			short ev = 0;
			if (!draining && !c->eof && !c->close_after_flush)
				ev |= POLLIN;
			if (pending)
				ev |= POLLOUT;
			pc[n] = c;
			pf[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		if (draining && (!pending_any || ch_now_ms() >= deadline))
			break;
		/* a request left half-sent holds a connection slot: time it out */
		int timeout = draining ? 50 : -1;
		int64_t now = ch_now_ms();
		for (struct xconn *c = x->conns; c; c = c->next) {
			if (!c->p || c->close_after_flush)
				continue;
			if (now - c->doc_started_ms >= DOC_TIMEOUT_MS) {
				send_doc(c, bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1, NULL, NULL,
					 400, NULL, "request incomplete after 30 s");
				c->close_after_flush = true;
				timeout = 0;
			} else if (timeout != 0) {
				timeout = 1000;
			}
		}
		int r = poll(pf, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR) {
			ch_err("originator-xml: poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
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
		/* close what is finished: broken, overflowing, or done and quiet */
		struct xconn **pp = &x->conns;
		while (*pp) {
			struct xconn *c = *pp;
			pthread_mutex_lock(&c->mu);
			bool empty = c->out_off >= c->out.len;
			bool overflow = c->overflow;
			bool idle = c->refs == 1;
			pthread_mutex_unlock(&c->mu);
			bool done =
			    c->broken_flag || overflow || (c->close_after_flush && empty) || (c->eof && empty && idle);
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
