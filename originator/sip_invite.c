/* originator/sip_invite.c: the SIP engine's INVITE legs: the initiator's answer, the anchored destination leg and its
 * hand-off (RFC 3725 flow III), and the end of a leg's dialog. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "originator/sip_int.h"

void orig_sip_start_b(struct sip_call *c)
{
	struct orig_sip *s = c->s;
	char to[600];
	orig_sip_set_phase(c, PH_B_INVITE);
	if (ch_fmt(to, sizeof to, "<%s>", c->destination)) {
		orig_sip_fail_local(c, ORIG_LEG_DESTINATION, "URI too long");
		return;
	}
	c->b.nh = nua_handle(s->nua, &c->b, NUTAG_URL(c->destination), SIPTAG_TO_STR(to), SIPTAG_FROM_STR(c->b_from),
			     TAG_END());
	if (!c->b.nh) {
		orig_sip_fail_local(c, ORIG_LEG_DESTINATION, "cannot create the destination leg");
		return;
	}
	c->b.st = LS_INVITING;
	/* Delayed ACK: the destination's offer comes in its 200 and our answer
	 * (the initiator's) goes in the ACK once the re-INVITE is answered. */
	nua_invite(c->b.nh, NUTAG_AUTOACK(0), NUTAG_MEDIA_ENABLE(0), TAG_IF(c->b_hdrs, SIPTAG_HEADER_STR(c->b_hdrs)),
		   TAG_END());
	if (!c->fallback)
		orig_sip_emit_step(c, STEP_CALLING_DESTINATION, 0, NULL);
	orig_sip_timer_set(c, c->ring_s * 1000u);
}

/* Anchored: the initiator answered our re-INVITE with the destination's offer;
 * its answer goes in the destination's held ACK and the call is connected. */
static void reinvite_answered(struct orig_sip *s, struct sip_call *c, int status, const char *phrase, const sip_t *sip)
{
	size_t len = 0;
	const char *body = orig_sip_sdp_of(sip, &len);
	if (status >= 300 || !body || len >= ORIG_SDP_MAX) {
		orig_sip_end_call(c, STEP_FAILED_INITIATOR, status >= 300 ? status : 488, status,
				  status >= 300 ? phrase : "no SDP answer", ORIG_BY_INITIATOR);
		return;
	}
	char *ans = malloc(len + 1);
	if (!ans) {
		orig_sip_fail_local(c, ORIG_LEG_INITIATOR, "out of memory");
		return;
	}
	memcpy(ans, body, len);
	ans[len] = '\0';
	nua_ack(c->b.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(ans), TAG_END());
	free(ans);
	c->b.ack_pending = false;
	orig_sip_set_phase(c, PH_CONNECTED);
	c->t_connected = ch_now_ms();
	orig_sip_timer_set(c, s->max_call_s * 1000u);
	orig_sip_emit_step(c, STEP_CONNECTED, 200, phrase);
}

static void r_invite_a(struct orig_sip *s, struct sip_call *c, int status, const char *phrase, const sip_t *sip)
{
	struct sip_leg *a = &c->a;
	if (a->st == LS_CLOSING) {
		if (status >= 200 && status < 300)
			nua_bye(a->nh, TAG_END());
		return;
	}
	if (c->ended)
		return;
	if (a->out_relay) {
		if (!orig_sip_challenged(s, a, status, sip))
			orig_sip_relay_response(a, status, phrase, sip);
		return;
	}
	if (status < 200) {
		if (status >= 180 && c->ph == PH_A_INVITE && !a->ringing) {
			a->ringing = true;
			orig_sip_emit_step(c, STEP_INITIATOR_RINGING, status, phrase);
		}
		return;
	}
	if (orig_sip_challenged(s, a, status, sip))
		return;
	if (c->ph == PH_A_INVITE) {
		if (status >= 300) {
			/* The INVITE is over: nothing to CANCEL, wait for "terminated". */
			a->st = LS_CLOSING;
			orig_sip_end_call(c, STEP_FAILED_INITIATOR, status, status, phrase, ORIG_BY_INITIATOR);
			return;
		}
		a->st = LS_UP;
		orig_sip_timer_stop(c);
		orig_sip_emit_step(c, STEP_INITIATOR_ANSWERED, status, phrase);
		if (c->anchor)
			orig_sip_start_b(c);
		else
			orig_sip_start_refer(c);
		return;
	}
	if (c->ph == PH_REINVITE)
		reinvite_answered(s, c, status, phrase, sip);
}

/* Anchored: the destination answered with its offer (ACK held); it goes to
 * the initiator in a re-INVITE under our origin. */
static void b_answered(struct orig_sip *s, struct sip_call *c, int status, const sip_t *sip)
{
	size_t len = 0;
	const char *body = orig_sip_sdp_of(sip, &len);
	if (!body) {
		orig_sip_end_call(c, STEP_FAILED_DESTINATION, 488, status, "no SDP offer in 200", ORIG_BY_DESTINATION);
		return;
	}
	char *sdp = malloc(ORIG_SDP_MAX);
	int err = sdp ? orig_sdp_for_peer(&c->a_sdp, body, len, sdp, ORIG_SDP_MAX) : ENOMEM;
	if (err) {
		free(sdp);
		orig_sip_end_call(c, STEP_FAILED_DESTINATION, 488, status, "unusable SDP offer", ORIG_BY_DESTINATION);
		return;
	}
	orig_sip_set_phase(c, PH_REINVITE);
	nua_invite(c->a.nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	free(sdp);
	orig_sip_timer_set(c, s->reinvite_s * 1000u);
}

static void r_invite_b(struct orig_sip *s, struct sip_call *c, int status, const char *phrase, const sip_t *sip)
{
	struct sip_leg *b = &c->b;
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
		if (!orig_sip_challenged(s, b, status, sip))
			orig_sip_relay_response(b, status, phrase, sip);
		return;
	}
	if (status < 200) {
		if (status >= 180 && c->ph == PH_B_INVITE && !b->ringing) {
			b->ringing = true;
			orig_sip_emit_step(c, STEP_DESTINATION_RINGING, status, phrase);
		}
		return;
	}
	if (orig_sip_challenged(s, b, status, sip))
		return;
	if (c->ph != PH_B_INVITE)
		return;
	if (status >= 300) {
		b->st = LS_CLOSING;
		orig_sip_end_call(c, STEP_FAILED_DESTINATION, status, status, phrase, ORIG_BY_DESTINATION);
		return;
	}
	b->st = LS_UP;
	b->ack_pending = true;
	orig_sip_timer_stop(c);
	b_answered(s, c, status, sip);
}

void orig_sip_r_invite(struct orig_sip *s, struct sip_leg *l, int status, const char *phrase, const sip_t *sip)
{
	struct sip_call *c = l->c;
	if (l == &c->a)
		r_invite_a(s, c, status, phrase, sip);
	else
		r_invite_b(s, c, status, phrase, sip);
	/* Sofia keeps a handle whose challenge went unanswered waiting for
	 * credentials and never reports it terminated: release it here (the
	 * call stays allocated while this leg is closing). */
	if (l->auth_declined && l->st == LS_CLOSING)
		orig_sip_leg_terminated(l);
}

void orig_sip_i_state(struct sip_leg *l, int status, tagi_t tags[])
{
	int cs = -1;
	tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
	if (cs != nua_callstate_terminated)
		return;
	/* A challenged INVITE passes through "terminated" only if
	 * we did not authenticate; try_auth ran before this event. */
	if (l->st == LS_INVITING && (status == 401 || status == 407) && l->auth_tries && !l->auth_declined)
		return;
	orig_sip_leg_terminated(l);
}

/* A leg's dialog is over (BYE either way, failed INVITE, transport error). */
void orig_sip_leg_terminated(struct sip_leg *l)
{
	struct sip_call *c = l->c;
	enum sip_leg_st was = l->st;
	if (was == LS_SUBSCRIBED)
		return;
	if (!c->ended && l == &c->a && c->ph == PH_REFER_ACCEPTED) {
		/* Transferees may hang up on us as soon as they accept the REFER:
		 * the subscription outlives the session, keep following NOTIFYs
		 * (the NOTIFY timer still runs). */
		l->st = LS_SUBSCRIBED;
		return;
	}
	orig_sip_leg_gone(l);
	if (!c->ended && was != LS_NONE) {
		enum orig_ended_by by = l->which == ORIG_LEG_INITIATOR ? ORIG_BY_INITIATOR : ORIG_BY_DESTINATION;
		const char *why = l->which == ORIG_LEG_INITIATOR ? "Initiator hung up" : "Destination hung up";
		if (c->ph == PH_CONNECTED)
			orig_sip_end_call(c, STEP_ENDED, 200, 0, why, by);
		else if (c->ph == PH_REINVITE)
			/* Both phones answered; the hand-off failed on the side that left. */
			orig_sip_end_call(c, orig_sip_failed_on(l->which), 487, 0, why, by);
		else
			orig_sip_end_call(c, orig_sip_failed_step(c), 487, 0, why, by);
	}
	orig_sip_maybe_free(c);
}
