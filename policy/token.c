/* policy/token.c: checking the HS256 JWT a site's backend mints for a visitor (custom.token). */
#include "policy/policy.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <jwt.h>
#include <limits.h>
#include <string.h>

/* Longest token accepted, in bytes. A token with the claims we use is a few
 * hundred bytes; the cap bounds every decode below. */
#define TOKEN_MAX 4096
/* base64url of a 32-byte HMAC-SHA256, unpadded */
#define HS256_SIG_B64_LEN 43
#define SECRET_MIN        32

static bool is_b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Unpadded base64url (RFC 7515 section 2). A length of 1 mod 4 cannot
 * encode anything. */
static bool is_b64url(const char *s, size_t len)
{
	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_b64url_char(s[i]))
			return false;
	return true;
}

/* Decode one base64url segment (already checked by is_b64url, len > 0) and
 * parse it as a JSON object, duplicates refused so that we and libjwt cannot
 * read different values for the same key. New reference or NULL. */
static json_t *segment_json(const char *s, size_t len)
{
	/* the standard alphabet with padding is what gnutls decodes */
	char std[TOKEN_MAX + 4];
	size_t n = 0;
	if (len > TOKEN_MAX)
		return NULL;
	for (size_t i = 0; i < len; i++)
		std[n++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (n % 4 != 0)
		std[n++] = '=';

	gnutls_datum_t in = {.data = (unsigned char *)std, .size = (unsigned)n};
	gnutls_datum_t out = {NULL, 0};
	if (gnutls_base64_decode2(&in, &out) < 0)
		return NULL;
	json_t *v = NULL;
	/* libjwt parses the decoded text as a C string, so it would stop at a
	 * NUL byte where Jansson's json_loadb may read on: refuse NUL outright
	 * and both parsers see the same text */
	if (out.data && out.size > 0 && !memchr(out.data, '\0', out.size))
		v = json_loadb((const char *)out.data, out.size, JSON_REJECT_DUPLICATES, NULL);
	gnutls_free(out.data);
	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

static bool json_str_is(const json_t *v, const char *want)
{
	size_t wlen = strlen(want);
	return json_is_string(v) && json_string_length(v) == wlen && memcmp(json_string_value(v), want, wlen) == 0;
}

static bool ascii_caseeq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* Verdict on the protected header alone. */
static enum pol_token_verdict check_header(const json_t *hdr)
{
	const json_t *alg = json_object_get(hdr, "alg");
	if (!json_is_string(alg))
		return POL_TOKEN_MALFORMED;
	/* Exactly "HS256": libjwt 1.10 would also take "hs256", and it takes
	 * HS384/HS512 with the same secret; "none" is refused as an algorithm,
	 * not reported as a bad signature. */
	if (!json_str_is(alg, "HS256"))
		return POL_TOKEN_BAD_ALG;
	/* libjwt 1.10 refuses a string typ other than "JWT" (any case); say so
	 * here, or it would come back as a signature failure */
	const json_t *typ = json_object_get(hdr, "typ");
	if (json_is_string(typ) && !ascii_caseeq(json_string_value(typ), json_string_length(typ), "JWT"))
		return POL_TOKEN_MALFORMED;
	/* RFC 7515 4.1.11: extensions we do not understand must not be ignored */
	if (json_object_get(hdr, "crit"))
		return POL_TOKEN_MALFORMED;
	return POL_TOKEN_OK;
}

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	if (b < 0 && a > INT64_MAX + b)
		return INT64_MAX;
	if (b > 0 && a < INT64_MIN + b)
		return INT64_MIN;
	return a - b;
}

/* aud (a string or an array of strings, checked by the caller) names the
 * configured audience. Compared exactly: StringOrURI values are
 * case-sensitive (RFC 7519 2). */
static bool audience_ok(const json_t *aud, const char *audience)
{
	if (!audience)
		return false;
	if (json_is_string(aud))
		return json_str_is(aud, audience);
	for (size_t k = 0; k < json_array_size(aud); k++)
		if (json_str_is(json_array_get(aud, k), audience))
			return true;
	return false;
}

/* Claims of a payload whose signature has been verified. */
static enum pol_token_verdict check_claims(const json_t *pl, const struct pol_token_params *p, const char *origin,
					   int64_t now_s, struct pol_token_claims *claims)
{
	const json_t *exp = json_object_get(pl, "exp");
	const json_t *iat = json_object_get(pl, "iat");
	const json_t *jti = json_object_get(pl, "jti");
	/* 1.7e9 is a real in JSON: the claims must be integers */
	if (!json_is_integer(exp) || !json_is_integer(iat) || !json_is_string(jti) || json_string_length(jti) == 0)
		return POL_TOKEN_MISSING_CLAIM;
	if (json_string_length(jti) > POL_JTI_MAX)
		return POL_TOKEN_MALFORMED;

	const json_t *button = json_object_get(pl, "button");
	if (button &&
	    (!json_is_string(button) || json_string_length(button) == 0 || json_string_length(button) > POL_BUTTON_MAX))
		return POL_TOKEN_MALFORMED;

	/* nbf and aud are optional, but when present they are honoured: an
	 * issuer that sets them means them */
	const json_t *nbf = json_object_get(pl, "nbf");
	if (nbf && !json_is_integer(nbf))
		return POL_TOKEN_MALFORMED;
	const json_t *aud = json_object_get(pl, "aud");
	if (aud && !json_is_string(aud) && !json_is_array(aud))
		return POL_TOKEN_MALFORMED;
	for (size_t k = 0; json_is_array(aud) && k < json_array_size(aud); k++)
		if (!json_is_string(json_array_get(aud, k)))
			return POL_TOKEN_MALFORMED;

	int64_t e = json_integer_value(exp), i = json_integer_value(iat);
	if (now_s > sat_add(e, p->leeway_s))
		return POL_TOKEN_EXPIRED;
	if (i > sat_add(now_s, p->leeway_s))
		return POL_TOKEN_NOT_YET;
	if (nbf && json_integer_value(nbf) > sat_add(now_s, p->leeway_s))
		return POL_TOKEN_NOT_BEFORE;
	if (sat_sub(now_s, i) > p->max_age_s)
		return POL_TOKEN_TOO_OLD;
	if (aud && !audience_ok(aud, p->audience))
		return POL_TOKEN_WRONG_AUDIENCE;

	const json_t *oc = json_object_get(pl, "origin");
	if (oc) {
		struct pol_origin o;
		char norm[POL_HOST_MAX + 32];
		if (!origin || !json_is_string(oc) ||
		    pol_origin_parse(json_string_value(oc), json_string_length(oc), &o) != 0 ||
		    pol_origin_format(&o, norm, sizeof(norm)) != 0 || strcmp(norm, origin) != 0)
			return POL_TOKEN_WRONG_ORIGIN;
	}

	if (claims) {
		struct pol_token_claims c;
		memset(&c, 0, sizeof(c));
		/* lengths checked above; Jansson strings carry no NUL without
		 * JSON_ALLOW_NUL, so the copies are whole C strings */
		memcpy(c.jti, json_string_value(jti), json_string_length(jti));
		c.exp = e;
		c.iat = i;
		if (button) {
			c.has_button = true;
			memcpy(c.button, json_string_value(button), json_string_length(button));
		}
		*claims = c;
	}
	return POL_TOKEN_OK;
}

enum pol_token_verdict pol_token_check(const char *jwt, const struct pol_token_params *p, const char *origin,
				       int64_t now_s, struct pol_token_claims *claims)
{
	/* without a proper secret nothing can be verified: fail closed */
	if (!p || !p->secret || p->secret_len < SECRET_MIN || p->secret_len > INT_MAX)
		return POL_TOKEN_BAD_SIGNATURE;
	if (!jwt)
		return POL_TOKEN_MALFORMED;
	size_t len = strnlen(jwt, TOKEN_MAX + 1);
	if (len > TOKEN_MAX)
		return POL_TOKEN_MALFORMED;

	/* header.payload.signature, each base64url */
	const char *dot1 = memchr(jwt, '.', len);
	if (!dot1)
		return POL_TOKEN_MALFORMED;
	const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - jwt));
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - jwt)))
		return POL_TOKEN_MALFORMED;
	size_t hlen = (size_t)(dot1 - jwt);
	size_t plen = (size_t)(dot2 - dot1 - 1);
	size_t slen = len - (size_t)(dot2 + 1 - jwt);
	if (hlen == 0 || plen == 0 || !is_b64url(jwt, hlen) || !is_b64url(dot1 + 1, plen) || !is_b64url(dot2 + 1, slen))
		return POL_TOKEN_MALFORMED;

	enum pol_token_verdict v = POL_TOKEN_MALFORMED;
	json_t *hdr = NULL, *pl = NULL;
	jwt_t *j = NULL;

	/* The header is read before libjwt sees the token: libjwt 1.10 returns
	 * EINVAL alike for alg "none" with a key, an unknown alg and a wrong
	 * signature, and the verdicts must tell them apart. */
	hdr = segment_json(jwt, hlen);
	if (!hdr)
		goto out;
	v = check_header(hdr);
	if (v != POL_TOKEN_OK)
		goto out;
	v = POL_TOKEN_MALFORMED;
	pl = segment_json(dot1 + 1, plen);
	if (!pl)
		goto out;

	v = POL_TOKEN_BAD_SIGNATURE;
	if (slen != HS256_SIG_B64_LEN)
		goto out;
	int rc = jwt_decode(&j, jwt, p->secret, (int)p->secret_len);
	if (rc != 0) {
		/* EINVAL: with header and payload already known good, the
		 * signature is what failed. Anything else (ENOMEM) fails closed
		 * as undecodable. */
		v = rc == EINVAL ? POL_TOKEN_BAD_SIGNATURE : POL_TOKEN_MALFORMED;
		goto out;
	}
	/* belt and braces: the pin is on what libjwt verified with */
	if (jwt_get_alg(j) != JWT_ALG_HS256) {
		v = POL_TOKEN_BAD_ALG;
		goto out;
	}

	v = check_claims(pl, p, origin, now_s, claims);
out:
	jwt_free(j);
	json_decref(pl);
	json_decref(hdr);
	return v;
}

const char *pol_token_reason(enum pol_token_verdict v)
{
	switch (v) {
	case POL_TOKEN_OK:
		return "token valid";
	case POL_TOKEN_MALFORMED:
		return "token malformed";
	case POL_TOKEN_BAD_ALG:
		return "token algorithm is not HS256";
	case POL_TOKEN_BAD_SIGNATURE:
		return "token signature invalid";
	case POL_TOKEN_MISSING_CLAIM:
		return "token lacks exp, iat or jti";
	case POL_TOKEN_EXPIRED:
		return "token expired";
	case POL_TOKEN_NOT_YET:
		return "token issued in the future";
	case POL_TOKEN_TOO_OLD:
		return "token too old";
	case POL_TOKEN_WRONG_ORIGIN:
		return "token origin mismatch";
	case POL_TOKEN_NOT_BEFORE:
		return "token not valid yet (nbf)";
	case POL_TOKEN_WRONG_AUDIENCE:
		return "token audience mismatch";
	}
	return "token invalid";
}
