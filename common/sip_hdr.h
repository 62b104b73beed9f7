/* common/sip_hdr.h: what a header we put on the wire may hold (names, values, display names), for the policy and the
 * engine. */
#ifndef CH_SIP_HDR_H
#define CH_SIP_HDR_H

#include <stdbool.h>
#include <stddef.h>

#define CH_SIP_HDR_NAME_MAX  64  /* bytes of a header name */
#define CH_SIP_HDR_VALUE_MAX 256 /* bytes of a header value */
#define CH_SIP_DISPLAY_MAX   127 /* bytes of a display name, unquoted */
#define CH_SIP_HDR_PER_CALL  8   /* extra headers per call */

/* An RFC 3261 token of 1..CH_SIP_HDR_NAME_MAX bytes: alphanumerics and
 * - . ! % * _ + ` ' ~. NULL is false. Pure. */
bool ch_sip_hdr_name_ok(const char *name);

/* A header value we may send: 1..CH_SIP_HDR_VALUE_MAX bytes of visible ASCII
 * (0x21-0x7e) with single spaces between words (no leading, trailing or
 * double space); so no CR, LF, NUL, tab or any other control, and nothing
 * outside ASCII. NULL is false. Pure. */
bool ch_sip_hdr_value_ok(const char *v);

/* A display name (before quoting): 0..CH_SIP_DISPLAY_MAX bytes of printable
 * ASCII (0x20-0x7e). The one who quotes it escapes '"' and '\\'. NULL is
 * false. Pure. */
bool ch_sip_display_ok(const char *v);

/* Headers the originator writes itself (From, To, Via, Call-ID, CSeq,
 * Contact, Content-*, Max-Forwards, Route, P-Asserted-Identity, Privacy,
 * Call-Info, Alert-Info, Answer-Mode, Refer-To, Referred-By, the
 * authentication headers, Require, Supported, Allow, ...) and their compact
 * forms: a caller may not add one, whatever the allow list says.
 * Case-insensitive. Pure. */
bool ch_sip_hdr_reserved(const char *name);

/* Quote a display name for a From or Referred-By: "..." with '"' and '\\'
 * escaped. 0, EINVAL (not ch_sip_display_ok) or ENOSPC; out written only
 * on 0. */
int ch_sip_display_quote(const char *v, char *out, size_t cap);

#endif
