/* config/load.c: the table-driven loader: reads libconfig text, loads each field by its type, frees by the table. */
#include "config/config_int.h"

#include "common/common.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct priv {
	config_t lc;
	struct cfg_strv warnings;
};

/* ---- errors ------------------------------------------------------------ */

__attribute__((format(printf, 5, 0))) static void verr(struct cfg_error *err, const char *file, int line,
						       const char *path, const char *fmt, va_list ap)
{
	if (!err)
		return;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	/* a path longer than the record is cut, not refused: the line still points at it */
	size_t n = path ? strnlen(path, sizeof(err->path) - 1) : 0;
	memcpy(err->path, path ? path : "", n);
	err->path[n] = '\0';
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int cfg_fail(struct loader *L, const config_setting_t *s, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(L->err, L->name, s ? config_setting_source_line(s) : 0, path, fmt, ap);
	va_end(ap);
	return EINVAL;
}

int cfg_fail_at(struct loader *L, const config_setting_t *s, const char *path, const char *child, const char *fmt, ...)
{
	char p[CFG_PATH];
	cfg_child_path(p, sizeof(p), path, child);
	const config_setting_t *m = s ? config_setting_get_member(s, child) : NULL;
	if (!m)
		m = s;
	va_list ap;
	va_start(ap, fmt);
	verr(L->err, L->name, m ? config_setting_source_line(m) : 0, p, fmt, ap);
	va_end(ap);
	return EINVAL;
}

void cfg_error_format(const struct cfg_error *err, char *buf, size_t cap)
{
	if (!err->file[0] && err->path[0]) /* not from a file (a config given as text, or none) */
		snprintf(buf, cap, "%s: %s", err->path, err->msg);
	else if (!err->file[0])
		snprintf(buf, cap, "%s", err->msg);
	else if (err->line > 0 && err->path[0])
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
	verr(err, c ? c->path : NULL, c ? cfg_line_of(c, path) : 0, path, fmt, ap);
	va_end(ap);
}

const struct config_setting_t *cfg_lookup(struct loader *L, const char *path)
{
	return config_lookup(&L->priv->lc, path);
}

void cfg_add_warning(struct loader *L, const config_setting_t *s, const char *path, const char *msg)
{
	char line[1024];
	snprintf(line, sizeof(line), "%s:%d: %s: %s", L->name, s ? config_setting_source_line(s) : 0, path, msg);
	(void)cfg_strv_push(&L->priv->warnings, line);
}

const struct cfg_strv *cfg_warnings(const struct cfg *c)
{
	static const struct cfg_strv none = {NULL, 0};
	const struct priv *p = c->priv;
	return p ? &p->warnings : &none;
}

/* ---- helpers ----------------------------------------------------------- */

void cfg_child_path(char *out, size_t cap, const char *parent, const char *name)
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

int cfg_strv_push(struct cfg_strv *v, const char *s)
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

void cfg_strv_free(struct cfg_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	v->v = NULL;
	v->n = 0;
}

/* Every string of the file goes through here: no control characters, valid UTF-8. */
static int check_string(struct loader *L, const config_setting_t *s, const char *path, const char *v)
{
	if (has_control(v))
		return cfg_fail(L, s, path, "contains a control character");
	if (!ch_utf8_valid(v, strlen(v)))
		return cfg_fail(L, s, path, "is not valid UTF-8");
	return 0;
}

static int check_choice(struct loader *L, const config_setting_t *s, const struct field *f, const char *path,
			const char *v)
{
	if (!f->choices)
		return 0;
	for (size_t i = 0; f->choices[i]; i++) {
		if (strcmp(v, f->choices[i]) == 0)
			return 0;
	}
	char list[256] = "";
	for (size_t i = 0; f->choices[i]; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof(list) - l, "%s\"%s\"", i ? ", " : "", f->choices[i]);
	}
	return cfg_fail(L, s, path, "\"%s\" is not one of %s", v, list);
}

/* ---- one function per type --------------------------------------------- */

static int field_default(struct loader *L, const struct field *f, void *obj, const char *path)
{
	switch (f->type) {
	case FT_INT:
		*AT(obj, f->off, int64_t) = f->def;
		return 0;
	case FT_BOOL:
		*AT(obj, f->off, bool) = f->def != 0;
		return 0;
	case FT_STR:
		if (f->def_str && !(*AT(obj, f->off, char *) = strdup(f->def_str)))
			return ENOMEM;
		return 0;
	case FT_STRV:
		for (size_t i = 0; f->def_strv && f->def_strv[i]; i++) {
			if (cfg_strv_push(AT(obj, f->off, struct cfg_strv), f->def_strv[i]))
				return ENOMEM;
		}
		return 0;
	case FT_GROUP:
		if (f->flags & CFG_DEFAULTS)
			return cfg_load_group(L, NULL, f->sub, (char *)obj + f->off, path);
		return 0;
	case FT_LIST:
	case FT_MAP:
	case FT_NAMED:
		return 0;
	}
	return 0;
}

static int load_int(struct loader *L, const config_setting_t *s, const struct field *f, void *obj, const char *path)
{
	int t = config_setting_type(s);
	if ((f->flags & CFG_PERMILLE) && (t == CONFIG_TYPE_FLOAT || t == CONFIG_TYPE_INT)) {
		double d = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s) : (double)config_setting_get_int(s);
		if (!(d >= 0.0 && d <= 1.0))
			return cfg_fail(L, s, path, "%g is out of range [0, 1]", d);
		*AT(obj, f->off, int64_t) = (int64_t)(d * 1000.0 + 0.5);
		return 0;
	}
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return cfg_fail(L, s, path, "must be an integer");
	long long v = config_setting_get_int64(s);
	if (v < f->min || v > f->max)
		return cfg_fail(L, s, path, "%lld is out of range [%lld, %lld]", v, (long long)f->min,
				(long long)f->max);
	*AT(obj, f->off, int64_t) = v;
	return 0;
}

static int load_bool(struct loader *L, const config_setting_t *s, const struct field *f, void *obj, const char *path)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_fail(L, s, path, "must be true or false");
	*AT(obj, f->off, bool) = config_setting_get_bool(s) != 0;
	return 0;
}

static int load_str(struct loader *L, const config_setting_t *s, const struct field *f, void *obj, const char *path)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(L, s, path, "must be a string");
	const char *v = config_setting_get_string(s);
	int err = check_string(L, s, path, v);
	if (err)
		return err;
	if ((f->flags & CFG_NONEMPTY) && !v[0])
		return cfg_fail(L, s, path, "may not be empty");
	err = check_choice(L, s, f, path, v);
	if (err)
		return err;
	char *copy = strdup(v);
	if (!copy)
		return ENOMEM;
	char **dst = AT(obj, f->off, char *);
	free(*dst);
	*dst = copy;
	return 0;
}

static int load_strv(struct loader *L, const config_setting_t *s, const struct field *f, void *obj, const char *path)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
		return cfg_fail(L, s, path, "must be a list of strings: [ \"a\", \"b\" ]");
	int n = config_setting_length(s);
	if (f->max && n > f->max)
		return cfg_fail(L, s, path, "has %d entries; at most %lld are allowed", n, (long long)f->max);
	struct cfg_strv *v = AT(obj, f->off, struct cfg_strv);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char epath[CFG_PATH + 16];
		snprintf(epath, sizeof(epath), "%s.[%d]", path, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_fail(L, e, epath, "must be a string");
		const char *str = config_setting_get_string(e);
		int err = check_string(L, e, epath, str);
		if (err)
			return err;
		if (cfg_strv_push(v, str))
			return ENOMEM;
	}
	return 0;
}

static int load_subgroup(struct loader *L, const config_setting_t *s, const struct field *f, void *obj,
			 const char *path)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return cfg_fail(L, s, path, "must be a group: { ... }");
	return cfg_load_group(L, s, f->sub, (char *)obj + f->off, path);
}

static int load_list(struct loader *L, const config_setting_t *s, const struct field *f, void *obj, const char *path)
{
	if (config_setting_type(s) != CONFIG_TYPE_LIST)
		return cfg_fail(L, s, path, "must be a list of groups: ( { ... }, { ... } )");
	int n = config_setting_length(s);
	if (n == 0)
		return 0;
	void *arr = calloc((size_t)n, f->elem_size);
	if (!arr)
		return ENOMEM;
	*AT(obj, f->off, void *) = arr;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char epath[CFG_PATH + 16];
		snprintf(epath, sizeof(epath), "%s.[%d]", path, i);
		/* count first: the free walk then covers a half-loaded element */
		*AT(obj, f->count_off, size_t) = (size_t)i + 1;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return cfg_fail(L, e, epath, "must be a group: { ... }");
		int err = cfg_load_group(L, e, f->sub, (char *)arr + (size_t)i * f->elem_size, epath);
		if (err)
			return err;
	}
	return 0;
}

static int map_push(struct cfg_map *m, const char *key, const char *val)
{
	char **nk = realloc(m->keys, (m->n + 1) * sizeof(*nk));
	if (!nk)
		return ENOMEM;
	m->keys = nk;
	char **nv = realloc(m->vals, (m->n + 1) * sizeof(*nv));
	if (!nv)
		return ENOMEM;
	m->vals = nv;
	m->keys[m->n] = strdup(key);
	m->vals[m->n] = strdup(val);
	m->n++;
	return m->keys[m->n - 1] && m->vals[m->n - 1] ? 0 : ENOMEM;
}

static int load_map(struct loader *L, const config_setting_t *s, const struct field *f, void *obj, const char *path)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return cfg_fail(L, s, path, "must be a group of name = \"value\" pairs");
	struct cfg_map *m = AT(obj, f->off, struct cfg_map);
	int n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char epath[CFG_PATH + 16];
		cfg_child_path(epath, sizeof(epath), path, config_setting_name(e));
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_fail(L, e, epath, "must be a string");
		const char *v = config_setting_get_string(e);
		if (!*v || has_control(v) || !ch_utf8_valid(v, strlen(v)))
			return cfg_fail(L, e, epath, "must be a non-empty UTF-8 string without control characters");
		if (map_push(m, config_setting_name(e), v))
			return ENOMEM;
	}
	return 0;
}

/* The shorthand of a named entry, `name = "value";`: the sub-group's first setting, the rest at their defaults. */
static int load_named_short(struct loader *L, const config_setting_t *e, const struct group *g, void *elem,
			    const char *path)
{
	const struct field *first = g->fields;
	while (first->name && (first->flags & CFG_INTERNAL))
		first++;
	const char *v = config_setting_get_string(e);
	if (!*v || has_control(v) || !ch_utf8_valid(v, strlen(v)))
		return cfg_fail(L, e, path, "must be a non-empty UTF-8 string without control characters");
	char *copy = strdup(v);
	if (!copy)
		return ENOMEM;
	*AT(elem, first->off, char *) = copy;
	return cfg_load_group(L, NULL, g, elem, path);
}

static int load_named(struct loader *L, const config_setting_t *s, const struct field *f, void *obj, const char *path)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return cfg_fail(L, s, path, "must be a group: { name = \"value\"; name = { ... }; }");
	int n = config_setting_length(s);
	if (n == 0)
		return 0;
	char *arr = calloc((size_t)n, f->elem_size);
	if (!arr)
		return ENOMEM;
	*AT(obj, f->off, char *) = arr;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		void *elem = arr + (size_t)i * f->elem_size;
		char epath[CFG_PATH + 16];
		cfg_child_path(epath, sizeof(epath), path, config_setting_name(e));
		/* count first: the free walk then covers a half-loaded element */
		*AT(obj, f->count_off, size_t) = (size_t)i + 1;
		if (!(*(char **)elem = strdup(config_setting_name(e))))
			return ENOMEM;
		int t = config_setting_type(e);
		int err;
		if (t == CONFIG_TYPE_STRING)
			err = load_named_short(L, e, f->sub, elem, epath);
		else if (t == CONFIG_TYPE_GROUP)
			err = cfg_load_group(L, e, f->sub, elem, epath);
		else
			err = cfg_fail(L, e, epath, "must be a string or a group: { ... }");
		if (err)
			return err;
	}
	return 0;
}

static int load_field(struct loader *L, const config_setting_t *parent, const struct field *f, void *obj,
		      const char *path)
{
	char fpath[CFG_PATH];
	cfg_child_path(fpath, sizeof(fpath), path, f->name);
	const config_setting_t *s = parent ? config_setting_get_member(parent, f->name) : NULL;
	if (!s) {
		if (f->flags & CFG_REQUIRED)
			return cfg_fail(L, parent, fpath, "required setting is missing");
		return field_default(L, f, obj, fpath);
	}
	if (f->has_off != NO_HAS)
		*AT(obj, f->has_off, bool) = true;
	switch (f->type) {
	case FT_INT:
		return load_int(L, s, f, obj, fpath);
	case FT_BOOL:
		return load_bool(L, s, f, obj, fpath);
	case FT_STR:
		return load_str(L, s, f, obj, fpath);
	case FT_STRV:
		return load_strv(L, s, f, obj, fpath);
	case FT_GROUP:
		return load_subgroup(L, s, f, obj, fpath);
	case FT_LIST:
		return load_list(L, s, f, obj, fpath);
	case FT_MAP:
		return load_map(L, s, f, obj, fpath);
	case FT_NAMED:
		return load_named(L, s, f, obj, fpath);
	}
	return 0;
}

int cfg_load_group(struct loader *L, const config_setting_t *s, const struct group *g, void *obj, const char *path)
{
	for (int i = 0; s && i < config_setting_length(s); i++) {
		const config_setting_t *c = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(c);
		bool known = false;
		for (const struct field *f = g->fields; f->name && !known; f++)
			known = !(f->flags & CFG_INTERNAL) && strcmp(f->name, name) == 0;
		if (!known) {
			char cpath[CFG_PATH];
			cfg_child_path(cpath, sizeof(cpath), path, name);
			return cfg_fail(L, c, cpath, "unknown setting");
		}
	}
	for (const struct field *f = g->fields; f->name; f++) {
		if (f->flags & CFG_INTERNAL)
			continue;
		int err = load_field(L, s, f, obj, path);
		if (err)
			return err;
	}
	return g->check ? g->check(L, obj, s, path) : 0;
}

/* ---- freeing by the table ---------------------------------------------- */

static void map_free(struct cfg_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	m->keys = m->vals = NULL;
	m->n = 0;
}

void cfg_free_group(const struct group *g, void *obj)
{
	for (const struct field *f = g->fields; f->name; f++) {
		switch (f->type) {
		case FT_INT:
		case FT_BOOL:
			break;
		case FT_STR: {
			char **p = AT(obj, f->off, char *);
			if (*p && (f->flags & CFG_SECRET))
				memset(*p, 0, strlen(*p));
			free(*p);
			*p = NULL;
			break;
		}
		case FT_STRV:
			cfg_strv_free(AT(obj, f->off, struct cfg_strv));
			break;
		case FT_GROUP:
			cfg_free_group(f->sub, (char *)obj + f->off);
			break;
		case FT_LIST:
		case FT_NAMED: {
			char *arr = *AT(obj, f->off, char *);
			size_t n = *AT(obj, f->count_off, size_t);
			for (size_t i = 0; arr && i < n; i++)
				cfg_free_group(f->sub, arr + i * f->elem_size);
			free(arr);
			*AT(obj, f->off, char *) = NULL;
			*AT(obj, f->count_off, size_t) = 0;
			break;
		}
		case FT_MAP:
			map_free(AT(obj, f->off, struct cfg_map));
			break;
		}
	}
}

/* ---- entry points ------------------------------------------------------ */

static int read_error(struct priv *p, const char *name, struct cfg_error *err)
{
	int rc = EINVAL;
	if (config_error_type(&p->lc) == CONFIG_ERR_FILE_IO)
		rc = errno ? errno : EIO;
	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "%s", name);
		if (rc == EINVAL) {
			err->line = config_error_line(&p->lc);
			snprintf(err->msg, sizeof(err->msg), "syntax error: %s", config_error_text(&p->lc));
		} else {
			snprintf(err->msg, sizeof(err->msg), "cannot read: %s", strerror(rc));
		}
	}
	return rc;
}

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
	int rc = ENOMEM;
	if (!c->path || !c->dir)
		goto out;
	struct loader L = {.cfg = c, .priv = p, .err = err, .name = name};
	int ok = text ? config_read_string(&p->lc, text) : config_read_file(&p->lc, path);
	if (ok != CONFIG_TRUE) {
		rc = read_error(p, name, err);
		goto out;
	}
	rc = cfg_load_group(&L, config_root_setting(&p->lc), &cfg_top_group, c, "");
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
	cfg_free_group(&cfg_top_group, c);
	struct priv *p = c->priv;
	if (p) {
		config_destroy(&p->lc);
		cfg_strv_free(&p->warnings);
		free(p);
	}
	free(c->path);
	free(c->dir);
	free(c);
}
