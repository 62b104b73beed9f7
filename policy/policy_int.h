/* policy/policy_int.h: what the files of policy/ share and nothing outside sees: the JSON validator's scanner. */
#ifndef POL_POLICY_INT_H
#define POL_POLICY_INT_H

#include "policy/policy.h"

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

/* The string at p->b[p->i] (on its quote), validated (json_validate.c):
 * with out, decoded there (at most its raw length) and NUL-terminated,
 * *dlen its decoded length; p->i moves past it on success. */
enum pol_json_fault pol_jv_string(struct jv *p, char *out, size_t *dlen);
/* Past JSON whitespace at p->i. */
void pol_jv_skip_ws(struct jv *p);

#endif
