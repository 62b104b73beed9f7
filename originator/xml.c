/* originator/xml.c: the reSIProcate-compatible XML protocol: answers to framed <ClickToCall> requests and the
 * progress documents of each call. */
#include "originator/xml_int.h"

#include <stdlib.h>
#include <string.h>

static const struct xml_echo bare = {"<ClickToCall>", sizeof("<ClickToCall>") - 1, "\n</ClickToCall>",
				     sizeof("\n</ClickToCall>") - 1};

int xml_build_doc(struct ch_buf *b, const struct xml_echo *echo, const struct xml_result *r)
{
	char num[16];
	int e = ch_fmt(num, sizeof(num), "%d", r->code);
	e = e ? e : ch_buf_add(b, echo->pre, echo->plen);
	e = e ? e : ch_buf_adds(b, "\n<Response>\n");
	if (r->tinit && r->tdest) {
		e = e ? e : ch_buf_adds(b, "<TranslatedInitiator>");
		e = e ? e : ch_buf_add_escaped(b, r->tinit);
		e = e ? e : ch_buf_adds(b, "</TranslatedInitiator>\n<TranslatedDestination>");
		e = e ? e : ch_buf_add_escaped(b, r->tdest);
		e = e ? e : ch_buf_adds(b, "</TranslatedDestination>\n");
	}
	e = e ? e : ch_buf_adds(b, "<Result Code=\"");
	e = e ? e : ch_buf_adds(b, num);
	if (r->leg) {
		e = e ? e : ch_buf_adds(b, "\" Leg=\"");
		e = e ? e : ch_buf_adds(b, r->leg);
	}
	e = e ? e : ch_buf_adds(b, "\">");
	e = e ? e : ch_buf_add_escaped(b, r->text);
	e = e ? e : ch_buf_adds(b, "</Result>\n</Response>");
	e = e ? e : ch_buf_add(b, echo->suf, echo->slen);
	e = e ? e : ch_buf_adds(b, "\n");
	return e;
}

static void send_doc(struct xconn *c, const struct xml_echo *echo, const struct xml_result *r)
{
	struct ch_buf b;
	ch_buf_init(&b, XML_DOC_MAX * 2 + 4096);
	if (xml_build_doc(&b, echo, r) == 0)
		xml_conn_send(c, b.data, b.len);
	ch_buf_free(&b);
}

void xml_send_bare(struct xconn *c, int code, const char *text)
{
	send_doc(c, &bare, &(struct xml_result){.code = code, .text = text});
}

/* ---- per-call sink (the watch of orig_svc_place) ------------------------------------- */

struct sink {
	struct xconn *c;      /* one reference */
	struct xml_echo echo; /* copies owned by the sink */
	bool sent100;
	bool done;
};

static void sink_free(struct sink *s)
{
	if (!s)
		return;
	if (s->c)
		xml_conn_unref(s->c);
	free((char *)s->echo.pre);
	free((char *)s->echo.suf);
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
		send_doc(s->c, &s->echo,
			 &(struct xml_result){.code = 100, .text = "In progress", .tinit = tinit, .tdest = tdest});
		if (ev->code == 100)
			return;
	}
	if (ev->code == 0 || ev->code == 100)
		return;
	const char *leg = ev->leg == ORIG_LEG_INITIATOR     ? "Initiator"
			  : ev->leg == ORIG_LEG_DESTINATION ? "Destination"
							    : NULL;
	send_doc(s->c, &s->echo, &(struct xml_result){.code = ev->code, .leg = leg, .text = ev->reason});
	/* what the client treats as the end of its request: nothing after it */
	if (ev->code >= 300 || (ev->leg == ORIG_LEG_DESTINATION && ev->code >= 200))
		s->done = true;
}

static void sink_release(void *arg)
{
	sink_free(arg);
}

static struct sink *sink_new(struct xconn *c, const struct xml_echo *echo)
{
	struct sink *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->echo.pre = ch_strndup(echo->pre, echo->plen);
	s->echo.suf = ch_strndup(echo->suf, echo->slen);
	if (!s->echo.pre || !s->echo.suf) {
		sink_free(s);
		return NULL;
	}
	s->echo.plen = echo->plen;
	s->echo.slen = echo->slen;
	xml_conn_ref(c);
	s->c = c;
	return s;
}

void xml_handle_request(struct orig_svc *v, struct xconn *c, const struct xml_request *rq)
{
	if (rq->error[0]) {
		send_doc(c, &rq->echo, &(struct xml_result){.code = rq->code ? rq->code : 400, .text = rq->error});
		return;
	}
	struct sink *s = sink_new(c, &rq->echo);
	if (!s) {
		send_doc(c, &rq->echo, &(struct xml_result){.code = 503, .text = "out of memory"});
		return;
	}
	struct orig_place_hdr hv[XML_HDR_MAX];
	for (size_t i = 0; i < rq->n_headers && i < XML_HDR_MAX; i++)
		hv[i] = (struct orig_place_hdr){.name = rq->hdr_name[i], .value = rq->hdr_value[i]};
	struct orig_place_req pr = {.initiator = rq->initiator,
				    .destination = rq->destination,
				    .anchor = rq->anchor,
				    .auto_answer = rq->auto_answer,
				    .headers = hv,
				    .n_headers = rq->n_headers,
				    .front = ORIG_FE_XML,
				    .client_ip = xml_conn_peer(c)};
	struct orig_watch w = {.on_event = sink_event, .release = sink_release, .arg = s};
	struct orig_place_res res;
	orig_svc_place(v, &pr, &w, &res);
	if (res.refusal != ORIG_PLACED) {
		send_doc(
		    c, &rq->echo,
		    &(struct xml_result){.code = res.refusal == ORIG_PLACED ? 100 : orig_refusal_status(res.refusal),
					 .text = res.reason});
		sink_free(s);
	}
	/* placed: the sink now belongs to the call and writes its 100 first */
}
