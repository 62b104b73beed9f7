/* tests/fuzz/fuzz_sdp.c: fuzz the SIP engine's SDP origin rewriting against a reference, asserting its invariants. */
#include "originator/sip_sdp_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Input: one byte that picks the output capacity (0xff: ORIG_SDP_MAX, else
 * byte * 4), then the SDP body, any bytes (NULs too). */

#define GUARD  16
#define CANARY 0xa5
#define OLINE  "o=callhook 42 7 IN IP4 192.0.2.1"

/* The reference: body with its first "o=" line (through its LF) replaced by
 * oline + CRLF (dropped when oline is NULL). New buffer of *n bytes, or NULL
 * when body has no origin line. */
static char *reference(const char *body, size_t len, const char *oline, size_t *n)
{
	size_t start = 0;
	while (start < len && !(len - start >= 2 && body[start] == 'o' && body[start + 1] == '=')) {
		const char *nl = memchr(body + start, '\n', len - start);
		if (!nl)
			return NULL;
		start = (size_t)(nl - body) + 1;
	}
	if (start >= len)
		return NULL;
	const char *nl = memchr(body + start, '\n', len - start);
	size_t end = nl ? (size_t)(nl - body) + 1 : len;
	size_t ol = oline ? strlen(oline) : 0;
	char *r = malloc(len + ol + 3);
	if (!r)
		abort();
	memcpy(r, body, start);
	size_t o = start;
	if (oline) {
		memcpy(r + o, oline, ol);
		memcpy(r + o + ol, "\r\n", 2);
		o += ol + 2;
	}
	memcpy(r + o, body + end, len - end);
	*n = o + len - end;
	return r;
}

static bool all(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* orig_sdp_set_origin into a canary-filled buffer of cap bytes: the reference
 * bytes and a NUL when they fit, ENOSPC when not, EINVAL without an origin
 * line; nothing written on failure, nothing past cap ever. */
static void check_set(const char *body, size_t len, const char *oline, size_t cap)
{
	unsigned char *out = malloc(cap + GUARD);
	if (!out)
		abort();
	memset(out, CANARY, cap + GUARD);
	size_t n = 0;
	char *want = reference(body, len, oline, &n);
	int r = orig_sdp_set_origin(body, len, oline, (char *)out, cap);
	if (!all(out + cap, GUARD, CANARY))
		abort();
	if (want && n < cap) {
		if (r != 0 || memcmp(out, want, n) != 0 || out[n] != '\0')
			abort();
	} else {
		if (r != (want || len >= cap ? ENOSPC : EINVAL))
			abort();
		if (!all(out, cap, CANARY))
			abort();
	}
	free(want);
	free(out);
}

/* Rewriting is idempotent, and dropping our origin gives what dropping theirs gave. */
static void check_idempotent(const char *body, size_t len)
{
	size_t n = 0, n2 = 0, nb = 0;
	char *once = reference(body, len, OLINE, &n);
	if (!once)
		return;
	char *twice = malloc(n + 64);
	char *bare = reference(body, len, NULL, &nb);
	char *bare2 = reference(once, n, NULL, &n2);
	if (!twice || !bare || !bare2)
		abort();
	if (orig_sdp_set_origin(once, n, OLINE, twice, n + 64) != 0 || memcmp(twice, once, n) != 0 || twice[n])
		abort();
	if (nb != n2 || memcmp(bare, bare2, nb) != 0)
		abort();
	free(once);
	free(twice);
	free(bare);
	free(bare2);
}

/* Our version goes up once for a new description and not for the same one
 * again; a failure leaves the origin as it was; the output is the body under
 * our origin line at the new version. */
static void check_for_peer(const char *body, size_t len, size_t cap)
{
	struct orig_sdp_origin o = {.sid = 42, .ver = 6, .host = "192.0.2.1"};
	char *out = malloc(cap + 1), *again = malloc(cap + 1);
	if (!out || !again)
		abort();
	int r = orig_sdp_for_peer(&o, body, len, out, cap);
	if (r != 0) {
		if ((r != EINVAL && r != ENOSPC) || o.ver != 6 || o.last)
			abort();
		goto out;
	}
	size_t n = 0;
	char *want = reference(body, len, OLINE, &n);
	if (o.ver != 7 || !o.last || !want || n >= cap || memcmp(out, want, n) != 0 || out[n])
		abort();
	free(want);
	if (orig_sdp_for_peer(&o, body, len, again, cap) != 0 || o.ver != 7 || memcmp(again, out, n + 1) != 0)
		abort();
out:
	orig_sdp_origin_clear(&o);
	free(out);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cap = data[0] == 0xff ? ORIG_SDP_MAX : (size_t)data[0] * 4;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	check_set(body, len, OLINE, cap);
	check_set(body, len, NULL, cap);
	check_set(body, len, OLINE, len + sizeof OLINE + 2);
	check_idempotent(body, len);
	if (cap)
		check_for_peer(body, len, cap);
	return 0;
}
