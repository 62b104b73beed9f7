/* policy/sip_canon.c: the one spelling of a SIP URI that policy judges and the engine dials, and its limit key. */
#include "policy/policy.h"

#include "common/common.h"
#include "common/sip_uri.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

/* Every SIP URI the rules produce is rewritten to one spelling before the
 * allow / deny patterns and the limits see it, and that spelling is what
 * the SIP engine is given (see policy.h for the rules). Sofia-SIP decodes
 * escapes of unreserved characters itself (url_d), so without this the
 * patterns would judge "%39..." while the wire carried "9...". */

#define CANON_MAX CH_SIP_URI_MAX

bool pol_sip_uri_ok(const char *uri)
{
	return ch_sip_uri_ok(uri);
}

static bool append(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (len >= cap - *n)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	return true;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_visual_sep(char c)
{
	return c == '-' || c == '.' || c == '(' || c == ')';
}

/* Canonicalise the escapes of s[0..len) into out: an escape of an unreserved
 * character becomes that character; "%23" ('#') is kept, in upper case, when
 * keep_hash; any other escape is POL_XLATE_BAD_ESCAPE and a '%' not followed
 * by two hex digits POL_XLATE_BAD_URI. fold lower-cases the result. */
static enum pol_xlate_verdict canon_escapes(const char *s, size_t len, bool keep_hash, bool fold, char *out, size_t cap,
					    size_t *n)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = len - i < 3 ? -1 : ch_hex_value((unsigned char)s[i + 1]);
			int lo = len - i < 3 ? -1 : ch_hex_value((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return POL_XLATE_BAD_URI;
			unsigned char d = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (d == '#' && keep_hash) {
				if (!append(out, cap, n, "%23", 3))
					return POL_XLATE_TOO_LONG;
				continue;
			}
			if (!ch_sip_unreserved(d))
				return POL_XLATE_BAD_ESCAPE;
			c = (char)d;
		}
		if (fold)
			c = lower(c);
		if (!append(out, cap, n, &c, 1))
			return POL_XLATE_TOO_LONG;
	}
	return POL_XLATE_OK;
}

/* True when p[0..len) with the visual separators removed is +? then one or
 * more of 0-9 * # ("%23"), with at least one digit. */
static bool telephone_number(const char *p, size_t len)
{
	bool digit = false;
	bool first = true;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (is_visual_sep(c))
			continue;
		if (c == '+' && first) {
			first = false;
			continue;
		}
		first = false;
		if (c >= '0' && c <= '9') {
			digit = true;
			continue;
		}
		if (c == '*')
			continue;
		if (c == '%' && len - i >= 3 && p[i + 1] == '2' && p[i + 2] == '3') {
			i += 2;
			continue;
		}
		return false;
	}
	return digit;
}

/* ---- the parts, in the order they are judged ----------------------------- */

struct canon_param {
	size_t off, len; /* in the canonical parameter buffer, without the ';' */
	size_t nlen;     /* name length */
};

/* The parameters, canonicalised. Each takes at least two bytes (";x"). */
struct canon_params {
	char buf[CANON_MAX + 1];
	size_t n;
	struct canon_param p[CANON_MAX / 2];
	size_t count;
	bool user_phone; /* user=phone: the user part reads as a number */
};

/* One parameter q[0..len) (without its ';') appended to cp. */
static enum pol_xlate_verdict canon_param(const char *q, size_t len, struct canon_params *cp)
{
	const char *eq = memchr(q, '=', len);
	struct canon_param *p = &cp->p[cp->count];
	p->off = cp->n;
	enum pol_xlate_verdict v =
	    canon_escapes(q, eq ? (size_t)(eq - q) : len, false, true, cp->buf, sizeof(cp->buf), &cp->n);
	if (v)
		return v;
	p->nlen = cp->n - p->off;
	if (eq) {
		if (!append(cp->buf, sizeof(cp->buf), &cp->n, "=", 1))
			return POL_XLATE_TOO_LONG;
		v = canon_escapes(eq + 1, len - (size_t)(eq - q) - 1, false, true, cp->buf, sizeof(cp->buf), &cp->n);
		if (v)
			return v;
	}
	p->len = cp->n - p->off;
	/* ";user=phone;user=ip": which one a peer honours is a guess */
	for (size_t k = 0; k < cp->count; k++) {
		if (cp->p[k].nlen == p->nlen && memcmp(cp->buf + cp->p[k].off, cp->buf + p->off, p->nlen) == 0)
			return POL_XLATE_BAD_URI;
	}
	if (p->len == 10 && memcmp(cp->buf + p->off, "user=phone", 10) == 0)
		cp->user_phone = true;
	cp->count++;
	return POL_XLATE_OK;
}

/* The parameters go first: user=phone decides how the user part reads. */
static enum pol_xlate_verdict canon_params(const struct ch_sip_uri_parts *u, struct canon_params *cp)
{
	cp->n = 0;
	cp->count = 0;
	cp->user_phone = false;
	/* no parameters: params is NULL, and NULL + 0 is undefined in C */
	const char *end = u->params ? u->params + u->params_len : NULL;
	for (const char *q = u->params; q && q < end;) {
		q++; /* the ';' */
		const char *next = memchr(q, ';', (size_t)(end - q));
		const char *qend = next ? next : end;
		enum pol_xlate_verdict v = canon_param(q, (size_t)(qend - q), cp);
		if (v)
			return v;
		q = qend;
	}
	return POL_XLATE_OK;
}

/* The user part up to its first ';' loses its visual separators when it is
 * a telephone number (or user=phone says it is one). */
static enum pol_xlate_verdict canon_number(char *ubuf, size_t *un, bool user_phone)
{
	const char *usemi = memchr(ubuf, ';', *un);
	size_t numlen = usemi ? (size_t)(usemi - ubuf) : *un;
	if (!user_phone && !telephone_number(ubuf, numlen))
		return POL_XLATE_OK;
	size_t kept = 0;
	for (size_t i = 0; i < numlen; i++) {
		if (!is_visual_sep(ubuf[i]))
			ubuf[kept++] = ubuf[i];
	}
	if (kept == 0)
		return POL_XLATE_BAD_URI;
	memmove(ubuf + kept, ubuf + numlen, *un - numlen);
	*un -= numlen - kept;
	return POL_XLATE_OK;
}

/* user[:password]@ */
static enum pol_xlate_verdict canon_userinfo(const struct ch_sip_uri_parts *u, bool user_phone, char *buf, size_t cap,
					     size_t *n)
{
	char ubuf[CANON_MAX + 1];
	size_t un = 0;
	enum pol_xlate_verdict v = canon_escapes(u->user, u->user_len, true, false, ubuf, sizeof(ubuf), &un);
	if (v)
		return v;
	v = canon_number(ubuf, &un, user_phone);
	if (v)
		return v;
	if (!append(buf, cap, n, ubuf, un))
		return POL_XLATE_TOO_LONG;
	if (u->password) {
		if (!append(buf, cap, n, ":", 1))
			return POL_XLATE_TOO_LONG;
		v = canon_escapes(u->password, u->password_len, false, false, buf, cap, n);
		if (v)
			return v;
	}
	if (!append(buf, cap, n, "@", 1))
		return POL_XLATE_TOO_LONG;
	return POL_XLATE_OK;
}

static enum pol_xlate_verdict canon_host(const char *s, size_t len, char *out, size_t cap, size_t *n)
{
	if (s[0] == '[') {
		char tmp[INET6_ADDRSTRLEN];
		unsigned char a[16];
		if (len - 2 >= sizeof(tmp))
			return POL_XLATE_BAD_URI;
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, a) != 1 || !inet_ntop(AF_INET6, a, tmp, sizeof(tmp)))
			return POL_XLATE_BAD_URI;
		if (!append(out, cap, n, "[", 1) || !append(out, cap, n, tmp, strlen(tmp)) ||
		    !append(out, cap, n, "]", 1))
			return POL_XLATE_TOO_LONG;
		return POL_XLATE_OK;
	}
	/* "pbx." and "pbx" may resolve differently (search domains); "010.0.0.1"
	 * is 8.0.0.1 to inet_aton: neither is guessed */
	if (s[len - 1] == '.')
		return POL_XLATE_BAD_URI;
	for (size_t i = 0; i < len; i++) {
		bool start = i == 0 || s[i - 1] == '.';
		if (start && s[i] == '0' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') {
			/* a leading zero in an all-numeric label */
			size_t k = i;
			while (k < len && s[k] != '.' && s[k] >= '0' && s[k] <= '9')
				k++;
			if (k == len || s[k] == '.')
				return POL_XLATE_BAD_URI;
		}
		char c = lower(s[i]);
		if (!append(out, cap, n, &c, 1))
			return POL_XLATE_TOO_LONG;
	}
	return POL_XLATE_OK;
}

/* host[:port], the port in plain decimal */
static enum pol_xlate_verdict canon_hostport(const struct ch_sip_uri_parts *u, char *buf, size_t cap, size_t *n)
{
	enum pol_xlate_verdict v = canon_host(u->host, u->host_len, buf, cap, n);
	if (v)
		return v;
	if (!u->port)
		return POL_XLATE_OK;
	int64_t port;
	char pt[8];
	if (ch_parse_i64(u->port, u->port_len, 1, 65535, &port) != 0 || ch_fmt(pt, sizeof(pt), ":%d", (int)port) != 0)
		return POL_XLATE_BAD_URI;
	if (!append(buf, cap, n, pt, strlen(pt)))
		return POL_XLATE_TOO_LONG;
	return POL_XLATE_OK;
}

enum pol_xlate_verdict pol_sip_uri_canon(const char *uri, char *out, size_t cap)
{
	if (!out || cap == 0)
		return POL_XLATE_BAD_INPUT;
	struct ch_sip_uri_parts u;
	if (!ch_sip_uri_parse(uri, &u))
		return POL_XLATE_BAD_URI;
	struct canon_params prm;
	enum pol_xlate_verdict v = canon_params(&u, &prm);
	if (v)
		return v;
	char buf[CANON_MAX + 1];
	size_t n = 0;
	if (!append(buf, sizeof(buf), &n, u.sips ? "sips:" : "sip:", u.sips ? 5 : 4))
		return POL_XLATE_TOO_LONG;
	if (u.user && (v = canon_userinfo(&u, prm.user_phone, buf, sizeof(buf), &n)) != POL_XLATE_OK)
		return v;
	v = canon_hostport(&u, buf, sizeof(buf), &n);
	if (v)
		return v;
	for (size_t k = 0; k < prm.count; k++) {
		if (!append(buf, sizeof(buf), &n, ";", 1) ||
		    !append(buf, sizeof(buf), &n, prm.buf + prm.p[k].off, prm.p[k].len))
			return POL_XLATE_TOO_LONG;
	}
	if (n >= cap)
		return POL_XLATE_TOO_LONG;
	memcpy(out, buf, n);
	out[n] = '\0';
	return POL_XLATE_OK;
}

int pol_sip_uri_limit_key(const char *uri, char *out, size_t cap)
{
	if (!uri || !out || cap == 0)
		return EINVAL;
	char canon[CANON_MAX + 1];
	struct ch_sip_uri_parts u;
	if (pol_sip_uri_canon(uri, canon, sizeof(canon)) != POL_XLATE_OK || strcmp(canon, uri) != 0 ||
	    !ch_sip_uri_parse(uri, &u))
		return EINVAL;
	/* the password does not choose the phone, nor do the port and parameters */
	size_t ulen = u.user ? u.user_len + 1 : 0;
	size_t n = ulen + u.host_len;
	if (n >= cap)
		return ENOSPC;
	if (u.user) {
		memcpy(out, u.user, u.user_len);
		out[u.user_len] = '@';
	}
	memcpy(out + ulen, u.host, u.host_len);
	out[n] = '\0';
	return 0;
}
