/* originator/xml_frame.c: frames the XML port's byte stream into <ClickToCall> documents with Expat and checks
 * each request's fields. */
#include "originator/xml_frame.h"

#include "common/common.h"

#include <errno.h>
#include <expat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_CHUNK (16 * 1024)
#define VAL_MAX    1024 /* one element's text */
#define DEPTH_MAX  16

/* check_src: table */
static const char *const field_name[F_COUNT] = {"Initiator", "Destination", "AnchorCall", "AutoAnswer"};

struct xdoc {
	int depth;
	bool complete;
	bool fatal;    /* framing lost: answer and close */
	char err[160]; /* first semantic error (400), or the fatal reason */
	size_t root_start;
	bool root_empty;
	size_t root_end_start;
	size_t doc_end;
	bool has_req_end;
	size_t req_end;
	int nrequests;
	bool in_request;
	enum xml_field field;
	size_t last_start_index, last_start_count;
	bool seen[F_COUNT];
	bool too_long[F_COUNT];
	struct ch_buf val[F_COUNT];
	int in_hdr; /* the <Header> being read, or -1 */
	size_t nhdr;
	char hname[XML_HDR_MAX][65];
	struct ch_buf hval[XML_HDR_MAX];
	bool hlong[XML_HDR_MAX];
};

struct xml_frame {
	struct ch_buf in;
	XML_Parser p; /* while a document is open */
	struct xdoc doc;
	size_t fed;  /* bytes of in given to p */
	size_t done; /* bytes of in framed by the last COMPLETE, removed on the next call */
	bool fatal;
	int fatal_code;
	char fatal_why[160];
};

static const char bare_pre[] = "<ClickToCall>";
static const char bare_suf[] = "\n</ClickToCall>";

static void doc_fail(struct xml_frame *c, bool fatal, const char *msg)
{
	if (!c->doc.err[0])
		(void)ch_fmt(c->doc.err, sizeof(c->doc.err), "%s", msg);
	if (fatal) {
		/* a fatal reason replaces a semantic one */
		(void)ch_fmt(c->doc.err, sizeof(c->doc.err), "%s", msg);
		c->doc.fatal = true;
		XML_StopParser(c->p, XML_FALSE);
	}
}

/* <Header name="X-CRM-Ticket">: one more extra header, its name from the attribute. */
static void header_start(struct xml_frame *c, const XML_Char **atts)
{
	struct xdoc *d = &c->doc;
	const char *hn = NULL;
	for (size_t i = 0; atts && atts[i] && atts[i + 1]; i += 2) {
		if (strcmp(atts[i], "name") == 0)
			hn = atts[i + 1];
	}
	if (d->nhdr >= XML_HDR_MAX) {
		char m[64];
		(void)ch_fmt(m, sizeof(m), "too many headers (at most %d)", XML_HDR_MAX);
		doc_fail(c, false, m);
		return;
	}
	if (!hn || !*hn || strlen(hn) >= sizeof(d->hname[0])) {
		doc_fail(c, false, hn && *hn ? "Header name too long" : "Header without a name attribute");
		return;
	}
	memcpy(d->hname[d->nhdr], hn, strlen(hn) + 1);
	d->in_hdr = (int)d->nhdr++;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xml_frame *c = ud;
	struct xdoc *d = &c->doc;
	if (d->complete || d->fatal)
		return;
	d->depth++;
	d->last_start_index = (size_t)XML_GetCurrentByteIndex(c->p);
	d->last_start_count = (size_t)XML_GetCurrentByteCount(c->p);
	if (d->depth > DEPTH_MAX) {
		doc_fail(c, true, "parse error: nesting too deep");
		return;
	}
	if (d->depth == 1) {
		d->root_start = d->last_start_index;
		if (strcmp(name, "ClickToCall") != 0)
			doc_fail(c, false, "unknown method");
		return;
	}
	if (d->depth == 2 && strcmp(name, "Request") == 0) {
		if (++d->nrequests > 1)
			doc_fail(c, false, "more than one Request");
		d->in_request = true;
		return;
	}
	if (d->depth == 3 && d->in_request && strcmp(name, "Header") == 0) {
		header_start(c, atts);
		return;
	}
	if (d->depth == 3 && d->in_request) {
		d->field = F_NONE;
		for (int i = 0; i < F_COUNT; i++) {
			if (strcmp(name, field_name[i]) == 0) {
				if (d->seen[i]) {
					char m[64];
					(void)ch_fmt(m, sizeof(m), "duplicate %s", field_name[i]);
					doc_fail(c, false, m);
				}
				d->seen[i] = true;
				d->field = (enum xml_field)i;
			}
		}
		return;
	}
	if (d->depth > 3 && d->in_request && d->in_hdr >= 0) {
		doc_fail(c, false, "invalid Header");
		return;
	}
	if (d->depth > 3 && d->in_request && d->field != F_NONE) {
		/* markup inside a value */
		char m[64];
		(void)ch_fmt(m, sizeof(m), "invalid %s", field_name[d->field]);
		doc_fail(c, false, m);
	}
}

static void on_end(void *ud, const XML_Char *name)
{
	(void)name;
	struct xml_frame *c = ud;
	struct xdoc *d = &c->doc;
	if (d->complete || d->fatal)
		return;
	size_t idx = (size_t)XML_GetCurrentByteIndex(c->p);
	size_t cnt = (size_t)XML_GetCurrentByteCount(c->p);
	bool empty = cnt == 0; /* <x/>: the start event covered the whole tag */
	size_t end = empty ? d->last_start_index + d->last_start_count : idx + cnt;
	if (d->depth == 3) {
		d->field = F_NONE;
		d->in_hdr = -1;
	}
	if (d->depth == 2 && d->in_request) {
		d->in_request = false;
		if (!d->has_req_end) {
			d->has_req_end = true;
			d->req_end = end;
		}
	}
	if (d->depth == 1) {
		d->root_empty = empty;
		d->root_end_start = empty ? end : idx;
		d->doc_end = end;
		d->complete = true;
		XML_StopParser(c->p, XML_FALSE);
	}
	d->depth--;
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct xml_frame *c = ud;
	struct xdoc *d = &c->doc;
	if (d->complete || d->fatal || !d->in_request || d->depth != 3 || len <= 0)
		return;
	if (d->in_hdr >= 0) {
		if (!d->hlong[d->in_hdr] && ch_buf_add(&d->hval[d->in_hdr], s, (size_t)len) != 0)
			d->hlong[d->in_hdr] = true;
		return;
	}
	if (d->field == F_NONE)
		return;
	if (d->too_long[d->field])
		return;
	if (ch_buf_add(&d->val[d->field], s, (size_t)len) != 0)
		d->too_long[d->field] = true;
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid, int has_internal)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	doc_fail(ud, true, "parse error: DOCTYPE not allowed");
}

static int parser_new(struct xml_frame *c)
{
	for (int i = 0; i < F_COUNT; i++)
		ch_buf_free(&c->doc.val[i]);
	for (int i = 0; i < XML_HDR_MAX; i++)
		ch_buf_free(&c->doc.hval[i]);
	memset(&c->doc, 0, sizeof(c->doc));
	c->doc.field = F_NONE;
	c->doc.in_hdr = -1;
	for (int i = 0; i < F_COUNT; i++)
		ch_buf_init(&c->doc.val[i], VAL_MAX);
	for (int i = 0; i < XML_HDR_MAX; i++)
		ch_buf_init(&c->doc.hval[i], VAL_MAX);
	c->p = XML_ParserCreate(NULL);
	if (!c->p)
		return ENOMEM;
	XML_SetUserData(c->p, c);
	XML_SetElementHandler(c->p, on_start, on_end);
	XML_SetCharacterDataHandler(c->p, on_text);
	XML_SetStartDoctypeDeclHandler(c->p, on_doctype);
	return 0;
}

static bool is_xml_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The trimmed text of a buffer, NUL-terminated in place (or ""). */
static const char *trimmed(struct ch_buf *b)
{
	if (ch_buf_nul(b) != 0 || !b->data)
		return "";
	char *s = b->data;
	size_t n = b->len;
	while (n && is_xml_space(s[n - 1]))
		n--;
	s[n] = '\0';
	while (*s && is_xml_space(*s))
		s++;
	return s;
}

/* The trimmed value of a field. */
static const char *field_value(struct xdoc *d, enum xml_field f)
{
	return trimmed(&d->val[f]);
}

/* The echo: the request as received, the Response block right after
 * </Request> (or before the root's end tag when there is no Request). */
static struct xml_echo echo_of(const struct xdoc *d, const char *buf)
{
	if (d->has_req_end && d->req_end >= d->root_start && d->req_end <= d->doc_end)
		return (struct xml_echo){buf + d->root_start, d->req_end - d->root_start, buf + d->req_end,
					 d->doc_end - d->req_end};
	if (!d->root_empty && d->root_end_start > d->root_start)
		return (struct xml_echo){buf + d->root_start, d->root_end_start - d->root_start,
					 buf + d->root_end_start, d->doc_end - d->root_end_start};
	return (struct xml_echo){bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1};
}

/* A complete document: its echo, its fields, or why it is refused. */
static void request_of(struct xml_frame *f, struct xml_request *out)
{
	struct xdoc *d = &f->doc;
	memset(out, 0, sizeof(*out));
	out->echo = echo_of(d, f->in.data);
	if (d->err[0]) {
		(void)ch_fmt(out->error, sizeof(out->error), "%s", d->err);
	} else if (!d->nrequests) {
		(void)ch_fmt(out->error, sizeof(out->error), "missing Request");
	} else {
		for (int i = 0; i < F_COUNT && !out->error[0]; i++) {
			if (d->too_long[i])
				(void)ch_fmt(out->error, sizeof(out->error), "%s too long", field_name[i]);
			else if (i != F_ANC && i != F_AA && (!d->seen[i] || !*field_value(d, (enum xml_field)i)))
				(void)ch_fmt(out->error, sizeof(out->error), "missing %s", field_name[i]);
		}
	}
	if (out->error[0]) {
		out->code = 400;
		return;
	}
	out->initiator = field_value(d, F_INI);
	out->destination = field_value(d, F_DST);
	out->anchor = d->seen[F_ANC] && strcasecmp(field_value(d, F_ANC), "true") == 0;
	out->auto_answer = d->seen[F_AA] && strcasecmp(field_value(d, F_AA), "true") == 0;
	for (size_t i = 0; i < d->nhdr && !out->error[0]; i++) {
		if (d->hlong[i]) {
			(void)ch_fmt(out->error, sizeof(out->error), "header \"%s\" value too long", d->hname[i]);
			out->code = 400;
			return;
		}
		out->hdr_name[i] = d->hname[i];
		out->hdr_value[i] = trimmed(&d->hval[i]);
	}
	out->n_headers = d->nhdr;
}

static enum xml_frame_status fatal(struct xml_frame *f, int code, const char *why, struct xml_request *out)
{
	if (!f->fatal) {
		f->fatal = true;
		f->fatal_code = code;
		(void)ch_fmt(f->fatal_why, sizeof(f->fatal_why), "%s", why);
	}
	memset(out, 0, sizeof(*out));
	out->echo = (struct xml_echo){bare_pre, sizeof(bare_pre) - 1, bare_suf, sizeof(bare_suf) - 1};
	out->code = f->fatal_code;
	(void)ch_fmt(out->error, sizeof(out->error), "%s", f->fatal_why);
	return XML_FRAME_FATAL;
}

/* Drop what the last COMPLETE framed, and the whitespace before the next document. */
static void consume(struct xml_frame *f)
{
	size_t skip = f->done;
	if (f->done) {
		XML_ParserFree(f->p);
		f->p = NULL;
		f->done = 0;
	}
	if (!f->p) {
		while (skip < f->in.len && is_xml_space(f->in.data[skip]))
			skip++;
	}
	if (skip) {
		memmove(f->in.data, f->in.data + skip, f->in.len - skip);
		f->in.len -= skip;
	}
}

enum xml_frame_status xml_frame_feed(struct xml_frame *f, const char *buf, size_t len, struct xml_request *out)
{
	if (f->fatal)
		return fatal(f, 0, "", out);
	consume(f);
	if (len && ch_buf_add(&f->in, buf, len) != 0)
		return fatal(f, 400, "request too large", out);
	consume(f);
	if (!f->p) {
		if (f->in.len == 0)
			return XML_FRAME_NEED_MORE;
		if (parser_new(f) != 0)
			return fatal(f, 503, "out of memory", out);
		f->fed = 0;
	}
	if (f->fed < f->in.len) {
		enum XML_Status st = XML_Parse(f->p, f->in.data + f->fed, (int)(f->in.len - f->fed), XML_FALSE);
		f->fed = f->in.len;
		if (f->doc.fatal)
			return fatal(f, 400, f->doc.err, out);
		if (f->doc.complete) {
			request_of(f, out);
			f->done = f->doc.doc_end < f->in.len ? f->doc.doc_end : f->in.len;
			return XML_FRAME_COMPLETE;
		}
		if (st == XML_STATUS_ERROR) {
			char m[160];
			(void)ch_fmt(m, sizeof(m), "parse error: %s at line %lu",
				     XML_ErrorString(XML_GetErrorCode(f->p)),
				     (unsigned long)XML_GetCurrentLineNumber(f->p));
			return fatal(f, 400, m, out);
		}
	}
	if (f->in.len > XML_DOC_MAX)
		return fatal(f, 400, "request too large", out);
	return XML_FRAME_NEED_MORE;
}

bool xml_frame_in_doc(const struct xml_frame *f)
{
	return f->p != NULL && !f->done && !f->fatal;
}

int xml_frame_new(struct xml_frame **out)
{
	struct xml_frame *f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	ch_buf_init(&f->in, XML_DOC_MAX + READ_CHUNK + 1);
	for (int i = 0; i < F_COUNT; i++)
		ch_buf_init(&f->doc.val[i], VAL_MAX);
	*out = f;
	return 0;
}

void xml_frame_free(struct xml_frame *f)
{
	if (!f)
		return;
	ch_buf_free(&f->in);
	for (int i = 0; i < F_COUNT; i++)
		ch_buf_free(&f->doc.val[i]);
	for (int i = 0; i < XML_HDR_MAX; i++)
		ch_buf_free(&f->doc.hval[i]);
	if (f->p)
		XML_ParserFree(f->p);
	free(f);
}
