/* common/sip_hdr.c: the checks of what the originator puts into SIP headers: names, values, display names. */
#include "common/sip_hdr.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool ch_sip_hdr_name_ok(const char *name)
{
	if (!name || !*name)
		return false;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++) {
		if (n >= CH_SIP_HDR_NAME_MAX || !(is_alnum(*p) || strchr("-.!%*_+`'~", *p)))
			return false;
	}
	return true;
}

bool ch_sip_hdr_value_ok(const char *v)
{
	if (!v || !*v || *v == ' ')
		return false;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++, n++) {
		if (n >= CH_SIP_HDR_VALUE_MAX)
			return false;
		if (*p == ' ') {
			if (p[1] == ' ' || p[1] == '\0')
				return false;
			continue;
		}
		if (*p < 0x21 || *p > 0x7e)
			return false;
	}
	return true;
}

bool ch_sip_display_ok(const char *v)
{
	if (!v)
		return false;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++, n++) {
		if (n >= CH_SIP_DISPLAY_MAX || *p < 0x20 || *p > 0x7e)
			return false;
	}
	return true;
}

/* check_src: table */
static const char *const reserved[] = {
    "from",
    "f",
    "to",
    "t",
    "via",
    "v",
    "call-id",
    "i",
    "cseq",
    "contact",
    "m",
    "content-type",
    "c",
    "content-length",
    "l",
    "content-encoding",
    "e",
    "content-disposition",
    "content-language",
    "max-forwards",
    "route",
    "record-route",
    "path",
    "service-route",
    "p-asserted-identity",
    "p-preferred-identity",
    "privacy",
    "call-info",
    "alert-info",
    "answer-mode",
    "priv-answer-mode",
    "refer-to",
    "r",
    "referred-by",
    "b",
    "replaces",
    "join",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "authentication-info",
    "proxy-require",
    "require",
    "supported",
    "k",
    "unsupported",
    "allow",
    "allow-events",
    "u",
    "event",
    "o",
    "subscription-state",
    "session-expires",
    "x",
    "min-se",
    "rseq",
    "rack",
    "expires",
    "security-client",
    "security-server",
    "security-verify",
    "mime-version",
    "accept",
    "accept-encoding",
    "accept-language",
    "user-agent",
    "server",
    "timestamp",
    "identity",
    "identity-info",
    "y",
    "reason",
};

bool ch_sip_hdr_reserved(const char *name)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcasecmp(name, reserved[i]) == 0)
			return true;
	}
	return false;
}

int ch_sip_display_quote(const char *v, char *out, size_t cap)
{
	if (!ch_sip_display_ok(v))
		return EINVAL;
	size_t need = 3;
	for (const char *p = v; *p; p++)
		need += (*p == '"' || *p == '\\') ? 2 : 1;
	if (need > cap)
		return ENOSPC;
	size_t o = 0;
	out[o++] = '"';
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}
