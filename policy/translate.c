/* policy/translate.c: the originator's address translation rules (PCRE2) and destination allow / deny patterns. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "policy/policy.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A pattern cannot take more than this many backtracking steps, this
 * recursion depth or this much heap (KiB) on one input: inputs are short,
 * so honest patterns stay far below. */
#define XLATE_MATCH_LIMIT    200000u
#define XLATE_DEPTH_LIMIT    2000u
#define XLATE_HEAP_LIMIT_KIB 2048u

struct xlate_rule {
	pcre2_code *re;
	char *output; /* validated template */
};

struct pol_xlate {
	struct xlate_rule *rules;
	size_t nrules;
	pcre2_code **allow;
	size_t nallow;
	bool has_allow;
	pcre2_code **deny;
	size_t ndeny;
	pcre2_match_context *mctx;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	(void)r; /* a truncated message is still a message */
}

static pcre2_code *compile_one(const char *pat, const char *what, size_t idx, char *err, size_t errlen)
{
	if (!pat) {
		set_err(err, errlen, "%s.[%zu]: missing pattern", what, idx);
		return NULL;
	}
	int ec = 0;
	PCRE2_SIZE off = 0;
	pcre2_code *re =
	    pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &ec, &off, NULL);
	if (!re) {
		PCRE2_UCHAR msg[200];
		if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			msg[0] = '\0';
		set_err(err, errlen, "%s.[%zu]: %s at offset %zu", what, idx, (const char *)msg, (size_t)off);
	}
	return re;
}

/* Check a template against its pattern's group count. 0 or EINVAL. */
static int check_template(const char *t, uint32_t ngroups, size_t idx, char *err, size_t errlen)
{
	for (size_t i = 0; t[i]; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c < 0x20 || c == 0x7f) {
			set_err(err, errlen, "translations.[%zu].output: control character", idx);
			return EINVAL;
		}
		if (c != '$')
			continue;
		char n = t[i + 1];
		if (n == '$') {
			i++;
			continue;
		}
		if (n < '1' || n > '9') {
			set_err(
			    err, errlen,
			    "translations.[%zu].output: '$' must be followed by 1..9 or '$' (\"$$\" is a literal '$')",
			    idx);
			return EINVAL;
		}
		if ((uint32_t)(n - '0') > ngroups) {
			set_err(
			    err, errlen,
			    "translations.[%zu].output: $%c refers to a group the pattern does not have (it has %u)",
			    idx, n, ngroups);
			return EINVAL;
		}
		i++;
	}
	return 0;
}

void pol_xlate_free(struct pol_xlate *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->nrules; i++) {
		pcre2_code_free(x->rules[i].re);
		free(x->rules[i].output);
	}
	free(x->rules);
	for (size_t i = 0; i < x->nallow; i++)
		pcre2_code_free(x->allow[i]);
	free(x->allow);
	for (size_t i = 0; i < x->ndeny; i++)
		pcre2_code_free(x->deny[i]);
	free(x->deny);
	pcre2_match_context_free(x->mctx);
	free(x);
}

int pol_xlate_compile(const char *const *patterns, const char *const *outputs, size_t n, const char *const *allow,
		      size_t nallow, bool has_allow, const char *const *deny, size_t ndeny, struct pol_xlate **out,
		      size_t *bad_index, char *err, size_t errlen)
{
	int rc = ENOMEM;
	size_t bad = 0;
	struct pol_xlate *x = calloc(1, sizeof(*x));
	if (!x)
		goto out;
	x->has_allow = has_allow;
	if (!has_allow)
		nallow = 0;
	x->mctx = pcre2_match_context_create(NULL);
	if (!x->mctx)
		goto out;
	pcre2_set_match_limit(x->mctx, XLATE_MATCH_LIMIT);
	pcre2_set_depth_limit(x->mctx, XLATE_DEPTH_LIMIT);
	pcre2_set_heap_limit(x->mctx, XLATE_HEAP_LIMIT_KIB);

	if (n) {
		x->rules = calloc(n, sizeof(*x->rules));
		if (!x->rules)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = EINVAL;
		bad = i;
		x->rules[i].re = compile_one(patterns[i], "translations", i, err, errlen);
		if (!x->rules[i].re) {
			/* compile_one named the list "translations.[i]"; say it is the pattern */
			char tmp[300];
			if (err && errlen && ch_fmt(tmp, sizeof(tmp), "%s", err) == 0) {
				const char *rest = strchr(tmp, ':');
				set_err(err, errlen, "translations.[%zu].pattern%s", i, rest ? rest : ": invalid");
			}
			goto out;
		}
		x->nrules = i + 1;
		if (!outputs[i]) {
			set_err(err, errlen, "translations.[%zu].output: missing", i);
			goto out;
		}
		uint32_t ng = 0;
		if (pcre2_pattern_info(x->rules[i].re, PCRE2_INFO_CAPTURECOUNT, &ng) != 0)
			ng = 0;
		if (check_template(outputs[i], ng, i, err, errlen) != 0)
			goto out;
		rc = ENOMEM;
		x->rules[i].output = strdup(outputs[i]);
		if (!x->rules[i].output)
			goto out;
	}
	if (nallow) {
		x->allow = calloc(nallow, sizeof(*x->allow));
		if (!x->allow)
			goto out;
	}
	for (size_t i = 0; i < nallow; i++) {
		rc = EINVAL;
		bad = i;
		x->allow[i] = compile_one(allow[i], "destinations.allow", i, err, errlen);
		if (!x->allow[i])
			goto out;
		x->nallow = i + 1;
	}
	if (ndeny) {
		rc = ENOMEM;
		x->deny = calloc(ndeny, sizeof(*x->deny));
		if (!x->deny)
			goto out;
	}
	for (size_t i = 0; i < ndeny; i++) {
		rc = EINVAL;
		bad = i;
		x->deny[i] = compile_one(deny[i], "destinations.deny", i, err, errlen);
		if (!x->deny[i])
			goto out;
		x->ndeny = i + 1;
	}
	*out = x;
	x = NULL;
	rc = 0;
out:
	if (rc == ENOMEM)
		set_err(err, errlen, "out of memory");
	if (rc != 0 && bad_index)
		*bad_index = bad;
	pol_xlate_free(x);
	return rc;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF), no C0/C1
 * control characters, no DEL. */
static bool input_ok(const char *s, size_t len)
{
	return ch_utf8_valid(s, len) && !ch_has_control(s, len);
}

static bool capture_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
		switch (c) {
		case ';':
		case '?':
		case '<':
		case '>':
		case '"':
		case ',':
			return false;
		default:
			break;
		}
	}
	return true;
}

/* ---- SIP URI syntax (RFC 3261 section 25.1, headers excluded) ---------- */

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_unreserved(unsigned char c)
{
	return is_alnum(c) || (c && strchr("-_.!~*'()", c) != NULL);
}

/* Accept s[0..len) where each byte is unreserved, in extra, or a %HH escape. */
static bool span_ok(const char *s, size_t len, const char *extra, bool allow_empty)
{
	if (len == 0)
		return allow_empty;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= len || !is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2]))
				return false;
			i += 2;
			continue;
		}
		if (is_unreserved(c) || (c && strchr(extra, c)))
			continue;
		return false;
	}
	return true;
}

static bool ipv4_ok(const char *s, size_t len)
{
	int parts = 0;
	size_t i = 0;
	while (i <= len) {
		size_t start = i;
		unsigned v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (unsigned)(s[i] - '0');
			if (i - start >= 3 || v > 255)
				return false;
			i++;
		}
		if (i == start)
			return false;
		parts++;
		if (i == len)
			break;
		if (s[i] != '.')
			return false;
		i++;
	}
	return parts == 4;
}

static bool hostname_ok(const char *s, size_t len)
{
	/* a single trailing dot is allowed by the grammar */
	if (len && s[len - 1] == '.')
		len--;
	if (len == 0)
		return false;
	size_t label = 0;
	unsigned char first_of_last = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			size_t llen = i - label;
			if (llen == 0 || llen > 63)
				return false;
			if (s[label] == '-' || s[i - 1] == '-')
				return false;
			first_of_last = (unsigned char)s[label];
			label = i + 1;
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '-')
			return false;
	}
	/* toplabel = ALPHA ... */
	return (first_of_last >= 'a' && first_of_last <= 'z') || (first_of_last >= 'A' && first_of_last <= 'Z');
}

static bool host_ok(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	if (s[0] == '[') {
		if (len < 4 || s[len - 1] != ']' || len - 2 >= INET6_ADDRSTRLEN)
			return false;
		char tmp[INET6_ADDRSTRLEN];
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		unsigned char a[16];
		return inet_pton(AF_INET6, tmp, a) == 1;
	}
	bool numeric = true;
	for (size_t i = 0; i < len; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			numeric = false;
	}
	return numeric ? ipv4_ok(s, len) : hostname_ok(s, len);
}

bool pol_sip_uri_ok(const char *uri)
{
	if (!uri)
		return false;
	size_t len = strlen(uri);
	if (len > 2048)
		return false;
	const char *p;
	if (strncasecmp(uri, "sip:", 4) == 0)
		p = uri + 4;
	else if (strncasecmp(uri, "sips:", 5) == 0)
		p = uri + 5;
	else
		return false;
	const char *end = uri + len;
	if (strchr(p, '?'))
		return false; /* headers: never */

	const char *at = strchr(p, '@');
	if (at) {
		if (strchr(at + 1, '@'))
			return false;
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *uend = colon ? colon : at;
		if (!span_ok(p, (size_t)(uend - p), "&=+$,;/", false))
			return false;
		if (colon && !span_ok(colon + 1, (size_t)(at - colon - 1), "&=+$,", true))
			return false;
		p = at + 1;
	}

	/* hostport runs to the first ';' (no ';' in a host or port) */
	const char *semi = strchr(p, ';');
	const char *hpend = semi ? semi : end;
	const char *hend = hpend;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(hpend - p));
		if (!rb)
			return false;
		hend = rb + 1;
	} else {
		const char *c = memchr(p, ':', (size_t)(hpend - p));
		if (c)
			hend = c;
	}
	if (!host_ok(p, (size_t)(hend - p)))
		return false;
	if (hend < hpend) {
		if (*hend != ':')
			return false;
		int64_t port;
		if (ch_parse_i64(hend + 1, (size_t)(hpend - hend - 1), 1, 65535, &port) != 0)
			return false;
	}

	/* uri-parameters: *( ";" pname [ "=" pvalue ] ) */
	p = hpend;
	while (p < end) {
		if (*p != ';')
			return false;
		p++;
		const char *next = strchr(p, ';');
		const char *pend = next ? next : end;
		const char *eq = memchr(p, '=', (size_t)(pend - p));
		const char *nend = eq ? eq : pend;
		if (!span_ok(p, (size_t)(nend - p), "[]/:&+$", false))
			return false;
		if (eq && !span_ok(eq + 1, (size_t)(pend - eq - 1), "[]/:&+$", false))
			return false;
		p = pend;
	}
	return true;
}

/* ---- matching ------------------------------------------------------------ */

/* 1 matched, 0 no match, -1 limit or error. md is reused by the caller. */
static int match(const pcre2_code *re, const char *s, size_t len, pcre2_match_data *md, pcre2_match_context *mctx)
{
	int r = pcre2_match(re, (PCRE2_SPTR)s, len, 0, PCRE2_NO_UTF_CHECK, md, mctx);
	if (r >= 0)
		return 1;
	if (r == PCRE2_ERROR_NOMATCH)
		return 0;
	return -1;
}

static bool append(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (len >= cap - *n)
		return false;
	memcpy(out + *n, s, len);
	*n += len;
	return true;
}

/* ---- canonical form ------------------------------------------------------ */

/* Every SIP URI the rules produce is rewritten to one spelling before the
 * allow / deny patterns and the limits see it, and that spelling is what
 * the SIP engine is given (see policy.h for the rules). Sofia-SIP decodes
 * escapes of unreserved characters itself (url_d), so without this the
 * patterns would judge "%39..." while the wire carried "9...". */

#define CANON_MAX 2048 /* pol_sip_uri_ok's cap */

static unsigned hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return (unsigned)(c - 'A' + 10);
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
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
			if (len - i < 3 || !is_hex((unsigned char)s[i + 1]) || !is_hex((unsigned char)s[i + 2]))
				return POL_XLATE_BAD_URI;
			unsigned char d =
			    (unsigned char)(hexval((unsigned char)s[i + 1]) << 4 | hexval((unsigned char)s[i + 2]));
			i += 2;
			if (d == '#' && keep_hash) {
				if (!append(out, cap, n, "%23", 3))
					return POL_XLATE_TOO_LONG;
				continue;
			}
			if (!is_unreserved(d))
				return POL_XLATE_BAD_ESCAPE;
			c = (char)d;
		}
		if (fold)
			c = lower(c);
		if (!append(out, cap, n, &c, 1))
			return POL_XLATE_TOO_LONG;
	}
	return 0;
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
		return 0;
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
	return 0;
}

struct canon_param {
	size_t off, len; /* in the canonical parameter buffer, without the ';' */
	size_t nlen;     /* name length */
};

enum pol_xlate_verdict pol_sip_uri_canon(const char *uri, char *out, size_t cap)
{
	if (!out || cap == 0)
		return POL_XLATE_BAD_INPUT;
	if (!pol_sip_uri_ok(uri))
		return POL_XLATE_BAD_URI;
	enum pol_xlate_verdict v = POL_XLATE_OK;
	size_t len = strlen(uri);
	const char *end = uri + len;
	bool sips = lower(uri[3]) == 's';
	const char *p = uri + (sips ? 5 : 4);

	/* the parameters first: user=phone decides how the user part reads */
	char pbuf[CANON_MAX + 1];
	size_t pn = 0;
	struct canon_param prm[CANON_MAX / 2];
	size_t nprm = 0;
	bool user_phone = false;
	const char *at = strchr(p, '@');
	const char *hp = at ? at + 1 : p;
	const char *semi = strchr(hp, ';');
	const char *hpend = semi ? semi : end;
	for (const char *q = hpend; q < end;) {
		q++; /* the ';' */
		const char *next = strchr(q, ';');
		const char *qend = next ? next : end;
		const char *eq = memchr(q, '=', (size_t)(qend - q));
		struct canon_param *cp = &prm[nprm];
		cp->off = pn;
		v = canon_escapes(q, (size_t)((eq ? eq : qend) - q), false, true, pbuf, sizeof(pbuf), &pn);
		if (v)
			return v;
		cp->nlen = pn - cp->off;
		if (eq) {
			if (!append(pbuf, sizeof(pbuf), &pn, "=", 1))
				return POL_XLATE_TOO_LONG;
			v = canon_escapes(eq + 1, (size_t)(qend - eq - 1), false, true, pbuf, sizeof(pbuf), &pn);
			if (v)
				return v;
		}
		cp->len = pn - cp->off;
		/* ";user=phone;user=ip": which one a peer honours is a guess */
		for (size_t k = 0; k < nprm; k++) {
			if (prm[k].nlen == cp->nlen && memcmp(pbuf + prm[k].off, pbuf + cp->off, cp->nlen) == 0)
				return POL_XLATE_BAD_URI;
		}
		if (cp->len == 10 && memcmp(pbuf + cp->off, "user=phone", 10) == 0)
			user_phone = true;
		nprm++;
		q = qend;
	}

	char buf[CANON_MAX + 1];
	size_t n = 0;
	if (!append(buf, sizeof(buf), &n, sips ? "sips:" : "sip:", sips ? 5 : 4))
		return POL_XLATE_TOO_LONG;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *uend = colon ? colon : at;
		char ubuf[CANON_MAX + 1];
		size_t un = 0;
		v = canon_escapes(p, (size_t)(uend - p), true, false, ubuf, sizeof(ubuf), &un);
		if (v)
			return v;
		/* the number is the part before any ";isub=", ";ext=" ... */
		const char *usemi = memchr(ubuf, ';', un);
		size_t numlen = usemi ? (size_t)(usemi - ubuf) : un;
		if (user_phone || telephone_number(ubuf, numlen)) {
			size_t kept = 0;
			for (size_t i = 0; i < numlen; i++) {
				if (!is_visual_sep(ubuf[i]))
					ubuf[kept++] = ubuf[i];
			}
			if (kept == 0)
				return POL_XLATE_BAD_URI;
			memmove(ubuf + kept, ubuf + numlen, un - numlen);
			un -= numlen - kept;
		}
		if (!append(buf, sizeof(buf), &n, ubuf, un))
			return POL_XLATE_TOO_LONG;
		if (colon) {
			if (!append(buf, sizeof(buf), &n, ":", 1))
				return POL_XLATE_TOO_LONG;
			v = canon_escapes(colon + 1, (size_t)(at - colon - 1), false, false, buf, sizeof(buf), &n);
			if (v)
				return v;
		}
		if (!append(buf, sizeof(buf), &n, "@", 1))
			return POL_XLATE_TOO_LONG;
	}

	/* host[:port], split as pol_sip_uri_ok did */
	const char *hend = hpend;
	if (*hp == '[') {
		hend = (const char *)memchr(hp, ']', (size_t)(hpend - hp)) + 1;
	} else {
		const char *c = memchr(hp, ':', (size_t)(hpend - hp));
		if (c)
			hend = c;
	}
	v = canon_host(hp, (size_t)(hend - hp), buf, sizeof(buf), &n);
	if (v)
		return v;
	if (hend < hpend) {
		int64_t port;
		char pt[8];
		if (ch_parse_i64(hend + 1, (size_t)(hpend - hend - 1), 1, 65535, &port) != 0 ||
		    ch_fmt(pt, sizeof(pt), ":%d", (int)port) != 0)
			return POL_XLATE_BAD_URI;
		if (!append(buf, sizeof(buf), &n, pt, strlen(pt)))
			return POL_XLATE_TOO_LONG;
	}
	for (size_t k = 0; k < nprm; k++) {
		if (!append(buf, sizeof(buf), &n, ";", 1) ||
		    !append(buf, sizeof(buf), &n, pbuf + prm[k].off, prm[k].len))
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
	if (pol_sip_uri_canon(uri, canon, sizeof(canon)) != POL_XLATE_OK || strcmp(canon, uri) != 0)
		return EINVAL;
	const char *p = strchr(canon, ':') + 1; /* past the scheme */
	const char *at = strchr(p, '@');
	const char *user_end = at;
	const char *host = p;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (colon)
			user_end = colon; /* the password does not choose the phone */
		host = at + 1;
	}
	const char *host_end = host[0] == '[' ? strchr(host, ']') + 1 : host + strcspn(host, ":;");
	size_t ulen = at ? (size_t)(user_end - p) : 0;
	size_t hlen = (size_t)(host_end - host);
	size_t n = ulen + (at ? 1 : 0) + hlen;
	if (n >= cap)
		return ENOSPC;
	memcpy(out, p, ulen);
	if (at)
		out[ulen] = '@';
	memcpy(out + ulen + (at ? 1 : 0), host, hlen);
	out[n] = '\0';
	return 0;
}

/* The translation's input gets the same escape decoding before the patterns
 * see it, so a rule reads "9001234567" however it was spelt. Escapes that
 * cannot be decoded are only upper-cased here: if a rule copies one into
 * the URI, pol_sip_uri_canon refuses it there. */
static void canon_input(const char *in, size_t len, char *out, size_t *outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%' && len - i >= 3 && is_hex((unsigned char)in[i + 1]) && is_hex((unsigned char)in[i + 2])) {
			unsigned char d =
			    (unsigned char)(hexval((unsigned char)in[i + 1]) << 4 | hexval((unsigned char)in[i + 2]));
			if (is_unreserved(d)) {
				out[n++] = (char)d;
			} else {
				out[n++] = '%';
				out[n++] = upper(in[i + 1]);
				out[n++] = upper(in[i + 2]);
			}
			i += 2;
			continue;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	*outlen = n;
}

enum pol_xlate_verdict pol_xlate_translate(const struct pol_xlate *x, const char *input, char *out, size_t cap)
{
	if (!x || !input || !out || cap == 0)
		return POL_XLATE_BAD_INPUT;
	size_t len = strnlen(input, POL_XLATE_INPUT_MAX + 1);
	if (len == 0 || len > POL_XLATE_INPUT_MAX || !input_ok(input, len))
		return POL_XLATE_BAD_INPUT;

	char cin[POL_XLATE_INPUT_MAX + 1];
	canon_input(input, len, cin, &len);
	input = cin;

	enum pol_xlate_verdict v = POL_XLATE_NO_RULE;
	pcre2_match_data *md = pcre2_match_data_create(10, NULL);
	char *buf = NULL;
	if (!md)
		return POL_XLATE_LIMIT;
	for (size_t i = 0; i < x->nrules; i++) {
		int m = match(x->rules[i].re, input, len, md, x->mctx);
		if (m < 0) {
			v = POL_XLATE_LIMIT;
			goto out;
		}
		if (m == 0)
			continue;
		/* first match wins: expand its template */
		uint32_t npairs = pcre2_get_ovector_count(md);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		buf = malloc(cap);
		if (!buf) {
			v = POL_XLATE_LIMIT;
			goto out;
		}
		size_t n = 0;
		const char *t = x->rules[i].output;
		for (size_t k = 0; t[k]; k++) {
			if (t[k] != '$') {
				if (!append(buf, cap, &n, t + k, 1)) {
					v = POL_XLATE_TOO_LONG;
					goto out;
				}
				continue;
			}
			k++;
			if (t[k] == '$') {
				if (!append(buf, cap, &n, "$", 1)) {
					v = POL_XLATE_TOO_LONG;
					goto out;
				}
				continue;
			}
			uint32_t g = (uint32_t)(t[k] - '0'); /* 1..9, checked at compile */
			if (g >= npairs || ov[2 * g] == PCRE2_UNSET)
				continue; /* group did not take part: nothing */
			size_t gs = ov[2 * g], ge = ov[2 * g + 1];
			if (ge < gs)
				continue; /* \K tricks can invert; insert nothing */
			if (!capture_ok(input + gs, ge - gs)) {
				v = POL_XLATE_BAD_CAPTURE;
				goto out;
			}
			if (!append(buf, cap, &n, input + gs, ge - gs)) {
				v = POL_XLATE_TOO_LONG;
				goto out;
			}
		}
		buf[n] = '\0';
		/* what goes on the wire, and all the allow / deny patterns and the
		 * limits ever see: the canonical form */
		v = pol_sip_uri_canon(buf, out, cap);
		goto out;
	}
out:
	free(buf);
	pcre2_match_data_free(md);
	return v;
}

enum pol_xlate_verdict pol_xlate_check(const struct pol_xlate *x, const char *uri)
{
	if (!x || !uri)
		return POL_XLATE_BAD_INPUT;
	size_t len = strlen(uri);
	if (!input_ok(uri, len))
		return POL_XLATE_BAD_INPUT;
	/* judge only a URI that is already canonical, so that the string judged
	 * is the string the caller goes on to use */
	char canon[CANON_MAX + 1];
	enum pol_xlate_verdict v = pol_sip_uri_canon(uri, canon, sizeof(canon));
	if (v != POL_XLATE_OK)
		return v;
	if (strcmp(canon, uri) != 0)
		return POL_XLATE_BAD_URI;
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		return POL_XLATE_LIMIT;
	for (size_t i = 0; i < x->ndeny; i++) {
		int m = match(x->deny[i], uri, len, md, x->mctx);
		if (m != 0) {
			v = m < 0 ? POL_XLATE_LIMIT : POL_XLATE_DENIED;
			goto out;
		}
	}
	if (x->has_allow) {
		v = POL_XLATE_NOT_ALLOWED;
		for (size_t i = 0; i < x->nallow; i++) {
			int m = match(x->allow[i], uri, len, md, x->mctx);
			if (m < 0) {
				v = POL_XLATE_LIMIT;
				goto out;
			}
			if (m > 0) {
				v = POL_XLATE_OK;
				break;
			}
		}
	}
out:
	pcre2_match_data_free(md);
	return v;
}

enum pol_xlate_verdict pol_xlate_apply(const struct pol_xlate *x, const char *input, char *out, size_t cap)
{
	char buf[POL_XLATE_INPUT_MAX + 1 > 1024 ? POL_XLATE_INPUT_MAX + 1 : 1024];
	size_t bcap = cap < sizeof(buf) ? cap : sizeof(buf);
	if (!out || cap == 0)
		return POL_XLATE_BAD_INPUT;
	enum pol_xlate_verdict v = pol_xlate_translate(x, input, buf, bcap);
	if (v != POL_XLATE_OK)
		return v;
	v = pol_xlate_check(x, buf);
	if (v != POL_XLATE_OK)
		return v;
	memcpy(out, buf, strlen(buf) + 1);
	return POL_XLATE_OK;
}

const char *pol_xlate_reason(enum pol_xlate_verdict v)
{
	switch (v) {
	case POL_XLATE_OK:
		return "ok";
	case POL_XLATE_BAD_INPUT:
		return "invalid address (empty, too long, or not printable UTF-8)";
	case POL_XLATE_NO_RULE:
		return "no translation rule matches";
	case POL_XLATE_BAD_CAPTURE:
		return "address contains a character not allowed in a translated part";
	case POL_XLATE_BAD_URI:
		return "translation does not give a valid SIP URI";
	case POL_XLATE_BAD_ESCAPE:
		return "address contains a %-escape that is not accepted (only escapes of unreserved characters, "
		       "and %23 in the user part)";
	case POL_XLATE_TOO_LONG:
		return "translated URI too long";
	case POL_XLATE_LIMIT:
		return "address too complex to match";
	case POL_XLATE_DENIED:
		return "destination denied by policy";
	case POL_XLATE_NOT_ALLOWED:
		return "destination not in the allowed list";
	}
	return "unknown";
}
