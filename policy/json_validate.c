/* policy/json_validate.c: the hook's strict single-pass JSON validator (RFC 8259, duplicates, UTF-8, caps), no tree. */
#include "policy/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One key in the duplicate table: obj 0 is an empty slot. */
struct jv_slot {
	uint32_t obj, hash, off, len;
};

#define JV_TAB_SMALL 64

struct jv {
	const unsigned char *b;
	size_t len, i, depth, max_depth, max_members, members;
	uint32_t next_obj;
	struct pol_json_doc *doc;
	struct jv_slot *tab;
	size_t tab_mask, tab_used;
	struct jv_slot tab_small[JV_TAB_SMALL];
};

/* Byte classes inside a string: 0 plain ASCII, 1 '"', 2 '\\', 3 control, 4 >= 0x80. */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 1, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

/* Whether any of the 8 bytes at b needs a look inside a string: '"', '\\',
 * a control character or a byte >= 0x80 (exact for "any"; the classic
 * has-zero-byte bit trick, 8 bytes per step). */
static bool special8(const unsigned char *b)
{
	const uint64_t lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
	uint64_t v;
	memcpy(&v, b, 8);
	uint64_t q = v ^ (lo * '"'), s = v ^ (lo * '\\');
	uint64_t m = ((q - lo) & ~q) | ((s - lo) & ~s) | ((v - lo * 0x20) & ~v) | v;
	return (m & hi) != 0;
}

const char *pol_json_fault_reason(enum pol_json_fault f)
{
	switch (f) {
	case POL_JSON_OK:
		return "ok";
	case POL_JSON_EMPTY:
		return "empty body: a JSON object is required";
	case POL_JSON_MALFORMED:
		return "malformed JSON";
	case POL_JSON_DUPLICATE:
		return "duplicate object key";
	case POL_JSON_UTF8:
		return "invalid UTF-8";
	case POL_JSON_DEEP:
		return "JSON nested too deeply";
	case POL_JSON_NOT_OBJECT:
		return "the body must be a JSON object";
	case POL_JSON_TOO_MANY:
		return "too many members in the body object";
	case POL_JSON_NOMEM:
		return "out of memory";
	}
	return "malformed JSON";
}

/* Length of the valid UTF-8 sequence at b[0..n) (first byte >= 0x80), or 0:
 * no overlong form, no surrogate, nothing past U+10FFFF, not truncated. */
static size_t utf8_seq(const unsigned char *b, size_t n)
{
	unsigned c = b[0];
	size_t k;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		k = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		k = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		k = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t j = 1; j < k; j++) {
		if ((b[j] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (b[j] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	return k;
}

/* The fault of an unexpected byte at b[i]: where Jansson's reader would
 * have failed to decode a character there, invalid UTF-8, else malformed. */
static enum pol_json_fault bad_byte(const struct jv *p, size_t i)
{
	if (i < p->len && p->b[i] >= 0x80 && utf8_seq(p->b + i, p->len - i) == 0)
		return POL_JSON_UTF8;
	return POL_JSON_MALFORMED;
}

static enum pol_json_fault scan_string(struct jv *p, char *out, size_t *dlen);
static enum pol_json_fault scan_number(struct jv *p);

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The fault of an unexpected token at b[i]. Jansson lexes the whole token
 * before its parser refuses it, and a character it cannot decode on the way
 * (inside a string, after a word or a number) is invalid UTF-8. */
static enum pol_json_fault bad_token(const struct jv *p, size_t i)
{
	if (i >= p->len)
		return POL_JSON_MALFORMED;
	unsigned char c = p->b[i];
	struct jv q = {.b = p->b, .len = p->len, .i = i};
	if (c == '"')
		return scan_string(&q, NULL, NULL) == POL_JSON_UTF8 ? POL_JSON_UTF8 : POL_JSON_MALFORMED;
	if (c == '-' || (c >= '0' && c <= '9')) {
		enum pol_json_fault f = scan_number(&q);
		return f != POL_JSON_OK ? f : bad_byte(p, q.i);
	}
	while (i < p->len && is_alpha(p->b[i]))
		i++;
	return bad_byte(p, i);
}

static void skip_ws(struct jv *p)
{
	while (p->i < p->len) {
		unsigned char c = p->b[p->i];
		if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
			break;
		p->i++;
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 4 hex digits at b[i]: their value, or -1 with *at the first bad one. */
static long hex4(const struct jv *p, size_t i, size_t *at)
{
	long v = 0;
	for (size_t j = 0; j < 4; j++) {
		int h = i + j < p->len ? hexval(p->b[i + j]) : -1;
		if (h < 0) {
			*at = i + j;
			return -1;
		}
		v = (v << 4) | h;
	}
	return v;
}

static size_t utf8_put(uint32_t v, char *o)
{
	if (v < 0x80) {
		o[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		o[0] = (char)(0xC0 | (v >> 6));
		o[1] = (char)(0x80 | (v & 0x3F));
		return 2;
	}
	if (v < 0x10000) {
		o[0] = (char)(0xE0 | (v >> 12));
		o[1] = (char)(0x80 | ((v >> 6) & 0x3F));
		o[2] = (char)(0x80 | (v & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (v >> 18));
	o[1] = (char)(0x80 | ((v >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((v >> 6) & 0x3F));
	o[3] = (char)(0x80 | (v & 0x3F));
	return 4;
}

/* \uXXXX at b[i] (i on the 'u'): *cp and the bytes consumed after the 'u',
 * or a fault. A lone or unpaired surrogate and U+0000 set *late (reported
 * after the string, as Jansson does: its raw checks come first). */
static enum pol_json_fault unicode_escape(const struct jv *p, size_t i, uint32_t *cp, size_t *used, bool *late)
{
	size_t at;
	long v = hex4(p, i + 1, &at);
	if (v < 0)
		return at < p->len ? bad_byte(p, at) : POL_JSON_MALFORMED;
	*used = 5;
	*cp = (uint32_t)v;
	if (v >= 0xD800 && v <= 0xDBFF) {
		long lo = -1;
		if (i + 6 < p->len && p->b[i + 5] == '\\' && p->b[i + 6] == 'u')
			lo = hex4(p, i + 7, &at);
		if (lo >= 0xDC00 && lo <= 0xDFFF) {
			*cp = (uint32_t)(((v - 0xD800) << 10) + (lo - 0xDC00) + 0x10000);
			*used = 11;
		} else {
			*late = true;
		}
	} else if ((v >= 0xDC00 && v <= 0xDFFF) || v == 0) {
		*late = true;
	}
	return POL_JSON_OK;
}

/* One escape at b[i] (the backslash): appends the decoded bytes to *o when
 * o is not NULL, advances *i past it. */
static enum pol_json_fault escape(const struct jv *p, size_t *i, char **o, bool *late)
{
	size_t k = *i + 1;
	if (k >= p->len)
		return POL_JSON_MALFORMED;
	unsigned char e = p->b[k];
	char d;
	switch (e) {
	case '"':
	case '\\':
	case '/':
		d = (char)e;
		break;
	case 'b':
		d = '\b';
		break;
	case 'f':
		d = '\f';
		break;
	case 'n':
		d = '\n';
		break;
	case 'r':
		d = '\r';
		break;
	case 't':
		d = '\t';
		break;
	case 'u': {
		uint32_t cp = 0;
		size_t used = 0;
		enum pol_json_fault f = unicode_escape(p, k, &cp, &used, late);
		if (f != POL_JSON_OK)
			return f;
		if (*o)
			*o += utf8_put(cp, *o);
		*i = k + used;
		return POL_JSON_OK;
	}
	default:
		return bad_byte(p, k);
	}
	if (*o)
		*(*o)++ = d;
	*i = k + 1;
	return POL_JSON_OK;
}

/* The string at b[i] (on the quote). With out, decodes it there (at most
 * its raw length) and NUL-terminates; *dlen is the decoded length. */
static enum pol_json_fault scan_string(struct jv *p, char *out, size_t *dlen)
{
	size_t i = p->i + 1;
	char *o = out;
	bool late = false;
	for (;;) {
		size_t s = i;
		while (i + 8 <= p->len && !special8(p->b + i))
			i += 8;
		while (i < p->len && str_class[p->b[i]] == 0)
			i++;
		if (o) {
			memcpy(o, p->b + s, i - s);
			o += i - s;
		}
		if (i >= p->len)
			return POL_JSON_MALFORMED;
		unsigned char c = p->b[i];
		if (c == '"')
			break;
		if (c == '\\') {
			enum pol_json_fault f = escape(p, &i, &o, &late);
			if (f != POL_JSON_OK)
				return f;
		} else if (c >= 0x80) {
			size_t k = utf8_seq(p->b + i, p->len - i);
			if (!k)
				return POL_JSON_UTF8;
			if (o) {
				memcpy(o, p->b + i, k);
				o += k;
			}
			i += k;
		} else {
			return POL_JSON_MALFORMED; /* a control character */
		}
	}
	if (late)
		return POL_JSON_MALFORMED;
	if (o) {
		*o = '\0';
		*dlen = (size_t)(o - out);
	}
	p->i = i + 1;
	return POL_JSON_OK;
}

static enum pol_json_fault scan_number(struct jv *p)
{
	const unsigned char *b = p->b;
	size_t i = p->i, n = p->len;
	if (b[i] == '-')
		i++;
	if (i < n && b[i] == '0') {
		if (++i < n && b[i] >= '0' && b[i] <= '9')
			return POL_JSON_MALFORMED; /* a leading zero: Jansson stops right there */
	} else if (i < n && b[i] >= '1' && b[i] <= '9') {
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	} else {
		return bad_byte(p, i);
	}
	if (i < n && b[i] == '.') {
		i++;
		if (i >= n || b[i] < '0' || b[i] > '9')
			return bad_byte(p, i);
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	if (i < n && (b[i] == 'e' || b[i] == 'E')) {
		i++;
		if (i < n && (b[i] == '+' || b[i] == '-'))
			i++;
		if (i >= n || b[i] < '0' || b[i] > '9')
			return bad_byte(p, i);
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	p->i = i;
	return POL_JSON_OK;
}

/* true, false, null; like Jansson, a failed word is read to its last letter. */
static enum pol_json_fault scan_word(struct jv *p)
{
	static const char *const words[] = {"true", "false", "null"};
	for (size_t w = 0; w < 3; w++) {
		size_t k = strlen(words[w]);
		if (p->len - p->i >= k && memcmp(p->b + p->i, words[w], k) == 0 &&
		    (p->i + k == p->len || !is_alpha(p->b[p->i + k]))) {
			p->i += k;
			return POL_JSON_OK;
		}
	}
	size_t j = p->i;
	while (j < p->len && is_alpha(p->b[j]))
		j++;
	return bad_byte(p, j);
}

static uint32_t key_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static int tab_grow(struct jv *p)
{
	size_t cap = (p->tab_mask + 1) * 2;
	struct jv_slot *t = calloc(cap, sizeof(*t));
	if (!t)
		return ENOMEM;
	for (size_t i = 0; i <= p->tab_mask; i++) {
		struct jv_slot s = p->tab[i];
		if (!s.obj)
			continue;
		size_t j = s.hash & (cap - 1);
		while (t[j].obj)
			j = (j + 1) & (cap - 1);
		t[j] = s;
	}
	if (p->tab != p->tab_small)
		free(p->tab);
	p->tab = t;
	p->tab_mask = cap - 1;
	return 0;
}

/* The key arena[off..off+len) of object obj: DUPLICATE when obj has it already. */
static enum pol_json_fault key_add(struct jv *p, uint32_t obj, size_t off, size_t len)
{
	const char *k = p->doc->arena + off;
	uint32_t h = key_hash(k, len);
	size_t j = h & p->tab_mask;
	for (; p->tab[j].obj; j = (j + 1) & p->tab_mask) {
		const struct jv_slot *s = &p->tab[j];
		if (s->obj == obj && s->hash == h && s->len == len && memcmp(p->doc->arena + s->off, k, len) == 0)
			return POL_JSON_DUPLICATE;
	}
	p->tab[j] = (struct jv_slot){obj, h, (uint32_t)off, (uint32_t)len};
	if (++p->tab_used * 2 > p->tab_mask + 1 && tab_grow(p))
		return POL_JSON_NOMEM;
	return POL_JSON_OK;
}

/* A top-level member: kept up to max_members, counted past it. */
static enum pol_json_fault member_add(struct jv *p, const struct pol_member *m, const char *name)
{
	struct pol_json_doc *d = p->doc;
	if (++p->members > p->max_members)
		return POL_JSON_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap * 2;
		struct pol_member *nm = malloc(cap * sizeof(*nm));
		const char **nn = malloc(cap * sizeof(*nn));
		if (!nm || !nn) {
			free(nm);
			free(nn);
			return POL_JSON_NOMEM;
		}
		memcpy(nm, d->m, d->n * sizeof(*nm));
		memcpy(nn, d->names, d->n * sizeof(*nn));
		if (d->m != d->m_in) {
			free(d->m);
			free(d->names);
		}
		d->m = nm;
		d->names = nn;
		d->cap = cap;
	}
	d->m[d->n] = *m;
	d->names[d->n++] = name;
	return POL_JSON_OK;
}

static enum pol_json_fault scan_value(struct jv *p);

/* One "key": value of object obj; at the top level, a member. */
static enum pol_json_fault scan_pair(struct jv *p, uint32_t obj)
{
	struct pol_member m = {.key_off = p->i};
	size_t off = p->doc->arena_used, dlen = 0;
	enum pol_json_fault f = scan_string(p, p->doc->arena + off, &dlen);
	if (f != POL_JSON_OK)
		return f;
	m.key_len = p->i - m.key_off;
	p->doc->arena_used += dlen + 1;
	f = key_add(p, obj, off, dlen);
	if (f != POL_JSON_OK)
		return f;
	skip_ws(p);
	if (p->i >= p->len || p->b[p->i] != ':')
		return bad_token(p, p->i);
	p->i++;
	skip_ws(p);
	m.val_off = p->i;
	f = scan_value(p);
	if (f != POL_JSON_OK)
		return f;
	m.val_len = p->i - m.val_off;
	return p->depth == 1 ? member_add(p, &m, p->doc->arena + off) : POL_JSON_OK;
}

/* An object or an array at b[i]. */
static enum pol_json_fault scan_container(struct jv *p)
{
	bool obj = p->b[p->i] == '{';
	unsigned char close = obj ? '}' : ']';
	uint32_t id = obj ? ++p->next_obj : 0;
	if (++p->depth > p->max_depth)
		return POL_JSON_DEEP;
	p->i++;
	skip_ws(p);
	if (p->i < p->len && p->b[p->i] == close) {
		p->i++;
		p->depth--;
		return POL_JSON_OK;
	}
	for (;;) {
		enum pol_json_fault f;
		if (obj && (p->i >= p->len || p->b[p->i] != '"'))
			return bad_token(p, p->i);
		f = obj ? scan_pair(p, id) : scan_value(p);
		if (f != POL_JSON_OK)
			return f;
		skip_ws(p);
		if (p->i < p->len && p->b[p->i] == ',') {
			p->i++;
			skip_ws(p);
			continue;
		}
		if (p->i < p->len && p->b[p->i] == close)
			break;
		return bad_token(p, p->i);
	}
	p->i++;
	p->depth--;
	return POL_JSON_OK;
}

static enum pol_json_fault scan_value(struct jv *p)
{
	if (p->i >= p->len)
		return POL_JSON_MALFORMED;
	unsigned char c = p->b[p->i];
	if (c == '{' || c == '[')
		return scan_container(p);
	if (c == '"')
		return scan_string(p, NULL, NULL);
	if (c == '-' || (c >= '0' && c <= '9'))
		return scan_number(p);
	if (is_alpha(c))
		return scan_word(p);
	return bad_byte(p, p->i);
}

static void doc_init(struct pol_json_doc *d, const char *buf, size_t len)
{
	d->raw = buf;
	d->len = len;
	d->m = d->m_in;
	d->names = d->names_in;
	d->vals = NULL;
	d->n = 0;
	d->cap = POL_JSON_INLINE_MEMBERS;
	d->arena = d->arena_in;
	d->arena_cap = sizeof(d->arena_in);
	d->arena_used = 0;
	d->n_sub = 0;
}

void pol_json_doc_free(struct pol_json_doc *d)
{
	if (!d || !d->m)
		return;
	if (d->m != d->m_in) {
		free(d->m);
		free(d->names);
	}
	if (d->vals != d->vals_in)
		free(d->vals);
	if (d->arena != d->arena_in)
		free(d->arena);
	d->m = NULL;
	d->names = NULL;
	d->vals = NULL;
	d->arena = NULL;
	d->n = 0;
}

static enum pol_json_fault validate(struct jv *p)
{
	/* every decoded string fits in its raw bytes, the NUL in its quotes */
	if (p->len + 1 > p->doc->arena_cap) {
		p->doc->arena = malloc(p->len + 1);
		if (!p->doc->arena)
			return POL_JSON_NOMEM;
		p->doc->arena_cap = p->len + 1;
	}
	skip_ws(p);
	if (p->i >= p->len)
		return POL_JSON_MALFORMED;
	bool obj = p->b[p->i] == '{';
	enum pol_json_fault f = scan_value(p);
	if (f != POL_JSON_OK)
		return f;
	skip_ws(p);
	if (p->i != p->len)
		return bad_token(p, p->i);
	if (!obj)
		return POL_JSON_NOT_OBJECT;
	if (p->members > p->max_members)
		return POL_JSON_TOO_MANY;
	return POL_JSON_OK;
}

enum pol_json_fault pol_json_validate(const char *buf, size_t len, size_t max_depth, size_t max_members,
				      struct pol_json_doc *doc)
{
	doc_init(doc, buf, len);
	if (!buf || len == 0)
		return POL_JSON_EMPTY;
	if (len >= UINT32_MAX)
		return POL_JSON_NOMEM;
	struct jv p = {.b = (const unsigned char *)buf,
		       .len = len,
		       .max_depth = max_depth,
		       .max_members = max_members,
		       .doc = doc,
		       .tab_mask = JV_TAB_SMALL - 1};
	memset(p.tab_small, 0, sizeof(p.tab_small));
	p.tab = p.tab_small;
	enum pol_json_fault f = validate(&p);
	if (p.tab != p.tab_small)
		free(p.tab);
	if (f == POL_JSON_OK && doc->n > POL_JSON_INLINE_MEMBERS) {
		doc->vals = calloc(doc->n, sizeof(*doc->vals));
		if (!doc->vals)
			f = POL_JSON_NOMEM;
	} else if (f == POL_JSON_OK) {
		memset(doc->vals_in, 0, doc->n * sizeof(*doc->vals_in));
		doc->vals = doc->vals_in;
	}
	if (f != POL_JSON_OK) {
		/* the old order: a body too deep before its first open string says so */
		if (f != POL_JSON_NOMEM && pol_json_depth(buf, len, max_depth) > max_depth)
			f = POL_JSON_DEEP;
		pol_json_doc_free(doc);
		doc_init(doc, buf, len);
	}
	return f;
}

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
	if (scan_string(&q, out, &dlen) != POL_JSON_OK)
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
		scan_string(q, NULL, NULL);
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
			scan_string(q, NULL, NULL);
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
	scan_string(q, NULL, NULL);
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
	scan_string(&k, buf, &dlen);
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
		skip_ws(&q);
		if (q.i >= q.len || q.b[q.i] != '"')
			return NULL;
		bool hit = key_is(&q, name);
		skip_ws(&q);
		q.i++; /* ':' */
		skip_ws(&q);
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
		skip_ws(&q);
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
