/* tests/fuzz/fuzz_jscan.c: fuzz the member scanner and depth check against Jansson as the oracle. */
#include "policy/policy.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXM  64
#define FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)

static size_t depth_of(const json_t *j)
{
	size_t d = 0;
	if (json_is_object(j)) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v)
		{
			size_t c = depth_of(v);
			d = c > d ? c : d;
		}
		return d + 1;
	}
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
		{
			size_t c = depth_of(v);
			d = c > d ? c : d;
		}
		return d + 1;
	}
	return 0;
}

static void check_spans(const char *b, size_t len, const struct pol_member *m, size_t n)
{
	size_t prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		if (m[i].key_off < prev_end || m[i].key_len < 2 || m[i].key_off + m[i].key_len > m[i].val_off ||
		    m[i].val_len == 0 || m[i].val_off + m[i].val_len > len)
			abort();
		if (b[m[i].key_off] != '"' || b[m[i].key_off + m[i].key_len - 1] != '"')
			abort();
		prev_end = m[i].val_off + m[i].val_len;
	}
}

/* With Jansson's verdict that buf is a valid object, every member span must
 * decode to exactly that member, in insertion order. */
static void check_against(const char *b, const struct pol_member *m, size_t n, json_t *obj)
{
	if (n != json_object_size(obj))
		abort();
	size_t i = 0;
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it), i++) {
		json_t *k = json_loadb(b + m[i].key_off, m[i].key_len, JSON_DECODE_ANY, NULL);
		json_t *v = json_loadb(b + m[i].val_off, m[i].val_len, FLAGS | JSON_DECODE_ANY, NULL);
		if (!k || !v || !json_is_string(k) || strcmp(json_string_value(k), json_object_iter_key(it)) != 0 ||
		    !json_equal(v, json_object_iter_value(it)))
			abort();
		json_decref(k);
		json_decref(v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	struct pol_member m[MAXM];
	size_t n = 0;
	int rc = pol_json_members(b, size, m, MAXM, &n);
	if (rc != 0 && rc != EINVAL && rc != E2BIG)
		abort();
	if (rc == 0)
		check_spans(b, size, m, n);
	size_t d = pol_json_depth(b, size, 4096);
	/* a tight cap must be reported as exceeded, not as a smaller depth */
	if (d > 0 && pol_json_depth(b, size, d - 1) != d)
		abort();

	/* Jansson's stream drops a NUL byte it has to push back (after a number
	 * or a literal: it accepts {"n":1\0}); a NUL is never valid JSON, so the
	 * scanner's EINVAL is right there and Jansson is no oracle. */
	if (memchr(b, '\0', size))
		return 0;
	json_t *j = json_loadb(b, size, FLAGS | JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	if (d != depth_of(j))
		abort();
	if (json_is_object(j)) {
		if (rc == EINVAL || (rc == E2BIG && json_object_size(j) <= MAXM))
			abort();
		if (rc == 0)
			check_against(b, m, n, j);
	}
	json_decref(j);
	return 0;
}
