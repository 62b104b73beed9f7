/* originator/originator.c: the originator's lifecycle: prepare a config, start, swap on reload, stop. */
#include "originator/originator.h"

#include "common/common.h"
#include "originator/http.h"
#include "originator/shared.h"
#include "originator/snap.h"
#include "originator/svc.h"
#include "originator/xml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct orig_plan {
	struct orig_snap *snap;
	struct cfg *fixed;      /* the restart-only settings (cfg_restart_copy) */
	struct orig_http *http; /* prepared, unbound; NULL without HTTP listeners */
	size_t n_translations;
};

struct orig {
	struct orig_svc *svc;
	struct orig_http *http;
	struct orig_xml *xml;
	struct cfg *fixed; /* the restart-only settings as started */
};

/* ---- prepare --------------------------------------------------------------------- */

void orig_plan_free(struct orig_plan *p)
{
	if (!p)
		return;
	orig_snap_unref(p->snap);
	cfg_free(p->fixed);
	orig_http_stop(p->http);
	free(p);
}

int orig_prepare(const struct cfg *cfg, struct orig_plan **out, struct cfg_error *err)
{
	const struct cfg_originator *c = &cfg->orig;
	struct orig_plan *p = calloc(1, sizeof(*p));
	int rc = ENOMEM;
	if (!p)
		goto out;
	rc = orig_snap_build(cfg, &p->snap, err);
	if (rc)
		goto out;
	p->n_translations = c->n_translations;
	rc = cfg_restart_copy(cfg, &p->fixed);
	if (rc)
		goto out;
	if (c->has_http && c->http.listen.n) {
		rc = orig_http_prepare(cfg, &p->http, err);
		if (rc)
			goto out;
	}
	*out = p;
	p = NULL;
out:
	if (rc == ENOMEM && (!p || !p->fixed))
		cfg_set_error(cfg, err, "originator", "out of memory");
	orig_plan_free(p);
	return rc;
}

/* ---- start / stop ------------------------------------------------------------------ */

static unsigned clamp_u(int64_t v)
{
	return v <= 0 ? 0 : v > 1000000000 ? 1000000000u : (unsigned)v;
}

static struct orig_sip_opts sip_opts_of(const struct cfg_originator *c)
{
	return (struct orig_sip_opts){
	    .listen = c->listen,
	    .tls_listen = c->tls_listen,
	    .tls_cert_dir = c->tls_certificate_dir,
	    .tls_verify = c->tls_verify,
	    .identity = c->identity,
	    .outbound_proxy = c->outbound_proxy,
	    .auth_user = c->has_auth ? c->auth_user : NULL,
	    .auth_password = c->has_auth ? c->auth_password : NULL,
	    .ring_timeout_s = clamp_u(c->timers.ring_timeout_s),
	    .refer_notify_timeout_s = clamp_u(c->timers.refer_notify_timeout_s),
	    .reinvite_timeout_s = clamp_u(c->timers.reinvite_timeout_s),
	    .max_call_s = clamp_u(c->timers.max_call_s),
	    .linger_ms = c->timers.transaction_linger_ms > 0 ? (int)c->timers.transaction_linger_ms : -1,
	};
}

/* The service and its engine; the plan's snapshot moves into the service. */
static int start_core(const struct cfg *cfg, struct orig *o, struct orig_plan *p, struct cfg_error *err)
{
	struct orig_shared *sh = NULL;
	int rc = orig_shared_new(cfg, &sh);
	if (rc) {
		cfg_set_error(cfg, err, "store", "cannot start the originator's Redis client: %s", strerror(rc));
		return rc;
	}
	rc = orig_svc_new(p->snap, sh, &o->svc);
	if (rc) {
		cfg_set_error(cfg, err, "originator", "cannot start the call registry: %s", strerror(rc));
		return rc;
	}
	p->snap = NULL;
	struct orig_sip_opts so = sip_opts_of(&cfg->orig);
	rc = orig_svc_sip_start(o->svc, &so);
	if (rc)
		cfg_set_error(cfg, err, "originator.listen", "SIP engine did not start (%s): %s",
			      so.listen ? so.listen : "default", strerror(rc));
	return rc;
}

int orig_start(const struct cfg *cfg, struct orig_plan *plan, struct orig **out, struct cfg_error *err)
{
	const struct cfg_originator *c = &cfg->orig;
	struct orig *o = calloc(1, sizeof(*o));
	int rc = ENOMEM;
	if (!o) {
		cfg_set_error(cfg, err, "originator", "out of memory");
		goto out;
	}
	o->fixed = plan->fixed;
	plan->fixed = NULL;
	o->http = plan->http;
	plan->http = NULL;
	/* every socket is bound before any thread starts */
	rc = o->http ? orig_http_bind(o->http, cfg, err) : 0;
	if (!rc && c->has_xml && c->xml.listen.n)
		rc = orig_xml_bind(cfg, &o->xml, err);
	rc = rc ? rc : start_core(cfg, o, plan, err);
	rc = rc || !o->http ? rc : orig_http_run(o->http, o->svc, cfg, err);
	rc = rc || !o->xml ? rc : orig_xml_run(o->xml, o->svc, err);
	if (rc)
		goto out;
	ch_info("originator: %zu translation rule(s), %s", c->n_translations,
		c->has_dest_allow ? "destination allow list" : "no destination allow list");
	*out = o;
	o = NULL;
out:
	orig_stop(o, 0);
	orig_plan_free(plan);
	return rc;
}

void orig_stop(struct orig *o, unsigned grace_ms)
{
	if (!o)
		return;
	if (o->svc)
		orig_svc_shut(o->svc);
	orig_http_stop(o->http);
	/* the XML port keeps writing while the engine delivers the final results */
	if (o->svc)
		orig_svc_sip_stop(o->svc, grace_ms);
	orig_xml_stop(o->xml, grace_ms < 1000 ? grace_ms : 1000);
	orig_svc_free(o->svc, grace_ms < 3000 ? grace_ms : 3000);
	cfg_free(o->fixed);
	free(o);
}

/* ---- reload ------------------------------------------------------------------------ */

/* Which part keeps the running value of a restart-only setting. */
static const char *restart_part(const char *path)
{
	if (strncmp(path, "originator.http", 15) == 0)
		return "the HTTP listener keeps";
	if (strncmp(path, "originator.xml", 14) == 0)
		return "the XML port keeps";
	return "the SIP listener and engine keep";
}

static void restart_warn(const char *path, enum cfg_change what, void *arg)
{
	(void)arg;
	if (strncmp(path, "originator.", 11) != 0)
		return; /* main.c reports the rest */
	ch_warn("originator: reload: %s %s; this needs a restart (%s the running value)", path,
		what == CFG_ADDED     ? "added"
		: what == CFG_REMOVED ? "removed"
				      : "changed",
		restart_part(path));
}

void orig_swap(struct orig *o, struct orig_plan *plan)
{
	cfg_restart_changes(o->fixed, plan->fixed, restart_warn, NULL);
	ch_info("originator: reloaded (%zu translation rule(s))", plan->n_translations);
	orig_svc_swap(o->svc, plan->snap);
	plan->snap = NULL;
	orig_plan_free(plan);
}
