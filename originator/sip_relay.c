/* originator/sip_relay.c: the SIP engine's mid-call relay (anchored calls): a re-INVITE or UPDATE from one phone is
 * sent on to the other and its answer brought back, under our SDP origin toward the initiator. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "originator/sip_int.h"

const char *orig_sip_sdp_of(const sip_t *sip, size_t *len)
{
	if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data || !sip->sip_payload->pl_len)
		return NULL;
	if (sip->sip_content_type && sip->sip_content_type->c_type &&
	    strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0)
		return NULL;
	*len = sip->sip_payload->pl_len;
	return sip->sip_payload->pl_data;
}

static struct sip_leg *other(struct sip_leg *l)
{
	return l == &l->c->a ? &l->c->b : &l->c->a;
}

/* The body to send to phone to, made from the other phone's body (len bytes):
 * under our origin toward the initiator, as is toward the destination. 0 and a
 * new string in *out, ENOMEM, ENOSPC or EINVAL (no origin line). */
static int body_for(struct sip_call *c, const struct sip_leg *to, const char *body, size_t len, char **out)
{
	char *sdp = malloc(ORIG_SDP_MAX);
	int err = sdp ? 0 : ENOMEM;
	if (!err && to == &c->a) {
		err = orig_sdp_for_peer(&c->a_sdp, body, len, sdp, ORIG_SDP_MAX);
	} else if (!err && len < ORIG_SDP_MAX) {
		memcpy(sdp, body, len);
		sdp[len] = '\0';
	} else if (!err) {
		err = ENOSPC;
	}
	if (err) {
		free(sdp);
		return err;
	}
	*out = sdp;
	return 0;
}

/* Answer the request of phone l saved by relay_request (sdp NULL = no body). */
static void respond_in(struct sip_leg *l, int status, const char *phrase, const char *sdp)
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

/* Send the saved request of phone l on to phone o, with body sdp (NULL: an offerless re-INVITE). */
static void relay_out(struct sip_leg *o, bool is_update, const char *sdp)
{
	if (is_update)
		nua_update(o->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	else if (sdp)
		nua_invite(o->nh, NUTAG_AUTOACK(1), SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
			   TAG_END());
	else
		nua_invite(o->nh, NUTAG_AUTOACK(0), TAG_END());
}

/* A re-INVITE or UPDATE from phone l while connected: send it on to the other. */
void orig_sip_relay_request(struct sip_leg *l, bool is_update, const sip_t *sip)
{
	struct sip_call *c = l->c;
	struct sip_leg *o = other(l);
	size_t len = 0;
	const char *body = orig_sip_sdp_of(sip, &len);
	if (c->ph != PH_CONNECTED || l->in.active || o->in.active || l->out_relay || o->out_relay || o->st != LS_UP) {
		nua_respond(l->nh, SIP_491_REQUEST_PENDING, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		return;
	}
	if (!body && is_update) {
		/* A session refresh without SDP: nothing to negotiate. */
		nua_respond(l->nh, SIP_200_OK, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		return;
	}
	char *sdp = NULL;
	int err = body ? body_for(c, o, body, len, &sdp) : 0;
	if (err == ENOMEM) {
		nua_respond(l->nh, SIP_500_INTERNAL_SERVER_ERROR, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		return;
	}
	if (err) {
		nua_respond(l->nh, SIP_488_NOT_ACCEPTABLE, NUTAG_WITH_THIS(c->s->nua), TAG_END());
		return;
	}
	l->has_saved = nua_save_event(c->s->nua, l->saved) != 0;
	l->in.active = true;
	l->in.is_update = is_update;
	l->in.offerless = body == NULL;
	o->out_relay = true;
	relay_out(o, is_update, sdp);
	ch_dbg("sip: call %" PRIu64 ": relaying %s from %s", c->id, is_update ? "UPDATE" : "re-INVITE",
	       orig_leg_name(l->which));
	free(sdp);
}

/* The response of phone o to a request we relayed from the other phone. */
void orig_sip_relay_response(struct sip_leg *o, int status, const char *phrase, const sip_t *sip)
{
	struct sip_call *c = o->c;
	struct sip_leg *l = other(o);
	if (status < 200)
		return;
	o->out_relay = false;
	if (!l->in.active || l->st != LS_UP) {
		if (status < 300 && !l->in.is_update && o->out_ack_pending)
			orig_sip_release_leg(o);
		return;
	}
	if (status >= 300) {
		l->in.active = false;
		respond_in(l, status, phrase, NULL);
		return;
	}
	size_t len = 0;
	const char *body = orig_sip_sdp_of(sip, &len);
	char *sdp = NULL;
	if (body && body_for(c, l, body, len, &sdp))
		sdp = NULL; /* answered without a body */
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
void orig_sip_relay_ack(struct sip_leg *l, const sip_t *sip)
{
	struct sip_call *c = l->c;
	struct sip_leg *o = other(l);
	if (!l->in.active || !l->in.offerless)
		return;
	l->in.active = false;
	if (!o->out_ack_pending)
		return;
	o->out_ack_pending = false;
	size_t len = 0;
	const char *body = orig_sip_sdp_of(sip, &len);
	char *sdp = NULL;
	if (body && body_for(c, o, body, len, &sdp) == 0)
		nua_ack(o->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	else
		nua_ack(o->nh, TAG_END());
	free(sdp);
}
