/* policy/json_validate.c: the hook's strict single-pass JSON validator (RFC 8259, duplicates, UTF-8, caps), no tree. */
#include "policy/policy_int.h"

#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

/* A byte a string holds as is: not '"', '\\', a control character or >= 0x80. */
static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* Where the first of the 8 bytes at b that needs a look inside a string is
 * ('"', '\\', a control character or a byte >= 0x80): 0..7, or 8 when none
 * does. The has-zero-byte bit trick: a borrow can flag a byte above a true
 * hit, never below one, so the lowest flag is exact. */
static unsigned special8(const unsigned char *b)
{
	const uint64_t lo = 0x0101010101010101ull, hi = 0x8080808080808080ull;
	uint64_t v;
	memcpy(&v, b, 8);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	uint64_t q = v ^ (lo * '"'), s = v ^ (lo * '\\');
	uint64_t m = (((q - lo) & ~q) | ((s - lo) & ~s) | ((v - lo * 0x20) & ~v) | v) & hi;
	return m ? (unsigned)__builtin_ctzll(m) / 8 : 8;
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

/* Past the bytes a string holds as is from b[i]: 16 at a time (SSE2, every
 * x86-64 has it), then 8, then one by one near the end. */
static size_t plain_run(const struct jv *p, size_t i)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
	while (i + 16 <= p->len) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p->b + i));
		/* signed: a byte >= 0x80 is negative, so below 0x20 as a control character is */
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
					 _mm_cmplt_epi8(v, space));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return i + (unsigned)__builtin_ctz(bits);
		i += 16;
	}
#endif
	while (i + 8 <= p->len) {
		unsigned at = special8(p->b + i);
		if (at < 8)
			return i + at;
		i += 8;
	}
	while (i < p->len && plain(p->b[i]))
		i++;
	return i;
}

/* memcpy of a short run without the call (keys are a few bytes): loads
 * and stores that stay inside [0, n). */
static void copy_run(char *o, const unsigned char *b, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t x, y;
		memcpy(&x, b, 8);
		memcpy(&y, b + n - 8, 8);
		memcpy(o, &x, 8);
		memcpy(o + n - 8, &y, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t x, y;
		memcpy(&x, b, 4);
		memcpy(&y, b + n - 4, 4);
		memcpy(o, &x, 4);
		memcpy(o + n - 4, &y, 4);
	} else if (n < 4) {
		for (size_t j = 0; j < n; j++)
			o[j] = (char)b[j];
	} else {
		memcpy(o, b, n);
	}
}
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
		/* every JSON space is <= ' ': one test for the usual non-space */
		if (c > ' ' || (c != ' ' && c != '\n' && c != '\r' && c != '\t'))
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
		i = plain_run(p, i);
		if (o) {
			copy_run(o, p->b + s, i - s);
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

/* 8 bytes a step (keys are short: one or two steps), then a final mix; the
 * table compares the bytes anyway, the hash only spreads them. */
static uint32_t key_hash(const char *s, size_t n)
{
	const uint64_t k = 0x9E3779B97F4A7C15ull;
	uint64_t h = n * k;
	for (; n >= 8; s += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	if (n >= 4) { /* two loads that may overlap */
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		h = (h ^ ((uint64_t)a << 32 | b)) * k;
	} else if (n) {
		h = (h ^ ((uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[n / 2] << 8 |
			  (unsigned char)s[n - 1])) *
		    k;
	}
	h ^= h >> 32;
	return (uint32_t)h;
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
		       .tab_mask = JV_TAB_SMALL - 1}; /* the rest, tab_small too, zeroed */
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

enum pol_json_fault pol_jv_string(struct jv *p, char *out, size_t *dlen)
{
	return scan_string(p, out, dlen);
}

void pol_jv_skip_ws(struct jv *p)
{
	skip_ws(p);
}
