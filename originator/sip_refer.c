/* originator/sip_refer.c: the SIP engine's REFER path: REFER to the initiator, the NOTIFYs that follow it, and the
 * fallback to the anchored flow when the REFER is refused. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "originator/sip_int.h"

void orig_sip_start_refer(struct sip_call *c)
{
	struct orig_sip *s = c->s;
	char rt[600];
	if (ch_fmt(rt, sizeof rt, "<%s>", c->destination)) {
		orig_sip_fail_local(c, ORIG_LEG_DESTINATION, "URI too long");
		return;
	}
	orig_sip_set_phase(c, PH_REFER);
	/* Referred-By: the destination leg's caller id, as on the fallback's INVITE */
	nua_refer(c->a.nh, SIPTAG_REFER_TO_STR(rt), SIPTAG_REFERRED_BY_STR(c->refer_by), TAG_END());
	orig_sip_emit_step(c, STEP_CALLING_DESTINATION, 0, NULL);
	orig_sip_timer_set(c, s->notify_s * 1000u);
}

void orig_sip_fallback(struct sip_call *c, int code, const char *phrase)
{
	char reason[128];
	c->fallback = true;
	c->fallback_code = code;
	(void)ch_fmt(reason, sizeof reason, "REFER refused (%d), bridging", code);
	ch_info("sip: call %" PRIu64 ": REFER refused (%d %s), bridging", c->id, code, phrase ? phrase : "");
	orig_sip_emit_text(c, STEP_REFER_REFUSED, reason, code, phrase);
	orig_sip_start_b(c);
}

void orig_sip_r_refer(struct orig_sip *s, struct sip_call *c, int status, const char *phrase, const sip_t *sip)
{
	if (c->ended || c->ph != PH_REFER || status < 200)
		return;
	if (orig_sip_challenged(s, &c->a, status, sip))
		return;
	if (status >= 300) {
		orig_sip_fallback(c, status, phrase);
		return;
	}
	orig_sip_set_phase(c, PH_REFER_ACCEPTED);
}

/* The status line of a message/sipfrag body (RFC 3420), "SIP/2.0 180 Ringing":
 * its code (100..699) and its phrase up to the end of the line, cut to cap - 1
 * bytes. 0, or EINVAL (not a status line; outputs untouched). */
static int sipfrag_parse(const char *p, size_t len, int *code, char *phrase, size_t cap)
{
	if (len < 12 || strncasecmp(p, "SIP/2.0 ", 8) != 0)
		return EINVAL;
	int64_t v = 0;
	if (ch_parse_i64(p + 8, 3, 100, 699, &v))
		return EINVAL;
	size_t i = 11, o = 0;
	if (i < len && p[i] == ' ')
		i++;
	for (; i < len && p[i] != '\r' && p[i] != '\n' && o + 1 < cap; i++)
		phrase[o++] = p[i];
	phrase[o] = '\0';
	*code = (int)v;
	return 0;
}

/* NOTIFY with a message/sipfrag body: "SIP/2.0 180 Ringing". */
void orig_sip_i_notify(struct orig_sip *s, struct sip_call *c, const sip_t *sip)
{
	if (c->ended || (c->ph != PH_REFER && c->ph != PH_REFER_ACCEPTED))
		return;
	if (!sip || !sip->sip_event || !sip->sip_event->o_type || strcasecmp(sip->sip_event->o_type, "refer") != 0)
		return;
	if (!sip->sip_payload || !sip->sip_payload->pl_data)
		return;
	int code = 0;
	char phrase[128];
	if (sipfrag_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &code, phrase, sizeof phrase))
		return;
	orig_sip_set_phase(c, PH_REFER_ACCEPTED);
	if (code < 180)
		return;
	if (code < 200) {
		if (!c->dest_ringing) {
			c->dest_ringing = true;
			orig_sip_emit_step(c, STEP_DESTINATION_RINGING, code, phrase);
			orig_sip_timer_set(c, (c->ring_s > s->notify_s ? c->ring_s : s->notify_s) * 1000u);
		}
		return;
	}
	if (code < 300)
		orig_sip_end_call(c, STEP_TRANSFERRED, 200, code, phrase, ORIG_BY_TRANSFER);
	else
		orig_sip_end_call(c, STEP_FAILED_DESTINATION, code, code, phrase, ORIG_BY_DESTINATION);
}
