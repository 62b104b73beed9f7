/* sip_engine.c: the originator's SIP thread: owns Sofia-SIP NUA and places two-leg calls (REFER or RFC 3725 anchored).
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"
#include "originator/orig_sip.h"

struct call;
struct leg;
struct orig_msg;

#define SU_ROOT_MAGIC_T struct orig_sip
#define NUA_MAGIC_T     struct orig_sip
#define NUA_HMAGIC_T    struct leg
#define SU_MSG_ARG_T    struct orig_msg
#define SU_TIMER_ARG_T  void

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/tport_tag.h>

/* Sofia's per-module logs: exported by the library but declared in no public
 * header. Silenced so that nothing (messages, credentials) reaches stderr. */
extern su_log_t nua_log[], nta_log[], tport_log[], soa_log[], nea_log[], sresolv_log[];

#define SDP_MAX 16384
/* What we take from peers, and nothing more: nua answers every other method 405
 * (501 if unknown) before it creates a handle. REFER is what we send, never take:
 * allowed, nua would answer a stranger's REFER 202 itself and send NOTIFYs to any
 * Contact it names (and on a handle we then destroy). NOTIFY outside a
 * subscription of ours, and every in-dialog-looking request for a dialog we do not
 * have, get 481 from nua/nta. */
#define ALLOW_METHODS "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, UPDATE"

enum msg_kind { MSG_CALL, MSG_HANGUP, MSG_STOP };

struct orig_msg {
	enum msg_kind kind;
	uint64_t id;
	struct orig_call_req req;
	unsigned grace_ms;
};

/* Where a call is; each phase has at most one timer. */
enum phase {
	PH_A_INVITE,       /* INVITE to the initiator, waiting for its answer */
	PH_REFER,          /* REFER sent, waiting for its response */
	PH_REFER_ACCEPTED, /* REFER accepted, following NOTIFYs */
	PH_B_INVITE,       /* anchored: INVITE without SDP to the destination */
	PH_REINVITE,       /* anchored: destination answered (ACK held), re-INVITE to the initiator */
	PH_CONNECTED,      /* anchored: both ACKs sent */
	PH_DONE,
};

enum leg_st {
	LS_NONE,       /* no handle yet */
	LS_INVITING,   /* initial INVITE in progress */
	LS_UP,         /* dialog confirmed (2xx received) */
	LS_CLOSING,    /* CANCEL or BYE sent */
	LS_SUBSCRIBED, /* initiator: its session ended but the REFER subscription lives on */
	LS_GONE,       /* handle destroyed */
};

/* A mid-call offer/answer relayed from one phone (from) to the other. */
struct relay {
	bool active;
	bool is_update; /* UPDATE rather than re-INVITE */
	bool offerless; /* the incoming re-INVITE had no SDP: answer comes in its ACK */
};

struct leg {
	struct call *c;
	enum orig_leg which;
	nua_handle_t *nh;
	enum leg_st st;
	bool ringing;               /* 18x reported */
	bool ack_pending;           /* destination's 2xx not ACKed yet */
	int auth_tries;             /* consecutive 401/407 on the current request */
	bool auth_declined;         /* the last response was a challenge we did not answer */
	struct relay in;            /* a request from this phone being relayed to the other */
	bool out_relay;             /* a request we sent to this phone on behalf of the other */
	bool out_ack_pending;       /* our relayed offerless re-INVITE got 2xx, ACK held for the answer */
	nua_saved_event_t saved[1]; /* the incoming request being relayed, answered later */
	bool has_saved;
};

struct call {
	struct call *next, *prev;
	struct orig_sip *s;
	uint64_t id;
	char initiator[512];
	char destination[512];
	bool anchor;
	bool fallback;
	int fallback_code;
	bool ended;
	bool dest_ringing; /* REFER path: 18x NOTIFY reported */
	enum phase ph;
	unsigned ring_s;
	int64_t t_start, t_connected;
	su_timer_t *tmr;
	struct leg a; /* initiator */
	struct leg b; /* destination */
	/* Our SDP origin toward the initiator: stable for the dialog. */
	uint64_t a_sid;
	uint64_t a_ver;
	char *a_last; /* the last body sent to the initiator, origin line removed */
};

struct orig_sip {
	/* Immutable after start. */
	orig_sip_event_fn cb;
	void *cb_arg;
	char *listen, *tls_listen, *tls_cert_dir, *identity, *proxy, *auth_user, *auth_password;
	bool tls_verify;
	unsigned ring_s, notify_s, reinvite_s, max_call_s, max_calls;
	int rcvbuf;

	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int start_state; /* 0 pending, 1 running, -errno failed */
	bool stopping;   /* under mu */

	su_root_t *root;
	nua_t *nua;
	atomic_uint_fast64_t next_id;
	atomic_uint active;
	atomic_int port;

	/* SIP thread only. */
	struct call *calls;
	char host[128]; /* our address, for SDP */
	bool host_v6;
	uint64_t sid_seed;
	su_timer_t *grace_tmr;
	su_timer_t *trim_tmr;
	int64_t last_end_ms; /* when the last call ended, 0 = none yet */
	bool shutting_down;
	bool shutdown_sent;
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

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The user part of a URI (sip:user@host -> user; tel:+1234 -> +1234; sip:host -> host),
 * made safe for a quoted display name. */
static void display_user(const char *uri, char *out, size_t cap)
{
	const char *p = strchr(uri, ':');
	p = p ? p + 1 : uri;
	const char *at = strchr(p, '@');
	const char *end = at;
	if (!end) {
		end = p + strcspn(p, ";?>");
	}
	size_t o = 0;
	for (; p < end && o + 2 < cap; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch == 0x7f)
			continue;
		if (ch == '"' || ch == '\\')
			out[o++] = '\\';
		out[o++] = (char)ch;
	}
	out[o] = '\0';
}

/* A URI we put between angle brackets in a header: SIP or SIPS scheme, no
 * whitespace, controls, quotes or brackets (no header injection). The caller
 * has validated it already; this is the engine's own guard. */
static bool uri_ok(const char *u, size_t cap)
{
	if (!memchr(u, '\0', cap))
		return false;
	if (strncasecmp(u, "sip:", 4) != 0 && strncasecmp(u, "sips:", 5) != 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '"')
			return false;
	return true;
}

static int64_t since(int64_t t0)
{
	return t0 ? ch_now_ms() - t0 : 0;
}

/* ---- SDP -------------------------------------------------------------- */

/* Copy body (len bytes) into out replacing its session origin ("o=") line by
 * oline (no line ending); with oline NULL the origin line is dropped. 0,
 * EINVAL (no origin line), ENOSPC. */
static int sdp_set_origin(const char *body, size_t len, const char *oline, char *out, size_t cap)
{
	size_t o = 0;
	bool done = false;
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t n = (size_t)(next - p);
		if (!done && n >= 2 && p[0] == 'o' && p[1] == '=') {
			done = true;
			if (oline) {
				size_t ol = strlen(oline);
				if (o + ol + 2 >= cap)
					return ENOSPC;
				memcpy(out + o, oline, ol);
				o += ol;
				out[o++] = '\r';
				out[o++] = '\n';
			}
		} else {
			if (o + n >= cap)
				return ENOSPC;
			memcpy(out + o, p, n);
			o += n;
		}
		p = next;
	}
	if (!done)
		return EINVAL;
	out[o] = '\0';
	return 0;
}

static void origin_line(const struct call *c, uint64_t ver, char *out, size_t cap)
{
	const struct orig_sip *s = c->s;
	(void)ch_fmt(out, cap, "o=callhook %" PRIu64 " %" PRIu64 " IN %s %s", c->a_sid, ver, s->host_v6 ? "IP6" : "IP4",
		     s->host);
}

static int placeholder_sdp(const struct call *c, char *out, size_t cap)
{
	const struct orig_sip *s = c->s;
	char ol[256];
	origin_line(c, c->a_ver, ol, sizeof ol);
	return ch_fmt(out, cap,
		      "v=0\r\n%s\r\ns=callhook\r\nc=IN %s %s\r\nt=0 0\r\n"
		      "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\n",
		      ol, s->host_v6 ? "IP6" : "IP4", s->host);
}

/* The SDP body of a message, or NULL. Borrowed from sip. */
static const char *sdp_of(const sip_t *sip, size_t *len)
{
	if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data || !sip->sip_payload->pl_len)
		return NULL;
	if (sip->sip_content_type && sip->sip_content_type->c_type &&
	    strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0)
		return NULL;
	*len = sip->sip_payload->pl_len;
	return sip->sip_payload->pl_data;
}

/* Build the body to send to the initiator from the destination's SDP: our
 * origin, version + 1 only when the session description changed. */
static int sdp_for_initiator(struct call *c, const char *body, size_t len, char *out, size_t cap)
{
	char *bare = malloc(SDP_MAX);
	int err = ENOMEM;
	if (!bare)
		goto out;
	err = sdp_set_origin(body, len, NULL, bare, SDP_MAX);
	if (err)
		goto out;
	if (!c->a_last || strcmp(c->a_last, bare) != 0) {
		c->a_ver++;
		free(c->a_last);
		c->a_last = bare;
		bare = NULL;
	}
	char ol[256];
	origin_line(c, c->a_ver, ol, sizeof ol);
	err = sdp_set_origin(body, len, ol, out, cap);
out:
	free(bare);
	return err;
}

/* ---- events ----------------------------------------------------------- */

static void emit(struct call *c, enum orig_state st, enum orig_leg leg, int code, const char *reason, int sip_code,
		 const char *sip_reason, bool final, enum orig_ended_by by)
{
	struct orig_event ev;
	memset(&ev, 0, sizeof ev);
	ev.call_id = c->id;
	ev.state = st;
	ev.leg = leg;
	ev.code = code;
	copy_str(ev.reason, sizeof ev.reason, reason);
	ev.sip_code = sip_code;
	copy_str(ev.sip_reason, sizeof ev.sip_reason, sip_reason);
	ev.fallback = c->fallback;
	ev.fallback_code = c->fallback_code;
	ev.final = final;
	ev.ended_by = by;
	ev.duration_ms = since(c->t_connected);
	ev.age_ms = since(c->t_start);
	ch_dbg("sip: call %" PRIu64 ": %s leg=%s code=%d %s (sip %d %s)%s", c->id, orig_state_name(st),
	       orig_leg_name(leg), code, reason, sip_code, sip_reason ? sip_reason : "", final ? " final" : "");
	c->s->cb(&ev, c->s->cb_arg);
}

static void timer_set(struct call *c, unsigned ms);
static void timer_stop(struct call *c);
static void release_leg(struct leg *l);
static void maybe_free(struct call *c);

/* End the call with its final event and release both legs. */
static void end_call(struct call *c, enum orig_state st, enum orig_leg leg, int code, int sip_code,
		     const char *sip_reason, enum orig_ended_by by)
{
	if (c->ended)
		return;
	const char *reason = "Call ended";
	if (st == ORIG_FAILED)
		reason =
		    leg == ORIG_LEG_INITIATOR ? "Failed to connect to initiator" : "Failed to connect to destination";
	else if (st == ORIG_TRANSFERRED || st == ORIG_CONNECTED)
		reason = "Connected to destination";
	c->ended = true;
	c->ph = PH_DONE;
	c->s->last_end_ms = ch_now_ms();
	timer_stop(c);
	/* Count the call out before its final event, so that a reader woken by
	 * that event sees a consistent orig_sip_active(). */
	atomic_fetch_sub(&c->s->active, 1);
	emit(c, st, leg, code, reason, sip_code, sip_reason, true, by);
	ch_info("sip: call %" PRIu64 " %s: %d %s, ended by %s", c->id, orig_state_name(st), code,
		sip_reason && *sip_reason ? sip_reason : reason, orig_ended_by_name(by));
	release_leg(&c->a);
	release_leg(&c->b);
	maybe_free(c);
}

/* The leg a call is trying to reach in its current phase. */
static enum orig_leg attempt_leg(const struct call *c)
{
	switch (c->ph) {
	case PH_A_INVITE:
	case PH_REINVITE:
		return ORIG_LEG_INITIATOR;
	case PH_REFER:
	case PH_REFER_ACCEPTED:
	case PH_B_INVITE:
		return ORIG_LEG_DESTINATION;
	case PH_CONNECTED:
	case PH_DONE:
		return ORIG_LEG_NONE;
	}
	return ORIG_LEG_NONE;
}

/* Local end (API, shutdown, timer on a connected call). */
static void end_local(struct call *c, int code_if_failed, const char *why, enum orig_ended_by by)
{
	if (c->ph == PH_CONNECTED)
		end_call(c, ORIG_ENDED, ORIG_LEG_NONE, code_if_failed == 487 ? 200 : code_if_failed, 0, why, by);
	else
		end_call(c, ORIG_FAILED, attempt_leg(c), code_if_failed, 0, why, by);
}

/* ---- call lifetime ---------------------------------------------------- */

static void do_shutdown(struct orig_sip *s);

static bool leg_idle(const struct leg *l)
{
	return l->st == LS_NONE || l->st == LS_GONE;
}

static void maybe_free(struct call *c)
{
	if (!c->ended || !leg_idle(&c->a) || !leg_idle(&c->b))
		return;
	struct orig_sip *s = c->s;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->calls = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->tmr)
		su_timer_destroy(c->tmr);
	free(c->a_last);
	free(c);
	if (s->shutting_down && !s->calls)
		do_shutdown(s);
}

static void leg_gone(struct leg *l)
{
	if (l->st == LS_GONE || l->st == LS_NONE)
		return;
	if (l->has_saved) {
		nua_destroy_event(l->saved);
		l->has_saved = false;
	}
	if (l->nh) {
		nua_handle_bind(l->nh, NULL);
		nua_handle_destroy(l->nh);
		l->nh = NULL;
	}
	l->st = LS_GONE;
}

/* CANCEL a ringing leg, BYE an established one. */
static void release_leg(struct leg *l)
{
	switch (l->st) {
	case LS_INVITING:
		nua_cancel(l->nh, TAG_END());
		l->st = LS_CLOSING;
		break;
	case LS_UP:
		if (l->ack_pending) {
			nua_ack(l->nh, TAG_END());
			l->ack_pending = false;
		}
		if (l->out_ack_pending) {
			nua_ack(l->nh, TAG_END());
			l->out_ack_pending = false;
		}
		nua_bye(l->nh, TAG_END());
		l->st = LS_CLOSING;
		break;
	case LS_SUBSCRIBED:
		leg_gone(l);
		break;
	case LS_NONE:
	case LS_CLOSING:
	case LS_GONE:
		break;
	}
}

static void on_timer(struct orig_sip *s, su_timer_t *t, void *arg);

static void timer_set(struct call *c, unsigned ms)
{
	if (!c->tmr)
		return;
	su_timer_reset(c->tmr);
	su_timer_set_interval(c->tmr, on_timer, c, (su_duration_t)ms);
}

static void timer_stop(struct call *c)
{
	if (c->tmr)
		su_timer_reset(c->tmr);
}

/* ---- the two legs ----------------------------------------------------- */

static void fail_local(struct call *c, enum orig_leg leg, const char *why)
{
	ch_warn("sip: call %" PRIu64 ": %s", c->id, why);
	end_call(c, ORIG_FAILED, leg, 500, 500, why, ORIG_BY_ERROR);
}

static void start_b(struct call *c)
{
	struct orig_sip *s = c->s;
	char to[600], from[600];
	c->ph = PH_B_INVITE;
	if (ch_fmt(to, sizeof to, "<%s>", c->destination) || ch_fmt(from, sizeof from, "<%s>", c->initiator)) {
		fail_local(c, ORIG_LEG_DESTINATION, "URI too long");
		return;
	}
	c->b.nh =
	    nua_handle(s->nua, &c->b, NUTAG_URL(c->destination), SIPTAG_TO_STR(to), SIPTAG_FROM_STR(from), TAG_END());
	if (!c->b.nh) {
		fail_local(c, ORIG_LEG_DESTINATION, "cannot create the destination leg");
		return;
	}
	c->b.st = LS_INVITING;
	/* Delayed ACK: the destination's offer comes in its 200 and our answer
	 * (the initiator's) goes in the ACK once the re-INVITE is answered. */
	nua_invite(c->b.nh, NUTAG_AUTOACK(0), NUTAG_MEDIA_ENABLE(0), TAG_END());
	if (!c->fallback)
		emit(c, ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0, "Calling destination", 0, NULL, false,
		     ORIG_BY_NONE);
	timer_set(c, c->ring_s * 1000u);
}

static void fallback(struct call *c, int code, const char *phrase)
{
	char reason[128];
	c->fallback = true;
	c->fallback_code = code;
	(void)ch_fmt(reason, sizeof reason, "REFER refused (%d), bridging", code);
	ch_info("sip: call %" PRIu64 ": REFER refused (%d %s), bridging", c->id, code, phrase ? phrase : "");
	emit(c, ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 181, reason, code, phrase, false, ORIG_BY_NONE);
	start_b(c);
}

static void start_refer(struct call *c)
{
	struct orig_sip *s = c->s;
	char rt[600], rb[600];
	if (ch_fmt(rt, sizeof rt, "<%s>", c->destination) || ch_fmt(rb, sizeof rb, "<%s>", s->identity)) {
		fail_local(c, ORIG_LEG_DESTINATION, "URI too long");
		return;
	}
	c->ph = PH_REFER;
	nua_refer(c->a.nh, SIPTAG_REFER_TO_STR(rt), SIPTAG_REFERRED_BY_STR(rb), TAG_END());
	emit(c, ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0, "Calling destination", 0, NULL, false, ORIG_BY_NONE);
	timer_set(c, s->notify_s * 1000u);
}

static void start_call(struct orig_sip *s, uint64_t id, const struct orig_call_req *r)
{
	struct call *c = calloc(1, sizeof *c);
	if (!c) {
		/* Cannot even report through a call object: report with a stack one. */
		struct call tmp;
		memset(&tmp, 0, sizeof tmp);
		tmp.s = s;
		tmp.id = id;
		tmp.t_start = ch_now_ms();
		emit(&tmp, ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100, "In progress", 0, NULL, false, ORIG_BY_NONE);
		atomic_fetch_sub(&s->active, 1);
		emit(&tmp, ORIG_FAILED, ORIG_LEG_INITIATOR, 500, "Failed to connect to initiator", 500, "out of memory",
		     true, ORIG_BY_ERROR);
		return;
	}
	c->s = s;
	c->id = id;
	copy_str(c->initiator, sizeof c->initiator, r->initiator);
	copy_str(c->destination, sizeof c->destination, r->destination);
	c->anchor = r->anchor;
	c->ring_s = r->ring_timeout_s ? r->ring_timeout_s : s->ring_s;
	c->t_start = ch_now_ms();
	c->a.c = c;
	c->a.which = ORIG_LEG_INITIATOR;
	c->b.c = c;
	c->b.which = ORIG_LEG_DESTINATION;
	c->a_sid = s->sid_seed + id;
	c->a_ver = 1;
	c->ph = PH_A_INVITE;
	c->next = s->calls;
	if (s->calls)
		s->calls->prev = c;
	s->calls = c;
	c->tmr = su_timer_create(su_root_task(s->root), 0);

	emit(c, ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100, "In progress", 0, NULL, false, ORIG_BY_NONE);
	if (!c->tmr) {
		fail_local(c, ORIG_LEG_INITIATOR, "cannot create a timer");
		return;
	}

	char user[256], from[900], to[600], sdp[1024];
	display_user(c->destination, user, sizeof user);
	if (ch_fmt(from, sizeof from, "\"Click-To-Call: %s\" <%s>", user, s->identity) ||
	    ch_fmt(to, sizeof to, "<%s>", c->initiator) || placeholder_sdp(c, sdp, sizeof sdp)) {
		fail_local(c, ORIG_LEG_INITIATOR, "URI too long");
		return;
	}
	c->a.nh =
	    nua_handle(s->nua, &c->a, NUTAG_URL(c->initiator), SIPTAG_TO_STR(to), SIPTAG_FROM_STR(from), TAG_END());
	if (!c->a.nh) {
		fail_local(c, ORIG_LEG_INITIATOR, "cannot create the initiator leg");
		return;
	}
	c->a.st = LS_INVITING;
	ch_info("sip: call %" PRIu64 ": %s -> %s%s", c->id, c->initiator, c->destination,
		c->anchor ? " (anchored)" : "");
	nua_invite(c->a.nh, NUTAG_MEDIA_ENABLE(0), SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
		   TAG_END());
	timer_set(c, c->ring_s * 1000u);
}

static void on_timer(struct orig_sip *s, su_timer_t *t, void *arg)
{
	(void)s;
	(void)t;
	struct call *c = arg;
	if (c->ended)
		return;
	switch (c->ph) {
	case PH_A_INVITE:
		end_call(c, ORIG_FAILED, ORIG_LEG_INITIATOR, 408, 0, "Ring timeout", ORIG_BY_TIMEOUT);
		break;
	case PH_REFER:
		fallback(c, 408, "REFER timeout");
		break;
	case PH_REFER_ACCEPTED:
		end_call(c, ORIG_FAILED, ORIG_LEG_DESTINATION, 408, 0, "No NOTIFY in time", ORIG_BY_TIMEOUT);
		break;
	case PH_B_INVITE:
		end_call(c, ORIG_FAILED, ORIG_LEG_DESTINATION, 408, 0, "Ring timeout", ORIG_BY_TIMEOUT);
		break;
	case PH_REINVITE:
		end_call(c, ORIG_FAILED, ORIG_LEG_INITIATOR, 408, 0, "re-INVITE timeout", ORIG_BY_TIMEOUT);
		break;
	case PH_CONNECTED:
		end_call(c, ORIG_ENDED, ORIG_LEG_NONE, 408, 0, "Maximum call length", ORIG_BY_TIMEOUT);
		break;
	case PH_DONE:
		break;
	}
}

/* ---- authentication --------------------------------------------------- */

/* Answer a 401/407 with our credentials. true when the request is being
 * retried; false when we have none or the same request was challenged
 * twice already (wrong password). */
static bool try_auth(struct orig_sip *s, struct leg *l, int status, const sip_t *sip)
{
	if (!s->auth_user || !sip || l->auth_tries >= 2)
		return false;
	const msg_auth_t *au = status == 407 ? sip->sip_proxy_authenticate : sip->sip_www_authenticate;
	if (!au)
		au = status == 407 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
	if (!au || !au->au_scheme)
		return false;
	const char *realm = msg_params_find(au->au_params, "realm=");
	if (!realm)
		return false;
	/* A challenge right after our credentials means they were refused
	 * (Kamailio re-challenges a wrong password), unless the nonce went stale. */
	if (l->auth_tries >= 1) {
		const char *stale = msg_params_find(au->au_params, "stale=");
		if (!stale || (strcasecmp(stale, "true") != 0 && strcasecmp(stale, "\"true\"") != 0))
			return false;
	}
	char cred[1024];
	/* The realm keeps its quotes: Sofia matches it against the challenge as is. */
	if (ch_fmt(cred, sizeof cred, "%s:%s:%s:%s", au->au_scheme, realm, s->auth_user,
		   s->auth_password ? s->auth_password : "")) {
		return false;
	}
	l->auth_tries++;
	ch_dbg("sip: call %" PRIu64 ": %d challenge, authenticating as %s", l->c->id, status, s->auth_user);
	nua_authenticate(l->nh, NUTAG_AUTH(cred), TAG_END());
	explicit_bzero(cred, sizeof cred);
	return true;
}

static bool challenged(struct orig_sip *s, struct leg *l, int status, const sip_t *sip)
{
	l->auth_declined = false;
	if (status == 401 || status == 407) {
		if (try_auth(s, l, status, sip))
			return true;
		l->auth_declined = true;
		return false;
	}
	if (status >= 200)
		l->auth_tries = 0;
	return false;
}

/* ---- relaying mid-call offers (anchored) ------------------------------ */

static struct leg *other(struct leg *l)
{
	return l == &l->c->a ? &l->c->b : &l->c->a;
}

/* Answer the request of phone l saved by relay_request (sdp NULL = no body). */
static void respond_in(struct leg *l, int status, const char *phrase, const char *sdp)
{
	if (sdp)
		nua_respond(l->nh, status, phrase, TAG_IF(l->has_saved, NUTAG_WITH_SAVED(l->saved)),
			    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	else
		nua_respond(l->nh, status, phrase, TAG_IF(l->has_saved, NUTAG_WITH_SAVED(l->saved)), TAG_END());
	if (l->has_saved) {
		nua_destroy_event(l->saved);
		l->has_saved = false;
	}
}

/* A re-INVITE or UPDATE from phone l while connected: send it on to the other. */
static void relay_request(struct leg *l, bool is_update, const sip_t *sip)
{
	struct call *c = l->c;
	struct leg *o = other(l);
	size_t len = 0;
	const char *body = sdp_of(sip, &len);
	if (c->ph != PH_CONNECTED || l->in.active || o->in.active || l->out_relay || o->out_relay || o->st != LS_UP) {
		nua_respond(l->nh, SIP_491_REQUEST_PENDING, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		return;
	}
	if (!body && is_update) {
		/* A session refresh without SDP: nothing to negotiate. */
		nua_respond(l->nh, SIP_200_OK, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		return;
	}
	char *sdp = malloc(SDP_MAX);
	if (!sdp) {
		nua_respond(l->nh, SIP_500_INTERNAL_SERVER_ERROR, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		return;
	}
	int err = 0;
	if (body) {
		if (o == &c->a) {
			err = sdp_for_initiator(c, body, len, sdp, SDP_MAX);
		} else if (len < SDP_MAX) {
			memcpy(sdp, body, len);
			sdp[len] = '\0';
		} else {
			err = ENOSPC;
		}
	}
	if (err) {
		nua_respond(l->nh, SIP_488_NOT_ACCEPTABLE, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		free(sdp);
		return;
	}
	l->has_saved = nua_save_event(c->s->nua, l->saved) != 0;
	l->in.active = true;
	l->in.is_update = is_update;
	l->in.offerless = body == NULL;
	o->out_relay = true;
	if (is_update)
		nua_update(o->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	else if (body)
		nua_invite(o->nh, NUTAG_AUTOACK(1), SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
			   TAG_END());
	else
		nua_invite(o->nh, NUTAG_AUTOACK(0), TAG_END());
	ch_dbg("sip: call %" PRIu64 ": relaying %s from %s", c->id, is_update ? "UPDATE" : "re-INVITE",
	       orig_leg_name(l->which));
	free(sdp);
}

/* The response of phone o to a request we relayed from the other phone. */
static void relay_response(struct orig_sip *s, struct leg *o, int status, const char *phrase, const sip_t *sip)
{
	struct call *c = o->c;
	struct leg *l = other(o);
	(void)s;
	if (status < 200)
		return;
	o->out_relay = false;
	if (!l->in.active || l->st != LS_UP) {
		if (status < 300 && !l->in.is_update && o->out_ack_pending)
			release_leg(o);
		return;
	}
	if (status >= 300) {
		l->in.active = false;
		respond_in(l, status, phrase, NULL);
		return;
	}
	size_t len = 0;
	const char *body = sdp_of(sip, &len);
	char *sdp = NULL;
	if (body) {
		sdp = malloc(SDP_MAX);
		int err = sdp ? 0 : ENOMEM;
		if (!err && l == &c->a)
			err = sdp_for_initiator(c, body, len, sdp, SDP_MAX);
		else if (!err && len < SDP_MAX) {
			memcpy(sdp, body, len);
			sdp[len] = '\0';
		} else if (!err)
			err = ENOSPC;
		if (err) {
			free(sdp);
			sdp = NULL;
		}
	}
	if (l->in.offerless) {
		/* Their 200 carries the other phone's offer; its answer comes in the ACK. */
		o->out_ack_pending = true;
	} else {
		l->in.active = false;
	}
	respond_in(l, SIP_200_OK, sdp);
	free(sdp);
}

/* ACK of an offerless re-INVITE from phone l: its answer goes in our held ACK. */
static void relay_ack(struct leg *l, const sip_t *sip)
{
	struct call *c = l->c;
	struct leg *o = other(l);
	if (!l->in.active || !l->in.offerless)
		return;
	l->in.active = false;
	if (!o->out_ack_pending)
		return;
	o->out_ack_pending = false;
	size_t len = 0;
	const char *body = sdp_of(sip, &len);
	char *sdp = body ? malloc(SDP_MAX) : NULL;
	int err = sdp ? 0 : ENOMEM;
	if (!err && o == &c->a)
		err = sdp_for_initiator(c, body, len, sdp, SDP_MAX);
	else if (!err && len < SDP_MAX) {
		memcpy(sdp, body, len);
		sdp[len] = '\0';
	} else if (!err)
		err = ENOSPC;
	if (!err)
		nua_ack(o->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	else
		nua_ack(o->nh, TAG_END());
	free(sdp);
}

/* ---- responses to our requests ---------------------------------------- */

static void r_invite_a(struct orig_sip *s, struct call *c, int status, const char *phrase, const sip_t *sip)
{
	struct leg *a = &c->a;
	if (a->st == LS_CLOSING) {
		if (status >= 200 && status < 300)
			nua_bye(a->nh, TAG_END());
		return;
	}
	if (c->ended)
		return;
	if (a->out_relay) {
		if (!challenged(s, a, status, sip))
			relay_response(s, a, status, phrase, sip);
		return;
	}
	if (status < 200) {
		if (status >= 180 && c->ph == PH_A_INVITE && !a->ringing) {
			a->ringing = true;
			emit(c, ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180, "Ringing initiator", status, phrase,
			     false, ORIG_BY_NONE);
		}
		return;
	}
	if (challenged(s, a, status, sip))
		return;
	if (c->ph == PH_A_INVITE) {
		if (status >= 300) {
			/* The INVITE is over: nothing to CANCEL, wait for "terminated". */
			a->st = LS_CLOSING;
			end_call(c, ORIG_FAILED, ORIG_LEG_INITIATOR, status, status, phrase, ORIG_BY_INITIATOR);
			return;
		}
		a->st = LS_UP;
		timer_stop(c);
		emit(c, ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200, "Connected to initiator", status, phrase,
		     false, ORIG_BY_NONE);
		if (c->anchor)
			start_b(c);
		else
			start_refer(c);
		return;
	}
	if (c->ph == PH_REINVITE) {
		size_t len = 0;
		const char *body = sdp_of(sip, &len);
		if (status >= 300 || !body || len >= SDP_MAX) {
			end_call(c, ORIG_FAILED, ORIG_LEG_INITIATOR, status >= 300 ? status : 488, status,
				 status >= 300 ? phrase : "no SDP answer", ORIG_BY_INITIATOR);
			return;
		}
		char *ans = malloc(len + 1);
		if (!ans) {
			fail_local(c, ORIG_LEG_INITIATOR, "out of memory");
			return;
		}
		memcpy(ans, body, len);
		ans[len] = '\0';
		nua_ack(c->b.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(ans), TAG_END());
		free(ans);
		c->b.ack_pending = false;
		c->ph = PH_CONNECTED;
		c->t_connected = ch_now_ms();
		timer_set(c, s->max_call_s * 1000u);
		emit(c, ORIG_CONNECTED, ORIG_LEG_DESTINATION, 200, "Connected to destination", 200, phrase, false,
		     ORIG_BY_NONE);
	}
}

static void r_invite_b(struct orig_sip *s, struct call *c, int status, const char *phrase, const sip_t *sip)
{
	struct leg *b = &c->b;
	if (b->st == LS_CLOSING) {
		if (status >= 200 && status < 300) {
			nua_ack(b->nh, TAG_END());
			nua_bye(b->nh, TAG_END());
		}
		return;
	}
	if (c->ended)
		return;
	if (b->out_relay) {
		if (!challenged(s, b, status, sip))
			relay_response(s, b, status, phrase, sip);
		return;
	}
	if (status < 200) {
		if (status >= 180 && c->ph == PH_B_INVITE && !b->ringing) {
			b->ringing = true;
			emit(c, ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180, "Ringing destination", status,
			     phrase, false, ORIG_BY_NONE);
		}
		return;
	}
	if (challenged(s, b, status, sip))
		return;
	if (c->ph != PH_B_INVITE)
		return;
	if (status >= 300) {
		b->st = LS_CLOSING;
		end_call(c, ORIG_FAILED, ORIG_LEG_DESTINATION, status, status, phrase, ORIG_BY_DESTINATION);
		return;
	}
	b->st = LS_UP;
	b->ack_pending = true;
	timer_stop(c);
	size_t len = 0;
	const char *body = sdp_of(sip, &len);
	if (!body) {
		end_call(c, ORIG_FAILED, ORIG_LEG_DESTINATION, 488, status, "no SDP offer in 200", ORIG_BY_DESTINATION);
		return;
	}
	char *sdp = malloc(SDP_MAX);
	int err = sdp ? sdp_for_initiator(c, body, len, sdp, SDP_MAX) : ENOMEM;
	if (err) {
		free(sdp);
		end_call(c, ORIG_FAILED, ORIG_LEG_DESTINATION, 488, status, "unusable SDP offer", ORIG_BY_DESTINATION);
		return;
	}
	c->ph = PH_REINVITE;
	nua_invite(c->a.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	free(sdp);
	timer_set(c, s->reinvite_s * 1000u);
}

static void r_refer(struct orig_sip *s, struct call *c, int status, const char *phrase, const sip_t *sip)
{
	if (c->ended || c->ph != PH_REFER || status < 200)
		return;
	if (challenged(s, &c->a, status, sip))
		return;
	if (status >= 300) {
		fallback(c, status, phrase);
		return;
	}
	c->ph = PH_REFER_ACCEPTED;
}

/* NOTIFY with a message/sipfrag body: "SIP/2.0 180 Ringing". */
static void i_notify(struct orig_sip *s, struct call *c, const sip_t *sip)
{
	if (c->ended || (c->ph != PH_REFER && c->ph != PH_REFER_ACCEPTED))
		return;
	if (!sip || !sip->sip_event || !sip->sip_event->o_type || strcasecmp(sip->sip_event->o_type, "refer") != 0)
		return;
	if (!sip->sip_payload || !sip->sip_payload->pl_data)
		return;
	const char *p = sip->sip_payload->pl_data;
	size_t len = sip->sip_payload->pl_len;
	if (len < 12 || strncasecmp(p, "SIP/2.0 ", 8) != 0)
		return;
	int64_t code = 0;
	if (ch_parse_i64(p + 8, 3, 100, 699, &code))
		return;
	char phrase[128] = "";
	size_t i = 11, o = 0;
	if (i < len && p[i] == ' ')
		i++;
	for (; i < len && p[i] != '\r' && p[i] != '\n' && o + 1 < sizeof phrase; i++)
		phrase[o++] = p[i];
	phrase[o] = '\0';
	c->ph = PH_REFER_ACCEPTED;
	if (code < 180)
		return;
	if (code < 200) {
		if (!c->dest_ringing) {
			c->dest_ringing = true;
			emit(c, ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180, "Ringing destination", (int)code,
			     phrase, false, ORIG_BY_NONE);
			timer_set(c, (c->ring_s > s->notify_s ? c->ring_s : s->notify_s) * 1000u);
		}
		return;
	}
	if (code < 300)
		end_call(c, ORIG_TRANSFERRED, ORIG_LEG_DESTINATION, 200, (int)code, phrase, ORIG_BY_TRANSFER);
	else
		end_call(c, ORIG_FAILED, ORIG_LEG_DESTINATION, (int)code, (int)code, phrase, ORIG_BY_DESTINATION);
}

/* A leg's dialog is over (BYE either way, failed INVITE, transport error). */
static void leg_terminated(struct leg *l)
{
	struct call *c = l->c;
	enum leg_st was = l->st;
	if (was == LS_SUBSCRIBED)
		return;
	if (!c->ended && l == &c->a && c->ph == PH_REFER_ACCEPTED) {
		/* Transferees may hang up on us as soon as they accept the REFER:
		 * the subscription outlives the session, keep following NOTIFYs
		 * (the NOTIFY timer still runs). */
		l->st = LS_SUBSCRIBED;
		return;
	}
	leg_gone(l);
	if (!c->ended && was != LS_NONE) {
		enum orig_ended_by by = l->which == ORIG_LEG_INITIATOR ? ORIG_BY_INITIATOR : ORIG_BY_DESTINATION;
		const char *why = l->which == ORIG_LEG_INITIATOR ? "Initiator hung up" : "Destination hung up";
		if (c->ph == PH_CONNECTED)
			end_call(c, ORIG_ENDED, ORIG_LEG_NONE, 200, 0, why, by);
		else if (c->ph == PH_REINVITE)
			/* Both phones answered; the hand-off failed on the side that left. */
			end_call(c, ORIG_FAILED, l->which, 487, 0, why, by);
		else
			end_call(c, ORIG_FAILED, attempt_leg(c), 487, 0, why, by);
	}
	maybe_free(c);
}

/* ---- the NUA callback ------------------------------------------------- */

static void nua_cb(nua_event_t event, int status, const char *phrase, nua_t *nua, struct orig_sip *s, nua_handle_t *nh,
		   struct leg *l, const sip_t *sip, tagi_t tags[])
{
	if (event == nua_r_shutdown) {
		if (status >= 200)
			su_root_break(s->root);
		return;
	}
	if (event == nua_r_get_params) {
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
		return;
	}
	if (!nh)
		return;
	if (!l) {
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
		return;
	}
	struct call *c = l->c;
	if (l->st == LS_GONE || l->nh != nh)
		return;
	ch_dbg("sip: call %" PRIu64 " %s: %s %d %s", c->id, orig_leg_name(l->which), nua_event_name(event), status,
	       phrase ? phrase : "");
	switch (event) {
	case nua_r_invite:
		if (l == &c->a)
			r_invite_a(s, c, status, phrase, sip);
		else
			r_invite_b(s, c, status, phrase, sip);
		/* Sofia keeps a handle whose challenge went unanswered waiting for
		 * credentials and never reports it terminated: release it here (the
		 * call stays allocated while this leg is closing). */
		if (l->auth_declined && l->st == LS_CLOSING)
			leg_terminated(l);
		break;
	case nua_r_refer:
		r_refer(s, c, status, phrase, sip);
		break;
	case nua_i_notify:
		i_notify(s, c, sip);
		break;
	case nua_r_update:
		if (l->out_relay && !challenged(s, l, status, sip))
			relay_response(s, l, status, phrase, sip);
		break;
	case nua_r_bye:
		if (status >= 200 && !challenged(s, l, status, sip))
			leg_terminated(l);
		break;
	case nua_r_cancel:
		break;
	case nua_i_invite:
		relay_request(l, false, sip);
		break;
	case nua_i_update:
		relay_request(l, true, sip);
		break;
	case nua_i_ack:
		relay_ack(l, sip);
		break;
	case nua_i_bye:
		break; /* nua_i_state terminated follows */
	case nua_i_state: {
		int cs = -1;
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_terminated) {
			/* A challenged INVITE passes through "terminated" only if
			 * we did not authenticate; try_auth ran before this event. */
			if (l->st == LS_INVITING && (status == 401 || status == 407) && l->auth_tries &&
			    !l->auth_declined)
				break;
			leg_terminated(l);
		}
		break;
	}
	case nua_i_terminated:
		leg_terminated(l);
		break;
	default:
		break;
	}
}

/* ---- messages from other threads -------------------------------------- */

static void do_shutdown(struct orig_sip *s)
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
	do_shutdown(s);
}

static void on_msg(struct orig_sip *s, su_msg_r m, struct orig_msg *d)
{
	(void)m;
	switch (d->kind) {
	case MSG_CALL:
		start_call(s, d->id, &d->req);
		break;
	case MSG_HANGUP:
		for (struct call *c = s->calls; c; c = c->next) {
			if (c->id == d->id) {
				end_local(c, 487, "Released by API", ORIG_BY_API);
				break;
			}
		}
		break;
	case MSG_STOP: {
		s->shutting_down = true;
		struct call *c = s->calls;
		while (c) {
			/* end_call may free c (legs already idle). */
			struct call *next = c->next;
			end_local(c, 487, "Server shutting down", ORIG_BY_SHUTDOWN);
			c = next;
		}
		if (!s->calls) {
			do_shutdown(s);
		} else {
			s->grace_tmr = su_timer_create(su_root_task(s->root), 0);
			if (s->grace_tmr)
				su_timer_set_interval(s->grace_tmr, on_grace, NULL,
						      (su_duration_t)(d->grace_ms ? d->grace_ms : 1));
			else
				do_shutdown(s);
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

/* Sofia frees a finished call's transactions and messages up to 32 s after
 * it ended (Timer D of the INVITE, Timer F of the ACK, Timer J of a NOTIFY
 * over UDP), in small blocks scattered through the heap: glibc keeps those
 * pages, so after a burst the RSS stayed at its peak. While calls have ended
 * in the last TRIM_WINDOW_MS, give free pages back once a second. */
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
	    SIPTAG_USER_AGENT_STR(ua), TPTAG_UDP_RMEM((unsigned)s->rcvbuf), TAG_END());
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
	while (s->calls) {
		struct call *c = s->calls;
		s->calls = c->next;
		if (c->tmr)
			su_timer_destroy(c->tmr);
		free(c->a_last);
		free(c);
	}
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
	s->max_calls = o->max_calls;
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
	if (!s || !r || !id || !uri_ok(r->initiator, sizeof r->initiator) ||
	    !uri_ok(r->destination, sizeof r->destination))
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
