/* originator/xml_frame.h: the XML port's framer (private to originator/): bytes in, <ClickToCall> requests out. */
#ifndef CALLHOOK_ORIGINATOR_XML_FRAME_H
#define CALLHOOK_ORIGINATOR_XML_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#define XML_DOC_MAX (16 * 1024) /* one request document, bytes */

/* The fields of a <Request>. */
enum xml_field { F_NONE = -1, F_INI = 0, F_DST = 1, F_ANC = 2, F_AA = 3, F_COUNT = 4 };

#define XML_HDR_MAX 8 /* <Header name="...">value</Header> elements per request */

/* A request as received, split where the <Response> block goes: pre, then
 * the response, then suf. Borrowed from the framer (or static). */
struct xml_echo {
	const char *pre;
	size_t plen;
	const char *suf;
	size_t slen;
};

/* The framer's answer for one document. */
struct xml_request {
	struct xml_echo echo;
	int code;                            /* COMPLETE: 0, or 400 with error set; FATAL: 400 or 503 */
	char error[200];                     /* why the request is refused ("missing Initiator"), or "" */
	const char *initiator, *destination; /* COMPLETE, no error: trimmed, non-empty */
	bool anchor;                         /* AnchorCall is "true" (any case) */
	bool auto_answer;                    /* AutoAnswer is "true" (any case) */
	size_t n_headers;                    /* the <Header> elements, in order: */
	const char *hdr_name[XML_HDR_MAX];   /* their name attributes */
	const char *hdr_value[XML_HDR_MAX];  /* their trimmed text */
};

enum xml_frame_status {
	XML_FRAME_NEED_MORE, /* nothing complete yet */
	XML_FRAME_COMPLETE,  /* one document framed: *out written */
	XML_FRAME_FATAL,     /* framing lost: *out has the answer (code, error); close after it. Sticky */
};

/* One connection's framer. Pure: no I/O, no clock, no threads. */
struct xml_frame;

int xml_frame_new(struct xml_frame **out); /* 0 or ENOMEM */
void xml_frame_free(struct xml_frame *f);  /* NULL-safe */

/* Append buf[0..len) (len may be 0) and frame the next document. After
 * COMPLETE, call again with len 0 until NEED_MORE: several documents may sit
 * in one buffer. Pointers in *out are valid until the next call. */
enum xml_frame_status xml_frame_feed(struct xml_frame *f, const char *buf, size_t len, struct xml_request *out);

/* True while a document is started but not complete (for the caller's timeout). */
bool xml_frame_in_doc(const struct xml_frame *f);

#endif
