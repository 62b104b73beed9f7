/* originator/originator.c: wires the originator together: settings snapshots, start / reload / stop, placing a call
 * through policy and limits. */
#include "originator/originator.h"

#include "originator/orig_fe_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void orig_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	(void)r;
}

struct orig {
	pthread_mutex_t snap_mu;
	struct orig_snap *snap;
	struct orig_sip *sip;
	struct orig_calls *calls;
	struct orig_cb *cb;
	struct orig_http *http;
	struct orig_xml *xml;
	atomic_bool stopping;
	struct cfg *fixed; /* the restart-only settings as started (cfg_restart_copy) */
};

/* ---- helpers --------------------------------------------------------------- */

int orig_esc_add(struct ch_buf *b, const char *s)
{
	const char *run = s;
	for (const char *p = s;; p++) {
		const char *rep = NULL;
		switch (*p) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		case '\0':
			break;
		default:
			continue;
		}
		int rc = ch_buf_add(b, run, (size_t)(p - run));
		if (rc)
			return rc;
		if (!*p)
			return 0;
		rc = ch_buf_adds(b, rep);
		if (rc)
			return rc;
		run = p + 1;
	}
}

int orig_xlate_status(enum pol_xlate_verdict v)
{
	switch (v) {
	case POL_XLATE_OK:
		return 0;
	case POL_XLATE_BAD_INPUT:
	case POL_XLATE_NO_RULE:
	case POL_XLATE_BAD_CAPTURE:
	case POL_XLATE_BAD_URI:
	case POL_XLATE_BAD_ESCAPE:
	case POL_XLATE_TOO_LONG:
	case POL_XLATE_LIMIT:
		return 400;
	case POL_XLATE_DENIED:
	case POL_XLATE_NOT_ALLOWED:
		return 403;
	}
	return 400;
}

int orig_listen_tcp(const char *hostport, bool nonblock, int *fdp, char *text, size_t textcap)
{
	/* the same parser the config loader validated this address with */
	struct sockaddr_storage addr;
	unsigned alen;
	if (!hostport || ch_parse_listen(hostport, &addr, &alen) != 0)
		return EINVAL;
	int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return errno;
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, (socklen_t)alen) != 0 || listen(fd, 128) != 0) {
		int e = errno;
		close(fd);
		return e;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN] = "?";
	int bport = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			bport = ntohs(s4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			bport = ntohs(s6->sin6_port);
		}
	}
	if (text && textcap) {
		int r = ss.ss_family == AF_INET6 ? ch_fmt(text, textcap, "[%s]:%d", a, bport)
						 : ch_fmt(text, textcap, "%s:%d", a, bport);
		(void)r;
	}
	*fdp = fd;
	return 0;
}

/* ---- snapshots -------------------------------------------------------------- */

static void snap_free(struct orig_snap *s)
{
	if (!s)
		return;
	pol_xlate_free(s->xlate);
	free(s->http_user);
	free(s->http_password);
	free(s->xml_allow);
	for (size_t i = 0; i < s->n_cb_allow; i++)
		free(s->cb_allow[i]);
	free(s->cb_allow);
	free(s);
}

static unsigned clamp_u(int64_t v)
{
	return v <= 0 ? 0 : v > 1000000000 ? 1000000000u : (unsigned)v;
}

/* The XML port's allow list and the callback prefixes: 0, ENOMEM or EINVAL (err set). */
static int snap_lists(const struct cfg_originator *c, struct orig_snap *s, char *err, size_t errlen)
{
	/* absent, the table's default is loopback; an explicit [ ] lets nobody in */
	const struct cfg_orig_xml *x = &c->xml;
	if (x->allow_from.n) {
		s->xml_allow = calloc(x->allow_from.n, sizeof(*s->xml_allow));
		if (!s->xml_allow)
			return ENOMEM;
		for (size_t i = 0; i < x->allow_from.n; i++) {
			if (pol_cidr_parse(x->allow_from.v[i], &s->xml_allow[i]) != 0) {
				orig_set_err(err, errlen,
					     "originator.xml.allow_from.[%zu]: \"%s\" is not an address or CIDR", i,
					     x->allow_from.v[i]);
				return EINVAL;
			}
		}
		s->n_xml_allow = x->allow_from.n;
	}
	/* each entry is an http(s) URL prefix (config/checks.c) */
	if (c->callbacks_allow.n) {
		s->cb_allow = calloc(c->callbacks_allow.n, sizeof(*s->cb_allow));
		if (!s->cb_allow)
			return ENOMEM;
		for (size_t i = 0; i < c->callbacks_allow.n; i++) {
			s->cb_allow[i] = strdup(c->callbacks_allow.v[i]);
			if (!s->cb_allow[i])
				return ENOMEM;
			s->n_cb_allow = i + 1;
		}
	}
	return 0;
}

static int snap_build(const struct cfg *cfg, struct orig_snap **out, char *err, size_t errlen)
{
	const struct cfg_originator *c = &cfg->orig;
	int rc = ENOMEM;
	const char **pats = NULL, **outs = NULL;
	struct orig_snap *s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->refs = 1;
	if (c->n_translations) {
		pats = calloc(c->n_translations, sizeof(*pats));
		outs = calloc(c->n_translations, sizeof(*outs));
		if (!pats || !outs)
			goto out;
		for (size_t i = 0; i < c->n_translations; i++) {
			pats[i] = c->translations[i].pattern;
			outs[i] = c->translations[i].output;
		}
	}
	const struct pol_xlate_spec spec = {.patterns = pats,
					    .outputs = outs,
					    .n = c->n_translations,
					    .allow = (const char *const *)c->dest_allow.v,
					    .nallow = c->dest_allow.n,
					    .has_allow = c->has_dest_allow,
					    .deny = (const char *const *)c->dest_deny.v,
					    .ndeny = c->dest_deny.n};
	struct pol_error perr;
	rc = pol_xlate_compile(&spec, &s->xlate, &perr);
	if (rc) {
		char path[128];
		int line = pol_error_path(&perr, "originator", path, sizeof(path)) == 0 ? cfg_line_of(cfg, path) : 0;
		if (line)
			orig_set_err(err, errlen, "%s:%d: %s: %s", cfg->path ? cfg->path : "config", line, path,
				     perr.msg);
		else
			orig_set_err(err, errlen, "%s: %s", path, perr.msg);
		goto out;
	}
	rc = ENOMEM;
	s->concurrent_calls = clamp_u(c->limits.concurrent_calls);
	s->calls_per_minute = clamp_u(c->limits.calls_per_minute);
	s->calls_per_minute_per_initiator = clamp_u(c->limits.calls_per_minute_per_initiator);
	s->keep_ended_s = c->keep_ended_s < 0 ? 0 : c->keep_ended_s;

	/* the table checked these: user non-empty, a non-empty password, the
	 * algorithm and auth among their choices, basic only with TLS */
	const struct cfg_orig_http *h = &c->http;
	if (c->has_http) {
		s->http_user = strdup(h->user);
		s->http_password = strdup(h->password);
		if (!s->http_user || !s->http_password)
			goto out;
		s->sha256 = strcmp(h->digest_algorithm, "MD5") != 0;
		s->auth = strcmp(h->auth, "basic") == 0 ? ORIG_AUTH_BASIC : ORIG_AUTH_DIGEST;
	}

	rc = snap_lists(c, s, err, errlen);
	if (rc)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	if (rc == ENOMEM)
		orig_set_err(err, errlen, "out of memory");
	free(pats);
	free(outs);
	snap_free(s);
	return rc;
}

struct orig_snap *orig_snap_get(struct orig *o)
{
	pthread_mutex_lock(&o->snap_mu);
	struct orig_snap *s = o->snap;
	s->refs++;
	pthread_mutex_unlock(&o->snap_mu);
	return s;
}

void orig_snap_put(struct orig *o, struct orig_snap *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&o->snap_mu);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&o->snap_mu);
	if (last)
		snap_free(s);
}

/* ---- restart-only settings ---------------------------------------------------- */

/* Which part keeps the running value of a restart-only setting. */
static const char *restart_part(const char *path)
{
	if (strncmp(path, "originator.http", 15) == 0)
		return "the HTTP listener keeps";
	if (strncmp(path, "originator.xml", 14) == 0)
		return "the XML port keeps";
	return "the SIP listener and engine keep";
}

static void restart_warn(const char *path, enum cfg_change what, void *arg)
{
	(void)arg;
	if (strncmp(path, "originator.", 11) != 0)
		return; /* main.c reports the rest */
	ch_warn("originator: reload: %s %s; this needs a restart (%s the running value)", path,
		what == CFG_ADDED     ? "added"
		: what == CFG_REMOVED ? "removed"
				      : "changed",
		restart_part(path));
}

/* ---- engine events ---------------------------------------------------------- */

static void on_sip_event(const struct orig_event *ev, void *arg)
{
	struct orig *o = arg;
	struct orig_snap *s = orig_snap_get(o);
	int64_t keep = s->keep_ended_s;
	orig_snap_put(o, s);
	orig_calls_event(o->calls, ev, o->cb, keep, ch_now_ms());
	if (ev->final)
		ch_dbg("originator: call %llu %s: %d %s (ended by %s, %.1f s connected)",
		       (unsigned long long)ev->call_id, orig_state_name(ev->state), ev->code, ev->reason,
		       orig_ended_by_name(ev->ended_by), (double)ev->duration_ms / 1000.0);
}

/* "sip:0.0.0.0:5072" -> "0.0.0.0"; "sip:[::1]:5072" -> "[::1]". */
static void sip_host(const char *listen, char *out, size_t cap)
{
	const char *p = listen && *listen ? listen : "sip:0.0.0.0:5072";
	const char *c = strchr(p, ':');
	p = c ? c + 1 : p;
	size_t n;
	if (*p == '[') {
		const char *rb = strchr(p, ']');
		n = rb ? (size_t)(rb - p + 1) : strlen(p);
	} else {
		n = strcspn(p, ":;");
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* ---- public ------------------------------------------------------------------ */

bool orig_stopping(struct orig *o)
{
	return atomic_load(&o->stopping);
}

int orig_start(const struct cfg *cfg, struct orig **out, char *err, size_t errlen)
{
	int rc = ENOMEM;
	if (!cfg || !out)
		return EINVAL;
	const struct cfg_originator *c = &cfg->orig;
	struct orig *o = calloc(1, sizeof(*o));
	if (!o) {
		orig_set_err(err, errlen, "out of memory");
		return ENOMEM;
	}
	atomic_init(&o->stopping, false);
	if (pthread_mutex_init(&o->snap_mu, NULL) != 0) {
		free(o);
		return ENOMEM;
	}
	/* everything that can be refused is checked before any socket is bound */
	rc = snap_build(cfg, &o->snap, err, errlen);
	if (rc)
		goto out;
	rc = cfg_restart_copy(cfg, &o->fixed);
	if (rc) {
		orig_set_err(err, errlen, "out of memory");
		goto out;
	}
	if (c->has_http && c->http.listen.n) {
		rc = orig_http_bind(&c->http, &o->http, err, errlen);
		if (rc)
			goto out;
	}
	if (c->has_xml && c->xml.listen.n) {
		rc = orig_xml_bind(&c->xml, &o->xml, err, errlen);
		if (rc)
			goto out;
	}
	rc = orig_calls_new(&o->calls);
	if (rc) {
		orig_set_err(err, errlen, "out of memory");
		goto out;
	}
	rc = orig_cb_start(1000, &o->cb);
	if (rc) {
		orig_set_err(err, errlen, "status callbacks: cannot start: %s", strerror(rc));
		goto out;
	}
	struct orig_sip_opts so = {
	    .listen = c->listen,
	    .tls_listen = c->tls_listen,
	    .tls_cert_dir = c->tls_certificate_dir,
	    .tls_verify = c->tls_verify,
	    .identity = c->identity,
	    .outbound_proxy = c->outbound_proxy,
	    .auth_user = c->has_auth ? c->auth_user : NULL,
	    .auth_password = c->has_auth ? c->auth_password : NULL,
	    .ring_timeout_s = clamp_u(c->timers.ring_timeout_s),
	    .refer_notify_timeout_s = clamp_u(c->timers.refer_notify_timeout_s),
	    .reinvite_timeout_s = clamp_u(c->timers.reinvite_timeout_s),
	    .max_call_s = clamp_u(c->timers.max_call_s),
	};
	rc = orig_sip_start(&so, on_sip_event, o, &o->sip);
	if (rc) {
		orig_set_err(err, errlen, "originator.listen: SIP engine did not start (%s): %s",
			     c->listen ? c->listen : "default", strerror(rc));
		goto out;
	}
	char host[128];
	sip_host(c->listen, host, sizeof(host));
	ch_info("sip: listening on %s:%d", host, orig_sip_port(o->sip));
	if (o->http) {
		rc = orig_http_run(o->http, o, err, errlen);
		if (rc)
			goto out;
	}
	if (o->xml) {
		rc = orig_xml_run(o->xml, o, err, errlen);
		if (rc)
			goto out;
	}
	ch_info("originator: %zu translation rule(s), %s", c->n_translations,
		c->has_dest_allow ? "destination allow list" : "no destination allow list");
	*out = o;
	return 0;
out:
	orig_stop(o, 0);
	return rc;
}

int orig_reload(struct orig *o, const struct cfg *cfg, char *err, size_t errlen)
{
	if (!o || !cfg)
		return EINVAL;
	struct orig_snap *s = NULL;
	int rc = snap_build(cfg, &s, err, errlen);
	if (rc)
		return rc;
	cfg_restart_changes(o->fixed, cfg, restart_warn, NULL);
	pthread_mutex_lock(&o->snap_mu);
	struct orig_snap *old = o->snap;
	o->snap = s;
	pthread_mutex_unlock(&o->snap_mu);
	orig_snap_put(o, old);
	ch_info("originator: reloaded (%zu translation rule(s))", cfg->orig.n_translations);
	return 0;
}

void orig_stop(struct orig *o, unsigned grace_ms)
{
	if (!o)
		return;
	atomic_store(&o->stopping, true);
	orig_http_stop(o->http);
	o->http = NULL;
	/* the XML port keeps writing while the engine delivers the final results */
	orig_sip_stop(o->sip, grace_ms);
	o->sip = NULL;
	orig_xml_stop(o->xml, grace_ms < 1000 ? grace_ms : 1000);
	o->xml = NULL;
	orig_cb_stop(o->cb, grace_ms < 3000 ? grace_ms : 3000);
	o->cb = NULL;
	orig_calls_free(o->calls);
	if (o->snap)
		orig_snap_put(o, o->snap);
	cfg_free(o->fixed);
	pthread_mutex_destroy(&o->snap_mu);
	free(o);
}

/* ---- placing calls ------------------------------------------------------------- */

void orig_place(struct orig *o, const struct orig_place_req *rq, const struct orig_watch *watch,
		struct orig_place_res *res)
{
	memset(res, 0, sizeof(*res));
	if (orig_stopping(o)) {
		res->status = 503;
		(void)ch_fmt(res->reason, sizeof(res->reason), "shutting down");
		return;
	}
	struct orig_snap *s = orig_snap_get(o);
	enum pol_xlate_verdict v = pol_xlate_apply(s->xlate, rq->initiator, res->tinit, sizeof(res->tinit));
	if (v != POL_XLATE_OK) {
		res->status = orig_xlate_status(v);
		(void)ch_fmt(res->reason, sizeof(res->reason), "initiator: %s", pol_xlate_reason(v));
		goto out;
	}
	v = pol_xlate_apply(s->xlate, rq->destination, res->tdest, sizeof(res->tdest));
	if (v != POL_XLATE_OK) {
		res->status = orig_xlate_status(v);
		(void)ch_fmt(res->reason, sizeof(res->reason), "destination: %s", pol_xlate_reason(v));
		goto out;
	}
	struct orig_call_req r;
	memset(&r, 0, sizeof(r));
	memcpy(r.initiator, res->tinit, strlen(res->tinit) + 1);
	memcpy(r.destination, res->tdest, strlen(res->tdest) + 1);
	r.anchor = rq->anchor;
	r.ring_timeout_s = rq->ring_timeout_s;
	uint64_t id = 0;
	enum orig_admit a = orig_calls_admit(o->calls, o->sip, s, &r, rq->status_callback, watch, ch_now_ms(), &id);
	switch (a) {
	case ORIG_ADMIT_OK:
		res->id = id;
		ch_info("originator: call %llu: %s -> %s (%s)", (unsigned long long)id, res->tinit, res->tdest,
			rq->anchor ? "anchored" : "REFER");
		break;
	case ORIG_ADMIT_CONCURRENT:
		res->status = 429;
		(void)ch_fmt(res->reason, sizeof(res->reason), "too many concurrent calls");
		break;
	case ORIG_ADMIT_RATE:
		res->status = 429;
		(void)ch_fmt(res->reason, sizeof(res->reason), "calls per minute limit reached");
		break;
	case ORIG_ADMIT_INITIATOR:
		res->status = 429;
		(void)ch_fmt(res->reason, sizeof(res->reason), "calls per minute limit reached for this initiator");
		break;
	case ORIG_ADMIT_ENGINE:
		res->status = 503;
		(void)ch_fmt(res->reason, sizeof(res->reason), "originator unavailable");
		break;
	}
out:
	if (res->status)
		ch_info("originator: call refused (%d %s)", res->status, res->reason);
	orig_snap_put(o, s);
}

int orig_hangup(struct orig *o, uint64_t id)
{
	int rc = orig_calls_check_active(o->calls, id);
	if (rc)
		return rc;
	return orig_sip_hangup(o->sip, id);
}

json_t *orig_call_json(struct orig *o, uint64_t id)
{
	struct orig_snap *s = orig_snap_get(o);
	json_t *j = orig_calls_get(o->calls, id, s->keep_ended_s, ch_now_ms());
	orig_snap_put(o, s);
	return j;
}

json_t *orig_calls_json(struct orig *o)
{
	return orig_calls_list(o->calls);
}
