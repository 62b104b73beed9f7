/* tests/fuzz/fuzz_json_validate.c: the hook's validator against Jansson as the hook used it (verdict, reason, spans).
 */
#include "policy/policy.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the hook's defaults (config/schema.c) */
#define MAX_DEPTH   32
#define MAX_MEMBERS 1000
#define FLAGS       (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY)

/* What the hook answered before issue 10: the depth pre-check, json_loadb,
 * the object and member checks, in that order. */
static enum pol_json_fault oracle(const char *b, size_t len, json_t **root, json_error_t *err)
{
	*root = NULL;
	if (len == 0)
		return POL_JSON_EMPTY;
	if (pol_json_depth(b, len, MAX_DEPTH) > MAX_DEPTH)
		return POL_JSON_DEEP;
	*root = json_loadb(b, len, FLAGS, err);
	if (!*root) {
		switch (json_error_code(err)) {
		case json_error_duplicate_key:
			return POL_JSON_DUPLICATE;
		case json_error_invalid_utf8:
			return POL_JSON_UTF8;
		default:
			return POL_JSON_MALFORMED;
		}
	}
	if (!json_is_object(*root))
		return POL_JSON_NOT_OBJECT;
	if (json_object_size(*root) > MAX_MEMBERS)
		return POL_JSON_TOO_MANY;
	return POL_JSON_OK;
}

static void same_str(const char *got, const json_t *want)
{
	if (!got || strlen(got) != json_string_length(want) || memcmp(got, json_string_value(want), strlen(got)) != 0)
		abort();
}

/* The strings one level down (custom.button and the like), a few per doc. */
static void check_sub(struct pol_json_doc *d, const char *obj, json_t *o, size_t *budget)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		bool bad = false;
		if (strlen(k) > 40 || *budget == 0)
			continue;
		if (json_is_string(v))
			(*budget)--;
		const char *s = pol_json_sub_str(d, obj, k, &bad);
		if (json_is_string(v))
			same_str(s, v);
		else if (s || !bad)
			abort();
	}
}

/* On accept: the members in order, their spans, names and decoded values. */
static void check_doc(struct pol_json_doc *d, json_t *root)
{
	if (d->n != json_object_size(root))
		abort();
	size_t i = 0, budget = POL_JSON_SUB_CACHE;
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it), i++) {
		const char *k = json_object_iter_key(it);
		json_t *v = json_object_iter_value(it);
		const struct pol_member *m = &d->m[i];
		if (strcmp(d->names[i], k) != 0 || strlen(k) != json_object_iter_key_len(it))
			abort();
		json_t *kj = json_loadb(d->raw + m->key_off, m->key_len, FLAGS, NULL);
		json_t *vj = json_loadb(d->raw + m->val_off, m->val_len, FLAGS, NULL);
		if (!json_is_string(kj) || strcmp(json_string_value(kj), k) != 0 || !json_equal(vj, v))
			abort();
		json_decref(kj);
		json_decref(vj);
		bool bad = false;
		const char *s = pol_json_str(d, k, &bad);
		double num = 0;
		int nrc = pol_json_num(d, k, &num);
		if (json_is_string(v))
			same_str(s, v);
		else if (s || !bad)
			abort();
		if (json_is_number(v) != (nrc == 0) || (nrc == 0 && num != json_number_value(v)))
			abort();
		if (json_is_object(v))
			check_sub(d, k, v, &budget);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	static struct pol_json_doc doc; /* big: off the stack */
	enum pol_json_fault got = pol_json_validate(b, size, MAX_DEPTH, MAX_MEMBERS, &doc);
	json_t *root;
	json_error_t err;
	memset(&err, 0, sizeof(err));
	enum pol_json_fault want = oracle(b, size, &root, &err);
	if (memchr(b, '\0', size)) {
		/* Jansson's stream drops a NUL it pushes back (it accepts
		 * {"n":1\0}, and reads on past it to another fault); a NUL
		 * byte is never JSON, in a string or out: always refused */
		if (got == POL_JSON_OK || got == POL_JSON_NOT_OBJECT || got == POL_JSON_TOO_MANY)
			abort();
	} else if (want == POL_JSON_MALFORMED && json_error_code(&err) == json_error_numeric_overflow) {
		/* 1e400: Jansson converts and refuses; the validator never
		 * converts (issue 10), so Jansson is no oracle here */
	} else if (got != want) {
		abort();
	} else if (got == POL_JSON_OK) {
		check_doc(&doc, root);
	}
	json_decref(root);
	pol_json_doc_free(&doc);
	return 0;
}
