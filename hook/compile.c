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
	return 0;
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
	if (cfg->hook.rest_client_config) {
		char *text = NULL;
		size_t len = 0;
		rc = ch_read_file(cfg->hook.rest_client_config, 1 << 20, &text, &len);
		if (rc) {
			cfg_set_error(cfg, err, "hook.rest_client_config", "cannot read \"%s\": %s",
				      cfg->hook.rest_client_config, strerror(rc));
			rc = EINVAL;
			goto out;
		}
		char why[256];
		rc = pol_rcc_parse(text, len, &rt->rcc, why, sizeof(why));
		free(text);
		if (rc) {
			cfg_set_error(cfg, err, "hook.rest_client_config", "\"%s\": %s", cfg->hook.rest_client_config,
				      why);
			rc = EINVAL;
			goto out;
		}
	} else {
		rt->rcc = json_object();
		if (!rt->rcc) {
			rc = ENOMEM;
			goto out;
		}
	}
	rc = pol_rcc_raise(rt->rcc, note, arg);
	if (rc)
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
