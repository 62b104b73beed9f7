/* policy/patterns.c: a list of PCRE2 patterns and "does this string match one of them" (the originator's
 * auto-answer initiators, the names of extra headers). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "policy/policy.h"

#include "common/common.h"

#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#define PAT_MATCH_LIMIT    100000
#define PAT_DEPTH_LIMIT    1000
#define PAT_HEAP_LIMIT_KIB 1024

struct pol_patterns {
	pcre2_code **re;
	size_t n;
	pcre2_match_context *mctx;
};

void pol_patterns_free(struct pol_patterns *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		pcre2_code_free(p->re[i]);
	free(p->re);
	pcre2_match_context_free(p->mctx);
	free(p);
}

int pol_patterns_compile(const char *const *pats, size_t n, bool caseless, struct pol_patterns **out,
			 struct pol_error *err)
{
	struct pol_patterns *p = calloc(1, sizeof(*p));
	int rc = ENOMEM;
	if (!p || !(p->re = calloc(n ? n : 1, sizeof(*p->re))) || !(p->mctx = pcre2_match_context_create(NULL)))
		goto out;
	pcre2_set_match_limit(p->mctx, PAT_MATCH_LIMIT);
	pcre2_set_depth_limit(p->mctx, PAT_DEPTH_LIMIT);
	pcre2_set_heap_limit(p->mctx, PAT_HEAP_LIMIT_KIB);
	uint32_t opts = PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C | (caseless ? PCRE2_CASELESS : 0);
	for (; p->n < n; p->n++) {
		int ec = 0;
		PCRE2_SIZE off = 0;
		p->re[p->n] = pcre2_compile((PCRE2_SPTR)pats[p->n], PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
		if (!p->re[p->n]) {
			PCRE2_UCHAR msg[160];
			if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
				msg[0] = '\0';
			if (err) {
				err->list = POL_LIST_NONE;
				err->index = p->n;
				(void)ch_fmt(err->msg, sizeof(err->msg), "%s at offset %zu", (const char *)msg,
					     (size_t)off);
			}
			rc = EINVAL;
			goto out;
		}
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	if (rc == ENOMEM && err) {
		err->list = POL_LIST_NONE;
		err->index = 0;
		(void)ch_fmt(err->msg, sizeof(err->msg), "out of memory");
	}
	pol_patterns_free(p);
	return rc;
}

bool pol_patterns_match(const struct pol_patterns *p, const char *s)
{
	if (!p || !s)
		return false;
	size_t len = strlen(s);
	for (size_t i = 0; i < p->n; i++) {
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->re[i], NULL);
		if (!md)
			return false;
		/* UTF checked by PCRE2 here: the input may come straight from a request */
		int r = pcre2_match(p->re[i], (PCRE2_SPTR)s, len, 0, 0, md, p->mctx);
		pcre2_match_data_free(md);
		if (r >= 0)
			return true;
	}
	return false; /* no match, a limit or invalid UTF-8: fail closed */
}
