/* policy/json_read.c: reading a body pol_json_validate accepted: members by name, decoded on first use, custom.<name>,
 * numbers. */
#include "policy/policy_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading a validated doc ------------------------------------------- */

/* Decode the validated string at raw[off] (raw_len bytes with its quotes,
 * 0: unknown) into the arena; NULL when full. */
static const char *decode_at(struct pol_json_doc *d, size_t off, size_t raw_len)
{
	struct jv q = {.b = (const unsigned char *)d->raw, .len = d->len, .i = off};
	size_t dlen = 0;
	size_t room = d->arena_cap - d->arena_used;
	/* the string's raw bytes bound its decoded length and NUL */
	size_t end = off + raw_len - 1;
	if (!raw_len) {
		end = off + 1;
		while (end < d->len && d->raw[end] != '"')
			end += d->raw[end] == '\\' ? 2 : 1;
	}
	if (end - off > room)
		return NULL;
	char *out = d->arena + d->arena_used;
	if (pol_jv_string(&q, out, &dlen) != POL_JSON_OK)
		return NULL;
	d->arena_used += dlen + 1;
	return out;
}

static bool find_member(const struct pol_json_doc *d, const char *name, size_t *at)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->names[i][0] == name[0] && strcmp(d->names[i], name) == 0) {
			*at = i;
			return true;
		}
	}
	return false;
}

const char *pol_json_str(struct pol_json_doc *d, const char *name, bool *bad)
{
	size_t i;
	if (bad)
		*bad = false;
	if (!d || !d->vals || !find_member(d, name, &i))
		return NULL;
	if (d->raw[d->m[i].val_off] != '"') {
		if (bad)
			*bad = true;
		return NULL;
	}
	if (!d->vals[i])
		d->vals[i] = decode_at(d, d->m[i].val_off, d->m[i].val_len);
	return d->vals[i];
}

/* Past the validated value at q->i. */
static void skip_valid(struct jv *q)
{
	unsigned char c = q->b[q->i];
	if (c == '"') {
		pol_jv_string(q, NULL, NULL);
		return;
	}
	if (c != '{' && c != '[') {
		while (q->i < q->len && !strchr(",}] \t\r\n", q->b[q->i]))
			q->i++;
		return;
	}
	size_t depth = 0;
	while (q->i < q->len) {
		c = q->b[q->i];
		if (c == '"') {
			pol_jv_string(q, NULL, NULL);
			continue;
		}
		q->i++;
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return;
	}
}

/* Whether the validated key at q->i decodes to name; q->i moves past it. */
static bool key_is(struct jv *q, const char *name)
{
	size_t start = q->i, nlen = strlen(name);
	pol_jv_string(q, NULL, NULL);
	size_t raw = q->i - start - 2;
	if (raw < nlen || raw > 6 * nlen)
		return false;
	if (!memchr(q->b + start + 1, '\\', raw))
		return raw == nlen && memcmp(q->b + start + 1, name, nlen) == 0;
	char buf[256];
	if (raw >= sizeof(buf))
		return false; /* decodes to more than 40 bytes: not one of ours */
	struct jv k = {.b = q->b, .len = q->len, .i = start};
	size_t dlen = 0;
	pol_jv_string(&k, buf, &dlen);
	return dlen == nlen && memcmp(buf, name, nlen) == 0;
}

static const char *sub_cached(struct pol_json_doc *d, size_t off)
{
	for (size_t i = 0; i < d->n_sub; i++) {
		if (d->sub[i].off == off)
			return d->sub[i].s;
	}
	const char *s = d->n_sub < POL_JSON_SUB_CACHE ? decode_at(d, off, 0) : NULL;
	if (s) {
		d->sub[d->n_sub].off = off;
		d->sub[d->n_sub++].s = s;
	}
	return s;
}

const char *pol_json_sub_str(struct pol_json_doc *d, const char *obj, const char *name, bool *bad)
{
	size_t i;
	*bad = false;
	if (!d || !d->vals || strlen(name) > 40 || !find_member(d, obj, &i) || d->raw[d->m[i].val_off] != '{')
		return NULL;
	struct jv q = {.b = (const unsigned char *)d->raw, .len = d->m[i].val_off + d->m[i].val_len};
	q.i = d->m[i].val_off + 1;
	for (;;) {
		pol_jv_skip_ws(&q);
		if (q.i >= q.len || q.b[q.i] != '"')
			return NULL;
		bool hit = key_is(&q, name);
		pol_jv_skip_ws(&q);
		q.i++; /* ':' */
		pol_jv_skip_ws(&q);
		if (hit) {
			if (q.b[q.i] != '"') {
				*bad = true;
				return NULL;
			}
			const char *s = sub_cached(d, q.i);
			*bad = !s;
			return s;
		}
		skip_valid(&q);
		pol_jv_skip_ws(&q);
		q.i++; /* ',' or '}' */
	}
}

int pol_json_num(const struct pol_json_doc *d, const char *name, double *out)
{
	size_t i;
	if (!d || !d->vals || !find_member(d, name, &i))
		return ENOENT;
	const char *v = d->raw + d->m[i].val_off;
	size_t n = d->m[i].val_len;
	if (*v != '-' && (*v < '0' || *v > '9'))
		return ENOENT;
	char buf[64];
	char *s = n < sizeof(buf) ? buf : malloc(n + 1);
	if (!s)
		return ENOENT;
	memcpy(s, v, n);
	s[n] = '\0';
	*out = strtod(s, NULL);
	if (s != buf)
		free(s);
	return 0;
}
