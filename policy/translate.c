/* policy/translate.c: the originator's address translation rules (PCRE2) and destination allow / deny patterns. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "policy/policy.h"

#include "common/common.h"
#include "common/sip_uri.h"

#include <errno.h>
#include <stdarg.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void set_err(struct pol_error *err, enum pol_list list, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_err(struct pol_error *err, enum pol_list list, size_t index, const char *fmt, ...)
{
	if (!err)
		return;
	err->list = list;
	err->index = index;
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	(void)r; /* a truncated message is still a message */
}

static pcre2_code *compile_one(const char *pat, enum pol_list list, size_t idx, struct pol_error *err)
{
	if (!pat) {
		set_err(err, list, idx, "missing pattern");
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
		set_err(err, list, idx, "%s at offset %zu", (const char *)msg, (size_t)off);
	}
	return re;
}

/* Check a template against its pattern's group count. 0 or EINVAL. */
static int check_template(const char *t, uint32_t ngroups, size_t idx, struct pol_error *err)
{
	for (size_t i = 0; t[i]; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c < 0x20 || c == 0x7f) {
			set_err(err, POL_LIST_OUTPUT, idx, "control character");
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
			set_err(err, POL_LIST_OUTPUT, idx,
				"'$' must be followed by 1..9 or '$' (\"$$\" is a literal '$')");
			return EINVAL;
		}
		if ((uint32_t)(n - '0') > ngroups) {
			set_err(err, POL_LIST_OUTPUT, idx,
				"$%c refers to a group the pattern does not have (it has %u)", n, ngroups);
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

/* Rule i: its pattern, then its template against the pattern's groups.
 * 0, EINVAL or ENOMEM; x->nrules counts the compiled patterns. */
static int compile_rule(struct pol_xlate *x, const struct pol_xlate_spec *spec, size_t i, struct pol_error *err)
{
	x->rules[i].re = compile_one(spec->patterns[i], POL_LIST_PATTERN, i, err);
	if (!x->rules[i].re)
		return EINVAL;
	x->nrules = i + 1;
	if (!spec->outputs[i]) {
		set_err(err, POL_LIST_OUTPUT, i, "missing");
		return EINVAL;
	}
	uint32_t ng = 0;
	if (pcre2_pattern_info(x->rules[i].re, PCRE2_INFO_CAPTURECOUNT, &ng) != 0)
		ng = 0;
	if (check_template(spec->outputs[i], ng, i, err) != 0)
		return EINVAL;
	x->rules[i].output = strdup(spec->outputs[i]);
	return x->rules[i].output ? 0 : ENOMEM;
}

/* n patterns into a new array in *codes, *count of them compiled so far (so
 * pol_xlate_free frees exactly those). 0, EINVAL or ENOMEM. */
static int compile_list(pcre2_code ***codes, size_t *count, const char *const *pats, size_t n, enum pol_list list,
			struct pol_error *err)
{
	if (n == 0)
		return 0;
	*codes = calloc(n, sizeof(**codes));
	if (!*codes)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*codes)[i] = compile_one(pats[i], list, i, err);
		if (!(*codes)[i])
			return EINVAL;
		*count = i + 1;
	}
	return 0;
}

static struct pol_xlate *xlate_new(size_t nrules)
{
	struct pol_xlate *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->mctx = pcre2_match_context_create(NULL);
	if (nrules)
		x->rules = calloc(nrules, sizeof(*x->rules));
	if (!x->mctx || (nrules && !x->rules)) {
		pol_xlate_free(x);
		return NULL;
	}
	pcre2_set_match_limit(x->mctx, XLATE_MATCH_LIMIT);
	pcre2_set_depth_limit(x->mctx, XLATE_DEPTH_LIMIT);
	pcre2_set_heap_limit(x->mctx, XLATE_HEAP_LIMIT_KIB);
	return x;
}

int pol_xlate_compile(const struct pol_xlate_spec *spec, struct pol_xlate **out, struct pol_error *err)
{
	int rc = ENOMEM;
	struct pol_xlate *x = xlate_new(spec->n);
	if (!x)
		goto out;
	x->has_allow = spec->has_allow;
	for (size_t i = 0; i < spec->n; i++) {
		rc = compile_rule(x, spec, i, err);
		if (rc)
			goto out;
	}
	rc = compile_list(&x->allow, &x->nallow, spec->allow, spec->has_allow ? spec->nallow : 0, POL_LIST_ALLOW, err);
	if (rc)
		goto out;
	rc = compile_list(&x->deny, &x->ndeny, spec->deny, spec->ndeny, POL_LIST_DENY, err);
	if (rc)
		goto out;
	*out = x;
	x = NULL;
out:
	if (rc == ENOMEM)
		set_err(err, POL_LIST_NONE, 0, "out of memory");
	pol_xlate_free(x);
	return rc;
}

int pol_error_path(const struct pol_error *err, const char *prefix, char *buf, size_t cap)
{
	const char *dot = prefix && *prefix ? "." : "";
	if (!prefix)
		prefix = "";
	switch (err->list) {
	case POL_LIST_NONE:
		return ch_fmt(buf, cap, "%s", prefix);
	case POL_LIST_PATTERN:
		return ch_fmt(buf, cap, "%s%stranslations.[%zu].pattern", prefix, dot, err->index);
	case POL_LIST_OUTPUT:
		return ch_fmt(buf, cap, "%s%stranslations.[%zu].output", prefix, dot, err->index);
	case POL_LIST_ALLOW:
		return ch_fmt(buf, cap, "%s%sdestinations.allow.[%zu]", prefix, dot, err->index);
	case POL_LIST_DENY:
		return ch_fmt(buf, cap, "%s%sdestinations.deny.[%zu]", prefix, dot, err->index);
	}
	return EINVAL;
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

static char upper(char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
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
		int hi = c == '%' && len - i >= 3 ? ch_hex_value((unsigned char)in[i + 1]) : -1;
		int lo = hi >= 0 ? ch_hex_value((unsigned char)in[i + 2]) : -1;
		if (lo >= 0) {
			unsigned char d = (unsigned char)(hi << 4 | lo);
			if (ch_sip_unreserved(d)) {
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

/* The expansion of a template, held in a buffer of room bytes but judged
 * against the caller's cap: a result that does not fit cap is
 * POL_XLATE_TOO_LONG at once, as it always was; one that fits cap but not
 * room is longer than any URI the grammar accepts (room is
 * CH_SIP_URI_MAX + 1), so it is only counted, and refused as
 * POL_XLATE_BAD_URI at the end, which is what the URI check would say. */
struct expansion {
	char *p;
	size_t room, cap, n;
	bool over;
};

static bool emit(struct expansion *e, const char *s, size_t len)
{
	if (len >= e->cap - e->n)
		return false;
	if (!e->over && len < e->room - e->n)
		memcpy(e->p + e->n, s, len);
	else
		e->over = true;
	e->n += len;
	return true;
}

/* Expand template t with the groups of the match in ov (npairs pairs) over
 * input into buf (room bytes): POL_XLATE_OK (buf NUL-terminated),
 * POL_XLATE_TOO_LONG (over cap), POL_XLATE_BAD_CAPTURE or POL_XLATE_BAD_URI. */
static enum pol_xlate_verdict expand_template(const char *t, const char *input, const PCRE2_SIZE *ov, uint32_t npairs,
					      char *buf, size_t room, size_t cap)
{
	struct expansion e = {.p = buf, .room = room, .cap = cap};
	for (size_t k = 0; t[k]; k++) {
		if (t[k] != '$' || t[k + 1] == '$') {
			if (t[k] == '$')
				k++; /* "$$" is one '$' */
			if (!emit(&e, t + k, 1))
				return POL_XLATE_TOO_LONG;
			continue;
		}
		k++;
		uint32_t g = (uint32_t)(t[k] - '0'); /* 1..9, checked at compile */
		if (g >= npairs || ov[2 * g] == PCRE2_UNSET)
			continue; /* group did not take part: nothing */
		size_t gs = ov[2 * g], ge = ov[2 * g + 1];
		if (ge < gs)
			continue; /* \K tricks can invert; insert nothing */
		if (!capture_ok(input + gs, ge - gs))
			return POL_XLATE_BAD_CAPTURE;
		if (!emit(&e, input + gs, ge - gs))
			return POL_XLATE_TOO_LONG;
	}
	if (e.over)
		return POL_XLATE_BAD_URI;
	buf[e.n] = '\0';
	return POL_XLATE_OK;
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
	if (!md)
		return POL_XLATE_LIMIT;
	for (size_t i = 0; i < x->nrules; i++) {
		int m = match(x->rules[i].re, input, len, md, x->mctx);
		if (m < 0) {
			v = POL_XLATE_LIMIT;
			break;
		}
		if (m == 0)
			continue;
		/* first match wins: expand its template */
		char buf[CH_SIP_URI_MAX + 1];
		v = expand_template(x->rules[i].output, input, pcre2_get_ovector_pointer(md),
				    pcre2_get_ovector_count(md), buf, sizeof(buf), cap);
		/* what goes on the wire, and all the allow / deny patterns and the
		 * limits ever see: the canonical form */
		if (v == POL_XLATE_OK)
			v = pol_sip_uri_canon(buf, out, cap);
		break;
	}
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
	char canon[CH_SIP_URI_MAX + 1];
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
