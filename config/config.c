/* config/config.c: the table-driven loader: every setting declared once with type, bounds and default. */
#include "config/config.h"

#include "common/common.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_HAS     SIZE_MAX
#define SECRET_MAX 4096

enum ftype {
	FT_INT,
	FT_BOOL,
	FT_STR,
	FT_STRV,
	FT_GROUP, /* a nested group; its fields' offsets are relative to parent + off */
	FT_LIST,  /* a list of groups: an array of elem_size structs at off, count at count_off */
	FT_MAP,   /* a group of name = "string" pairs */
};

struct group;

struct field {
	const char *name;
	enum ftype type;
	size_t off;
	size_t has_off; /* a bool set when the setting is present, or NO_HAS */
	bool required;
	int64_t min, max, def; /* FT_INT bounds and default; def for FT_BOOL */
	const char *def_str;   /* FT_STR default (copied), NULL = none */
	const char *const *choices;
	bool secret;   /* FT_STR / FT_STRV: values are secrets */
	bool defaults; /* FT_GROUP: apply the defaults even when absent */
	const struct group *sub;
	size_t elem_size, count_off; /* FT_LIST */
	const char *const *def_strv; /* FT_STRV default, NULL-terminated */
	bool internal;               /* not a setting: a value derived by a check, only freed */
};

struct loader;
struct group {
	const struct field *fields;
	/* Cross-field checks after the fields are loaded; 0 or EINVAL (error set). */
	int (*check)(struct loader *L, void *obj, const config_setting_t *s, const char *path);
};

struct priv {
	config_t lc;
	struct cfg_strv warnings;
};

struct loader {
	struct cfg *cfg;
	struct priv *priv;
	struct cfg_error *err;
	const char *name;
};

/* ---- errors ------------------------------------------------------------ */

static void verr(struct cfg_error *err, const char *file, int line, const char *path, const char *fmt, va_list ap)
{
	if (!err)
		return;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

__attribute__((format(printf, 4, 5))) static int fail(struct loader *L, const config_setting_t *s, const char *path,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L->err, L->name, s ? config_setting_source_line(s) : 0, path, fmt, ap);
	va_end(ap);
	return EINVAL;
}

void cfg_error_format(const struct cfg_error *err, char *buf, size_t cap)
{
	if (err->line > 0 && err->path[0])
		snprintf(buf, cap, "%s:%d: %s: %s", err->file, err->line, err->path, err->msg);
	else if (err->line > 0)
		snprintf(buf, cap, "%s:%d: %s", err->file, err->line, err->msg);
	else if (err->path[0])
		snprintf(buf, cap, "%s: %s: %s", err->file, err->path, err->msg);
	else
		snprintf(buf, cap, "%s: %s", err->file, err->msg);
}

int cfg_line_of(const struct cfg *c, const char *path)
{
	const struct priv *p = c ? c->priv : NULL;
	if (!p)
		return 0;
	config_setting_t *s = config_lookup(&p->lc, path);
	return s ? config_setting_source_line(s) : 0;
}

void cfg_set_error(const struct cfg *c, struct cfg_error *err, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(err, c->path, cfg_line_of(c, path), path, fmt, ap);
	va_end(ap);
}

static void add_warning(struct loader *L, const config_setting_t *s, const char *path, const char *msg)
{
	char line[1024];
	snprintf(line, sizeof(line), "%s:%d: %s: %s", L->name, s ? config_setting_source_line(s) : 0, path, msg);
	struct cfg_strv *w = &L->priv->warnings;
	char **nv = realloc(w->v, (w->n + 1) * sizeof(*nv));
	if (!nv)
		return;
	w->v = nv;
	w->v[w->n] = strdup(line);
	if (w->v[w->n])
		w->n++;
}

const struct cfg_strv *cfg_warnings(const struct cfg *c)
{
	const struct priv *p = c->priv;
	return &p->warnings;
}

/* ---- generic field handling -------------------------------------------- */

#define AT(obj, off, T) ((T *)((char *)(obj) + (off)))

static void child_path(char *out, size_t cap, const char *parent, const char *name)
{
	if (parent[0])
		snprintf(out, cap, "%s.%s", parent, name);
	else
		snprintf(out, cap, "%s", name);
}

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
	}
	return false;
}

static int load_group(struct loader *L, const config_setting_t *s, const struct group *g, void *obj, const char *path);

static int strv_push(struct cfg_strv *v, const char *s)
{
	char **nv = realloc(v->v, (v->n + 1) * sizeof(*nv));
	if (!nv)
		return ENOMEM;
	v->v = nv;
	v->v[v->n] = strdup(s);
	if (!v->v[v->n])
		return ENOMEM;
	v->n++;
	return 0;
}

static int load_field(struct loader *L, const config_setting_t *parent, const struct field *f, void *obj,
		      const char *path)
{
	char fpath[256];
	child_path(fpath, sizeof(fpath), path, f->name);
	const config_setting_t *s = parent ? config_setting_get_member(parent, f->name) : NULL;

	if (!s) {
		if (f->required)
			return fail(L, parent, fpath, "required setting is missing");
		switch (f->type) {
		case FT_INT:
			*AT(obj, f->off, int64_t) = f->def;
			break;
		case FT_BOOL:
			*AT(obj, f->off, bool) = f->def != 0;
			break;
		case FT_STR:
			if (f->def_str && !(*AT(obj, f->off, char *) = strdup(f->def_str)))
				return ENOMEM;
			break;
		case FT_STRV:
			for (size_t i = 0; f->def_strv && f->def_strv[i]; i++) {
				if (strv_push(AT(obj, f->off, struct cfg_strv), f->def_strv[i]))
					return ENOMEM;
			}
			break;
		case FT_GROUP:
			if (f->defaults)
				return load_group(L, NULL, f->sub, (char *)obj + f->off, fpath);
			break;
		case FT_LIST:
		case FT_MAP:
			break;
		}
		return 0;
	}
	if (f->has_off != NO_HAS)
		*AT(obj, f->has_off, bool) = true;

	switch (f->type) {
	case FT_INT: {
		int t = config_setting_type(s);
		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			return fail(L, s, fpath, "must be an integer");
		long long v = config_setting_get_int64(s);
		if (v < f->min || v > f->max)
			return fail(L, s, fpath, "%lld is out of range [%lld, %lld]", v, (long long)f->min,
				    (long long)f->max);
		*AT(obj, f->off, int64_t) = v;
		return 0;
	}
	case FT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return fail(L, s, fpath, "must be true or false");
		*AT(obj, f->off, bool) = config_setting_get_bool(s) != 0;
		return 0;
	case FT_STR: {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail(L, s, fpath, "must be a string");
		const char *v = config_setting_get_string(s);
		if (has_control(v))
			return fail(L, s, fpath, "contains a control character");
		if (!ch_utf8_valid(v, strlen(v)))
			return fail(L, s, fpath, "is not valid UTF-8");
		if (f->choices) {
			bool ok = false;
			for (size_t i = 0; f->choices[i]; i++)
				ok = ok || strcmp(v, f->choices[i]) == 0;
			if (!ok) {
				char list[256] = "";
				for (size_t i = 0; f->choices[i]; i++) {
					size_t l = strlen(list);
					snprintf(list + l, sizeof(list) - l, "%s\"%s\"", i ? ", " : "", f->choices[i]);
				}
				return fail(L, s, fpath, "\"%s\" is not one of %s", v, list);
			}
		}
		char **dst = AT(obj, f->off, char *);
		free(*dst);
		if (!(*dst = strdup(v)))
			return ENOMEM;
		return 0;
	}
	case FT_STRV: {
		int t = config_setting_type(s);
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
			return fail(L, s, fpath, "must be a list of strings: [ \"a\", \"b\" ]");
		struct cfg_strv *v = AT(obj, f->off, struct cfg_strv);
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			char epath[300];
			snprintf(epath, sizeof(epath), "%s.[%d]", fpath, i);
			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return fail(L, e, epath, "must be a string");
			const char *str = config_setting_get_string(e);
			if (has_control(str))
				return fail(L, e, epath, "contains a control character");
			if (!ch_utf8_valid(str, strlen(str)))
				return fail(L, e, epath, "is not valid UTF-8");
			if (strv_push(v, str))
				return ENOMEM;
		}
		return 0;
	}
	case FT_GROUP:
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			return fail(L, s, fpath, "must be a group: { ... }");
		return load_group(L, s, f->sub, (char *)obj + f->off, fpath);
	case FT_LIST: {
		int t = config_setting_type(s);
		if (t != CONFIG_TYPE_LIST)
			return fail(L, s, fpath, "must be a list of groups: ( { ... }, { ... } )");
		int n = config_setting_length(s);
		if (n == 0)
			return 0;
		void *arr = calloc((size_t)n, f->elem_size);
		if (!arr)
			return ENOMEM;
		*AT(obj, f->off, void *) = arr;
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			char epath[300];
			snprintf(epath, sizeof(epath), "%s.[%d]", fpath, i);
			/* count first: the free walk then covers a half-loaded element */
			*AT(obj, f->count_off, size_t) = (size_t)i + 1;
			if (config_setting_type(e) != CONFIG_TYPE_GROUP)
				return fail(L, e, epath, "must be a group: { ... }");
			int err = load_group(L, e, f->sub, (char *)arr + (size_t)i * f->elem_size, epath);
			if (err)
				return err;
		}
		return 0;
	}
	case FT_MAP: {
		if (config_setting_type(s) != CONFIG_TYPE_GROUP)
			return fail(L, s, fpath, "must be a group of name = \"value\" pairs");
		struct cfg_map *m = AT(obj, f->off, struct cfg_map);
		int n = config_setting_length(s);
		for (int i = 0; i < n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			char epath[300];
			child_path(epath, sizeof(epath), fpath, config_setting_name(e));
			if (config_setting_type(e) != CONFIG_TYPE_STRING)
				return fail(L, e, epath, "must be a string");
			const char *v = config_setting_get_string(e);
			if (!*v || has_control(v) || !ch_utf8_valid(v, strlen(v)))
				return fail(L, e, epath, "must be a non-empty UTF-8 string without control characters");
			char **nk = realloc(m->keys, (m->n + 1) * sizeof(*nk));
			if (!nk)
				return ENOMEM;
			m->keys = nk;
			char **nv = realloc(m->vals, (m->n + 1) * sizeof(*nv));
			if (!nv)
				return ENOMEM;
			m->vals = nv;
			m->keys[m->n] = strdup(config_setting_name(e));
			m->vals[m->n] = strdup(v);
			m->n++;
			if (!m->keys[m->n - 1] || !m->vals[m->n - 1])
				return ENOMEM;
		}
		return 0;
	}
	}
	return 0;
}

static int load_group(struct loader *L, const config_setting_t *s, const struct group *g, void *obj, const char *path)
{
	if (s) {
		for (int i = 0; i < config_setting_length(s); i++) {
			const config_setting_t *c = config_setting_get_elem(s, (unsigned)i);
			const char *name = config_setting_name(c);
			bool known = false;
			for (const struct field *f = g->fields; f->name && !known; f++)
				known = !f->internal && strcmp(f->name, name) == 0;
			if (!known) {
				char cpath[256];
				child_path(cpath, sizeof(cpath), path, name);
				return fail(L, c, cpath, "unknown setting");
			}
		}
	}
	for (const struct field *f = g->fields; f->name; f++) {
		if (f->internal)
			continue;
		int err = load_field(L, s, f, obj, path);
		if (err)
			return err;
	}
	return g->check ? g->check(L, obj, s, path) : 0;
}

static void strv_free(struct cfg_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

static void free_group(const struct group *g, void *obj)
{
	for (const struct field *f = g->fields; f->name; f++) {
		switch (f->type) {
		case FT_INT:
		case FT_BOOL:
			break;
		case FT_STR: {
			char **p = AT(obj, f->off, char *);
			if (*p && f->secret)
				memset(*p, 0, strlen(*p));
			free(*p);
			*p = NULL;
			break;
		}
		case FT_STRV:
			strv_free(AT(obj, f->off, struct cfg_strv));
			break;
		case FT_GROUP:
			free_group(f->sub, (char *)obj + f->off);
			break;
		case FT_LIST: {
			char *arr = *AT(obj, f->off, char *);
			size_t n = *AT(obj, f->count_off, size_t);
			for (size_t i = 0; arr && i < n; i++)
				free_group(f->sub, arr + i * f->elem_size);
			free(arr);
			*AT(obj, f->off, char *) = NULL;
			break;
		}
		case FT_MAP: {
			struct cfg_map *m = AT(obj, f->off, struct cfg_map);
			for (size_t i = 0; i < m->n; i++) {
				free(m->keys[i]);
				free(m->vals[i]);
			}
			free(m->keys);
			free(m->vals);
			m->keys = m->vals = NULL;
			m->n = 0;
			break;
		}
		}
	}
}

/* ---- shared checks ----------------------------------------------------- */

static int check_listen_list(struct loader *L, const config_setting_t *s, const char *path, const char *field,
			     const struct cfg_strv *v, bool need_one)
{
	char fpath[256];
	child_path(fpath, sizeof(fpath), path, field);
	const config_setting_t *ls = s ? config_setting_get_member(s, field) : NULL;
	if (need_one && v->n == 0)
		return fail(L, ls ? ls : s, fpath, "at least one listen address is required");
	for (size_t i = 0; i < v->n; i++) {
		char epath[300];
		snprintf(epath, sizeof(epath), "%s.[%zu]", fpath, i);
		if (ch_parse_listen(v->v[i], NULL, NULL) != 0)
			return fail(L, ls ? config_setting_get_elem(ls, (unsigned)i) : s, epath,
				    "\"%s\" is not host:port (IPv4, [IPv6] or localhost; port 0-65535)", v->v[i]);
	}
	return 0;
}

/* Resolve "x" / "x_file" pairs: exactly one may be set; the file is read as a secret. */
static int resolve_secret(struct loader *L, const config_setting_t *s, const char *path, const char *name, char **value,
			  const char *file, bool required)
{
	char fpath[256], fname[96];
	snprintf(fname, sizeof(fname), "%s_file", name);
	if (*value && file) {
		child_path(fpath, sizeof(fpath), path, fname);
		return fail(L, config_setting_get_member(s, fname), fpath, "set either %s or %s, not both", name,
			    fname);
	}
	if (file) {
		child_path(fpath, sizeof(fpath), path, fname);
		const config_setting_t *fs = config_setting_get_member(s, fname);
		bool warn;
		const char *why;
		char *data = NULL;
		int err = ch_read_secret_file(file, L->cfg->dir, SECRET_MAX, &data, &warn, &why);
		if (err)
			return fail(L, fs, fpath, "cannot use \"%s\": %s", file, why ? why : strerror(err));
		if (warn)
			add_warning(L, fs, fpath, "secret file is readable by its group (chmod 0600 recommended)");
		*value = data;
		return 0;
	}
	if (!*value && required) {
		child_path(fpath, sizeof(fpath), path, name);
		return fail(L, s, fpath, "required: set %s or %s", name, fname);
	}
	return 0;
}

/* A plain name: letters, digits, '_', '-', '.', 1..64 bytes. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* ---- the tables --------------------------------------------------------- */

#define F_INT(n, st, m, lo, hi, d)                                                                                     \
	{                                                                                                              \
		.name = n, .type = FT_INT, .off = offsetof(st, m), .has_off = NO_HAS, .min = lo, .max = hi, .def = d   \
	}
#define F_BOOL(n, st, m, d)                                                                                            \
	{                                                                                                              \
		.name = n, .type = FT_BOOL, .off = offsetof(st, m), .has_off = NO_HAS, .def = d                        \
	}
#define F_STR(n, st, m)                                                                                                \
	{                                                                                                              \
		.name = n, .type = FT_STR, .off = offsetof(st, m), .has_off = NO_HAS                                   \
	}
#define F_STR_REQ(n, st, m)                                                                                            \
	{                                                                                                              \
		.name = n, .type = FT_STR, .off = offsetof(st, m), .has_off = NO_HAS, .required = true                 \
	}
#define F_SECRET(n, st, m)                                                                                             \
	{                                                                                                              \
		.name = n, .type = FT_STR, .off = offsetof(st, m), .has_off = NO_HAS, .secret = true                   \
	}
#define F_STRV(n, st, m)                                                                                               \
	{                                                                                                              \
		.name = n, .type = FT_STRV, .off = offsetof(st, m), .has_off = NO_HAS                                  \
	}
#define F_END                                                                                                          \
	{                                                                                                              \
		.name = NULL                                                                                           \
	}

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const formats[] = {"text", "json", NULL};
static const char *const digest_algos[] = {"SHA-256", "MD5", NULL};
static const char *const http_auths[] = {"digest", "basic", NULL};
static const char *const default_listen[] = {"127.0.0.1:8081", NULL};
static const char *const default_xml_allow[] = {"127.0.0.0/8", "::1/128", NULL};

static const struct field log_fields[] = {
    {.name = "level",
     .type = FT_STR,
     .off = offsetof(struct cfg_log, level),
     .has_off = NO_HAS,
     .def_str = "info",
     .choices = levels},
    {.name = "format",
     .type = FT_STR,
     .off = offsetof(struct cfg_log, format),
     .has_off = NO_HAS,
     .def_str = "text",
     .choices = formats},
    F_STR("file", struct cfg_log, file),
    F_END,
};
static const struct group log_group = {log_fields, NULL};

static int tls_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_tls *t = obj;
	char p[256];
	if (!t->cert) {
		child_path(p, sizeof(p), path, "cert");
		return fail(L, s, p, "required when tls is set");
	}
	if (!t->key) {
		child_path(p, sizeof(p), path, "key");
		return fail(L, s, p, "required when tls is set");
	}
	return 0;
}
static const struct field tls_fields[] = {
    F_STR("cert", struct cfg_tls, cert),
    F_STR("key", struct cfg_tls, key),
    F_END,
};
static const struct group tls_group = {tls_fields, tls_check};

static int wcs_auth_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_wcs_auth *a = obj;
	char p[256];
	for (size_t i = 0; i < a->hmac_key_files.n; i++) {
		char *key = NULL;
		bool warn;
		const char *why;
		snprintf(p, sizeof(p), "%s.hmac_key_files.[%zu]", path, i);
		const config_setting_t *fs = config_setting_get_member(s, "hmac_key_files");
		fs = fs ? config_setting_get_elem(fs, (unsigned)i) : s;
		int err = ch_read_secret_file(a->hmac_key_files.v[i], L->cfg->dir, SECRET_MAX, &key, &warn, &why);
		if (err)
			return fail(L, fs, p, "cannot use \"%s\": %s", a->hmac_key_files.v[i], why);
		if (warn)
			add_warning(L, fs, p, "secret file is readable by its group (chmod 0600 recommended)");
		err = strv_push(&a->hmac_keys, key);
		memset(key, 0, strlen(key));
		free(key);
		if (err)
			return err;
	}
	for (size_t i = 0; i < a->hmac_keys.n; i++) {
		if (!a->hmac_keys.v[i][0]) {
			snprintf(p, sizeof(p), "%s.hmac_keys.[%zu]", path, i);
			return fail(L, s, p, "an HMAC key may not be empty");
		}
	}
	int err = resolve_secret(L, s, path, "basic_password", &a->basic_password, a->basic_password_file, false);
	if (err)
		return err;
	if (a->basic_password && !a->basic_user) {
		child_path(p, sizeof(p), path, "basic_user");
		return fail(L, s, p, "required when basic_password is set");
	}
	if (a->basic_user && !a->basic_password) {
		child_path(p, sizeof(p), path, "basic_password");
		return fail(L, s, p, "required when basic_user is set (or basic_password_file)");
	}
	if (a->basic_user && strchr(a->basic_user, ':')) {
		child_path(p, sizeof(p), path, "basic_user");
		return fail(L, s, p, "may not contain ':'");
	}
	if (a->basic_user && a->hmac_keys.n) {
		child_path(p, sizeof(p), path, "basic_user");
		return fail(L, s, p,
			    "HMAC keys and Basic credentials both use the Authorization header: configure one");
	}
	return 0;
}
static const struct field wcs_auth_fields[] = {
    {.name = "hmac_keys",
     .type = FT_STRV,
     .off = offsetof(struct cfg_wcs_auth, hmac_keys),
     .has_off = NO_HAS,
     .secret = true},
    F_STRV("hmac_key_files", struct cfg_wcs_auth, hmac_key_files),
    F_STR("basic_user", struct cfg_wcs_auth, basic_user),
    F_SECRET("basic_password", struct cfg_wcs_auth, basic_password),
    F_STR("basic_password_file", struct cfg_wcs_auth, basic_password_file),
    F_STRV("allow_from", struct cfg_wcs_auth, allow_from),
    F_END,
};
static const struct group wcs_auth_group = {wcs_auth_fields, wcs_auth_check};

static int forward_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_forward *f = obj;
	char p[256];
	if (strncmp(f->url, "http://", 7) != 0 && strncmp(f->url, "https://", 8) != 0) {
		child_path(p, sizeof(p), path, "url");
		return fail(L, config_setting_get_member(s, "url"), p, "\"%s\" is not an http(s) URL", f->url);
	}
	if (f->methods.n == 0) {
		child_path(p, sizeof(p), path, "methods");
		return fail(L, s, p, "list at least one WCS method");
	}
	return 0;
}
static const struct field forward_fields[] = {
    F_STR_REQ("url", struct cfg_forward, url),
    {.name = "methods",
     .type = FT_STRV,
     .off = offsetof(struct cfg_forward, methods),
     .has_off = NO_HAS,
     .required = true},
    F_INT("timeout_ms", struct cfg_forward, timeout_ms, 100, 60000, 5000),
    F_INT("queue_max", struct cfg_forward, queue_max, 1, 1000000, 10000),
    F_INT("retries", struct cfg_forward, retries, 0, 10, 3),
    F_END,
};
static const struct group forward_group = {forward_fields, forward_check};

static int hook_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_hook *h = obj;
	int err = check_listen_list(L, s, path, "listen", &h->listen, true);
	if (err)
		return err;
	if (h->rest_client_config && h->rest_client_config[0] != '/') {
		size_t n = strlen(L->cfg->dir) + strlen(h->rest_client_config) + 2;
		char *full = malloc(n);
		if (!full)
			return ENOMEM;
		snprintf(full, n, "%s/%s", L->cfg->dir, h->rest_client_config);
		free(h->rest_client_config);
		h->rest_client_config = full;
	}
	return 0;
}
static const struct field hook_fields[] = {
    {.name = "listen",
     .type = FT_STRV,
     .off = offsetof(struct cfg_hook, listen),
     .has_off = NO_HAS,
     .def_strv = default_listen},
    F_INT("max_body_bytes", struct cfg_hook, max_body_bytes, 1024, 64 << 20, 1 << 20),
    F_INT("request_timeout_s", struct cfg_hook, request_timeout_s, 1, 300, 10),
    F_INT("max_sessions", struct cfg_hook, max_sessions, 1, 10000000, 100000),
    F_INT("session_ttl_s", struct cfg_hook, session_ttl_s, 60, 30 * 86400, 86400),
    F_INT("threads", struct cfg_hook, threads, 0, 256, 0),
    F_INT("max_json_depth", struct cfg_hook, max_json_depth, 2, 512, 32),
    F_INT("max_members", struct cfg_hook, max_members, 8, 100000, 1000),
    F_INT("max_connections", struct cfg_hook, max_connections, 1, 100000, 4096),
    F_INT("max_connections_per_ip", struct cfg_hook, max_connections_per_ip, 0, 100000, 0),
    F_STR("rest_client_config", struct cfg_hook, rest_client_config),
    {.name = "wcs_auth",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_hook, wcs_auth),
     .has_off = offsetof(struct cfg_hook, has_wcs_auth),
     .sub = &wcs_auth_group},
    {.name = "tls", .type = FT_GROUP, .off = offsetof(struct cfg_hook, tls), .has_off = NO_HAS, .sub = &tls_group},
    {.name = "forward",
     .type = FT_LIST,
     .off = offsetof(struct cfg_hook, forward),
     .has_off = NO_HAS,
     .sub = &forward_group,
     .elem_size = sizeof(struct cfg_forward),
     .count_off = offsetof(struct cfg_hook, n_forward)},
    F_END,
};
static const struct group hook_group = {hook_fields, hook_check};

static int sip_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_sip_account *a = obj;
	return resolve_secret(L, s, path, "password", &a->password, a->password_file, false);
}
static const struct field sip_fields[] = {
    F_STR_REQ("login", struct cfg_sip_account, login),
    F_STR("auth_name", struct cfg_sip_account, auth_name),
    F_SECRET("password", struct cfg_sip_account, password),
    F_STR("password_file", struct cfg_sip_account, password_file),
    F_STR("domain", struct cfg_sip_account, domain),
    F_STR("outbound_proxy", struct cfg_sip_account, outbound_proxy),
    F_INT("port", struct cfg_sip_account, port, 0, 65535, 0),
    F_BOOL("register_required", struct cfg_sip_account, register_required, 0),
    F_END,
};
static const struct group sip_group = {sip_fields, sip_check};

static int token_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_token *t = obj;
	char p[256];
	child_path(p, sizeof(p), path, "secret_file");
	const config_setting_t *fs = config_setting_get_member(s, "secret_file");
	bool warn;
	const char *why;
	int err = ch_read_secret_file(t->secret_file, L->cfg->dir, SECRET_MAX, &t->secret, &warn, &why);
	if (err)
		return fail(L, fs, p, "cannot use \"%s\": %s", t->secret_file, why);
	if (warn)
		add_warning(L, fs, p, "secret file is readable by its group (chmod 0600 recommended)");
	t->secret_len = strlen(t->secret);
	if (t->secret_len < 32)
		return fail(L, fs, p, "the token secret must be at least 32 bytes (it has %zu)", t->secret_len);
	if (t->audience && (!t->audience[0] || strlen(t->audience) > 255)) {
		child_path(p, sizeof(p), path, "audience");
		return fail(L, config_setting_get_member(s, "audience"), p, "must be 1 to 255 bytes");
	}
	return 0;
}
static const struct field token_fields[] = {
    F_STR_REQ("secret_file", struct cfg_token, secret_file),
    F_BOOL("required", struct cfg_token, required, 1),
    F_INT("max_age_s", struct cfg_token, max_age_s, 1, 86400, 300),
    F_INT("leeway_s", struct cfg_token, leeway_s, 0, 600, 30),
    F_STR("audience", struct cfg_token, audience),
    {.name = "(secret)",
     .type = FT_STR,
     .off = offsetof(struct cfg_token, secret),
     .has_off = NO_HAS,
     .secret = true,
     .internal = true},
    F_END,
};
static const struct group token_group = {token_fields, token_check};

static const struct field site_limit_fields[] = {
    F_INT("connects_per_minute_per_ip", struct cfg_site_limits, connects_per_minute_per_ip, 0, 1000000, 10),
    F_INT("calls_per_minute_per_ip", struct cfg_site_limits, calls_per_minute_per_ip, 0, 1000000, 3),
    F_INT("calls_per_session", struct cfg_site_limits, calls_per_session, 0, 1000000, 3),
    F_INT("calls_per_minute", struct cfg_site_limits, calls_per_minute, 0, 1000000, 30),
    F_INT("concurrent_calls", struct cfg_site_limits, concurrent_calls, 0, 1000000, 10),
    F_INT("call_max_s", struct cfg_site_limits, call_max_s, 60, 86400, 7200),
    F_INT("ipv6_prefix", struct cfg_site_limits, ipv6_prefix, 32, 128, 64),
    F_END,
};
static const struct group site_limits_group = {site_limit_fields, NULL};

static int site_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_site *site = obj;
	char p[256];
	if (!name_ok(site->name)) {
		child_path(p, sizeof(p), path, "name");
		return fail(L, config_setting_get_member(s, "name"), p,
			    "\"%s\" is not a name (1-64 letters, digits, '_', '-', '.')", site->name);
	}
	if (site->origins.n == 0 && !site->domain) {
		child_path(p, sizeof(p), path, "origins");
		return fail(L, s, p, "a site needs origins or domain");
	}
	for (size_t i = 0; i < site->buttons.n; i++) {
		if (!name_ok(site->buttons.keys[i])) {
			snprintf(p, sizeof(p), "%s.buttons.%s", path, site->buttons.keys[i]);
			return fail(L, s, p, "not a button name (1-64 letters, digits, '_', '-', '.')");
		}
	}
	if (site->callee && !site->callee[0]) {
		child_path(p, sizeof(p), path, "callee");
		return fail(L, config_setting_get_member(s, "callee"), p, "may not be empty");
	}
	if (!site->callee && site->buttons.n == 0)
		add_warning(L, s, path, "neither callee nor buttons: every call of this site is refused");
	return 0;
}
static const struct field site_fields[] = {
    F_STR_REQ("name", struct cfg_site, name),
    F_STRV("origins", struct cfg_site, origins),
    F_STR("domain", struct cfg_site, domain),
    {.name = "sip",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_site, sip),
     .has_off = NO_HAS,
     .required = true,
     .sub = &sip_group},
    F_STR("callee", struct cfg_site, callee),
    {.name = "buttons", .type = FT_MAP, .off = offsetof(struct cfg_site, buttons), .has_off = NO_HAS},
    F_BOOL("allow_transfer", struct cfg_site, allow_transfer, 0),
    F_BOOL("allow_messages", struct cfg_site, allow_messages, 0),
    {.name = "token",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_site, token),
     .has_off = offsetof(struct cfg_site, token.present),
     .sub = &token_group},
    {.name = "limits",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_site, limits),
     .has_off = NO_HAS,
     .defaults = true,
     .sub = &site_limits_group},
    F_END,
};
static const struct group site_group = {site_fields, site_check};

static const struct field translation_fields[] = {
    F_STR_REQ("pattern", struct cfg_translation, pattern),
    F_STR_REQ("output", struct cfg_translation, output),
    F_END,
};
static const struct group translation_group = {translation_fields, NULL};

static const struct field timer_fields[] = {
    F_INT("ring_timeout_s", struct cfg_orig_timers, ring_timeout_s, 1, 600, 45),
    F_INT("refer_notify_timeout_s", struct cfg_orig_timers, refer_notify_timeout_s, 1, 300, 32),
    F_INT("reinvite_timeout_s", struct cfg_orig_timers, reinvite_timeout_s, 1, 30, 10),
    F_INT("max_call_s", struct cfg_orig_timers, max_call_s, 0, 7 * 86400, 7200),
    F_END,
};
static const struct group timer_group = {timer_fields, NULL};

static const struct field orig_limit_fields[] = {
    F_INT("concurrent_calls", struct cfg_orig_limits, concurrent_calls, 0, 1000000, 50),
    F_INT("calls_per_minute", struct cfg_orig_limits, calls_per_minute, 0, 10000000, 60),
    F_INT("calls_per_minute_per_initiator", struct cfg_orig_limits, calls_per_minute_per_initiator, 0, 1000000, 5),
    F_END,
};
static const struct group orig_limits_group = {orig_limit_fields, NULL};

static int orig_http_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_orig_http *h = obj;
	int err = check_listen_list(L, s, path, "listen", &h->listen, true);
	if (err)
		return err;
	err = resolve_secret(L, s, path, "password", &h->password, h->password_file, true);
	if (err)
		return err;
	if (strcmp(h->auth, "basic") == 0 && !h->tls.cert) {
		char p[256];
		child_path(p, sizeof(p), path, "auth");
		return fail(L, config_setting_get_member(s, "auth"), p,
			    "\"basic\" sends the password in clear: it needs tls = { cert; key; } on this listener");
	}
	return 0;
}
static const struct field orig_http_fields[] = {
    F_STRV("listen", struct cfg_orig_http, listen),
    {.name = "user",
     .type = FT_STR,
     .off = offsetof(struct cfg_orig_http, user),
     .has_off = NO_HAS,
     .def_str = "admin"},
    F_SECRET("password", struct cfg_orig_http, password),
    F_STR("password_file", struct cfg_orig_http, password_file),
    {.name = "digest_algorithm",
     .type = FT_STR,
     .off = offsetof(struct cfg_orig_http, digest_algorithm),
     .has_off = NO_HAS,
     .def_str = "SHA-256",
     .choices = digest_algos},
    {.name = "auth",
     .type = FT_STR,
     .off = offsetof(struct cfg_orig_http, auth),
     .has_off = NO_HAS,
     .def_str = "digest",
     .choices = http_auths},
    {.name = "tls", .type = FT_GROUP, .off = offsetof(struct cfg_orig_http, tls), .has_off = NO_HAS, .sub = &tls_group},
    F_END,
};
static const struct group orig_http_group = {orig_http_fields, orig_http_check};

static int orig_xml_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_orig_xml *x = obj;
	return check_listen_list(L, s, path, "listen", &x->listen, true);
}
static const struct field orig_xml_fields[] = {
    F_STRV("listen", struct cfg_orig_xml, listen),
    {.name = "allow_from",
     .type = FT_STRV,
     .off = offsetof(struct cfg_orig_xml, allow_from),
     .has_off = NO_HAS,
     .def_strv = default_xml_allow},
    F_INT("max_connections", struct cfg_orig_xml, max_connections, 1, 100000, 256),
    F_END,
};
static const struct group orig_xml_group = {orig_xml_fields, orig_xml_check};

/* Groups flattened into struct cfg_originator (offsets relative to it). */
static const struct field orig_auth_fields[] = {
    F_STR_REQ("user", struct cfg_originator, auth_user),
    F_SECRET("password", struct cfg_originator, auth_password),
    F_STR("password_file", struct cfg_originator, auth_password_file),
    F_END,
};
static int orig_auth_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_originator *o = obj;
	return resolve_secret(L, s, path, "password", &o->auth_password, o->auth_password_file, true);
}
static const struct group orig_auth_group = {orig_auth_fields, orig_auth_check};

static const struct field orig_dest_fields[] = {
    {.name = "allow",
     .type = FT_STRV,
     .off = offsetof(struct cfg_originator, dest_allow),
     .has_off = offsetof(struct cfg_originator, has_dest_allow)},
    F_STRV("deny", struct cfg_originator, dest_deny),
    F_END,
};
static const struct group orig_dest_group = {orig_dest_fields, NULL};

static const struct field orig_cb_fields[] = {
    F_STRV("allow", struct cfg_originator, callbacks_allow),
    F_END,
};
static const struct group orig_cb_group = {orig_cb_fields, NULL};

static bool sip_uri_ok(const char *s)
{
	return (strncmp(s, "sip:", 4) == 0 && s[4]) || (strncmp(s, "sips:", 5) == 0 && s[5]);
}

static int orig_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_originator *o = obj;
	char p[256];
	const struct {
		const char *name;
		const char *val;
	} uris[] = {{"identity", o->identity},
		    {"listen", o->listen},
		    {"tls_listen", o->tls_listen},
		    {"outbound_proxy", o->outbound_proxy}};
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		if (uris[i].val && uris[i].val[0] && !sip_uri_ok(uris[i].val)) {
			child_path(p, sizeof(p), path, uris[i].name);
			return fail(L, config_setting_get_member(s, uris[i].name), p, "\"%s\" is not a SIP URI",
				    uris[i].val);
		}
	}
	if (o->tls_listen && o->tls_listen[0] && !o->tls_certificate_dir) {
		child_path(p, sizeof(p), path, "tls_certificate_dir");
		return fail(
		    L, config_setting_get_member(s, "tls_listen"), p,
		    "required with tls_listen: a directory with agent.pem (key and certificate) and cafile.pem");
	}
	if (o->tls_certificate_dir && o->tls_certificate_dir[0] != '/') {
		size_t n = strlen(L->cfg->dir) + strlen(o->tls_certificate_dir) + 2;
		char *full = malloc(n);
		if (!full)
			return ENOMEM;
		snprintf(full, n, "%s/%s", L->cfg->dir, o->tls_certificate_dir);
		free(o->tls_certificate_dir);
		o->tls_certificate_dir = full;
	}
	if (o->n_translations == 0) {
		child_path(p, sizeof(p), path, "translations");
		return fail(L, s, p, "at least one { pattern; output; } rule is required");
	}
	return 0;
}
static const struct field orig_fields[] = {
    F_STR_REQ("identity", struct cfg_originator, identity),
    {.name = "listen",
     .type = FT_STR,
     .off = offsetof(struct cfg_originator, listen),
     .has_off = NO_HAS,
     .def_str = "sip:0.0.0.0:5072"},
    F_STR("tls_listen", struct cfg_originator, tls_listen),
    F_STR("tls_certificate_dir", struct cfg_originator, tls_certificate_dir),
    F_BOOL("tls_verify", struct cfg_originator, tls_verify, 1),
    F_STR("outbound_proxy", struct cfg_originator, outbound_proxy),
    {.name = "auth",
     .type = FT_GROUP,
     .off = 0,
     .has_off = offsetof(struct cfg_originator, has_auth),
     .sub = &orig_auth_group},
    {.name = "translations",
     .type = FT_LIST,
     .off = offsetof(struct cfg_originator, translations),
     .has_off = NO_HAS,
     .required = true,
     .sub = &translation_group,
     .elem_size = sizeof(struct cfg_translation),
     .count_off = offsetof(struct cfg_originator, n_translations)},
    {.name = "destinations", .type = FT_GROUP, .off = 0, .has_off = NO_HAS, .sub = &orig_dest_group},
    {.name = "timers",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_originator, timers),
     .has_off = NO_HAS,
     .defaults = true,
     .sub = &timer_group},
    {.name = "limits",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_originator, limits),
     .has_off = NO_HAS,
     .defaults = true,
     .sub = &orig_limits_group},
    {.name = "http",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_originator, http),
     .has_off = offsetof(struct cfg_originator, has_http),
     .sub = &orig_http_group},
    {.name = "xml",
     .type = FT_GROUP,
     .off = offsetof(struct cfg_originator, xml),
     .has_off = offsetof(struct cfg_originator, has_xml),
     .sub = &orig_xml_group},
    {.name = "callbacks", .type = FT_GROUP, .off = 0, .has_off = NO_HAS, .sub = &orig_cb_group},
    F_INT("keep_ended_s", struct cfg_originator, keep_ended_s, 0, 7 * 86400, 3600),
    F_END,
};
static const struct group orig_group = {orig_fields, orig_check};

static int admin_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_admin *a = obj;
	return check_listen_list(L, s, path, "listen", &a->listen, true);
}
static const struct field admin_fields[] = {
    F_STRV("listen", struct cfg_admin, listen),
    {.name = "tls", .type = FT_GROUP, .off = offsetof(struct cfg_admin, tls), .has_off = NO_HAS, .sub = &tls_group},
    F_END,
};
static const struct group admin_group = {admin_fields, admin_check};

static int top_check(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg *c = obj;
	(void)path;
	if (c->n_sites && !c->has_hook) {
		/* sites alone imply the hook with its defaults */
		int err = load_group(L, NULL, &hook_group, &c->hook, "hook");
		if (err)
			return err;
		c->has_hook = true;
	}
	if (!c->has_hook && !c->has_originator)
		return fail(L, s, "", "nothing to do: configure hook and sites, or originator (or both)");
	for (size_t i = 0; i < c->n_sites; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->sites[i].name, c->sites[j].name) == 0) {
				char p[64];
				snprintf(p, sizeof(p), "sites.[%zu].name", i);
				return fail(L, config_lookup(&L->priv->lc, p), p, "duplicate site name \"%s\"",
					    c->sites[i].name);
			}
		}
	}
	if (c->has_hook && c->n_sites == 0)
		add_warning(L, s, "sites", "no sites: every connect is refused");
	return 0;
}
static const struct field top_fields[] = {
    {.name = "log",
     .type = FT_GROUP,
     .off = offsetof(struct cfg, log),
     .has_off = NO_HAS,
     .defaults = true,
     .sub = &log_group},
    {.name = "hook",
     .type = FT_GROUP,
     .off = offsetof(struct cfg, hook),
     .has_off = offsetof(struct cfg, has_hook),
     .defaults = false,
     .sub = &hook_group},
    {.name = "sites",
     .type = FT_LIST,
     .off = offsetof(struct cfg, sites),
     .has_off = NO_HAS,
     .sub = &site_group,
     .elem_size = sizeof(struct cfg_site),
     .count_off = offsetof(struct cfg, n_sites)},
    {.name = "originator",
     .type = FT_GROUP,
     .off = offsetof(struct cfg, orig),
     .has_off = offsetof(struct cfg, has_originator),
     .sub = &orig_group},
    {.name = "admin",
     .type = FT_GROUP,
     .off = offsetof(struct cfg, admin),
     .has_off = offsetof(struct cfg, has_admin),
     .sub = &admin_group},
    F_STR("pid_file", struct cfg, pid_file),
    F_INT("shutdown_grace_s", struct cfg, shutdown_grace_s, 0, 600, 10),
    F_END,
};
static const struct group top_group = {top_fields, top_check};

/* ---- entry points ------------------------------------------------------ */

static int load(const char *text, const char *path, const char *name, const char *dir, struct cfg **out,
		struct cfg_error *err)
{
	struct cfg *c = calloc(1, sizeof(*c));
	struct priv *p = calloc(1, sizeof(*p));
	if (!c || !p) {
		free(c);
		free(p);
		return ENOMEM;
	}
	c->priv = p;
	config_init(&p->lc);
	c->path = strdup(name);
	c->dir = strdup(dir && *dir ? dir : ".");
	int rc = 0;
	if (!c->path || !c->dir) {
		rc = ENOMEM;
		goto out;
	}
	struct loader L = {.cfg = c, .priv = p, .err = err, .name = name};
	int ok = text ? config_read_string(&p->lc, text) : config_read_file(&p->lc, path);
	if (ok != CONFIG_TRUE) {
		if (config_error_type(&p->lc) == CONFIG_ERR_FILE_IO) {
			rc = errno ? errno : EIO;
			if (err) {
				memset(err, 0, sizeof(*err));
				snprintf(err->file, sizeof(err->file), "%s", name);
				snprintf(err->msg, sizeof(err->msg), "cannot read: %s", strerror(rc));
			}
			goto out;
		}
		rc = EINVAL;
		if (err) {
			memset(err, 0, sizeof(*err));
			snprintf(err->file, sizeof(err->file), "%s", name);
			err->line = config_error_line(&p->lc);
			snprintf(err->msg, sizeof(err->msg), "syntax error: %s", config_error_text(&p->lc));
		}
		goto out;
	}
	rc = load_group(&L, config_root_setting(&p->lc), &top_group, c, "");
out:
	if (rc) {
		cfg_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cfg_load(const char *path, struct cfg **out, struct cfg_error *err)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	errno = 0;
	return load(NULL, path, path, dir, out, err);
}

int cfg_load_string(const char *text, const char *name, const char *dir, struct cfg **out, struct cfg_error *err)
{
	return load(text, NULL, name, dir, out, err);
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	free_group(&top_group, c);
	struct priv *p = c->priv;
	if (p) {
		config_destroy(&p->lc);
		strv_free(&p->warnings);
		free(p);
	}
	free(c->path);
	free(c->dir);
	free(c);
}

size_t cfg_secrets(const struct cfg *c, const char **out, size_t max)
{
	size_t n = 0;
#define PUSH(s)                                                                                                        \
	do {                                                                                                           \
		if ((s) && *(s) && n < max)                                                                            \
			out[n++] = (s);                                                                                \
	} while (0)
	for (size_t i = 0; i < c->n_sites; i++) {
		PUSH(c->sites[i].sip.password);
		PUSH(c->sites[i].token.secret);
	}
	for (size_t i = 0; i < c->hook.wcs_auth.hmac_keys.n; i++)
		PUSH(c->hook.wcs_auth.hmac_keys.v[i]);
	PUSH(c->hook.wcs_auth.basic_password);
	PUSH(c->orig.auth_password);
	PUSH(c->orig.http.password);
#undef PUSH
	return n;
}
