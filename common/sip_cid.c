/* common/sip_cid.c: caller-id templates: the two variables, the safe user part, the user part of a SIP URI. */
#include "common/sip_cid.h"

#include "common/common.h"
#include "common/sip_uri.h"

#include <string.h>
#include <strings.h>

#define CID_USER_MAX 128

bool ch_cid_user_ok(const char *v)
{
	if (!v)
		return false;
	size_t n = strnlen(v, CID_USER_MAX + 1);
	if (n == 0 || n > CID_USER_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!ch_sip_unreserved(c) && c != '+')
			return false;
	}
	return true;
}

/* The value of the variable named name[0..n), or NULL when it is not one. */
static const char *var_value(const char *name, size_t n, const struct ch_cid_vars *v)
{
	if (n == 14 && memcmp(name, "initiator_user", 14) == 0)
		return v->initiator_user ? v->initiator_user : "";
	if (n == 16 && memcmp(name, "destination_user", 16) == 0)
		return v->destination_user ? v->destination_user : "";
	return NULL;
}

static void say_where(char *where, size_t wcap, const char *p, size_t n)
{
	if (where && wcap)
		(void)ch_fmt(where, wcap, "%.*s", (int)(n > 64 ? 64 : n), p);
}

enum ch_cid_status ch_cid_expand(const char *tmpl, const struct ch_cid_vars *v, char *out, size_t cap, char *where,
				 size_t wcap)
{
	char buf[1024];
	size_t len = 0;
	for (const char *p = tmpl; *p;) {
		const char *piece = p;
		size_t pn = 1;
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');
			const char *val = end ? var_value(p + 2, (size_t)(end - p - 2), v) : NULL;
			if (!val) {
				say_where(where, wcap, p, end ? (size_t)(end - p + 1) : strlen(p));
				return CH_CID_UNKNOWN_VAR;
			}
			if (!ch_cid_user_ok(val)) {
				say_where(where, wcap, p, (size_t)(end - p + 1));
				return CH_CID_BAD_VALUE;
			}
			piece = val;
			pn = strlen(val);
			p = end + 1;
		} else {
			p++;
		}
		if (len + pn >= sizeof(buf) || len + pn >= cap)
			return CH_CID_TOO_LONG;
		memcpy(buf + len, piece, pn);
		len += pn;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	return CH_CID_OK;
}

bool ch_cid_set_user(const char *uri, const char *user, char *out, size_t cap)
{
	struct ch_sip_uri_parts u;
	if (!ch_sip_uri_parse(uri, &u) || !ch_cid_user_ok(user))
		return false;
	char buf[CH_SIP_URI_MAX + 1];
	if (ch_fmt(buf, sizeof(buf), "%s:%s@%s", u.sips ? "sips" : "sip", user, u.host) != 0 || strlen(buf) >= cap ||
	    !ch_sip_uri_ok(buf))
		return false;
	memcpy(out, buf, strlen(buf) + 1);
	return true;
}

bool ch_cid_privacy_ok(const char *v)
{
	static const char *const tokens[] = {"none", "header", "session", "user", "id", "critical"};
	if (!v || !*v)
		return false;
	for (const char *p = v;;) {
		size_t n = strcspn(p, ";");
		bool known = false;
		for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
			known = known || (strlen(tokens[i]) == n && strncasecmp(p, tokens[i], n) == 0);
		if (!known)
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}
