/* originator/sip_hdrs.c: the SIP engine's caller id and extra headers: each leg's From, Referred-By, the auto-answer
 * signal, P-Asserted-Identity, Privacy and a CRM's headers, built once per call from a checked request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/sip_hdr.h"
#include "originator/sip_int.h"

/* The user part of a URI (sip:user@host -> user; sip:host -> host), made safe for a quoted display name. */
static void display_user(const char *uri, char *out, size_t cap)
{
	const char *p = strchr(uri, ':');
	p = p ? p + 1 : uri;
	const char *end = strchr(p, '@');
	if (!end)
		end = p + strcspn(p, ";?>");
	size_t o = 0;
	for (; p < end && o + 2 < cap; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch >= 0x7f)
			continue;
		if (ch == '"' || ch == '\\')
			out[o++] = '\\';
		out[o++] = (char)ch;
	}
	out[o] = '\0';
}

/* "display" <uri>, or <uri> without a display name. New string or NULL. */
static char *name_addr(const char *display, const char *uri)
{
	char q[2 * CH_SIP_DISPLAY_MAX + 4], buf[2 * CH_SIP_DISPLAY_MAX + 600];
	if (display && *display) {
		if (ch_sip_display_quote(display, q, sizeof q) || ch_fmt(buf, sizeof buf, "%s <%s>", q, uri))
			return NULL;
	} else if (ch_fmt(buf, sizeof buf, "<%s>", uri)) {
		return NULL;
	}
	return strdup(buf);
}

static int add_hdr(struct ch_buf *b, const char *name, const char *pre, const char *value, const char *post)
{
	int e = ch_buf_adds(b, name);
	e = e ? e : ch_buf_adds(b, ": ");
	e = e ? e : ch_buf_adds(b, pre);
	e = e ? e : ch_buf_adds(b, value);
	e = e ? e : ch_buf_adds(b, post);
	return e ? e : ch_buf_adds(b, "\r\n");
}

/* One leg's extra headers: auto-answer (leg 1 only), P-Asserted-Identity, Privacy, the CRM's. */
static int leg_hdrs(const struct orig_sip *s, const struct orig_call_req *r, const struct orig_caller_id *id,
		    enum orig_auto_answer aa, char **out)
{
	struct ch_buf b;
	ch_buf_init(&b, 16 * 1024);
	int e = 0;
	switch (aa) {
	case ORIG_AA_NONE:
		break;
	case ORIG_AA_CALL_INFO:
		e = add_hdr(&b, "Call-Info", "<", s->identity, ">;answer-after=0");
		break;
	case ORIG_AA_ALERT_INFO:
		e = add_hdr(&b, "Alert-Info", "", "<http://localhost>;info=alert-autoanswer;delay=0", "");
		break;
	case ORIG_AA_ANSWER_MODE:
		e = add_hdr(&b, "Answer-Mode", "", "Auto", "");
		break;
	}
	if (!e && id->pai[0])
		e = add_hdr(&b, "P-Asserted-Identity", "<", id->pai, ">");
	if (!e && id->privacy[0])
		e = add_hdr(&b, "Privacy", "", id->privacy, "");
	for (unsigned i = 0; !e && i < r->n_headers; i++)
		e = add_hdr(&b, r->headers[i].name, "", r->headers[i].value, "");
	e = e ? e : (b.len ? ch_buf_nul(&b) : 0);
	if (e || !b.len) {
		ch_buf_free(&b);
		*out = NULL;
		return e;
	}
	*out = b.data; /* the buffer's memory, NUL-terminated */
	return 0;
}

int orig_sip_call_headers(struct sip_call *c, const struct orig_call_req *r)
{
	const struct orig_sip *s = c->s;
	const struct orig_caller_id *ia = &r->id_initiator, *ib = &r->id_destination;
	char user[256], disp[300];
	if (ia->display[0]) {
		c->a_from = name_addr(ia->display, ia->from[0] ? ia->from : s->identity);
	} else {
		display_user(c->destination, user, sizeof user);
		if (ch_fmt(disp, sizeof disp, "\"Click-To-Call: %s\" <%s>", user, ia->from[0] ? ia->from : s->identity))
			return ENOSPC;
		c->a_from = strdup(disp);
	}
	c->b_from = name_addr(ib->display, ib->from[0] ? ib->from : c->initiator);
	c->refer_by = name_addr(ib->display, ib->from[0] ? ib->from : s->identity);
	if (!c->a_from || !c->b_from || !c->refer_by)
		return ENOMEM;
	int e = leg_hdrs(s, r, ia, r->auto_answer, &c->a_hdrs);
	return e ? e : leg_hdrs(s, r, ib, ORIG_AA_NONE, &c->b_hdrs);
}

void orig_sip_call_headers_free(struct sip_call *c)
{
	free(c->a_from);
	free(c->a_hdrs);
	free(c->b_from);
	free(c->b_hdrs);
	free(c->refer_by);
	c->a_from = c->a_hdrs = c->b_from = c->b_hdrs = c->refer_by = NULL;
}
