/* policy/rcc.c: load a restClientConfig file and raise it to the secure floor. */
#include "policy/policy.h"

#include "common/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const call_overwrite[] = {"callee", "inviteParameters", NULL};
static const char *const sip_fields[] = {
    "sipLogin", "sipAuthenticationName", "sipPassword", "sipDomain", "sipOutboundProxy", "sipPort", NULL};

/* One row per method the floor touches, in the order missing methods are
 * appended. secure: restPolicy OVERWRITE + restOnError FAIL. list: the
 * comma-list field that must contain every name in names. */
static const struct floor_rule {
	const char *method;
	bool secure;
	const char *list;
	const char *const *names;
} floor_rules[] = {
    {"call", true, "restOverwrite", call_overwrite},
    {"transfer", true, NULL, NULL},
    {"sendMessage", true, NULL, NULL},
    {"connect", false, "clientExclude", sip_fields},
    {"ConnectionStatusEvent", false, "clientExclude", sip_fields},
    {"RegistrationStatusEvent", false, "clientExclude", sip_fields},
};

/* What WCS uses for a method with no key, in WCS's field order. */
static const char *const wcs_defaults[][2] = {
    {"clientExclude", ""}, {"restExclude", ""}, {"restOnError", "LOG"}, {"restPolicy", "NOTIFY"}, {"restOverwrite", ""},
};

static void set_err(char *err, size_t errlen, const char *what, const char *method, const char *field)
{
	if (!err || errlen == 0)
		return;
	/* a message cut short still says what is wrong */
	if (field)
		(void)ch_fmt(err, errlen, "restClientConfig.%s.%s: %s", method, field, what);
	else if (method)
		(void)ch_fmt(err, errlen, "restClientConfig.%s: %s", method, what);
	else
		(void)ch_fmt(err, errlen, "restClientConfig: %s", what);
}

int pol_rcc_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
	if (!text || !out) {
		set_err(err, errlen, "no text", NULL, NULL);
		return EINVAL;
	}
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		if (err && errlen)
			(void)ch_fmt(err, errlen, "restClientConfig: line %d column %d: %s", je.line, je.column,
				     je.text);
		return EINVAL;
	}
	if (!json_is_object(j)) {
		set_err(err, errlen, "not an object", NULL, NULL);
		goto fail;
	}
	const char *method, *field;
	json_t *m, *v;
	json_object_foreach(j, method, m)
	{
		if (!json_is_object(m)) {
			set_err(err, errlen, "not an object", method, NULL);
			goto fail;
		}
		json_object_foreach(m, field, v)
		{
			if (!json_is_string(v)) {
				set_err(err, errlen, "not a string", method, field);
				goto fail;
			}
		}
	}
	*out = j;
	return 0;
fail:
	json_decref(j);
	return EINVAL;
}

static bool is_trim(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Calls fn on each trimmed, non-empty item of a comma list; stops when fn
 * returns non-zero and returns that. */
static int each_item(const char *list, int (*fn)(const char *s, size_t n, void *arg), void *arg)
{
	const char *p = list;
	for (;;) {
		const char *end = strchr(p, ',');
		const char *e = end ? end : p + strlen(p);
		const char *s = p;
		while (s < e && is_trim(*s))
			s++;
		while (e > s && is_trim(e[-1]))
			e--;
		if (e > s) {
			int rc = fn(s, (size_t)(e - s), arg);
			if (rc)
				return rc;
		}
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int item_is(const char *s, size_t n, void *arg)
{
	const char *name = arg;
	return strlen(name) == n && memcmp(s, name, n) == 0;
}

static int item_add(const char *s, size_t n, void *arg)
{
	struct ch_buf *b = arg;
	if (b->len && ch_buf_add(b, ",", 1))
		return ENOMEM;
	return ch_buf_add(b, s, n) ? ENOMEM : 0;
}

/* The raised list in *out (new string, caller frees). */
static int raise_list(const char *old, const char *const *names, char **out)
{
	struct ch_buf b;
	size_t limit = strlen(old) + 1;
	for (size_t i = 0; names[i]; i++)
		limit += strlen(names[i]) + 1;
	ch_buf_init(&b, limit);
	int rc = each_item(old, item_add, &b);
	for (size_t i = 0; !rc && names[i]; i++)
		if (!each_item(old, item_is, (void *)names[i]))
			rc = item_add(names[i], strlen(names[i]), &b);
	if (!rc && ch_buf_nul(&b))
		rc = ENOMEM;
	if (rc) {
		ch_buf_free(&b);
		return ENOMEM;
	}
	*out = b.data ? b.data : ch_strndup("", 0);
	return *out ? 0 : ENOMEM;
}

/* Sets m.field to val (when different) and reports it. */
static int set_field(json_t *m, const char *method, const char *field, const char *val, pol_rcc_note_fn note, void *arg)
{
	const char *cur = json_string_value(json_object_get(m, field));
	if (cur && strcmp(cur, val) == 0)
		return 0;
	char *old = ch_strndup(cur ? cur : "", cur ? strlen(cur) : 0);
	if (!old || json_object_set_new(m, field, json_string(val))) {
		free(old);
		return ENOMEM;
	}
	if (note)
		note(method, field, old, val, arg);
	free(old);
	return 0;
}

static json_t *defaults_object(void)
{
	json_t *m = json_object();
	for (size_t i = 0; m && i < sizeof(wcs_defaults) / sizeof(wcs_defaults[0]); i++) {
		if (json_object_set_new(m, wcs_defaults[i][0], json_string(wcs_defaults[i][1]))) {
			json_decref(m);
			return NULL;
		}
	}
	return m;
}

/* The floor only reads the fields it raises, but they must be strings. */
static bool shape_ok(const json_t *rcc)
{
	if (!json_is_object(rcc))
		return false;
	for (size_t i = 0; i < sizeof(floor_rules) / sizeof(floor_rules[0]); i++) {
		const json_t *m = json_object_get(rcc, floor_rules[i].method);
		if (!m)
			continue;
		if (!json_is_object(m))
			return false;
		const char *fields[] = {"restPolicy", "restOnError", floor_rules[i].list};
		for (size_t k = 0; k < 3; k++) {
			const json_t *v = fields[k] ? json_object_get(m, fields[k]) : NULL;
			if (v && !json_is_string(v))
				return false;
		}
	}
	return true;
}

int pol_rcc_raise(json_t *rcc, pol_rcc_note_fn note, void *arg)
{
	if (!shape_ok(rcc))
		return EINVAL;
	for (size_t i = 0; i < sizeof(floor_rules) / sizeof(floor_rules[0]); i++) {
		const struct floor_rule *r = &floor_rules[i];
		json_t *m = json_object_get(rcc, r->method);
		if (!m) {
			/* set_new steals the new object; m stays a borrowed pointer */
			m = defaults_object();
			if (!m || json_object_set_new(rcc, r->method, m))
				return ENOMEM;
		}
		int rc = 0;
		if (r->secure) {
			rc = set_field(m, r->method, "restPolicy", "OVERWRITE", note, arg);
			if (!rc)
				rc = set_field(m, r->method, "restOnError", "FAIL", note, arg);
		}
		if (!rc && r->list) {
			const char *cur = json_string_value(json_object_get(m, r->list));
			char *val = NULL;
			rc = raise_list(cur ? cur : "", r->names, &val);
			if (!rc)
				rc = set_field(m, r->method, r->list, val, note, arg);
			free(val);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int pol_rcc_overwrite_add(json_t *rcc, const char *method, const char *field, pol_rcc_note_fn note, void *arg)
{
	if (!shape_ok(rcc))
		return EINVAL;
	json_t *m = json_object_get(rcc, method);
	if (!m) {
		m = defaults_object();
		if (!m || json_object_set_new(rcc, method, m))
			return ENOMEM;
	}
	if (!json_is_object(m))
		return EINVAL;
	const json_t *cur = json_object_get(m, "restOverwrite");
	if (cur && !json_is_string(cur))
		return EINVAL;
	const char *names[] = {field, NULL};
	char *val = NULL;
	int rc = raise_list(cur ? json_string_value(cur) : "", names, &val);
	if (!rc)
		rc = set_field(m, method, "restOverwrite", val, note, arg);
	free(val);
	return rc;
}
