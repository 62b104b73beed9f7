/* tests/fuzz/fuzz_xml_frame.c: fuzz the XML port's framer (xml_frame_feed) with the input cut into chunks. */
#include "originator/xml_frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Input: one byte that picks the chunk size (1 + byte % 64; 0xff: all at
 * once), then the byte stream a client would send. */

static void check_request(const struct xml_request *rq, size_t fed)
{
	if (!rq->echo.pre || !rq->echo.suf || rq->echo.plen + rq->echo.slen > fed + 32)
		abort();
	if (strnlen(rq->error, sizeof(rq->error)) == sizeof(rq->error))
		abort();
	if (rq->error[0]) {
		if (rq->code != 400)
			abort();
		return;
	}
	if (rq->code != 0 || !rq->initiator || !rq->destination || !*rq->initiator || !*rq->destination)
		abort();
	const char *v[2] = {rq->initiator, rq->destination};
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(v[i]);
		if (strchr(" \t\r\n", v[i][0]) || strchr(" \t\r\n", v[i][n - 1]) || n > 1024)
			abort();
	}
}

/* Drain every framed document; returns the last status. */
static enum xml_frame_status drain(struct xml_frame *f, const char *buf, size_t len, size_t fed, size_t *docs)
{
	struct xml_request rq;
	enum xml_frame_status st;
	while ((st = xml_frame_feed(f, buf, len, &rq)) == XML_FRAME_COMPLETE) {
		check_request(&rq, fed);
		len = 0;
		if (++*docs > fed / 4 + 1) /* a document is at least "<a/>" */
			abort();
	}
	if (st == XML_FRAME_FATAL && ((rq.code != 400 && rq.code != 503) || !rq.error[0]))
		abort();
	if (st != XML_FRAME_NEED_MORE && st != XML_FRAME_FATAL)
		abort();
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = data[0] == 0xff ? size : 1u + data[0] % 64u;
	const char *in = (const char *)data + 1;
	size_t len = size - 1, fed = 0, docs = 0;
	struct xml_frame *f = NULL;
	if (xml_frame_new(&f) != 0)
		abort();
	enum xml_frame_status st = XML_FRAME_NEED_MORE;
	while (fed < len && st != XML_FRAME_FATAL) {
		size_t n = len - fed < chunk ? len - fed : chunk;
		fed += n;
		st = drain(f, in + fed - n, n, fed, &docs);
	}
	/* FATAL is sticky; NEED_MORE stays NEED_MORE without new bytes (a new byte
	 * may still let Expat finish a document it held back) */
	struct xml_request rq;
	if (xml_frame_feed(f, NULL, 0, &rq) != st)
		abort();
	if (st == XML_FRAME_FATAL && (xml_frame_in_doc(f) || xml_frame_feed(f, "<", 1, &rq) != XML_FRAME_FATAL))
		abort();
	if (st == XML_FRAME_NEED_MORE)
		(void)drain(f, "<", 1, fed + 1, &docs);
	xml_frame_free(f);
	return 0;
}
