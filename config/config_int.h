/* config/config_int.h: the config module's private declarations: the table's types, flags and F_* macros, the loader.
 */
#ifndef CFG_CONFIG_INT_H
#define CFG_CONFIG_INT_H

#include "config/config.h"

#include <stddef.h>

/* libconfig's setting, by its struct tag: the header stays free of libconfig.h (only .c files include it) */
struct config_setting_t;

#define NO_HAS     SIZE_MAX
#define SECRET_MAX 4096
#define CFG_PATH   300 /* a setting's path, "sites.[12].buttons.sales" */

enum ftype {
	FT_INT,
	FT_BOOL,
	FT_STR,
	FT_STRV,
	FT_GROUP, /* a nested group; its fields' offsets are relative to parent + off */
	FT_LIST,  /* a list of groups: an array of elem_size structs at off, count at count_off */
	FT_MAP,   /* a group of name = "string" pairs */
	FT_NAMED, /* a group of name = { ... } entries, or name = "string" for the sub-group's first setting
		   * alone: an array of elem_size structs at off, count at count_off; each element's first
		   * member is its name (char *), declared as an internal field */
};

/* What the table says about a setting beyond its type. */
enum cfg_flag {
	CFG_REQUIRED = 1u << 0,         /* absent is an error */
	CFG_SECRET = 1u << 1,           /* FT_STR / FT_STRV: the values are secrets (redacted, shown as ***) */
	CFG_RESTART = 1u << 2,          /* the value (every value of a group) is read at start only */
	CFG_RESTART_PRESENCE = 1u << 3, /* an optional group: adding or removing it needs a restart */
	CFG_NONEMPTY = 1u << 4,         /* FT_STR: "" is an error */
	CFG_DEFAULTS = 1u << 5,         /* FT_GROUP: apply the defaults even when absent */
	CFG_INTERNAL = 1u << 6,         /* not a setting: a value derived by a check, only freed */
	CFG_PREFIXLEN = 1u << 7,        /* FT_INT: a prefix length, shown as /N */
	CFG_PERMILLE = 1u << 8,         /* FT_INT: written as a number 0 to 1 (0.5), kept in thousandths */
};

struct group;

struct field {
	const char *name;
	enum ftype type;
	unsigned flags; /* enum cfg_flag */
	size_t off;
	size_t has_off;        /* a bool set when the setting is present, or NO_HAS */
	int64_t min, max, def; /* FT_INT bounds and default; def for FT_BOOL; max entries for FT_STRV (0 = any) */
	const char *def_str;   /* FT_STR default (copied), NULL = none */
	const char *const *choices;
	const struct group *sub;
	size_t elem_size, count_off; /* FT_LIST */
	const char *const *def_strv; /* FT_STRV default, NULL-terminated */
};

struct loader;
struct group {
	const struct field *fields;
	/* Cross-field checks after the fields are loaded; 0 or EINVAL (error set). */
	int (*check)(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
};

struct loader {
	struct cfg *cfg;
	struct priv *priv; /* the parsed file and the warnings (config/load.c) */
	struct cfg_error *err;
	const char *name;
};

#define AT(obj, off, T) ((T *)((char *)(obj) + (off)))

/* ---- the table's one-line entries (config/schema.c) --------------------- */

/* clang-format off */
#define F_(n, t, fl, st, m, has, ...) {.name = n, .type = t, .flags = fl, .off = offsetof(st, m), .has_off = has, __VA_ARGS__}
#define F_INT(n, st, m, lo, hi, d, fl)     F_(n, FT_INT, fl, st, m, NO_HAS, .min = lo, .max = hi, .def = d)
#define F_BOOL(n, st, m, d, fl)            F_(n, FT_BOOL, fl, st, m, NO_HAS, .def = d)
#define F_STR(n, st, m, fl)                F_(n, FT_STR, fl, st, m, NO_HAS, .def_str = NULL)
#define F_STR_DEF(n, st, m, d, ch, fl)     F_(n, FT_STR, fl, st, m, NO_HAS, .def_str = d, .choices = ch)
#define F_STRV(n, st, m, most, fl)         F_(n, FT_STRV, fl, st, m, NO_HAS, .max = most)
#define F_STRV_DEF(n, st, m, most, dv, fl) F_(n, FT_STRV, fl, st, m, NO_HAS, .max = most, .def_strv = dv)
#define F_STRV_OPT(n, st, m, has, fl)      F_(n, FT_STRV, fl, st, m, offsetof(st, has), .max = 0)
#define F_GROUP(n, st, m, g, fl)           F_(n, FT_GROUP, fl, st, m, NO_HAS, .sub = &g)
#define F_GROUP_OPT(n, st, m, has, g, fl)  F_(n, FT_GROUP, fl, st, m, offsetof(st, has), .sub = &g)
#define F_LIST(n, st, m, cnt, g, elem, fl) \
	F_(n, FT_LIST, fl, st, m, NO_HAS, .sub = &g, .elem_size = sizeof(elem), .count_off = offsetof(st, cnt))
#define F_MAP(n, st, m, fl)                F_(n, FT_MAP, fl, st, m, NO_HAS, .sub = NULL)
#define F_NAMED(n, st, m, cnt, g, elem, fl) \
	F_(n, FT_NAMED, fl, st, m, NO_HAS, .sub = &g, .elem_size = sizeof(elem), .count_off = offsetof(st, cnt))
/* A group whose settings live in the parent struct (offsets relative to it). */
#define F_FLAT(n, g, fl)              {.name = n, .type = FT_GROUP, .flags = fl, .off = 0, .has_off = NO_HAS, .sub = &g}
#define F_FLAT_OPT(n, st, has, g, fl) {.name = n, .type = FT_GROUP, .flags = fl, .off = 0, .has_off = offsetof(st, has), .sub = &g}
#define F_END                         {.name = NULL}
/* clang-format on */

/* the root of the table, and the hook's group (sites alone imply it) */
extern const struct group cfg_top_group;
extern const struct group cfg_hook_group;

/* ---- the loader (config/load.c) ---------------------------------------- */

/* Fill L->err for setting s (its line) at path; returns EINVAL. */
int cfg_fail(struct loader *L, const struct config_setting_t *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for the member child of group s (path "<path>.<child>"); the line is the member's if it is
 * present, else the group's. */
int cfg_fail_at(struct loader *L, const struct config_setting_t *s, const char *path, const char *child,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cfg_child_path(char *out, size_t cap, const char *parent, const char *name);
/* The setting at path ("sites.[1].name") in the file being loaded, or NULL. */
const struct config_setting_t *cfg_lookup(struct loader *L, const char *path);
void cfg_add_warning(struct loader *L, const struct config_setting_t *s, const char *path, const char *msg);
int cfg_strv_push(struct cfg_strv *v, const char *s);
void cfg_strv_free(struct cfg_strv *v);
int cfg_load_group(struct loader *L, const struct config_setting_t *s, const struct group *g, void *obj,
		   const char *path);
void cfg_free_group(const struct group *g, void *obj);

/* ---- the cross-field checks (config/checks.c) --------------------------- */

int cfg_check_tls(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_wcs_auth(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_forward(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_hook(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_sip(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_token(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_button(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_cid_leg(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_cdr(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_site(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_orig_http(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_orig_xml(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_orig_auth(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_orig_callbacks(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_orig(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_admin(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_store(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);
int cfg_check_top(struct loader *L, void *obj, const struct config_setting_t *s, const char *path);

#endif
