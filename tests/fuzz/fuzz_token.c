/* tests/fuzz/fuzz_token.c: fuzz pol_token_check with raw strings and with JSON the target signs itself. */
#include "policy/policy.h"
#include "tests/support/jwt.h"

#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Input: one mode byte, then the rest.
 *   'S'  the rest is "<header JSON>\n<payload JSON>": the target encodes both
 *        and signs them with the secret (HMAC-SHA256), so the fuzzer reaches
 *        the header and claim checks it could never reach by forging a MAC.
 *   else the rest is the token text, as a hook request would carry it. */

#define INPUT_MAX 8192
#define NOW       1700000000LL

static const unsigned char SECRET[32] = "fuzz-secret-0123456789abcdefghij";

static const struct pol_token_params P = {
    .secret = SECRET,
    .secret_len = sizeof(SECRET),
    .max_age_s = 300,
    .leeway_s = 30,
};

/* "b64(hdr).b64(pl).b64(HMAC)" in a new string, or NULL. */
static char *sign(const unsigned char *hdr, size_t hlen, const unsigned char *pl, size_t plen)
{
	size_t cap = (hlen + plen) / 3 * 4 + 8 + 2 + 88 + 1;
	char *t = malloc(cap);
	if (!t)
		return NULL;
	if (!*tj_mint(t, cap, (const char *)hdr, hlen, (const char *)pl, plen, GNUTLS_MAC_SHA256, SECRET,
		      sizeof(SECRET))) {
		free(t);
		return NULL;
	}
	return t;
}

static void check_one(const char *tok)
{
	struct pol_token_claims c, before;
	memset(&c, 0x5a, sizeof(c));
	before = c;
	enum pol_token_verdict v = pol_token_check(tok, &P, "https://www.example.com", NOW, &c);
	if (!pol_token_reason(v))
		abort();
	if (v != POL_TOKEN_OK) {
		if (memcmp(&c, &before, sizeof(c)) != 0)
			abort(); /* claims written on a refusal */
		return;
	}
	size_t jl = strnlen(c.jti, sizeof(c.jti));
	if (jl == 0 || jl > POL_JTI_MAX)
		abort();
	if (c.has_button) {
		size_t bl = strnlen(c.button, sizeof(c.button));
		if (bl == 0 || bl > POL_BUTTON_MAX)
			abort();
	}
	/* the time rules, restated */
	if (NOW - P.leeway_s > c.exp || c.iat > NOW + P.leeway_s || c.iat < NOW - P.max_age_s)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > INPUT_MAX)
		return 0;
	const uint8_t *rest = data + 1;
	size_t n = size - 1;

	if (data[0] == 'S') {
		const uint8_t *nl = memchr(rest, '\n', n);
		if (!nl)
			return 0;
		size_t hlen = (size_t)(nl - rest);
		char *t = sign(rest, hlen, nl + 1, n - hlen - 1);
		if (t) {
			check_one(t);
			free(t);
		}
		return 0;
	}

	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, rest, n);
	s[n] = '\0';
	check_one(s);
	free(s);
	return 0;
}
