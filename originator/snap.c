/* originator/snap.c: builds the originator's settings snapshot from a config: translations, limits, HTTP
 * credentials, the XML allow list, the callback prefixes. */
#include "originator/snap.h"

#include "common/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void snap_free(struct orig_snap *s)
{
	if (!s)
		return;
	pol_xlate_free(s->xlate);
	free(s->http_user);
	free(s->http_password);
	free(s->xml_allow);
	for (size_t i = 0; i < s->n_cb_allow; i++)
		free(s->cb_allow[i]);
	free(s->cb_allow);
	pol_patterns_free(s->aa_initiators);
	pol_patterns_free(s->hdr_allow);
	ch_cdr_close(s->cdr);
	free(s->identity);
	for (int i = 0; i < 2; i++) {
		free(s->cid[i].display);
		free(s->cid[i].from);
		free(s->cid[i].user);
		free(s->cid[i].pai);
		free(s->cid[i].privacy);
	}
	free(s);
}

struct orig_snap *orig_snap_ref(struct orig_snap *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void orig_snap_unref(struct orig_snap *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snap_free(s);
}

static unsigned clamp_u(int64_t v)
{
	return v <= 0 ? 0 : v > 1000000000 ? 1000000000u : (unsigned)v;
}

/* The translations and destination lists, compiled; a failure names its setting (pol_error: list and index). */
static int snap_xlate(const struct cfg *cfg, struct orig_snap *s, struct cfg_error *err)
{
	const struct cfg_originator *c = &cfg->orig;
	int rc = ENOMEM;
	const char **pats = calloc(c->n_translations + 1, sizeof(*pats));
	const char **outs = calloc(c->n_translations + 1, sizeof(*outs));
	if (!pats || !outs)
		goto out;
	for (size_t i = 0; i < c->n_translations; i++) {
		pats[i] = c->translations[i].pattern;
		outs[i] = c->translations[i].output;
	}
	const struct pol_xlate_spec spec = {.patterns = pats,
					    .outputs = outs,
					    .n = c->n_translations,
					    .allow = (const char *const *)c->dest_allow.v,
					    .nallow = c->dest_allow.n,
					    .has_allow = c->has_dest_allow,
					    .deny = (const char *const *)c->dest_deny.v,
					    .ndeny = c->dest_deny.n};
	struct pol_error perr;
	rc = pol_xlate_compile(&spec, &s->xlate, &perr);
	if (rc == 0 || rc == ENOMEM)
		goto out;
	char path[128];
	if (pol_error_path(&perr, "originator", path, sizeof(path)) == 0)
		cfg_set_error(cfg, err, path, "%s", perr.msg);
	else
		cfg_set_error(cfg, err, "originator", "%s", perr.msg);
out:
	if (rc == ENOMEM)
		cfg_set_error(cfg, err, "originator", "out of memory");
	free(pats);
	free(outs);
	return rc;
}

/* The limits and the HTTP credentials (the table checked them: user and
 * password non-empty, algorithm and auth among their choices, basic only with TLS). */
static int snap_http(const struct cfg_originator *c, struct orig_snap *s)
{
	s->limits = (struct orig_limits){
	    .concurrent_calls = clamp_u(c->limits.concurrent_calls),
	    .calls_per_minute = clamp_u(c->limits.calls_per_minute),
	    .calls_per_minute_per_initiator = clamp_u(c->limits.calls_per_minute_per_initiator),
	    .calls_per_hour_per_destination = clamp_u(c->limits.calls_per_hour_per_destination),
	    .distinct_destinations_per_hour_per_initiator =
		clamp_u(c->limits.distinct_destinations_per_hour_per_initiator),
	    .keep_ended_s = c->keep_ended_s < 0 ? 0 : c->keep_ended_s,
	};
	if (!c->has_http)
		return 0;
	s->http_user = strdup(c->http.user);
	s->http_password = strdup(c->http.password);
	if (!s->http_user || !s->http_password)
		return ENOMEM;
	s->sha256 = strcmp(c->http.digest_algorithm, "MD5") != 0;
	s->auth = strcmp(c->http.auth, "basic") == 0 ? ORIG_AUTH_BASIC : ORIG_AUTH_DIGEST;
	return 0;
}

/* The XML port's allow list: absent, the table's default is loopback; an explicit [ ] lets nobody in. */
static int snap_xml_allow(const struct cfg *cfg, struct orig_snap *s, struct cfg_error *err)
{
	const struct cfg_strv *a = &cfg->orig.xml.allow_from;
	if (!a->n)
		return 0;
	s->xml_allow = calloc(a->n, sizeof(*s->xml_allow));
	if (!s->xml_allow)
		return ENOMEM;
	for (size_t i = 0; i < a->n; i++) {
		if (pol_cidr_parse(a->v[i], &s->xml_allow[i]) != 0) {
			char path[64];
			(void)ch_fmt(path, sizeof(path), "originator.xml.allow_from.[%zu]", i);
			cfg_set_error(cfg, err, path, "\"%s\" is not an address or CIDR", a->v[i]);
			return EINVAL;
		}
	}
	s->n_xml_allow = a->n;
	return 0;
}

/* The callback URL prefixes (each an http(s) URL prefix: config/checks.c). */
static int snap_callbacks(const struct cfg_originator *c, struct orig_snap *s)
{
	if (!c->callbacks_allow.n)
		return 0;
	s->cb_allow = calloc(c->callbacks_allow.n, sizeof(*s->cb_allow));
	if (!s->cb_allow)
		return ENOMEM;
	for (size_t i = 0; i < c->callbacks_allow.n; i++) {
		s->cb_allow[i] = strdup(c->callbacks_allow.v[i]);
		if (!s->cb_allow[i])
			return ENOMEM;
		s->n_cb_allow = i + 1;
	}
	return 0;
}

/* One pattern list of the config, compiled; a bad pattern names its setting. */
static int snap_patterns(const struct cfg *cfg, const struct cfg_strv *v, bool caseless, const char *path,
			 struct pol_patterns **out, struct cfg_error *err)
{
	struct pol_error perr;
	int rc = pol_patterns_compile((const char *const *)v->v, v->n, caseless, out, &perr);
	if (rc == EINVAL) {
		char p[96];
		(void)ch_fmt(p, sizeof(p), "%s.[%zu]", path, perr.index);
		cfg_set_error(cfg, err, p, "%s", perr.msg);
	}
	return rc;
}

/* The auto-answer initiators and signal, the extra header names. */
static int snap_extras(const struct cfg *cfg, struct orig_snap *s, struct cfg_error *err)
{
	const struct cfg_originator *c = &cfg->orig;
	const char *h = c->auto_answer.header ? c->auto_answer.header : "call-info";
	s->aa_header = strcmp(h, "alert-info") == 0    ? ORIG_AA_ALERT_INFO
		       : strcmp(h, "answer-mode") == 0 ? ORIG_AA_ANSWER_MODE
						       : ORIG_AA_CALL_INFO;
	int rc = snap_patterns(cfg, &c->auto_answer.initiators, false, "originator.auto_answer.initiators",
			       &s->aa_initiators, err);
	return rc ? rc : snap_patterns(cfg, &c->headers.allow, true, "originator.headers.allow", &s->hdr_allow, err);
}

static int dup_opt(const char *v, char **out)
{
	*out = v ? strdup(v) : NULL;
	return v && !*out ? ENOMEM : 0;
}

/* The identity and the caller-id templates, copied (checked by config/checks.c). */
static int snap_cid(const struct cfg_originator *c, struct orig_snap *s)
{
	const struct cfg_orig_cid_leg *legs[2] = {&c->caller_id.initiator, &c->caller_id.destination};
	int rc = dup_opt(c->identity, &s->identity);
	for (int i = 0; i < 2 && !rc; i++) {
		rc = dup_opt(legs[i]->display, &s->cid[i].display);
		rc = rc ? rc : dup_opt(legs[i]->from, &s->cid[i].from);
		rc = rc ? rc : dup_opt(legs[i]->user, &s->cid[i].user);
		rc = rc ? rc : dup_opt(legs[i]->p_asserted_identity, &s->cid[i].pai);
		rc = rc ? rc : dup_opt(legs[i]->privacy, &s->cid[i].privacy);
	}
	return rc;
}

int orig_snap_build(const struct cfg *cfg, struct orig_snap **out, struct cfg_error *err)
{
	struct orig_snap *s = calloc(1, sizeof(*s));
	int rc = ENOMEM;
	if (!s)
		goto out;
	atomic_init(&s->refs, 1);
	rc = snap_xlate(cfg, s, err);
	if (rc)
		goto out;
	rc = snap_http(&cfg->orig, s);
	rc = rc ? rc : snap_xml_allow(cfg, s, err);
	rc = rc ? rc : snap_callbacks(&cfg->orig, s);
	rc = rc ? rc : snap_extras(cfg, s, err);
	rc = rc ? rc : snap_cid(&cfg->orig, s);
	/* the writer opens its file at the first record: a refused reload creates nothing */
	rc = rc || !cfg->orig.has_cdr ? rc : ch_cdr_new(cfg->orig.cdr.file, &s->cdr);
	if (rc == ENOMEM)
		cfg_set_error(cfg, err, "originator", "out of memory");
	if (rc)
		goto out;
	*out = s;
	s = NULL;
out:
	if (!s && rc == ENOMEM)
		cfg_set_error(cfg, err, "originator", "out of memory");
	snap_free(s);
	return rc;
}
