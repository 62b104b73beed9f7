/* tests/unit/test_token.c: the HS256 visitor token check, against tokens minted here (libjwt and by hand). */
#include "common/common.h"
#include "policy/policy.h"
#include "tests/check.h"
#include "tests/support/jwt.h"

#include <gnutls/crypto.h>
#include <jwt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW    1700000000LL
#define ORIGIN "https://www.example.com"

static const unsigned char SECRET[] = "0123456789abcdef0123456789abcdef"; /* 32 bytes */
static const unsigned char OTHER[] = "fedcba9876543210fedcba9876543210";

static const struct pol_token_params P = {
    .secret = SECRET,
    .secret_len = 32,
    .max_age_s = 300,
    .leeway_s = 30,
};

/* ---- minting ----------------------------------------------------------- */

/* Through libjwt, as a C site backend would. New string (free()). */
static char *mint_jwt(jwt_alg_t alg, const unsigned char *key, const char *grants_json)
{
	jwt_t *j = NULL;
	char *s = NULL;
	if (jwt_new(&j) != 0)
		return NULL;
	if (jwt_add_grants_json(j, grants_json) == 0 &&
	    jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL : key, alg == JWT_ALG_NONE ? 0 : 32) == 0)
		s = jwt_encode_str(j);
	jwt_free(j);
	return s;
}

/* By hand, so headers and payloads can be anything: b64(hdr).b64(pl).b64(mac)
 * with mac = HMAC(key, first two parts), or no signature for GNUTLS_MAC_UNKNOWN. */
static void mint_raw_n(const char *hdr, size_t hlen, const char *pl, size_t plen, gnutls_mac_algorithm_t mac,
		       const unsigned char *key, char *out, size_t cap)
{
	char a[2048], b[2048], sig[128] = "";
	tj_b64url(hdr, hlen, a, sizeof(a));
	tj_b64url(pl, plen, b, sizeof(b));
	char signing[4200];
	CHECK(ch_fmt(signing, sizeof(signing), "%s.%s", a, b) == 0);
	if (mac != GNUTLS_MAC_UNKNOWN) {
		unsigned char d[64];
		CHECK(gnutls_hmac_fast(mac, key, 32, signing, strlen(signing), d) == 0);
		tj_b64url(d, gnutls_hmac_get_len(mac), sig, sizeof(sig));
	}
	CHECK(ch_fmt(out, cap, "%s.%s", signing, sig) == 0);
}

static void mint_raw(const char *hdr, const char *pl, gnutls_mac_algorithm_t mac, const unsigned char *key, char *out,
		     size_t cap)
{
	mint_raw_n(hdr, strlen(hdr), pl, strlen(pl), mac, key, out, cap);
}

static const char HS256_HDR[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static enum pol_token_verdict check_raw(const char *hdr, const char *pl)
{
	char t[4200];
	mint_raw(hdr, pl, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
	return pol_token_check(t, &P, ORIGIN, NOW, NULL);
}

/* A valid HS256 payload with the given extra members, hand-signed. */
static enum pol_token_verdict check_pl(const char *pl)
{
	return check_raw(HS256_HDR, pl);
}

/* ---- cases ------------------------------------------------------------- */

TEST_CASE(valid)
{
	char g[512];
	CHECK(ch_fmt(g, sizeof(g), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j-1\",\"origin\":\"%s\",\"button\":\"sales\"}",
		     NOW + 300, NOW, ORIGIN) == 0);
	char *t = mint_jwt(JWT_ALG_HS256, SECRET, g);
	CHECK(t != NULL);
	struct pol_token_claims c;
	memset(&c, 0x5a, sizeof(c));
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, &c) == POL_TOKEN_OK);
	CHECK_STR(c.jti, "j-1");
	CHECK(c.exp == NOW + 300);
	CHECK(c.iat == NOW);
	CHECK(c.has_button);
	CHECK_STR(c.button, "sales");
	/* claims may be NULL */
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, NULL) == POL_TOKEN_OK);
	/* wrong secret */
	struct pol_token_params q = P;
	q.secret = OTHER;
	CHECK(pol_token_check(t, &q, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	/* a secret shorter than 32 bytes, or none, verifies nothing */
	q = P;
	q.secret_len = 31;
	CHECK(pol_token_check(t, &q, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	q.secret = NULL;
	q.secret_len = 32;
	CHECK(pol_token_check(t, &q, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	CHECK(pol_token_check(t, NULL, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	free(t);

	/* no origin, no button */
	CHECK(ch_fmt(g, sizeof(g), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j-2\"}", NOW + 60, NOW - 10) == 0);
	t = mint_jwt(JWT_ALG_HS256, SECRET, g);
	memset(&c, 0x5a, sizeof(c));
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, &c) == POL_TOKEN_OK);
	CHECK(!c.has_button);
	CHECK_STR(c.button, "");
	CHECK_STR(c.jti, "j-2");
	/* no origin claim: the request's origin does not matter, even absent */
	CHECK(pol_token_check(t, &P, NULL, NOW, NULL) == POL_TOKEN_OK);
	free(t);

	/* hand-minted equals libjwt-minted in verdict (cross-check of mint_raw) */
	CHECK(check_pl(g) == POL_TOKEN_OK);
	/* header without typ, and with typ in another case */
	CHECK(check_raw("{\"alg\":\"HS256\"}", g) == POL_TOKEN_OK);
	CHECK(check_raw("{\"typ\":\"jwt\",\"alg\":\"HS256\"}", g) == POL_TOKEN_OK);
	CHECK(check_raw("{\"alg\":\"HS256\",\"kid\":\"k1\"}", g) == POL_TOKEN_OK);
	/* unknown claims are ignored */
	CHECK(ch_fmt(g, sizeof(g), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\",\"sub\":\"x\",\"n\":[1,{\"a\":null}]}",
		     NOW + 60, NOW) == 0);
	CHECK(check_pl(g) == POL_TOKEN_OK);
}

TEST_CASE(alg)
{
	char g[256];
	CHECK(ch_fmt(g, sizeof(g), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\"}", NOW + 60, NOW) == 0);
	char t[4200];

	/* alg none from libjwt: "hdr.pl." */
	char *s = mint_jwt(JWT_ALG_NONE, NULL, g);
	CHECK(s != NULL && s[strlen(s) - 1] == '.');
	CHECK(pol_token_check(s, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_ALG);
	free(s);
	/* alg none, by hand, without and with a (valid HS256) signature */
	mint_raw("{\"alg\":\"none\"}", g, GNUTLS_MAC_UNKNOWN, SECRET, t, sizeof(t));
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_ALG);
	mint_raw("{\"alg\":\"none\",\"typ\":\"JWT\"}", g, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_ALG);
	CHECK(check_raw("{\"alg\":\"None\"}", g) == POL_TOKEN_BAD_ALG);
	CHECK(check_raw("{\"alg\":\"NONE\"}", g) == POL_TOKEN_BAD_ALG);
	CHECK(check_raw("{\"alg\":\"\"}", g) == POL_TOKEN_BAD_ALG);
	/* libjwt 1.10 takes "hs256" as HS256; we pin the exact name */
	CHECK(check_raw("{\"alg\":\"hs256\"}", g) == POL_TOKEN_BAD_ALG);
	CHECK(check_raw("{\"alg\":\"HS256 \"}", g) == POL_TOKEN_BAD_ALG);

	/* HS384 / HS512 with the same secret: libjwt verifies them; we refuse */
	s = mint_jwt(JWT_ALG_HS512, SECRET, g);
	CHECK(s != NULL);
	CHECK(pol_token_check(s, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_ALG);
	free(s);
	s = mint_jwt(JWT_ALG_HS384, SECRET, g);
	CHECK(pol_token_check(s, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_ALG);
	free(s);
	mint_raw("{\"alg\":\"HS512\"}", g, GNUTLS_MAC_SHA512, SECRET, t, sizeof(t));
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_ALG);
	/* RS256 header (the key-confusion attack: HMAC keyed with a public key) */
	mint_raw("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", g, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_ALG);
	CHECK(check_raw("{\"alg\":\"ES256\"}", g) == POL_TOKEN_BAD_ALG);

	/* alg absent or not a string: not a JWS header */
	CHECK(check_raw("{\"typ\":\"JWT\"}", g) == POL_TOKEN_MALFORMED);
	CHECK(check_raw("{\"alg\":null}", g) == POL_TOKEN_MALFORMED);
	CHECK(check_raw("{\"alg\":256}", g) == POL_TOKEN_MALFORMED);
	CHECK(check_raw("{\"alg\":[\"HS256\"]}", g) == POL_TOKEN_MALFORMED);
	/* duplicate alg: Jansson without JSON_REJECT_DUPLICATES keeps the last */
	CHECK(check_raw("{\"alg\":\"none\",\"alg\":\"HS256\"}", g) == POL_TOKEN_MALFORMED);
	/* typ other than JWT (libjwt refuses it), crit extensions */
	CHECK(check_raw("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", g) == POL_TOKEN_MALFORMED);
	CHECK(check_raw("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", g) == POL_TOKEN_MALFORMED);
}

TEST_CASE(signature)
{
	char g[256], t[4200], u[4200];
	CHECK(ch_fmt(g, sizeof(g), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\"}", NOW + 60, NOW) == 0);
	mint_raw(HS256_HDR, g, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, NULL) == POL_TOKEN_OK);
	const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');

	/* tampered payload: another valid payload under the old signature */
	char g2[256], forged[4200];
	CHECK(ch_fmt(g2, sizeof(g2), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"k\"}", NOW + 60, NOW) == 0);
	mint_raw(HS256_HDR, g2, GNUTLS_MAC_SHA256, SECRET, forged, sizeof(forged));
	const char *f2 = strrchr(forged, '.');
	CHECK(ch_fmt(u, sizeof(u), "%.*s%s", (int)(f2 - forged), forged, d2) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);

	/* tampered signature: each position in turn */
	size_t siglen = strlen(d2 + 1);
	CHECK(siglen == 43);
	for (size_t i = 0; i < siglen; i++) {
		memcpy(u, t, strlen(t) + 1);
		char *c = u + (d2 + 1 - t) + i;
		*c = *c == 'A' ? 'B' : 'A';
		CHECK_MSG(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE, "signature byte %zu",
			  i);
	}
	/* signature cut, extended, empty, padded */
	memcpy(u, t, strlen(t) + 1);
	u[strlen(u) - 1] = '\0';
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	CHECK(ch_fmt(u, sizeof(u), "%sAAAA", t) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	CHECK(ch_fmt(u, sizeof(u), "%.*s", (int)(d2 + 1 - t), t) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	CHECK(ch_fmt(u, sizeof(u), "%s=", t) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);
	/* signed with the other secret */
	mint_raw(HS256_HDR, g, GNUTLS_MAC_SHA256, OTHER, u, sizeof(u));
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
	/* header swapped for an equivalent one: the signature covers the bytes */
	char h2[64];
	tj_b64url("{\"alg\":\"HS256\"}", 15, h2, sizeof(h2));
	CHECK(ch_fmt(u, sizeof(u), "%s%s", h2, d1) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_BAD_SIGNATURE);
}

TEST_CASE(malformed)
{
	char g[256], t[4200], u[8200];
	CHECK(ch_fmt(g, sizeof(g), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\"}", NOW + 60, NOW) == 0);
	mint_raw(HS256_HDR, g, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));

	static const char *const BAD[] = {
	    "",
	    "abc",
	    "a.b",
	    ".",
	    "..",
	    "...",
	    "a.b.c.d",
	    "eyJhbGciOiJIUzI1NiJ9..sig",
	    ".eyJhIjoxfQ.sig",
	    "!!!!.eyJhIjoxfQ.sig",
	    "eyJhbGciOiJIUzI1NiJ9 .eyJhIjoxfQ.xyz",
	    "eyJhbGciOiJIUzI1NiJ9=.eyJhIjoxfQ.xyz",
	    "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ==.xyz",
	    "e.eyJhIjoxfQ.xyz",                      /* 1 mod 4 */
	    "eyJhbGciOiJIUzI1NiJ9+.eyJhIjoxfQ.xyz",  /* standard alphabet */
	    "bm90IGpzb24.eyJhIjoxfQ.xyz",            /* "not json" */
	    "WyJIUzI1NiJd.eyJhIjoxfQ.xyz",           /* ["HS256"] */
	    "eyJhbGciOiJIUzI1NiJ9AA.eyJhIjoxfQ.xyz", /* trailing NUL byte in header */
	};
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
		CHECK_MSG(pol_token_check(BAD[i], &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED, "\"%s\"", BAD[i]);
	CHECK(pol_token_check(NULL, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);

	/* payload not JSON / not an object / duplicate claims, all signed */
	CHECK(check_pl("not json") == POL_TOKEN_MALFORMED);
	CHECK(check_pl("[1,2]") == POL_TOKEN_MALFORMED);
	CHECK(check_pl("\"str\"") == POL_TOKEN_MALFORMED);
	CHECK(check_pl("{\"exp\":1,\"exp\":2}") == POL_TOKEN_MALFORMED);
	char dup[256];
	CHECK(ch_fmt(dup, sizeof(dup), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"a\",\"jti\":\"b\"}", NOW + 60, NOW) == 0);
	CHECK(check_pl(dup) == POL_TOKEN_MALFORMED);
	/* a NUL escape inside a claim */
	CHECK(ch_fmt(dup, sizeof(dup), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"a\\u0000b\"}", NOW + 60, NOW) == 0);
	CHECK(check_pl(dup) == POL_TOKEN_MALFORMED);

	/* A NUL byte after a number: Jansson's json_loadb reads past it, libjwt
	 * (C strings) stops there. Both signed, so only the parsers could differ. */
	static const char PL_NUL[] = "{\"exp\":1700000060,\"iat\":1700000000\0,\"jti\":\"j\"}";
	static const char HDR_NUL[] = "{\"alg\":\"HS256\",\"n\":1\0}";
	mint_raw_n(HS256_HDR, strlen(HS256_HDR), PL_NUL, sizeof(PL_NUL) - 1, GNUTLS_MAC_SHA256, SECRET, u, sizeof(u));
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);
	static const char PL_OK[] = "{\"exp\":1700000060,\"iat\":1700000000,\"jti\":\"j\"}";
	mint_raw_n(HDR_NUL, sizeof(HDR_NUL) - 1, PL_OK, sizeof(PL_OK) - 1, GNUTLS_MAC_SHA256, SECRET, u, sizeof(u));
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);
	mint_raw_n(HS256_HDR, strlen(HS256_HDR), PL_OK, sizeof(PL_OK) - 1, GNUTLS_MAC_SHA256, SECRET, u, sizeof(u));
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_OK);

	/* over the length cap: a valid token padded with a long ignored claim */
	char big[5000];
	char filler[4500];
	memset(filler, 'x', sizeof(filler) - 1);
	filler[sizeof(filler) - 1] = '\0';
	CHECK(ch_fmt(big, sizeof(big), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\",\"pad\":\"%.3000s\"}", NOW + 60, NOW,
		     filler) == 0);
	char longtok[8200];
	{
		char a[128], b[8000], signing[8200], sig[64];
		unsigned char d[32];
		tj_b64url(HS256_HDR, strlen(HS256_HDR), a, sizeof(a));
		tj_b64url(big, strlen(big), b, sizeof(b));
		CHECK(ch_fmt(signing, sizeof(signing), "%s.%s", a, b) == 0);
		CHECK(gnutls_hmac_fast(GNUTLS_MAC_SHA256, SECRET, 32, signing, strlen(signing), d) == 0);
		tj_b64url(d, 32, sig, sizeof(sig));
		CHECK(ch_fmt(longtok, sizeof(longtok), "%s.%s", signing, sig) == 0);
	}
	CHECK(strlen(longtok) > 4096);
	CHECK(pol_token_check(longtok, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);
	/* two tokens joined */
	CHECK(ch_fmt(u, sizeof(u), "%s.%s", t, t) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);
	CHECK(ch_fmt(u, sizeof(u), " %s", t) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);
	CHECK(ch_fmt(u, sizeof(u), "%s\n", t) == 0);
	CHECK(pol_token_check(u, &P, ORIGIN, NOW, NULL) == POL_TOKEN_MALFORMED);
}

/* the time claims of a fresh token at NOW, as JSON text */
#define EXP "1700000060"
#define IAT "1700000000"

struct claim_vec {
	const char *pl;
	enum pol_token_verdict want;
};

TEST_CASE(claims)
{
	static const struct claim_vec V[] = {
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":\"j\"}", POL_TOKEN_OK},
	    {"{\"iat\":" IAT ",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":" IAT "}", POL_TOKEN_MISSING_CLAIM},
	    {"{}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":\"" EXP "\",\"iat\":" IAT ",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":\"" IAT "\",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ".0,\"iat\":" IAT ",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":1.70000006e9,\"iat\":" IAT ",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ".5,\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":7}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":\"\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":null}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":[\"j\"]}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":null,\"iat\":" IAT ",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":true,\"iat\":" IAT ",\"jti\":\"j\"}", POL_TOKEN_MISSING_CLAIM},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":\"j\",\"button\":\"sales\"}", POL_TOKEN_OK},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":\"j\",\"button\":7}", POL_TOKEN_MALFORMED},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":\"j\",\"button\":\"\"}", POL_TOKEN_MALFORMED},
	    {"{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":\"j\",\"button\":null}", POL_TOKEN_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(V) / sizeof(V[0]); i++) {
		enum pol_token_verdict got = check_pl(V[i].pl);
		CHECK_MSG(got == V[i].want, "%s: got %s, want %s", V[i].pl, pol_token_reason(got),
			  pol_token_reason(V[i].want));
	}

	/* jti and button length limits */
	char jti[POL_JTI_MAX + 2], btn[POL_BUTTON_MAX + 2], pl[1024];
	memset(jti, 'j', sizeof(jti) - 1);
	jti[sizeof(jti) - 1] = '\0';
	memset(btn, 'b', sizeof(btn) - 1);
	btn[sizeof(btn) - 1] = '\0';
	CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"%.*s\",\"button\":\"%.*s\"}", NOW + 60, NOW,
		     POL_JTI_MAX, jti, POL_BUTTON_MAX, btn) == 0);
	char t[4200];
	mint_raw(HS256_HDR, pl, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
	struct pol_token_claims c;
	CHECK(pol_token_check(t, &P, ORIGIN, NOW, &c) == POL_TOKEN_OK);
	CHECK(strlen(c.jti) == POL_JTI_MAX && strlen(c.button) == POL_BUTTON_MAX);
	CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"%s\"}", NOW + 60, NOW, jti) == 0);
	CHECK(check_pl(pl) == POL_TOKEN_MALFORMED);
	CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\",\"button\":\"%s\"}", NOW + 60, NOW,
		     btn) == 0);
	CHECK(check_pl(pl) == POL_TOKEN_MALFORMED);
	/* multi-byte UTF-8: the limit is in bytes; 32 x "\xc3\xa9" fills it exactly,
	 * 33 x is 66 bytes */
	char e[2 * 33 + 1];
	for (size_t i = 0; i < 33; i++)
		memcpy(e + 2 * i, "\xc3\xa9", 2);
	e[66] = '\0';
	CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\",\"button\":\"%.64s\"}", NOW + 60, NOW,
		     e) == 0);
	CHECK(check_pl(pl) == POL_TOKEN_OK);
	CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\",\"button\":\"%s\"}", NOW + 60, NOW, e) ==
	      0);
	CHECK(check_pl(pl) == POL_TOKEN_MALFORMED);
}

struct time_vec {
	long long exp, iat;
	enum pol_token_verdict want;
};

TEST_CASE(time)
{
	/* P: max_age 300, leeway 30; now = NOW */
	static const struct time_vec V[] = {
	    {NOW + 300, NOW, POL_TOKEN_OK},
	    {NOW, NOW - 10, POL_TOKEN_OK},           /* exp == now */
	    {NOW - 10, NOW - 60, POL_TOKEN_OK},      /* expired within leeway */
	    {NOW - 30, NOW - 60, POL_TOKEN_OK},      /* exactly at exp + leeway */
	    {NOW - 31, NOW - 60, POL_TOKEN_EXPIRED}, /* beyond leeway */
	    {NOW - 3600, NOW - 3700, POL_TOKEN_EXPIRED},
	    {NOW + 300, NOW + 30, POL_TOKEN_OK}, /* clock skew within leeway */
	    {NOW + 300, NOW + 31, POL_TOKEN_NOT_YET},
	    {NOW + 300, NOW - 300, POL_TOKEN_OK}, /* exactly max_age */
	    {NOW + 300, NOW - 301, POL_TOKEN_TOO_OLD},
	    {NOW + 86400, NOW - 86400, POL_TOKEN_TOO_OLD}, /* long exp does not help */
	    /* extremes must not overflow */
	    {INT64_MAX, NOW, POL_TOKEN_OK},
	    {INT64_MIN, NOW, POL_TOKEN_EXPIRED},
	    {NOW + 60, INT64_MIN, POL_TOKEN_TOO_OLD},
	    {NOW + 60, INT64_MAX, POL_TOKEN_NOT_YET},
	    {INT64_MAX, INT64_MIN, POL_TOKEN_TOO_OLD},
	    {-1, -1, POL_TOKEN_EXPIRED},
	};
	for (size_t i = 0; i < sizeof(V) / sizeof(V[0]); i++) {
		char pl[256];
		CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\"}", V[i].exp, V[i].iat) == 0);
		enum pol_token_verdict got = check_pl(pl);
		CHECK_MSG(got == V[i].want, "%s: got %s, want %s", pl, pol_token_reason(got),
			  pol_token_reason(V[i].want));
	}
	/* integers beyond int64 are not integers to Jansson */
	CHECK(check_pl("{\"exp\":99999999999999999999,\"iat\":1700000000,\"jti\":\"j\"}") == POL_TOKEN_MALFORMED);

	/* extreme now_s and parameters */
	char pl[256], t[4200];
	CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\"}", NOW + 60, NOW) == 0);
	mint_raw(HS256_HDR, pl, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
	CHECK(pol_token_check(t, &P, ORIGIN, INT64_MAX, NULL) == POL_TOKEN_EXPIRED);
	CHECK(pol_token_check(t, &P, ORIGIN, INT64_MIN, NULL) == POL_TOKEN_NOT_YET);
	struct pol_token_params q = P;
	q.leeway_s = INT64_MAX;
	q.max_age_s = INT64_MAX;
	CHECK(pol_token_check(t, &q, ORIGIN, NOW + 1000000, NULL) == POL_TOKEN_OK);
	q = P;
	q.leeway_s = 0;
	CHECK(pol_token_check(t, &q, ORIGIN, NOW + 60, NULL) == POL_TOKEN_OK);
	CHECK(pol_token_check(t, &q, ORIGIN, NOW + 61, NULL) == POL_TOKEN_EXPIRED);
	CHECK(pol_token_check(t, &q, ORIGIN, NOW - 1, NULL) == POL_TOKEN_NOT_YET);
}

struct origin_vec {
	const char *claim; /* JSON text of the claim value */
	const char *origin;
	enum pol_token_verdict want;
};

TEST_CASE(origin)
{
	static const struct origin_vec V[] = {
	    {"\"https://www.example.com\"", ORIGIN, POL_TOKEN_OK},
	    {"\"https://WWW.Example.com:443\"", ORIGIN, POL_TOKEN_OK},
	    {"\"HTTPS://www.example.COM\"", ORIGIN, POL_TOKEN_OK},
	    {"\"https://www.example.com:8443\"", "https://www.example.com:8443", POL_TOKEN_OK},
	    {"\"http://www.example.com:80\"", "http://www.example.com", POL_TOKEN_OK},
	    {"\"https://www.example.com\"", "https://evil.example", POL_TOKEN_WRONG_ORIGIN},
	    {"\"https://evil.example\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"http://www.example.com\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"https://www.example.com:8443\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"https://example.com\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"https://www.example.com.evil.example\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"https://www.example.com/\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"https://www.example.com/path\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"https://user@www.example.com\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"www.example.com\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"\"null\"", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"null", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"1", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    {"[\"https://www.example.com\"]", ORIGIN, POL_TOKEN_WRONG_ORIGIN},
	    /* the request had no origin at all */
	    {"\"https://www.example.com\"", NULL, POL_TOKEN_WRONG_ORIGIN},
	    /* the origin argument is compared as given: it must be normalised */
	    {"\"https://www.example.com\"", "https://WWW.example.com", POL_TOKEN_WRONG_ORIGIN},
	};
	for (size_t i = 0; i < sizeof(V) / sizeof(V[0]); i++) {
		char pl[512], t[4200];
		CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\",\"origin\":%s}", NOW + 60, NOW,
			     V[i].claim) == 0);
		mint_raw(HS256_HDR, pl, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
		enum pol_token_verdict got = pol_token_check(t, &P, V[i].origin, NOW, NULL);
		CHECK_MSG(got == V[i].want, "%s vs %s: got %s", V[i].claim, V[i].origin ? V[i].origin : "(null)",
			  pol_token_reason(got));
	}
}

struct aud_vec {
	const char *extra; /* JSON members after jti */
	const char *audience;
	enum pol_token_verdict want;
};

/* nbf: optional, an integer, the leeway iat gets; aud: only the configured audience */
TEST_CASE(nbf_aud)
{
	static const struct aud_vec V[] = {
	    /* nbf; P: leeway 30 */
	    {"\"nbf\":" IAT, NULL, POL_TOKEN_OK},
	    {"\"nbf\":1700000030", NULL, POL_TOKEN_OK}, /* exactly now + leeway */
	    {"\"nbf\":1700000031", NULL, POL_TOKEN_NOT_BEFORE},
	    {"\"nbf\":1700003600", NULL, POL_TOKEN_NOT_BEFORE},
	    {"\"nbf\":9223372036854775807", NULL, POL_TOKEN_NOT_BEFORE},
	    {"\"nbf\":-9223372036854775807", NULL, POL_TOKEN_OK},
	    {"\"nbf\":0", NULL, POL_TOKEN_OK},
	    {"\"nbf\":\"1700000000\"", NULL, POL_TOKEN_MALFORMED},
	    {"\"nbf\":1700000000.0", NULL, POL_TOKEN_MALFORMED},
	    {"\"nbf\":null", NULL, POL_TOKEN_MALFORMED},
	    {"\"nbf\":1700000000,\"nbf\":1700009999", NULL, POL_TOKEN_MALFORMED}, /* duplicate */
	    /* aud with no audience configured: refused */
	    {"\"aud\":\"callhook-shop\"", NULL, POL_TOKEN_WRONG_AUDIENCE},
	    {"\"aud\":[]", NULL, POL_TOKEN_WRONG_AUDIENCE},
	    {"\"aud\":[\"callhook-shop\"]", NULL, POL_TOKEN_WRONG_AUDIENCE},
	    /* no aud: not refused for it, with or without an audience */
	    {"\"sub\":\"v\"", NULL, POL_TOKEN_OK},
	    {"\"sub\":\"v\"", "callhook-shop", POL_TOKEN_OK},
	    /* aud with an audience configured */
	    {"\"aud\":\"callhook-shop\"", "callhook-shop", POL_TOKEN_OK},
	    {"\"aud\":\"callhook-other\"", "callhook-shop", POL_TOKEN_WRONG_AUDIENCE},
	    {"\"aud\":\"Callhook-Shop\"", "callhook-shop", POL_TOKEN_WRONG_AUDIENCE}, /* case-sensitive */
	    {"\"aud\":\"callhook-shop \"", "callhook-shop", POL_TOKEN_WRONG_AUDIENCE},
	    {"\"aud\":\"callhook-sho\"", "callhook-shop", POL_TOKEN_WRONG_AUDIENCE},
	    {"\"aud\":\"\"", "callhook-shop", POL_TOKEN_WRONG_AUDIENCE},
	    {"\"aud\":[\"x\",\"callhook-shop\"]", "callhook-shop", POL_TOKEN_OK},
	    {"\"aud\":[\"callhook-shop\"]", "callhook-shop", POL_TOKEN_OK},
	    {"\"aud\":[\"x\",\"y\"]", "callhook-shop", POL_TOKEN_WRONG_AUDIENCE},
	    {"\"aud\":[]", "callhook-shop", POL_TOKEN_WRONG_AUDIENCE},
	    /* shapes that are not StringOrURI or an array of them */
	    {"\"aud\":7", "callhook-shop", POL_TOKEN_MALFORMED},
	    {"\"aud\":null", "callhook-shop", POL_TOKEN_MALFORMED},
	    {"\"aud\":{\"callhook-shop\":1}", "callhook-shop", POL_TOKEN_MALFORMED},
	    {"\"aud\":[\"callhook-shop\",7]", "callhook-shop", POL_TOKEN_MALFORMED},
	    {"\"aud\":[[\"callhook-shop\"]]", "callhook-shop", POL_TOKEN_MALFORMED},
	    {"\"aud\":\"a\",\"aud\":\"callhook-shop\"", "callhook-shop", POL_TOKEN_MALFORMED},
	    /* both: nbf still checked with a good aud */
	    {"\"aud\":\"callhook-shop\",\"nbf\":1700000100", "callhook-shop", POL_TOKEN_NOT_BEFORE},
	};
	for (size_t i = 0; i < sizeof(V) / sizeof(V[0]); i++) {
		char pl[512], t[4200];
		CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":" EXP ",\"iat\":" IAT ",\"jti\":\"j\",%s}", V[i].extra) == 0);
		mint_raw(HS256_HDR, pl, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
		struct pol_token_params q = P;
		q.audience = V[i].audience;
		enum pol_token_verdict got = pol_token_check(t, &q, ORIGIN, NOW, NULL);
		CHECK_MSG(got == V[i].want, "%s (audience %s): got %s, want %s", pl,
			  V[i].audience ? V[i].audience : "-", pol_token_reason(got), pol_token_reason(V[i].want));
	}
	/* nbf honours the configured leeway, not a fixed one */
	char pl[256], t[4200];
	CHECK(ch_fmt(pl, sizeof(pl), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j\",\"nbf\":%lld}", NOW + 60, NOW,
		     NOW + 5) == 0);
	mint_raw(HS256_HDR, pl, GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
	struct pol_token_params q = P;
	q.leeway_s = 0;
	CHECK(pol_token_check(t, &q, ORIGIN, NOW, NULL) == POL_TOKEN_NOT_BEFORE);
	CHECK(pol_token_check(t, &q, ORIGIN, NOW + 5, NULL) == POL_TOKEN_OK);
	q.leeway_s = 5;
	CHECK(pol_token_check(t, &q, ORIGIN, NOW, NULL) == POL_TOKEN_OK);
	/* a libjwt-minted token with an array aud (as a site backend would send it) */
	char g[256];
	CHECK(ch_fmt(g, sizeof(g), "{\"exp\":%lld,\"iat\":%lld,\"jti\":\"j-aud\",\"aud\":[\"a\",\"shop\"]}", NOW + 60,
		     NOW) == 0);
	char *s = mint_jwt(JWT_ALG_HS256, SECRET, g);
	CHECK(s != NULL);
	q = P;
	struct pol_token_claims c;
	CHECK(pol_token_check(s, &q, ORIGIN, NOW, &c) == POL_TOKEN_WRONG_AUDIENCE);
	q.audience = "shop";
	CHECK(pol_token_check(s, &q, ORIGIN, NOW, &c) == POL_TOKEN_OK);
	CHECK_STR(c.jti, "j-aud");
	free(s);
}

/* *claims is left alone on every refusal */
TEST_CASE(claims_untouched)
{
	static const char *const PL[] = {
	    "{\"exp\":1,\"iat\":1,\"jti\":\"j\",\"button\":\"b\"}", /* expired */
	    "{\"iat\":1700000000,\"jti\":\"j\",\"button\":\"b\"}",  /* missing exp */
	    ("{\"exp\":1700000060,\"iat\":1700000000,\"jti\":\"j\",\"button\":\"b\","
	     "\"origin\":\"https://evil.example\"}"), /* origin */
	    "{\"exp\":1700000060,\"iat\":1700000000,\"jti\":\"j\",\"button\":\"b\",\"nbf\":1700009999}",
	    "{\"exp\":1700000060,\"iat\":1700000000,\"jti\":\"j\",\"button\":\"b\",\"aud\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof(PL) / sizeof(PL[0]); i++) {
		char t[4200];
		mint_raw(HS256_HDR, PL[i], GNUTLS_MAC_SHA256, SECRET, t, sizeof(t));
		struct pol_token_claims c, before;
		memset(&c, 0x5a, sizeof(c));
		before = c;
		CHECK(pol_token_check(t, &P, ORIGIN, NOW, &c) != POL_TOKEN_OK);
		CHECK_MSG(memcmp(&c, &before, sizeof(c)) == 0, "claims written for case %zu", i);
	}
}

TEST_CASE(reasons)
{
	static const enum pol_token_verdict ALL[] = {
	    POL_TOKEN_OK,
	    POL_TOKEN_MALFORMED,
	    POL_TOKEN_BAD_ALG,
	    POL_TOKEN_BAD_SIGNATURE,
	    POL_TOKEN_MISSING_CLAIM,
	    POL_TOKEN_EXPIRED,
	    POL_TOKEN_NOT_YET,
	    POL_TOKEN_TOO_OLD,
	    POL_TOKEN_WRONG_ORIGIN,
	    POL_TOKEN_NOT_BEFORE,
	    POL_TOKEN_WRONG_AUDIENCE,
	};
	size_t n = sizeof(ALL) / sizeof(ALL[0]);
	for (size_t i = 0; i < n; i++) {
		const char *r = pol_token_reason(ALL[i]);
		CHECK(r != NULL && r[0] != '\0');
		for (size_t k = 0; k < i; k++)
			CHECK(strcmp(r, pol_token_reason(ALL[k])) != 0);
	}
	CHECK_STR(pol_token_reason(POL_TOKEN_EXPIRED), "token expired");
	CHECK(pol_token_reason((enum pol_token_verdict)99) != NULL);
}
