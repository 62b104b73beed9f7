/* tests/fuzz/fuzz_sip_uri.c: fuzz the SIP-URI grammar, the canonical form and the translation, asserting invariants. */
#include "common/sip_uri.h"
#include "policy/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Input: the URI (or the translation's input), any bytes; it ends at the
 * first NUL. */

#define CANON_CAP (CH_SIP_URI_MAX + 1)
#define GUARD     16
#define CANARY    0xa5

static bool all(const unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void append(char *out, size_t *n, const char *s, size_t len)
{
	memcpy(out + *n, s, len);
	*n += len;
}

/* The parts the grammar returns lie inside uri and spell it exactly. */
static void check_parts(const char *uri)
{
	struct ch_sip_uri_parts u;
	if (!ch_sip_uri_parse(uri, &u)) {
		if (ch_sip_uri_ok(uri))
			abort();
		return;
	}
	size_t len = strlen(uri);
	char *re = malloc(len + 1);
	if (!re || !u.host || u.host_len == 0 || (u.user && u.user_len == 0) || (u.password && !u.user))
		abort();
	size_t n = 0;
	size_t slen = u.sips ? 5 : 4;
	if (strncasecmp(uri, u.sips ? "sips:" : "sip:", slen) != 0)
		abort();
	append(re, &n, uri, slen);
	if (u.user) {
		append(re, &n, u.user, u.user_len);
		if (u.password) {
			append(re, &n, ":", 1);
			append(re, &n, u.password, u.password_len);
		}
		append(re, &n, "@", 1);
	}
	append(re, &n, u.host, u.host_len);
	if (u.port) {
		append(re, &n, ":", 1);
		append(re, &n, u.port, u.port_len);
	}
	if (u.params) {
		if (u.params[0] != ';')
			abort();
		append(re, &n, u.params, u.params_len);
	}
	if (n != len || memcmp(re, uri, len) != 0)
		abort();
	free(re);
}

/* canon(x) is a URI, a fixed point, has a limit key, and is written only
 * whole: exactly its length plus the NUL fits, one byte less is TOO_LONG
 * with the buffer untouched. */
static void check_canon(const char *uri)
{
	static char canon[CANON_CAP], again[CANON_CAP];
	static unsigned char small[CANON_CAP + GUARD];
	enum pol_xlate_verdict v = pol_sip_uri_canon(uri, canon, sizeof(canon));
	if (!ch_sip_uri_ok(uri) && v != POL_XLATE_BAD_URI)
		abort();
	if (v != POL_XLATE_OK) {
		if (v != POL_XLATE_BAD_URI && v != POL_XLATE_BAD_ESCAPE && v != POL_XLATE_TOO_LONG)
			abort();
		return;
	}
	size_t n = strlen(canon);
	if (n > CH_SIP_URI_MAX || !ch_sip_uri_ok(canon) || !pol_sip_uri_ok(canon))
		abort();
	if (pol_sip_uri_canon(canon, again, sizeof(again)) != POL_XLATE_OK || strcmp(canon, again) != 0)
		abort();
	char key[CANON_CAP];
	if (pol_sip_uri_limit_key(canon, key, sizeof(key)) != 0 || strlen(key) >= n)
		abort();
	memset(small, CANARY, sizeof(small));
	if (pol_sip_uri_canon(uri, (char *)small, n) != POL_XLATE_TOO_LONG || !all(small, sizeof(small), CANARY))
		abort();
	if (pol_sip_uri_canon(uri, (char *)small, n + 1) != POL_XLATE_OK || memcmp(small, canon, n + 1) != 0 ||
	    !all(small + n + 1, sizeof(small) - n - 1, CANARY))
		abort();
}

/* The README's rule: whatever the input, an accepted destination is canonical. */
static void check_translate(const char *input)
{
	static struct pol_xlate *x;
	if (!x) {
		const char *pat[] = {"^(sips?:.*)$", "^(.*)$"};
		const char *outp[] = {"$1", "sip:$1@pbx.example"};
		const struct pol_xlate_spec spec = {.patterns = pat, .outputs = outp, .n = 2};
		if (pol_xlate_compile(&spec, &x, NULL) != 0)
			abort();
	}
	char out[1024], canon[1024];
	if (pol_xlate_apply(x, input, out, sizeof(out)) != POL_XLATE_OK)
		return;
	if (pol_sip_uri_canon(out, canon, sizeof(canon)) != POL_XLATE_OK || strcmp(out, canon) != 0 ||
	    pol_xlate_check(x, out) != POL_XLATE_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	check_parts(s);
	check_canon(s);
	check_translate(s);
	free(s);
	return 0;
}
