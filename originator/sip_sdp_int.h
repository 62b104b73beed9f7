/* originator/sip_sdp_int.h: the SIP engine's pure SDP text functions (no Sofia, no call object), private to the
 * engine and its tests. */
#ifndef ORIG_SIP_SDP_INT_H
#define ORIG_SIP_SDP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest SDP body the engine builds or relays, NUL included. */
#define ORIG_SDP_MAX 16384

/* Our session origin (RFC 4566 "o=") toward one phone, stable for its dialog:
 * "o=callhook <sid> <ver> IN IP4|IP6 <host>". ver goes up by one each time the
 * description we send changes (RFC 3264 section 8). */
struct orig_sdp_origin {
	uint64_t sid;
	uint64_t ver;
	const char *host; /* our address; borrowed, outlives the origin */
	bool v6;
	char *last; /* the last description sent, its origin line removed; owned (orig_sdp_origin_clear) */
};

/* Copy body (len bytes) into out (cap bytes, NUL-terminated) with its first
 * origin line ("o=...", up to and including its LF) replaced by oline + CRLF,
 * or dropped when oline is NULL. Every other byte is copied unchanged.
 * Returns 0, ENOSPC (out too small; out untouched) or EINVAL (no origin line;
 * out untouched). */
int orig_sdp_set_origin(const char *body, size_t len, const char *oline, char *out, size_t cap);

/* The origin line of o at version ver, without line ending. 0 or ENOSPC. */
int orig_sdp_origin_line(const struct orig_sdp_origin *o, uint64_t ver, char *out, size_t cap);

/* Our first offer to the initiator: an inactive PCMU stream on port 9 (the
 * real media comes later from the destination), under o's origin at o->ver.
 * 0 or ENOSPC. */
int orig_sdp_placeholder(const struct orig_sdp_origin *o, char *out, size_t cap);

/* The body to send under origin o, made from a peer's body: the peer's origin
 * line replaced by ours, our version up by one only when the description
 * (without its origin line) differs from the last one sent. On success o->ver
 * and o->last are updated; on failure (EINVAL: no origin line, ENOSPC, ENOMEM)
 * neither o nor out is touched. */
int orig_sdp_for_peer(struct orig_sdp_origin *o, const char *body, size_t len, char *out, size_t cap);

/* Free o->last. NULL-safe. */
void orig_sdp_origin_clear(struct orig_sdp_origin *o);

#endif
