/* common/sip_cid.h: caller-id templates (originator.caller_id): ${initiator_user} and ${destination_user} expanded
 * into display names and SIP URIs without header or parameter injection through a user part. */
#ifndef CH_SIP_CID_H
#define CH_SIP_CID_H

#include <stdbool.h>
#include <stddef.h>

/* The values of the variables of one call: the user parts of the translated initiator and destination ("" when a
 * URI has none). Borrowed. */
struct ch_cid_vars {
	const char *initiator_user;
	const char *destination_user;
};

/* What went wrong in ch_cid_expand. */
enum ch_cid_status {
	CH_CID_OK = 0,
	CH_CID_UNKNOWN_VAR, /* "${name}" that is not a variable, or a "${" without its '}' */
	CH_CID_BAD_VALUE,   /* a variable's value is not a safe user part (ch_cid_user_ok) */
	CH_CID_TOO_LONG,    /* the result does not fit */
};

/* A value that may stand for a user part anywhere in a URI or a display name: 1 to 128 bytes of RFC 3261
 * unreserved characters or '+' (so no ';', '?', '@', ':', '"', '<', '>', '%', space or control). NULL is false. */
bool ch_cid_user_ok(const char *v);

/* Expand tmpl with v into out[cap]. Only ${initiator_user} and ${destination_user} are variables; "$" elsewhere is
 * itself. On CH_CID_UNKNOWN_VAR and CH_CID_BAD_VALUE, *where (may be NULL) is the variable's text in tmpl, up to 64
 * bytes. out is written only on CH_CID_OK. */
enum ch_cid_status ch_cid_expand(const char *tmpl, const struct ch_cid_vars *v, char *out, size_t cap, char *where,
				 size_t wcap);

/* uri with its user part (and password) replaced by user, or "user@" inserted when it has none, into out[cap]:
 * true when uri is a SIP URI (ch_sip_uri_parse), user is ch_cid_user_ok and it fits. out written only on success. */
bool ch_cid_set_user(const char *uri, const char *user, char *out, size_t cap);

/* A Privacy value (RFC 3323, 3325): one or more of none, header, session, user, id, critical, separated by ';'.
 * NULL is false. */
bool ch_cid_privacy_ok(const char *v);

#endif
