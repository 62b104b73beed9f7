/* common/sip_uri.h: the SIP-URI grammar (RFC 3261 section 25.1, no headers), for config, policy and the engine. */
#ifndef CH_SIP_URI_H
#define CH_SIP_URI_H

#include <stdbool.h>
#include <stddef.h>

#define CH_SIP_URI_MAX 2048 /* bytes, without the NUL: a longer URI is refused */

/* A URI split into its parts. Every pointer points into the string given to
 * ch_sip_uri_parse (borrowed); an absent part is NULL with length 0. */
struct ch_sip_uri_parts {
	bool sips;            /* "sips:" (any case) rather than "sip:" */
	const char *user;     /* the user part, up to ':' or '@'; NULL when there is no '@' */
	size_t user_len;      /* at least 1 when present */
	const char *password; /* after the user part's ':'; NULL when none */
	size_t password_len;  /* may be 0 ("sip:a:@h") */
	const char *host;     /* a name, an IPv4 address, or "[IPv6]" with its brackets */
	size_t host_len;
	const char *port; /* the digits after ':'; NULL when none */
	size_t port_len;
	const char *params; /* ";name[=value]..." from the first ';' to the end; NULL when none */
	size_t params_len;
};

/* Check uri against the grammar: "sip:" or "sips:" (any case), an optional
 * user[:password]@, a host (a hostname whose last label starts with a
 * letter, four decimal octets, or a bracketed address inet_pton accepts),
 * an optional port 1..65535, then ;name[=value] parameters; each part in
 * its own character set, with well-formed %HH escapes; no '?' (headers)
 * anywhere, one '@' at most, at most CH_SIP_URI_MAX bytes. On success
 * fills *out (may be NULL) and returns true; otherwise false and *out is
 * untouched. Pure, thread-safe. */
bool ch_sip_uri_parse(const char *uri, struct ch_sip_uri_parts *out);

/* ch_sip_uri_parse without the parts. NULL is false. */
bool ch_sip_uri_ok(const char *uri);

/* RFC 3261 unreserved: alphanum or one of - _ . ! ~ * ' ( ) */
bool ch_sip_unreserved(unsigned char c);

#endif
