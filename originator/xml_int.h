/* originator/xml_int.h: what the XML port's protocol (xml.c) and poll loop (xml_port.c) share. */
#ifndef CALLHOOK_ORIGINATOR_XML_INT_H
#define CALLHOOK_ORIGINATOR_XML_INT_H

#include "common/common.h"
#include "originator/svc.h"
#include "originator/xml_frame.h"

#include <stddef.h>

/* One client connection (xml_port.c); shared with the SIP thread through the sinks of its calls. */
struct xconn;

/* ---- the poll loop's side (xml_port.c), any thread ---- */

/* Queue bytes for the client; dropped when closed or over its output cap. */
void xml_conn_send(struct xconn *c, const char *data, size_t len);
void xml_conn_ref(struct xconn *c);
void xml_conn_unref(struct xconn *c);
/* The client's address as text (fixed at accept; valid while c is referenced). */
const char *xml_conn_peer(const struct xconn *c);

/* ---- the protocol's side (xml.c) ---- */

/* What a <Response> block says. */
struct xml_result {
	int code;
	const char *leg;           /* "Initiator" / "Destination", or NULL */
	const char *text;          /* the Result text (escaped here) */
	const char *tinit, *tdest; /* translated URIs, both or neither */
};

/* One response document: the echo around a <Response>. 0 or ch_buf errors. */
int xml_build_doc(struct ch_buf *b, const struct xml_echo *echo, const struct xml_result *r);
/* A response with the bare <ClickToCall> echo, queued on c. */
void xml_send_bare(struct xconn *c, int code, const char *text);
/* Answer one framed request on c: refuse it, or place the call through v
 * (the call's sink then writes its progress documents to c). */
void xml_handle_request(struct orig_svc *v, struct xconn *c, const struct xml_request *rq);

#endif
