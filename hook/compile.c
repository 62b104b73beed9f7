/* hook/compile.c: turns a loaded config into the hook's read-only runtime (patterns, raised restClientConfig). */
#include "hook/hook_int.h"

#include "web/web.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hook_rt_release(struct hook_rt *rt)
{
	if (!rt || __atomic_sub_fetch(&rt->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	hook_fwd_ref_release(rt->fwd, 200);
	for (size_t i = 0; i < rt->n_sites; i++) {
		for (size_t j = 0; j < rt->sites[i].n_buttons; j++) {
			pol_hours_free(rt->sites[i].buttons[j].own_hours);
			free(rt->sites[i].buttons[j].invite_json);
		}
		free(rt->sites[i].buttons);
		pol_hours_free(rt->sites[i].hours);
		free(rt->sites[i].patterns);
		if (rt->sites[i].connect_tail)
			memset(rt->sites[i].connect_tail, 0, rt->sites[i].connect_tail_len);
		free(rt->sites[i].connect_tail);
	}
	free(rt->sites);
	free(rt->allow_from);
	json_decref(rt->rcc);
	free(rt->tls_cert);
	if (rt->tls_key)
		memset(rt->tls_key, 0, strlen(rt->tls_key));
	free(rt->tls_key);
	ch_cdr_close(rt->cdr);
	cfg_free(rt->cfg);
	free(rt);
}

void hook_fwd_ref_release(struct hook_fwd_ref *r, unsigned grace_ms)
{
	if (!r || __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	hook_fwd_stop(r->fw, grace_ms);
	free(r);
}

/* An hours group at path ("sites.[0]", "sites.[0].buttons.support"), its errors at the entry that is wrong. */
static int compile_hours(const struct cfg *cfg, const char *path, const struct cfg_hours *h, struct pol_hours **out,
			 struct cfg_error *err)
{
	struct pol_hours_error pe;
	int rc = pol_hours_compile(h->tz, (const char *const *)h->open.v, h->open.n, (const char *const *)h->closed.v,
				   h->closed.n, out, &pe);
	if (rc != EINVAL)
		return rc;
	char p[400];
	switch (pe.part) {
	case POL_HOURS_TZ:
		snprintf(p, sizeof(p), "%s.hours.tz", path);
		break;
	case POL_HOURS_OPEN:
		snprintf(p, sizeof(p), "%s.hours.open.[%zu]", path, pe.index);
		break;
	case POL_HOURS_CLOSED:
		snprintf(p, sizeof(p), "%s.hours.closed.[%zu]", path, pe.index);
		break;
	}
	cfg_set_error(cfg, err, p, "%s", pe.msg);
	return EINVAL;
}

/* The button's invite_parameters, serialised once: {"X-Queue":"support"}. */
static int invite_json(const struct cfg_button *b, char **out)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < b->invite_parameters.n; i++) {
		if (json_object_set_new(o, b->invite_parameters.keys[i], json_string(b->invite_parameters.vals[i]))) {
			json_decref(o);
			o = NULL;
		}
	}
	*out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return *out ? 0 : ENOMEM;
}

static int compile_buttons(const struct cfg *cfg, size_t idx, struct hook_site *hs, struct cfg_error *err)
{
	const struct cfg_site *s = hs->cfg;
	char path[400];
	snprintf(path, sizeof(path), "sites.[%zu]", idx);
	if (s->has_hours) {
		int rc = compile_hours(cfg, path, &s->hours, &hs->hours, err);
		if (rc)
			return rc;
	}
	hs->buttons = calloc(s->n_buttons ? s->n_buttons : 1, sizeof(*hs->buttons));
	if (!hs->buttons)
		return ENOMEM;
	for (size_t j = 0; j < s->n_buttons; j++) {
		struct hook_button *b = &hs->buttons[hs->n_buttons++];
		b->cfg = &s->buttons[j];
		snprintf(path, sizeof(path), "sites.[%zu].buttons.%s", idx, b->cfg->name);
		int rc = b->cfg->has_hours ? compile_hours(cfg, path, &b->cfg->hours, &b->own_hours, err) : 0;
		if (!rc)
			rc = invite_json(b->cfg, &b->invite_json);
		if (rc)
			return rc;
		b->hours = b->own_hours ? b->own_hours : hs->hours;
	}
	return 0;
}

static int compile_site(const struct cfg *cfg, size_t idx, struct hook_site *hs, struct cfg_error *err)
{
	const struct cfg_site *s = &cfg->sites[idx];
	hs->cfg = s;
	hs->patterns = calloc(s->origins.n + 2, sizeof(*hs->patterns));
	if (!hs->patterns)
		return ENOMEM;
	char path[128];
	for (size_t j = 0; j < s->origins.n; j++) {
		if (pol_origin_pattern_parse(s->origins.v[j], &hs->patterns[hs->n_patterns]) != 0) {
			snprintf(path, sizeof(path), "sites.[%zu].origins.[%zu]", idx, j);
			cfg_set_error(cfg, err, path,
				      "\"%s\" is not an origin (scheme://host[:port], or https://*.domain)",
				      s->origins.v[j]);
			return EINVAL;
		}
		hs->n_patterns++;
	}
	if (s->domain) {
		if (pol_domain_patterns(s->domain, &hs->patterns[hs->n_patterns]) != 0) {
			snprintf(path, sizeof(path), "sites.[%zu].domain", idx);
			cfg_set_error(cfg, err, path, "\"%s\" is not a domain name (like example.com)", s->domain);
			return EINVAL;
		}
		hs->n_patterns += 2;
	}
	return compile_buttons(cfg, idx, hs, err);
}

/* Does any button set visible_name (then WCS must take it from the call answer)? */
static bool any_visible_name(const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_sites; i++) {
		for (size_t j = 0; j < cfg->sites[i].n_buttons; j++) {
			if (cfg->sites[i].buttons[j].visible_name)
				return true;
		}
	}
	return false;
}

/* The SIP account fields (JSON strings as the PHP wrote them, "" when not
 * configured), sipRegisterRequired and restClientConfig, serialised once. */
static int connect_tail(struct hook_site *hs, json_t *rcc)
{
	const struct cfg_sip_account *a = &hs->cfg->sip;
	char port[24] = "";
	if (a->port > 0)
		snprintf(port, sizeof(port), "%lld", (long long)a->port);
	json_t *add =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:O}", "sipLogin", a->login, "sipAuthenticationName",
		      a->auth_name ? a->auth_name : "", "sipPassword", a->password ? a->password : "", "sipDomain",
		      a->domain ? a->domain : "", "sipOutboundProxy", a->outbound_proxy ? a->outbound_proxy : "",
		      "sipPort", port, "sipRegisterRequired", a->register_required, "restClientConfig", rcc);
	char *s = add ? json_dumps(add, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(add);
	if (!s)
		return ENOMEM;
	size_t n = strlen(s);
	/* drop the braces: the answer splices these members after the kept ones */
	memmove(s, s + 1, n - 2);
	s[n - 2] = '\0';
	hs->connect_tail = s;
	hs->connect_tail_len = n - 2;
	return 0;
}

/* The restClientConfig: the file (or {}), raised to the floor, and to visibleName when a button sets it. */
static int compile_rcc(struct cfg *cfg, struct hook_rt *rt, struct cfg_error *err, pol_rcc_note_fn note, void *arg)
{
	int rc;
	if (cfg->hook.rest_client_config) {
		char *text = NULL;
		size_t len = 0;
		rc = ch_read_file(cfg->hook.rest_client_config, 1 << 20, &text, &len);
		if (rc) {
			cfg_set_error(cfg, err, "hook.rest_client_config", "cannot read \"%s\": %s",
				      cfg->hook.rest_client_config, strerror(rc));
			return EINVAL;
		}
		char why[256];
		rc = pol_rcc_parse(text, len, &rt->rcc, why, sizeof(why));
		free(text);
		if (rc) {
			cfg_set_error(cfg, err, "hook.rest_client_config", "\"%s\": %s", cfg->hook.rest_client_config,
				      why);
			return EINVAL;
		}
	} else {
		rt->rcc = json_object();
		if (!rt->rcc)
			return ENOMEM;
	}
	rc = pol_rcc_raise(rt->rcc, note, arg);
	if (!rc && any_visible_name(cfg))
		rc = pol_rcc_overwrite_add(rt->rcc, "call", "visibleName", note, arg);
	return rc;
}

int hook_compile(struct cfg *cfg, struct hook_rt **out, struct cfg_error *err, pol_rcc_note_fn note, void *arg)
{
	struct hook_rt *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return ENOMEM;
	rt->refs = 1;
	int rc = ENOMEM;
	rt->sites = calloc(cfg->n_sites ? cfg->n_sites : 1, sizeof(*rt->sites));
	if (!rt->sites)
		goto out;
	for (size_t i = 0; i < cfg->n_sites; i++) {
		rc = compile_site(cfg, i, &rt->sites[i], err);
		rt->n_sites = i + 1;
		if (rc)
			goto out;
	}
	const struct cfg_strv *af = &cfg->hook.wcs_auth.allow_from;
	rt->allow_from = calloc(af->n ? af->n : 1, sizeof(*rt->allow_from));
	if (!rt->allow_from) {
		rc = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < af->n; i++) {
		if (pol_cidr_parse(af->v[i], &rt->allow_from[i]) != 0) {
			char path[96];
			snprintf(path, sizeof(path), "hook.wcs_auth.allow_from.[%zu]", i);
			cfg_set_error(cfg, err, path, "\"%s\" is not an address or CIDR block", af->v[i]);
			rc = EINVAL;
			goto out;
		}
		rt->n_allow_from++;
	}
	rc = compile_rcc(cfg, rt, err, note, arg);
	if (rc)
		goto out;
	if (cfg->hook.has_cdr && (rc = ch_cdr_new(cfg->hook.cdr.file, &rt->cdr)) != 0)
		goto out;
	for (size_t i = 0; i < rt->n_sites; i++) {
		rc = connect_tail(&rt->sites[i], rt->rcc);
		if (rc) {
			char path[64];
			snprintf(path, sizeof(path), "sites.[%zu].sip", i);
			cfg_set_error(cfg, err, path, "cannot encode the SIP account as JSON");
			goto out;
		}
	}
	if (cfg->hook.tls.cert) {
		rc = web_tls_load(cfg, "hook.tls", &cfg->hook.tls, &rt->tls_cert, &rt->tls_key, err);
		if (rc)
			goto out;
	}
	rt->cfg = cfg;
	*out = rt;
	return 0;
out:
	rt->cfg = NULL; /* not taken on failure */
	hook_rt_release(rt);
	return rc;
}
