/* config/walk.c: generic walkers over the table: secrets, the --check dump, restart-only changes, the reference. */
#include "config/config_int.h"

#include "common/common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a walk over a loaded config ---------------------------------------- */

typedef void (*leaf_fn)(const struct field *f, const void *obj, const char *path, void *arg);

/* Calls fn for every leaf (not group, not list of groups) of the present part of obj. */
static void walk(const struct group *g, const void *obj, const char *path, bool internal, leaf_fn fn, void *arg)
{
	for (const struct field *f = g->fields; f->name; f++) {
		if ((f->flags & CFG_INTERNAL) && !internal)
			continue;
		char p[CFG_PATH];
		cfg_child_path(p, sizeof(p), path, f->name);
		if (f->type == FT_GROUP) {
			if (f->has_off == NO_HAS || *AT(obj, f->has_off, const bool))
				walk(f->sub, (const char *)obj + f->off, p, internal, fn, arg);
		} else if (f->type == FT_LIST) {
			const char *arr = *AT(obj, f->off, const char *const);
			size_t n = *AT(obj, f->count_off, const size_t);
			for (size_t i = 0; arr && i < n; i++) {
				char ep[CFG_PATH + 16];
				(void)ch_fmt(ep, sizeof(ep), "%s.[%zu]", p, i);
				walk(f->sub, arr + i * f->elem_size, ep, internal, fn, arg);
			}
		} else if (f->type == FT_NAMED) {
			const char *arr = *AT(obj, f->off, const char *const);
			size_t n = *AT(obj, f->count_off, const size_t);
			for (size_t i = 0; arr && i < n; i++) {
				const char *elem = arr + i * f->elem_size;
				char ep[CFG_PATH + 16];
				cfg_child_path(ep, sizeof(ep), p, *(const char *const *)elem);
				walk(f->sub, elem, ep, internal, fn, arg);
			}
		} else {
			fn(f, obj, p, arg);
		}
	}
}

/* ---- secrets ----------------------------------------------------------- */

struct secret_walk {
	void (*fn)(const char *secret, void *arg);
	void *arg;
};

static void secret_leaf(const struct field *f, const void *obj, const char *path, void *arg)
{
	struct secret_walk *w = arg;
	(void)path;
	if (!(f->flags & CFG_SECRET))
		return;
	if (f->type == FT_STR) {
		const char *v = *AT(obj, f->off, const char *const);
		if (v && *v)
			w->fn(v, w->arg);
	} else if (f->type == FT_STRV) {
		const struct cfg_strv *v = AT(obj, f->off, const struct cfg_strv);
		for (size_t i = 0; i < v->n; i++) {
			if (v->v[i][0])
				w->fn(v->v[i], w->arg);
		}
	}
}

void cfg_each_secret(const struct cfg *c, void (*fn)(const char *secret, void *arg), void *arg)
{
	struct secret_walk w = {fn, arg};
	/* absent groups hold no values, so a walk of the present part sees every secret */
	walk(&cfg_top_group, c, "", true, secret_leaf, &w);
}

struct secret_array {
	const char **out;
	size_t n, max;
};

static void secret_store(const char *secret, void *arg)
{
	struct secret_array *a = arg;
	if (a->n < a->max)
		a->out[a->n++] = secret;
}

size_t cfg_secrets(const struct cfg *c, const char **out, size_t max)
{
	struct secret_array a = {out, 0, max};
	cfg_each_secret(c, secret_store, &a);
	return a.n;
}

/* ---- the --check dump ---------------------------------------------------- */

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static void dump_leaf(const struct field *f, const void *obj, const char *path, void *arg)
{
	FILE *out = arg;
	bool secret = (f->flags & CFG_SECRET) != 0;
	switch (f->type) {
	case FT_INT:
		if (f->flags & CFG_PERMILLE)
			fprintf(out, "%s %.3f\n", path, (double)*AT(obj, f->off, const int64_t) / 1000.0);
		else
			fprintf(out, "%s %s%" PRId64 "\n", path, (f->flags & CFG_PREFIXLEN) ? "/" : "",
				*AT(obj, f->off, const int64_t));
		return;
	case FT_BOOL:
		fprintf(out, "%s %s\n", path, *AT(obj, f->off, const bool) ? "true" : "false");
		return;
	case FT_STR: {
		const char *v = *AT(obj, f->off, const char *const);
		fprintf(out, "%s %s\n", path, secret && v ? "***" : or_dash(v));
		return;
	}
	case FT_STRV: {
		const struct cfg_strv *v = AT(obj, f->off, const struct cfg_strv);
		if (f->has_off != NO_HAS && !*AT(obj, f->has_off, const bool)) {
			fprintf(out, "%s -\n", path);
			return;
		}
		fprintf(out, "%s%s", path, v->n ? "" : " []");
		for (size_t i = 0; i < v->n; i++)
			fprintf(out, " %s", secret ? "***" : v->v[i]);
		fputc('\n', out);
		return;
	}
	case FT_MAP: {
		const struct cfg_map *m = AT(obj, f->off, const struct cfg_map);
		for (size_t i = 0; i < m->n; i++)
			fprintf(out, "%s.%s %s\n", path, m->keys[i], m->vals[i]);
		return;
	}
	case FT_GROUP:
	case FT_LIST:
	case FT_NAMED:
		return;
	}
}

void cfg_dump(const struct cfg *c, FILE *f)
{
	walk(&cfg_top_group, c, "", false, dump_leaf, f);
}

/* ---- restart-only settings ---------------------------------------------- */

typedef void (*change_fn)(const char *path, enum cfg_change what, void *arg);

static bool str_same(const char *a, const char *b, bool secret)
{
	a = a ? a : "";
	b = b ? b : "";
	if (secret)
		return ch_ct_equal(a, strlen(a), b, strlen(b));
	return strcmp(a, b) == 0;
}

static bool leaf_same(const struct field *f, const void *a, const void *b)
{
	switch (f->type) {
	case FT_INT:
		return *AT(a, f->off, const int64_t) == *AT(b, f->off, const int64_t);
	case FT_BOOL:
		return *AT(a, f->off, const bool) == *AT(b, f->off, const bool);
	case FT_STR:
		return str_same(*AT(a, f->off, const char *const), *AT(b, f->off, const char *const),
				(f->flags & CFG_SECRET) != 0);
	case FT_STRV: {
		const struct cfg_strv *va = AT(a, f->off, const struct cfg_strv);
		const struct cfg_strv *vb = AT(b, f->off, const struct cfg_strv);
		bool same = va->n == vb->n;
		for (size_t i = 0; same && i < va->n; i++)
			same = str_same(va->v[i], vb->v[i], (f->flags & CFG_SECRET) != 0);
		return same;
	}
	case FT_MAP:
	case FT_GROUP:
	case FT_LIST:
	case FT_NAMED:
		return true; /* not walked: no restart-only maps or lists of groups */
	}
	return true;
}

static void changes(const struct group *g, const void *a, const void *b, const char *path, bool restart, change_fn fn,
		    void *arg)
{
	for (const struct field *f = g->fields; f->name; f++) {
		if (f->flags & CFG_INTERNAL)
			continue;
		char p[CFG_PATH];
		cfg_child_path(p, sizeof(p), path, f->name);
		bool r = restart || (f->flags & CFG_RESTART);
		if (f->type != FT_GROUP) {
			if (r && !leaf_same(f, a, b))
				fn(p, CFG_CHANGED, arg);
			continue;
		}
		bool pa = f->has_off == NO_HAS || *AT(a, f->has_off, const bool);
		bool pb = f->has_off == NO_HAS || *AT(b, f->has_off, const bool);
		if (pa != pb && (f->flags & CFG_RESTART_PRESENCE))
			fn(p, pa ? CFG_REMOVED : CFG_ADDED, arg);
		if (pa && pb)
			changes(f->sub, (const char *)a + f->off, (const char *)b + f->off, p, r, fn, arg);
	}
}

void cfg_restart_changes(const struct cfg *old, const struct cfg *new, change_fn fn, void *arg)
{
	changes(&cfg_top_group, old, new, "", false, fn, arg);
}

static int copy_leaf(const struct field *f, const void *src, void *dst)
{
	switch (f->type) {
	case FT_INT:
		*AT(dst, f->off, int64_t) = *AT(src, f->off, const int64_t);
		return 0;
	case FT_BOOL:
		*AT(dst, f->off, bool) = *AT(src, f->off, const bool);
		return 0;
	case FT_STR: {
		const char *v = *AT(src, f->off, const char *const);
		if (v && !(*AT(dst, f->off, char *) = strdup(v)))
			return ENOMEM;
		return 0;
	}
	case FT_STRV: {
		const struct cfg_strv *v = AT(src, f->off, const struct cfg_strv);
		for (size_t i = 0; i < v->n; i++) {
			if (cfg_strv_push(AT(dst, f->off, struct cfg_strv), v->v[i]))
				return ENOMEM;
		}
		return 0;
	}
	case FT_MAP:
	case FT_GROUP:
	case FT_LIST:
	case FT_NAMED:
		return 0;
	}
	return 0;
}

static int copy_restart(const struct group *g, const void *src, void *dst, bool restart)
{
	for (const struct field *f = g->fields; f->name; f++) {
		if (f->flags & CFG_INTERNAL)
			continue;
		bool r = restart || (f->flags & CFG_RESTART);
		if (f->has_off != NO_HAS)
			*AT(dst, f->has_off, bool) = *AT(src, f->has_off, const bool);
		int err = 0;
		if (f->type == FT_GROUP)
			err = copy_restart(f->sub, (const char *)src + f->off, (char *)dst + f->off, r);
		else if (r)
			err = copy_leaf(f, src, dst);
		if (err)
			return err;
	}
	return 0;
}

int cfg_restart_copy(const struct cfg *c, struct cfg **out)
{
	struct cfg *d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	int rc = ENOMEM;
	d->path = strdup(c->path ? c->path : "");
	d->dir = strdup(c->dir ? c->dir : ".");
	if (!d->path || !d->dir)
		goto out;
	rc = copy_restart(&cfg_top_group, c, d, false);
out:
	if (rc) {
		cfg_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* ---- the reference ------------------------------------------------------- */

static const char *type_name(const struct field *f)
{
	switch (f->type) {
	case FT_INT:
		return "integer";
	case FT_BOOL:
		return "boolean";
	case FT_STR:
		return "string";
	case FT_STRV:
		return "list of strings";
	case FT_GROUP:
		return "group";
	case FT_LIST:
		return "list of groups";
	case FT_MAP:
		return "group of name = string";
	case FT_NAMED:
		return "group of name = string or group";
	}
	return "?";
}

static void join_quoted(char *out, size_t cap, const char *const *v, const char *sep)
{
	out[0] = '\0';
	for (size_t i = 0; v && v[i]; i++) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%s\"%s\"", i ? sep : "", v[i]);
	}
}

static void describe(const struct field *f, bool restart, char *def, size_t dcap, char *range, size_t rcap,
		     struct cfg_setting_info *si)
{
	def[0] = range[0] = '\0';
	const char *slash = (f->flags & CFG_PREFIXLEN) ? "/" : "";
	if (f->type == FT_INT && (f->flags & CFG_PERMILLE)) {
		snprintf(def, dcap, "%.3f", (double)f->def / 1000.0);
		snprintf(range, rcap, "0 to 1");
	} else if (f->type == FT_INT) {
		snprintf(def, dcap, "%s%" PRId64, slash, f->def);
		snprintf(range, rcap, "%s%" PRId64 " to %s%" PRId64, slash, f->min, slash, f->max);
	} else if (f->type == FT_BOOL) {
		snprintf(def, dcap, "%s", f->def ? "true" : "false");
	} else if (f->type == FT_STR) {
		if (f->def_str)
			snprintf(def, dcap, "\"%s\"", f->def_str);
		if (f->choices) {
			char list[200];
			join_quoted(list, sizeof(list), f->choices, ", ");
			snprintf(range, rcap, "one of %s", list);
		}
	} else if (f->type == FT_STRV) {
		if (f->def_strv) {
			char list[200];
			join_quoted(list, sizeof(list), f->def_strv, ", ");
			snprintf(def, dcap, "[ %s ]", list);
		}
		if (f->max)
			snprintf(range, rcap, "at most %" PRId64 " entries", f->max);
	}
	si->type = type_name(f);
	si->def = def[0] ? def : NULL;
	si->range = range[0] ? range : NULL;
	si->required = (f->flags & CFG_REQUIRED) != 0;
	si->secret = (f->flags & CFG_SECRET) != 0;
	si->restart = restart;
	si->nonempty = (f->flags & CFG_NONEMPTY) != 0;
}

static void each_setting(const struct group *g, const char *path, bool restart,
			 void (*fn)(const struct cfg_setting_info *s, void *arg), void *arg)
{
	for (const struct field *f = g->fields; f->name; f++) {
		if (f->flags & CFG_INTERNAL)
			continue;
		char p[CFG_PATH], def[256], range[256];
		cfg_child_path(p, sizeof(p), path, f->name);
		bool r = restart || (f->flags & CFG_RESTART);
		struct cfg_setting_info si = {.path = p};
		describe(f, r || (f->flags & CFG_RESTART_PRESENCE), def, sizeof(def), range, sizeof(range), &si);
		fn(&si, arg);
		if (f->type == FT_GROUP) {
			each_setting(f->sub, p, r, fn, arg);
		} else if (f->type == FT_LIST) {
			char ep[CFG_PATH + 4];
			snprintf(ep, sizeof(ep), "%s.[]", p);
			each_setting(f->sub, ep, r, fn, arg);
		} else if (f->type == FT_NAMED) {
			char ep[CFG_PATH + 8];
			snprintf(ep, sizeof(ep), "%s.<name>", p);
			each_setting(f->sub, ep, r, fn, arg);
		}
	}
}

void cfg_each_setting(void (*fn)(const struct cfg_setting_info *s, void *arg), void *arg)
{
	each_setting(&cfg_top_group, "", false, fn, arg);
}
