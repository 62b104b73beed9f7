/* originator/sip_sdp.c: the SIP engine's SDP text: our origin line, the placeholder offer, origin rewriting (pure). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "originator/sip_sdp_int.h"

/* One pass over body: with out NULL only measure (bytes needed, NUL excluded);
 * with out, write them. *found tells whether an origin line was there. */
static size_t rewrite(const char *body, size_t len, const char *oline, char *out, bool *found)
{
	size_t o = 0;
	bool done = false;
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		size_t n = (size_t)(next - p);
		if (!done && n >= 2 && p[0] == 'o' && p[1] == '=') {
			done = true;
			if (oline) {
				size_t ol = strlen(oline);
				if (out) {
					memcpy(out + o, oline, ol);
					memcpy(out + o + ol, "\r\n", 2);
				}
				o += ol + 2;
			}
		} else {
			if (out)
				memcpy(out + o, p, n);
			o += n;
		}
		p = next;
	}
	*found = done;
	return o;
}

int orig_sdp_set_origin(const char *body, size_t len, const char *oline, char *out, size_t cap)
{
	bool found = false;
	size_t need = rewrite(body, len, oline, NULL, &found);
	if (need >= cap)
		return ENOSPC;
	if (!found)
		return EINVAL;
	(void)rewrite(body, len, oline, out, &found);
	out[need] = '\0';
	return 0;
}

int orig_sdp_origin_line(const struct orig_sdp_origin *o, uint64_t ver, char *out, size_t cap)
{
	return ch_fmt(out, cap, "o=callhook %" PRIu64 " %" PRIu64 " IN %s %s", o->sid, ver, o->v6 ? "IP6" : "IP4",
		      o->host);
}

int orig_sdp_placeholder(const struct orig_sdp_origin *o, char *out, size_t cap)
{
	char ol[256];
	if (orig_sdp_origin_line(o, o->ver, ol, sizeof ol))
		return ENOSPC;
	return ch_fmt(out, cap,
		      "v=0\r\n%s\r\ns=callhook\r\nc=IN %s %s\r\nt=0 0\r\n"
		      "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=inactive\r\n",
		      ol, o->v6 ? "IP6" : "IP4", o->host);
}

int orig_sdp_for_peer(struct orig_sdp_origin *o, const char *body, size_t len, char *out, size_t cap)
{
	char *bare = malloc(ORIG_SDP_MAX);
	int err = ENOMEM;
	if (!bare)
		goto out;
	err = orig_sdp_set_origin(body, len, NULL, bare, ORIG_SDP_MAX);
	if (err)
		goto out;
	bool changed = !o->last || strcmp(o->last, bare) != 0;
	uint64_t ver = changed ? o->ver + 1 : o->ver;
	char ol[256];
	err = orig_sdp_origin_line(o, ver, ol, sizeof ol);
	if (!err)
		err = orig_sdp_set_origin(body, len, ol, out, cap);
	if (err)
		goto out;
	o->ver = ver;
	if (changed) {
		free(o->last);
		o->last = bare;
		bare = NULL;
	}
out:
	free(bare);
	return err;
}

void orig_sdp_origin_clear(struct orig_sdp_origin *o)
{
	if (!o)
		return;
	free(o->last);
	o->last = NULL;
}
