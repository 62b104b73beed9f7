/* originator/sip_engine.c: the originator's SIP thread: owns Sofia-SIP NUA, takes messages from other threads,
 * dispatches NUA events to the phase files (sip_call/invite/refer/relay/auth.c) and is the engine's public API. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sip_hdr.h"
#include "common/sip_uri.h"
#include "originator/sip_int.h"

/* Sofia's per-module logs: exported by the library but declared in no public
 * header. Silenced so that nothing (messages, credentials) reaches stderr. */
extern su_log_t nua_log[], nta_log[], tport_log[], soa_log[], nea_log[], sresolv_log[];

/* What we take from peers, and nothing more: nua answers every other method 405
 * (501 if unknown) before it creates a handle. REFER is what we send, never take:
 * allowed, nua would answer a stranger's REFER 202 itself and send NOTIFYs to any
 * Contact it names (and on a handle we then destroy). NOTIFY outside a
 * subscription of ours, and every in-dialog-looking request for a dialog we do not
 * have, get 481 from nua/nta. */
#define ALLOW_METHODS "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, UPDATE"

/* How long nta keeps a finished transaction: NTATAG_UA_LINGER comes from our
 * patch (third_party/sofia-sip); Debian's stock build keeps RFC 3261's 32 s. */
#ifdef NTATAG_UA_LINGER
#define LINGER_TAGS(ms) TAG_IF((ms) > 0, NTATAG_UA_LINGER((unsigned)(ms)))
#define HAVE_LINGER     1
#else
#define LINGER_TAGS(ms) TAG_SKIP(ms)
#define HAVE_LINGER     0
#endif

enum msg_kind { MSG_CALL, MSG_HANGUP, MSG_STOP };

struct orig_msg {
	enum msg_kind kind;
	uint64_t id;
	struct orig_call_req req;
	unsigned grace_ms;
};

/* ---- names ------------------------------------------------------------ */

const char *orig_state_name(enum orig_state st)
{
	switch (st) {
	case ORIG_CALLING_INITIATOR:
		return "calling_initiator";
	case ORIG_INITIATOR_RINGING:
		return "initiator_ringing";
	case ORIG_INITIATOR_ANSWERED:
		return "initiator_answered";
	case ORIG_CALLING_DESTINATION:
		return "calling_destination";
	case ORIG_DESTINATION_RINGING:
		return "destination_ringing";
	case ORIG_CONNECTED:
		return "connected";
	case ORIG_TRANSFERRED:
		return "transferred";
	case ORIG_ENDED:
		return "ended";
	case ORIG_FAILED:
		return "failed";
	}
	return "unknown";
}

const char *orig_leg_name(enum orig_leg leg)
{
	switch (leg) {
	case ORIG_LEG_NONE:
		return "none";
	case ORIG_LEG_INITIATOR:
		return "initiator";
	case ORIG_LEG_DESTINATION:
		return "destination";
	}
	return "unknown";
}

const char *orig_ended_by_name(enum orig_ended_by by)
{
	switch (by) {
	case ORIG_BY_NONE:
		return "none";
	case ORIG_BY_INITIATOR:
		return "initiator";
	case ORIG_BY_DESTINATION:
		return "destination";
	case ORIG_BY_TIMEOUT:
		return "timeout";
	case ORIG_BY_API:
		return "api";
	case ORIG_BY_SHUTDOWN:
		return "shutdown";
	case ORIG_BY_TRANSFER:
		return "transfer";
	case ORIG_BY_ERROR:
		return "error";
	}
	return "unknown";
}

/* ---- small helpers ---------------------------------------------------- */

static char *dup_opt(const char *v)
{
	if (!v || !*v)
		return NULL;
	return ch_strndup(v, strlen(v));
}

/* A URI we put between angle brackets in a header: SIP or SIPS scheme, no
 * whitespace, controls, quotes or brackets (no header injection). The caller
 * has validated it already; this is the engine's own guard. */
/* A NUL-terminated RFC 3261 SIP URI (common/sip_uri.c, the grammar the config and the policy use too). */
static bool uri_ok(const char *u, size_t cap)
{
	return memchr(u, '\0', cap) != NULL && ch_sip_uri_ok(u);
}

/* A string that ends inside its array and passes ok (or is "", when optional). */
static bool field_ok(const char *v, size_t cap, bool (*ok)(const char *), bool optional)
{
	if (!memchr(v, '\0', cap))
		return false;
	return (optional && !*v) || ok(v);
}

/* The engine's own guard on what goes into headers: whatever the caller
 * checked, nothing with a CR, LF, NUL or other control reaches the wire. */
static bool caller_id_ok(const struct orig_caller_id *c)
{
	return field_ok(c->display, sizeof c->display, ch_sip_display_ok, true) &&
	       field_ok(c->from, sizeof c->from, ch_sip_uri_ok, true) &&
	       field_ok(c->pai, sizeof c->pai, ch_sip_uri_ok, true) &&
	       field_ok(c->privacy, sizeof c->privacy, ch_sip_hdr_value_ok, true);
}

static bool req_ok(const struct orig_call_req *r)
{
	if (!uri_ok(r->initiator, sizeof r->initiator) || !uri_ok(r->destination, sizeof r->destination))
		return false;
	if ((unsigned)r->auto_answer > (unsigned)ORIG_AA_ANSWER_MODE) /* a value outside the enum */
		return false;
	if (!caller_id_ok(&r->id_initiator) || !caller_id_ok(&r->id_destination) || r->n_headers > ORIG_EXTRA_HEADERS)
		return false;
	for (unsigned i = 0; i < r->n_headers; i++) {
		const struct orig_hdr *h = &r->headers[i];
		if (!field_ok(h->name, sizeof h->name, ch_sip_hdr_name_ok, false) || ch_sip_hdr_reserved(h->name) ||
		    !field_ok(h->value, sizeof h->value, ch_sip_hdr_value_ok, false))
			return false;
	}
	return true;
}

/* ---- the NUA callback ------------------------------------------------- */

/* Our own contact, asked for at start: the bound host and port, for SDP and
 * orig_sip_port(); wakes orig_sip_start(). */
static void on_contact_params(struct orig_sip *s, tagi_t tags[])
{
	const sip_contact_t *m = NULL;
	tl_gets(tags, NTATAG_CONTACT_REF(m), TAG_END());
	pthread_mutex_lock(&s->mu);
	if (m && m->m_url->url_host) {
		const char *h = m->m_url->url_host;
		size_t hl = strlen(h);
		if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') {
			h++;
			hl -= 2;
			s->host_v6 = true;
		}
		if (hl >= sizeof s->host)
			hl = sizeof s->host - 1;
		memcpy(s->host, h, hl);
		s->host[hl] = '\0';
		int64_t port = 5060;
		const char *ps = m->m_url->url_port;
		if (ps && *ps)
			(void)ch_parse_i64(ps, strlen(ps), 0, 65535, &port);
		atomic_store(&s->port, (int)port);
		s->start_state = 1;
	} else {
		s->start_state = -EADDRNOTAVAIL;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void reject_stray(nua_t *nua, nua_handle_t *nh, nua_event_t event)
{
	/* Requests outside our calls: we place calls, we do not take them.
	 * What reaches here is an INVITE (an application method: nua waits
	 * for our answer, so nothing is sent before this 403) or an OPTIONS
	 * that nua already answered 200. Either way nua owns no other work
	 * on the handle (no usage, no client request, no timer), so it can
	 * go. Everything else was refused without a handle (ALLOW_METHODS). */
	if (event == nua_i_invite)
		nua_respond(nh, SIP_403_FORBIDDEN, NUTAG_WITH_THIS(nua), TAG_END());
	if (nua_event_is_incoming_request(event) || event == nua_i_state)
		nua_handle_destroy(nh);
}

/* An event on one leg of one of our calls. */
static void on_leg_event(nua_event_t event, int status, const char *phrase, struct orig_sip *s, struct sip_leg *l,
			 const sip_t *sip, tagi_t tags[])
{
	struct sip_call *c = l->c;
	switch (event) {
	case nua_r_invite:
		orig_sip_r_invite(s, l, status, phrase, sip);
		break;
	case nua_r_refer:
		orig_sip_r_refer(s, c, status, phrase, sip);
		break;
	case nua_i_notify:
		orig_sip_i_notify(s, c, sip);
		break;
	case nua_r_update:
		if (l->out_relay && !orig_sip_challenged(s, l, status, sip))
			orig_sip_relay_response(l, status, phrase, sip);
		break;
	case nua_r_bye:
		if (status >= 200 && !orig_sip_challenged(s, l, status, sip))
			orig_sip_leg_terminated(l);
		break;
	case nua_r_cancel:
		break;
	case nua_i_invite:
		orig_sip_relay_request(l, false, sip);
		break;
	case nua_i_update:
		orig_sip_relay_request(l, true, sip);
		break;
	case nua_i_ack:
		orig_sip_relay_ack(l, sip);
		break;
	case nua_i_bye:
		break; /* nua_i_state terminated follows */
	case nua_i_state:
		orig_sip_i_state(l, status, tags);
		break;
	case nua_i_terminated:
		orig_sip_leg_terminated(l);
		break;
	default:
		break;
	}
}

static void nua_cb(nua_event_t event, int status, const char *phrase, nua_t *nua, struct orig_sip *s, nua_handle_t *nh,
		   struct sip_leg *l, const sip_t *sip, tagi_t tags[])
{
	if (event == nua_r_shutdown) {
		if (status >= 200)
			su_root_break(s->root);
		return;
	}
	if (event == nua_r_get_params) {
		on_contact_params(s, tags);
		return;
	}
	if (!nh)
		return;
	if (!l) {
		reject_stray(nua, nh, event);
		return;
	}
	if (l->st == LS_GONE || l->nh != nh)
		return;
	ch_dbg("sip: call %" PRIu64 " %s: %s %d %s", l->c->id, orig_leg_name(l->which), nua_event_name(event), status,
	       phrase ? phrase : "");
	on_leg_event(event, status, phrase, s, l, sip, tags);
}

/* ---- messages from other threads -------------------------------------- */

void orig_sip_do_shutdown(struct orig_sip *s)
{
	if (s->shutdown_sent)
		return;
	s->shutdown_sent = true;
	if (s->grace_tmr)
		su_timer_reset(s->grace_tmr);
	nua_shutdown(s->nua);
}

static void on_grace(struct orig_sip *s, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	orig_sip_do_shutdown(s);
}

static void on_msg(struct orig_sip *s, su_msg_r m, struct orig_msg *d)
{
	(void)m;
	switch (d->kind) {
	case MSG_CALL:
		orig_sip_start_call(s, d->id, &d->req);
		break;
	case MSG_HANGUP:
		for (struct sip_call *c = s->calls; c; c = c->next) {
			if (c->id == d->id) {
				orig_sip_end_local(c, 487, "Released by API", ORIG_BY_API);
				break;
			}
		}
		break;
	case MSG_STOP: {
		s->shutting_down = true;
		struct sip_call *c = s->calls;
		while (c) {
			/* end_call may free c (legs already idle). */
			struct sip_call *next = c->next;
			orig_sip_end_local(c, 487, "Server shutting down", ORIG_BY_SHUTDOWN);
			c = next;
		}
		if (!s->calls) {
			orig_sip_do_shutdown(s);
		} else {
			s->grace_tmr = su_timer_create(su_root_task(s->root), 0);
			if (s->grace_tmr)
				su_timer_set_interval(s->grace_tmr, on_grace, NULL,
						      (su_duration_t)(d->grace_ms ? d->grace_ms : 1));
			else
				orig_sip_do_shutdown(s);
		}
		break;
	}
	}
}

static int send_msg(struct orig_sip *s, const struct orig_msg *d)
{
	su_msg_r m = SU_MSG_R_INIT;
	if (su_msg_create(m, su_root_task(s->root), su_task_null, on_msg, sizeof *d) != 0)
		return ENOMEM;
	memcpy(su_msg_data(m), d, sizeof *d);
	if (su_msg_send(m) != 0)
		return ENOMEM;
	return 0;
}

/* ---- the thread ------------------------------------------------------- */

static void quiet_logs(void)
{
	su_log_set_level(NULL, 0);
	su_log_set_level(nua_log, 0);
	su_log_set_level(nta_log, 0);
	su_log_set_level(tport_log, 0);
	su_log_set_level(soa_log, 0);
	su_log_set_level(nea_log, 0);
	su_log_set_level(sresolv_log, 0);
}

static void fail_start(struct orig_sip *s, int err)
{
	pthread_mutex_lock(&s->mu);
	s->start_state = -err;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Sofia frees a finished call's transactions and messages up to the linger
 * after it ended (32 s with RFC 3261's timers: Timer D of the INVITE, Timer F
 * of the ACK, Timer J of a NOTIFY over UDP), in small blocks scattered through
 * the heap: glibc keeps those pages, so after a burst the RSS stayed at its
 * peak. While calls have ended in the last TRIM_WINDOW_MS, give free pages back
 * once a second. */
#define TRIM_PERIOD_MS 1000
#define TRIM_WINDOW_MS 40000

static void on_trim(struct orig_sip *s, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	if (s->last_end_ms && ch_now_ms() - s->last_end_ms < TRIM_WINDOW_MS)
		(void)malloc_trim(0);
}

static void *sip_thread(void *arg)
{
	struct orig_sip *s = arg;
	(void)pthread_setname_np(pthread_self(), "ch-orig-sip");
	char ua[64];
	(void)ch_fmt(ua, sizeof ua, "callhook/%s", CALLHOOK_VERSION);
	if (su_init() != 0) {
		fail_start(s, ENOMEM);
		return NULL;
	}
	quiet_logs();
	s->root = su_root_create(s);
	if (!s->root) {
		fail_start(s, ENOMEM);
		su_deinit();
		return NULL;
	}
	errno = 0;
	s->nua = nua_create(
	    s->root, nua_cb, s, NUTAG_URL(s->listen), TAG_IF(s->tls_listen, NUTAG_SIPS_URL(s->tls_listen)),
	    TAG_IF(s->tls_cert_dir, NUTAG_CERTIFICATE_DIR(s->tls_cert_dir)),
	    TAG_IF(s->tls_cert_dir && s->tls_verify, TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_OUT)),
	    TAG_IF(s->proxy, NUTAG_PROXY(s->proxy)), NUTAG_MEDIA_ENABLE(0), NUTAG_SESSION_TIMER(0), NUTAG_AUTOANSWER(0),
	    NUTAG_AUTOALERT(0), NUTAG_ENABLEMESSAGE(0), NUTAG_KEEPALIVE(0), NUTAG_OUTBOUND("no-options-keepalive"),
	    SIPTAG_SUPPORTED(NULL), SIPTAG_ALLOW_STR(ALLOW_METHODS), NUTAG_APPL_METHOD("INVITE, UPDATE"),
	    SIPTAG_USER_AGENT_STR(ua), TPTAG_UDP_RMEM((unsigned)s->rcvbuf), LINGER_TAGS(s->linger_ms), TAG_END());
	if (!s->nua) {
		int e = errno;
		fail_start(s, e == EADDRNOTAVAIL ? EADDRNOTAVAIL : EADDRINUSE);
		su_root_destroy(s->root);
		s->root = NULL;
		su_deinit();
		return NULL;
	}
	nua_get_params(s->nua, NTATAG_CONTACT(NULL), TAG_END());
	s->trim_tmr = su_timer_create(su_root_task(s->root), TRIM_PERIOD_MS);
	if (s->trim_tmr)
		(void)su_timer_set_for_ever(s->trim_tmr, on_trim, NULL);
	su_root_run(s->root);
	/* Calls left after a forced shutdown: their handles went with the stack. */
	orig_sip_free_calls(s);
	if (s->grace_tmr)
		su_timer_destroy(s->grace_tmr);
	if (s->trim_tmr)
		su_timer_destroy(s->trim_tmr);
	nua_destroy(s->nua);
	su_root_destroy(s->root);
	su_deinit();
	return NULL;
}

/* ---- public API ------------------------------------------------------- */

static void free_engine(struct orig_sip *s)
{
	if (!s)
		return;
	free(s->listen);
	free(s->tls_listen);
	free(s->tls_cert_dir);
	free(s->identity);
	free(s->proxy);
	free(s->auth_user);
	if (s->auth_password) {
		memset(s->auth_password, 0, strlen(s->auth_password));
		free(s->auth_password);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

int orig_sip_start(const struct orig_sip_opts *o, orig_sip_event_fn cb, void *arg, struct orig_sip **out)
{
	if (!o || !cb || !out || !o->identity || !uri_ok(o->identity, strlen(o->identity) + 1))
		return EINVAL;
	struct orig_sip *s = calloc(1, sizeof *s);
	if (!s)
		return ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	int err = ENOMEM;
	s->cb = cb;
	s->cb_arg = arg;
	s->listen = dup_opt(o->listen ? o->listen : "sip:0.0.0.0:5072");
	s->tls_listen = dup_opt(o->tls_listen);
	s->tls_cert_dir = dup_opt(o->tls_cert_dir);
	s->tls_verify = o->tls_verify;
	s->identity = dup_opt(o->identity);
	s->proxy = dup_opt(o->outbound_proxy);
	s->auth_user = dup_opt(o->auth_user);
	s->auth_password = dup_opt(o->auth_password);
	if (!s->listen || !s->identity || (o->tls_listen && *o->tls_listen && !s->tls_listen) ||
	    (o->auth_user && *o->auth_user && !s->auth_user))
		goto out;
	if (s->auth_password)
		ch_log_add_secret(s->auth_password);
	s->ring_s = o->ring_timeout_s ? o->ring_timeout_s : 45;
	s->notify_s = o->refer_notify_timeout_s ? o->refer_notify_timeout_s : 32;
	s->reinvite_s = o->reinvite_timeout_s ? o->reinvite_timeout_s : 10;
	s->max_call_s = o->max_call_s ? o->max_call_s : 7200;
	s->linger_ms = o->linger_ms ? o->linger_ms : 1500;
	s->max_calls = o->max_calls;
	if (!HAVE_LINGER && s->linger_ms > 0)
		ch_warn("originator: built with Debian's stock Sofia-SIP (CALLHOOK_SYSTEM_SOFIA): finished SIP "
			"transactions are kept RFC 3261's 32 s, timers.transaction_linger_ms has no effect");
	s->rcvbuf = o->udp_rcvbuf_bytes > 0 ? o->udp_rcvbuf_bytes : 4 << 20;
	s->sid_seed = (uint64_t)ch_wall_s() * 1000u;
	atomic_init(&s->next_id, 1);
	atomic_init(&s->active, 0);
	atomic_init(&s->port, 0);

	err = pthread_create(&s->thr, NULL, sip_thread, s);
	if (err)
		goto out;
	pthread_mutex_lock(&s->mu);
	while (s->start_state == 0)
		pthread_cond_wait(&s->cv, &s->mu);
	int st = s->start_state;
	pthread_mutex_unlock(&s->mu);
	if (st < 0) {
		if (s->nua) {
			/* Bound but no usable contact: stop the running stack. */
			struct orig_msg d;
			memset(&d, 0, sizeof d);
			d.kind = MSG_STOP;
			(void)send_msg(s, &d);
		}
		pthread_join(s->thr, NULL);
		err = -st;
		goto out;
	}
	ch_info("sip: listening on %s (port %d)%s%s", s->listen, atomic_load(&s->port), s->tls_listen ? ", TLS " : "",
		s->tls_listen ? s->tls_listen : "");
	*out = s;
	return 0;
out:
	free_engine(s);
	return err;
}

int orig_sip_call(struct orig_sip *s, const struct orig_call_req *r, uint64_t *id)
{
	if (!s || !r || !id || !req_ok(r))
		return EINVAL;
	struct orig_msg d;
	memset(&d, 0, sizeof d);
	d.kind = MSG_CALL;
	d.req = *r;
	int err = 0;
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		err = ESHUTDOWN;
		goto out;
	}
	unsigned n = atomic_fetch_add(&s->active, 1);
	if (s->max_calls && n >= s->max_calls) {
		atomic_fetch_sub(&s->active, 1);
		err = EAGAIN;
		goto out;
	}
	d.id = atomic_fetch_add(&s->next_id, 1);
	*id = d.id;
	err = send_msg(s, &d);
	if (err)
		atomic_fetch_sub(&s->active, 1);
	else
		orig_gauge_add(ORIG_G_SIP_CALLS, 1);
out:
	pthread_mutex_unlock(&s->mu);
	return err;
}

int orig_sip_hangup(struct orig_sip *s, uint64_t id)
{
	if (!s)
		return EINVAL;
	struct orig_msg d;
	memset(&d, 0, sizeof d);
	d.kind = MSG_HANGUP;
	d.id = id;
	int err;
	pthread_mutex_lock(&s->mu);
	err = s->stopping ? ESHUTDOWN : send_msg(s, &d);
	pthread_mutex_unlock(&s->mu);
	return err;
}

int orig_sip_port(const struct orig_sip *s)
{
	return s ? atomic_load(&s->port) : 0;
}

unsigned orig_sip_active(const struct orig_sip *s)
{
	return s ? atomic_load(&s->active) : 0;
}

void orig_sip_stop(struct orig_sip *s, unsigned grace_ms)
{
	if (!s)
		return;
	struct orig_msg d;
	memset(&d, 0, sizeof d);
	d.kind = MSG_STOP;
	d.grace_ms = grace_ms;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	int err = send_msg(s, &d);
	pthread_mutex_unlock(&s->mu);
	if (err)
		ch_err("sip: cannot stop the SIP thread cleanly (%d)", err);
	pthread_join(s->thr, NULL);
	free_engine(s);
}
