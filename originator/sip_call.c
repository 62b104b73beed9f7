/* originator/sip_call.c: the SIP engine's call lifecycle: the step table and its events, phases, timers, the end of a
 * call and the release of its legs. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "originator/sip_int.h"

struct sip_step {
	enum orig_state st;
	enum orig_leg leg;
	int code; /* the step's code; the final steps get theirs from orig_sip_end_call */
	const char *reason;
};

/* The event sequence of orig_sip.h, one row per step. */
/* check_src: table */
static const struct sip_step steps[] = {
    [STEP_IN_PROGRESS] = {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100, "In progress"},
    [STEP_INITIATOR_RINGING] = {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180, "Ringing initiator"},
    [STEP_INITIATOR_ANSWERED] = {ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200, "Connected to initiator"},
    [STEP_CALLING_DESTINATION] = {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0, "Calling destination"},
    [STEP_REFER_REFUSED] = {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 181, "REFER refused, bridging"},
    [STEP_DESTINATION_RINGING] = {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180, "Ringing destination"},
    [STEP_CONNECTED] = {ORIG_CONNECTED, ORIG_LEG_DESTINATION, 200, "Connected to destination"},
    [STEP_TRANSFERRED] = {ORIG_TRANSFERRED, ORIG_LEG_DESTINATION, 200, "Connected to destination"},
    [STEP_ENDED] = {ORIG_ENDED, ORIG_LEG_NONE, 200, "Call ended"},
    [STEP_FAILED_INITIATOR] = {ORIG_FAILED, ORIG_LEG_INITIATOR, 0, "Failed to connect to initiator"},
    [STEP_FAILED_DESTINATION] = {ORIG_FAILED, ORIG_LEG_DESTINATION, 0, "Failed to connect to destination"},
};

/* ---- small helpers ---------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static int64_t since(int64_t t0)
{
	return t0 ? ch_now_ms() - t0 : 0;
}

static const char *phase_name(enum sip_phase ph)
{
	switch (ph) {
	case PH_A_INVITE:
		return "a_invite";
	case PH_REFER:
		return "refer";
	case PH_REFER_ACCEPTED:
		return "refer_accepted";
	case PH_B_INVITE:
		return "b_invite";
	case PH_REINVITE:
		return "reinvite";
	case PH_CONNECTED:
		return "connected";
	case PH_DONE:
		return "done";
	}
	return "unknown";
}

void orig_sip_set_phase(struct sip_call *c, enum sip_phase ph)
{
	if (c->ph != ph)
		ch_dbg("sip: call %" PRIu64 ": phase %s -> %s", c->id, phase_name(c->ph), phase_name(ph));
	c->ph = ph;
}

/* ---- events ----------------------------------------------------------- */

/* The event of a step; reason NULL = the table's. */
static void step_event(const struct sip_call *c, enum sip_step_id step, const char *reason, int sip_code,
		       const char *sip_reason, struct orig_event *ev)
{
	const struct sip_step *t = &steps[step];
	memset(ev, 0, sizeof *ev);
	ev->call_id = c->id;
	ev->state = t->st;
	ev->leg = t->leg;
	ev->code = t->code;
	copy_str(ev->reason, sizeof ev->reason, reason ? reason : t->reason);
	ev->sip_code = sip_code;
	copy_str(ev->sip_reason, sizeof ev->sip_reason, sip_reason);
	ev->fallback = c->fallback;
	ev->fallback_code = c->fallback_code;
	ev->duration_ms = since(c->t_connected);
	ev->age_ms = since(c->t_start);
}

static void deliver(const struct sip_call *c, const struct orig_event *ev)
{
	ch_dbg("sip: call %" PRIu64 ": %s leg=%s code=%d %s (sip %d %s)%s", c->id, orig_state_name(ev->state),
	       orig_leg_name(ev->leg), ev->code, ev->reason, ev->sip_code, ev->sip_reason, ev->final ? " final" : "");
	c->s->cb(ev, c->s->cb_arg);
}

void orig_sip_emit_text(struct sip_call *c, enum sip_step_id step, const char *reason, int sip_code,
			const char *sip_reason)
{
	struct orig_event ev;
	step_event(c, step, reason, sip_code, sip_reason, &ev);
	deliver(c, &ev);
}

void orig_sip_emit_step(struct sip_call *c, enum sip_step_id step, int sip_code, const char *sip_reason)
{
	orig_sip_emit_text(c, step, NULL, sip_code, sip_reason);
}

/* The final event of a step: code and who ended it. */
static void emit_final(struct sip_call *c, enum sip_step_id step, int code, int sip_code, const char *sip_reason,
		       enum orig_ended_by by)
{
	struct orig_event ev;
	step_event(c, step, NULL, sip_code, sip_reason, &ev);
	ev.code = code;
	ev.final = true;
	ev.ended_by = by;
	deliver(c, &ev);
}

void orig_sip_end_call(struct sip_call *c, enum sip_step_id step, int code, int sip_code, const char *sip_reason,
		       enum orig_ended_by by)
{
	if (c->ended)
		return;
	c->ended = true;
	orig_sip_set_phase(c, PH_DONE);
	c->s->last_end_ms = ch_now_ms();
	orig_sip_timer_stop(c);
	/* Count the call out before its final event, so that a reader woken by
	 * that event sees a consistent orig_sip_active(). */
	atomic_fetch_sub(&c->s->active, 1);
	orig_gauge_add(ORIG_G_SIP_CALLS, -1);
	emit_final(c, step, code, sip_code, sip_reason, by);
	ch_info("sip: call %" PRIu64 " %s: %d %s, ended by %s", c->id, orig_state_name(steps[step].st), code,
		sip_reason && *sip_reason ? sip_reason : steps[step].reason, orig_ended_by_name(by));
	orig_sip_release_leg(&c->a);
	orig_sip_release_leg(&c->b);
	orig_sip_maybe_free(c);
}

enum sip_step_id orig_sip_failed_on(enum orig_leg leg)
{
	return leg == ORIG_LEG_INITIATOR ? STEP_FAILED_INITIATOR : STEP_FAILED_DESTINATION;
}

enum sip_step_id orig_sip_failed_step(const struct sip_call *c)
{
	switch (c->ph) {
	case PH_A_INVITE:
	case PH_REINVITE:
		return STEP_FAILED_INITIATOR;
	case PH_REFER:
	case PH_REFER_ACCEPTED:
	case PH_B_INVITE:
	case PH_CONNECTED:
	case PH_DONE:
		/* Connected or done never fail (orig_sip_end_local, the ended guard). */
		return STEP_FAILED_DESTINATION;
	}
	return STEP_FAILED_DESTINATION;
}

void orig_sip_end_local(struct sip_call *c, int code_if_failed, const char *why, enum orig_ended_by by)
{
	if (c->ph == PH_CONNECTED)
		orig_sip_end_call(c, STEP_ENDED, code_if_failed == 487 ? 200 : code_if_failed, 0, why, by);
	else
		orig_sip_end_call(c, orig_sip_failed_step(c), code_if_failed, 0, why, by);
}

void orig_sip_fail_local(struct sip_call *c, enum orig_leg leg, const char *why)
{
	ch_warn("sip: call %" PRIu64 ": %s", c->id, why);
	orig_sip_end_call(c, orig_sip_failed_on(leg), 500, 500, why, ORIG_BY_ERROR);
}

/* ---- call lifetime ---------------------------------------------------- */

static bool leg_idle(const struct sip_leg *l)
{
	return l->st == LS_NONE || l->st == LS_GONE;
}

static void call_free(struct sip_call *c)
{
	if (c->tmr)
		su_timer_destroy(c->tmr);
	orig_sdp_origin_clear(&c->a_sdp);
	orig_sip_call_headers_free(c);
	free(c);
}

void orig_sip_maybe_free(struct sip_call *c)
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
	call_free(c);
	if (s->shutting_down && !s->calls)
		orig_sip_do_shutdown(s);
}

void orig_sip_free_calls(struct orig_sip *s)
{
	while (s->calls) {
		struct sip_call *c = s->calls;
		s->calls = c->next;
		call_free(c);
	}
}

void orig_sip_leg_gone(struct sip_leg *l)
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

void orig_sip_release_leg(struct sip_leg *l)
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
		orig_sip_leg_gone(l);
		break;
	case LS_NONE:
	case LS_CLOSING:
	case LS_GONE:
		break;
	}
}

/* ---- timers ----------------------------------------------------------- */

/* The one timer of the current phase ran out. */
static void on_timer(struct orig_sip *s, su_timer_t *t, void *arg)
{
	(void)s;
	(void)t;
	struct sip_call *c = arg;
	if (c->ended)
		return;
	switch (c->ph) {
	case PH_A_INVITE:
		orig_sip_end_call(c, STEP_FAILED_INITIATOR, 408, 0, "Ring timeout", ORIG_BY_TIMEOUT);
		break;
	case PH_REFER:
		orig_sip_fallback(c, 408, "REFER timeout");
		break;
	case PH_REFER_ACCEPTED:
		orig_sip_end_call(c, STEP_FAILED_DESTINATION, 408, 0, "No NOTIFY in time", ORIG_BY_TIMEOUT);
		break;
	case PH_B_INVITE:
		orig_sip_end_call(c, STEP_FAILED_DESTINATION, 408, 0, "Ring timeout", ORIG_BY_TIMEOUT);
		break;
	case PH_REINVITE:
		orig_sip_end_call(c, STEP_FAILED_INITIATOR, 408, 0, "re-INVITE timeout", ORIG_BY_TIMEOUT);
		break;
	case PH_CONNECTED:
		orig_sip_end_call(c, STEP_ENDED, 408, 0, "Maximum call length", ORIG_BY_TIMEOUT);
		break;
	case PH_DONE:
		break;
	}
}

void orig_sip_timer_set(struct sip_call *c, unsigned ms)
{
	if (!c->tmr)
		return;
	su_timer_reset(c->tmr);
	su_timer_set_interval(c->tmr, on_timer, c, (su_duration_t)ms);
}

void orig_sip_timer_stop(struct sip_call *c)
{
	if (c->tmr)
		su_timer_reset(c->tmr);
}

/* ---- the start of a call ---------------------------------------------- */

/* Out of memory before the call exists: its two events from a stack object. */
static void start_failed(struct orig_sip *s, uint64_t id)
{
	struct sip_call tmp;
	memset(&tmp, 0, sizeof tmp);
	tmp.s = s;
	tmp.id = id;
	tmp.t_start = ch_now_ms();
	orig_sip_emit_step(&tmp, STEP_IN_PROGRESS, 0, NULL);
	atomic_fetch_sub(&s->active, 1);
	orig_gauge_add(ORIG_G_SIP_CALLS, -1);
	emit_final(&tmp, STEP_FAILED_INITIATOR, 500, 500, "out of memory", ORIG_BY_ERROR);
}

static struct sip_call *call_new(struct orig_sip *s, uint64_t id, const struct orig_call_req *r)
{
	struct sip_call *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
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
	c->a_sdp.sid = s->sid_seed + id;
	c->a_sdp.ver = 1;
	c->a_sdp.host = s->host;
	c->a_sdp.v6 = s->host_v6;
	c->ph = PH_A_INVITE; /* the first phase: not a transition */
	c->next = s->calls;
	if (s->calls)
		s->calls->prev = c;
	s->calls = c;
	c->tmr = su_timer_create(su_root_task(s->root), 0);
	return c;
}

void orig_sip_start_call(struct orig_sip *s, uint64_t id, const struct orig_call_req *r)
{
	struct sip_call *c = call_new(s, id, r);
	if (!c) {
		start_failed(s, id);
		return;
	}
	orig_sip_emit_step(c, STEP_IN_PROGRESS, 0, NULL);
	if (!c->tmr) {
		orig_sip_fail_local(c, ORIG_LEG_INITIATOR, "cannot create a timer");
		return;
	}
	char to[600], sdp[1024];
	int err = orig_sip_call_headers(c, r);
	if (err) {
		orig_sip_fail_local(c, ORIG_LEG_INITIATOR, err == ENOMEM ? "out of memory" : "caller id too long");
		return;
	}
	if (ch_fmt(to, sizeof to, "<%s>", c->initiator) || orig_sdp_placeholder(&c->a_sdp, sdp, sizeof sdp)) {
		orig_sip_fail_local(c, ORIG_LEG_INITIATOR, "URI too long");
		return;
	}
	c->a.nh = nua_handle(s->nua, &c->a, NUTAG_URL(c->initiator), SIPTAG_TO_STR(to), SIPTAG_FROM_STR(c->a_from),
			     TAG_END());
	if (!c->a.nh) {
		orig_sip_fail_local(c, ORIG_LEG_INITIATOR, "cannot create the initiator leg");
		return;
	}
	c->a.st = LS_INVITING;
	ch_info("sip: call %" PRIu64 ": %s -> %s%s", c->id, c->initiator, c->destination,
		c->anchor ? " (anchored)" : "");
	nua_invite(c->a.nh, NUTAG_MEDIA_ENABLE(0), SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
		   TAG_IF(c->a_hdrs, SIPTAG_HEADER_STR(c->a_hdrs)), TAG_END());
	orig_sip_timer_set(c, c->ring_s * 1000u);
}
