/* originator/svc.c: the call service behind the front ends: the settings snapshot, placing a call through policy and
 * limits, hang-up, the JSON views, and the engine's events into the registry. */
#include "originator/svc.h"

#include "originator/shared.h"

#include "common/common.h"
#include "common/metrics.h"
#include "common/sip_cid.h"
#include "common/sip_hdr.h"
#include "common/sip_uri.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct orig_svc {
	pthread_mutex_t snap_mu; /* guards the pointer; the snapshot counts its own references */
	struct orig_snap *snap;
	struct orig_sip *sip;
	struct orig_calls *calls;
	struct orig_cb *cb;
	struct orig_shared *shared; /* store.backend = "redis": the limits shared with the other instances */
	atomic_bool stopping;
};

/* check_src: table */
static const char *const refusal_label[] = {
    [ORIG_PLACED] = "placed",         [ORIG_BAD_ADDRESS] = "bad address",     [ORIG_DENIED] = "denied",
    [ORIG_OVER_LIMIT] = "over limit", [ORIG_UNAVAILABLE] = "unavailable",     [ORIG_BAD_HEADER] = "bad header",
    [ORIG_FORBIDDEN] = "forbidden",   [ORIG_BAD_CALLER_ID] = "bad caller id",
};

static enum orig_refusal refusal_of(enum pol_xlate_verdict v)
{
	switch (v) {
	case POL_XLATE_OK:
		return ORIG_PLACED;
	case POL_XLATE_BAD_INPUT:
	case POL_XLATE_NO_RULE:
	case POL_XLATE_BAD_CAPTURE:
	case POL_XLATE_BAD_URI:
	case POL_XLATE_BAD_ESCAPE:
	case POL_XLATE_TOO_LONG:
	case POL_XLATE_LIMIT:
		return ORIG_BAD_ADDRESS;
	case POL_XLATE_DENIED:
	case POL_XLATE_NOT_ALLOWED:
		return ORIG_DENIED;
	}
	return ORIG_BAD_ADDRESS;
}

/* ---- settings ------------------------------------------------------------------ */

struct orig_snap *orig_svc_snap_get(struct orig_svc *v)
{
	pthread_mutex_lock(&v->snap_mu);
	struct orig_snap *s = orig_snap_ref(v->snap);
	pthread_mutex_unlock(&v->snap_mu);
	return s;
}

void orig_svc_snap_put(struct orig_svc *v, struct orig_snap *s)
{
	(void)v;
	orig_snap_unref(s);
}

void orig_svc_swap(struct orig_svc *v, struct orig_snap *snap)
{
	pthread_mutex_lock(&v->snap_mu);
	struct orig_snap *old = v->snap;
	v->snap = snap;
	pthread_mutex_unlock(&v->snap_mu);
	orig_snap_unref(old);
}

/* ---- lifecycle ----------------------------------------------------------------- */

int orig_svc_new(struct orig_snap *snap, struct orig_shared *shared, struct orig_svc **out)
{
	struct orig_svc *v = calloc(1, sizeof(*v));
	if (!v || pthread_mutex_init(&v->snap_mu, NULL) != 0) {
		free(v);
		orig_shared_free(shared);
		return ENOMEM;
	}
	v->shared = shared;
	atomic_init(&v->stopping, false);
	int rc = orig_calls_new(&v->calls);
	rc = rc ? rc : orig_cb_start(1000, &v->cb);
	if (rc)
		goto out;
	if (shared) {
		orig_calls_set_release(v->calls, orig_shared_release, shared);
		ch_metrics_collector(1, orig_shared_collect, shared);
	}
	v->snap = snap;
	*out = v;
	return 0;
out:
	orig_svc_free(v, 0);
	return rc;
}

static void on_sip_event(const struct orig_event *ev, void *arg)
{
	struct orig_svc *v = arg;
	struct orig_snap *s = orig_svc_snap_get(v);
	orig_calls_event(v->calls, ev, v->cb, s->cdr, s->limits.keep_ended_s, ch_now_ms());
	orig_snap_unref(s);
	if (ev->final)
		ch_dbg("originator: call %llu %s: %d %s (ended by %s, %.1f s connected)",
		       (unsigned long long)ev->call_id, orig_state_name(ev->state), ev->code, ev->reason,
		       orig_ended_by_name(ev->ended_by), (double)ev->duration_ms / 1000.0);
}

/* "sip:0.0.0.0:5072" -> "0.0.0.0"; "sip:[::1]:5072" -> "[::1]". */
static void sip_host(const char *listen, char *out, size_t cap)
{
	const char *p = listen && *listen ? listen : "sip:0.0.0.0:5072";
	const char *c = strchr(p, ':');
	p = c ? c + 1 : p;
	size_t n;
	if (*p == '[') {
		const char *rb = strchr(p, ']');
		n = rb ? (size_t)(rb - p + 1) : strlen(p);
	} else {
		n = strcspn(p, ":;");
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

int orig_svc_sip_start(struct orig_svc *v, const struct orig_sip_opts *opts)
{
	int rc = orig_sip_start(opts, on_sip_event, v, &v->sip);
	if (rc)
		return rc;
	char host[128];
	sip_host(opts->listen, host, sizeof(host));
	ch_info("sip: listening on %s:%d", host, orig_sip_port(v->sip));
	return 0;
}

void orig_svc_shut(struct orig_svc *v)
{
	atomic_store(&v->stopping, true);
}

void orig_svc_sip_stop(struct orig_svc *v, unsigned grace_ms)
{
	orig_svc_shut(v);
	orig_sip_stop(v->sip, grace_ms);
	v->sip = NULL;
}

void orig_svc_free(struct orig_svc *v, unsigned cb_grace_ms)
{
	if (!v)
		return;
	orig_svc_sip_stop(v, 0);
	orig_cb_stop(v->cb, cb_grace_ms);
	if (v->shared)
		ch_metrics_collector(1, NULL, NULL);
	orig_calls_free(v->calls); /* releases the slots of calls still active */
	orig_shared_free(v->shared);
	orig_snap_unref(v->snap);
	pthread_mutex_destroy(&v->snap_mu);
	free(v);
}

/* ---- calls ----------------------------------------------------------------------- */

static enum orig_refusal refuse(struct orig_place_res *res, enum orig_refusal r, const char *reason)
{
	res->refusal = r;
	(void)ch_fmt(res->reason, sizeof(res->reason), "%s", reason);
	return r;
}

/* Both addresses through the translation rules and the destination policy. */
static enum orig_refusal translate(const struct orig_snap *s, const struct orig_place_req *rq,
				   struct orig_place_res *res)
{
	enum pol_xlate_verdict x = pol_xlate_apply(s->xlate, rq->initiator, res->tinit, sizeof(res->tinit));
	if (x != POL_XLATE_OK) {
		res->refusal = refusal_of(x);
		(void)ch_fmt(res->reason, sizeof(res->reason), "initiator: %s", pol_xlate_reason(x));
		return res->refusal;
	}
	x = pol_xlate_apply(s->xlate, rq->destination, res->tdest, sizeof(res->tdest));
	if (x != POL_XLATE_OK) {
		res->refusal = refusal_of(x);
		(void)ch_fmt(res->reason, sizeof(res->reason), "destination: %s", pol_xlate_reason(x));
	}
	return res->refusal;
}

/* The request's extra headers into r: each name allowed by the snapshot and not one we write, each value visible
 * ASCII, at most CH_SIP_HDR_PER_CALL. The reason names the header. */
static enum orig_refusal extra_headers(const struct orig_snap *s, const struct orig_place_req *rq,
				       struct orig_call_req *r, struct orig_place_res *res)
{
	if (rq->n_headers > CH_SIP_HDR_PER_CALL || rq->n_headers > ORIG_EXTRA_HEADERS) {
		(void)ch_fmt(res->reason, sizeof(res->reason), "too many headers (at most %d)", CH_SIP_HDR_PER_CALL);
		return res->refusal = ORIG_BAD_HEADER;
	}
	for (size_t i = 0; i < rq->n_headers; i++) {
		const char *n = rq->headers[i].name, *val = rq->headers[i].value;
		const char *why = NULL;
		if (!ch_sip_hdr_name_ok(n))
			why = "is not a header name";
		else if (ch_sip_hdr_reserved(n))
			why = "is written by the originator itself";
		else if (!pol_patterns_match(s->hdr_allow, n))
			why = "is not allowed (originator.headers.allow)";
		else if (!ch_sip_hdr_value_ok(val))
			why = "value must be 1 to 256 bytes of visible ASCII";
		if (why) {
			(void)ch_fmt(res->reason, sizeof(res->reason), "header \"%.64s\" %s",
				     ch_sip_hdr_name_ok(n) ? n : "?", why);
			return res->refusal = ORIG_BAD_HEADER;
		}
		memcpy(r->headers[i].name, n, strlen(n) + 1);
		memcpy(r->headers[i].value, val, strlen(val) + 1);
	}
	r->n_headers = (unsigned)rq->n_headers;
	return ORIG_PLACED;
}

/* What the request asks beyond the two addresses: auto-answer (fenced) and the extra headers. */
static enum orig_refusal extras(const struct orig_snap *s, const struct orig_place_req *rq, struct orig_call_req *r,
				struct orig_place_res *res)
{
	if (rq->auto_answer) {
		if (!pol_patterns_match(s->aa_initiators, res->tinit))
			return refuse(res, ORIG_FORBIDDEN, "auto_answer not allowed for this initiator");
		r->auto_answer = s->aa_header;
	}
	return extra_headers(s, rq, r, res);
}

/* The user part of a translated URI ("" when it has none). */
static void user_of(const char *uri, char *out, size_t cap)
{
	struct ch_sip_uri_parts u;
	out[0] = '\0';
	if (ch_sip_uri_parse(uri, &u) && u.user)
		(void)ch_fmt(out, cap, "%.*s", (int)u.user_len, u.user);
}

/* One caller-id template of leg.name expanded for this call into out; false with the refusal (naming the setting)
 * when a variable's value is not a plain user part or the result is not what the header needs. */
static bool cid_one(const char *tmpl, const struct ch_cid_vars *v, const char *leg, const char *name, char *out,
		    size_t cap, struct orig_place_res *res)
{
	char where[80] = "";
	enum ch_cid_status st = ch_cid_expand(tmpl, v, out, cap, where, sizeof(where));
	bool ok = st == CH_CID_OK;
	if (ok && strcmp(name, "display") == 0)
		ok = ch_sip_display_ok(out);
	else if (ok && strcmp(name, "user") != 0)
		ok = ch_sip_uri_ok(out);
	if (ok)
		return true;
	res->refusal = ORIG_BAD_CALLER_ID;
	(void)ch_fmt(res->reason, sizeof(res->reason), "originator.caller_id.%s.%s: %s", leg, name,
		     st == CH_CID_BAD_VALUE ? "a user part that is not plain (letters, digits, + - _ . ! ~ * ' ( ))"
					    : "the result is not valid for this call");
	return false;
}

/* The caller id of both legs from the snapshot's templates (docs/originator.md); fields without a template keep
 * the engine's defaults. */
static enum orig_refusal caller_id(const struct orig_snap *s, struct orig_call_req *r, struct orig_place_res *res)
{
	char iu[ORIG_URI_MAX], du[ORIG_URI_MAX];
	user_of(res->tinit, iu, sizeof(iu));
	user_of(res->tdest, du, sizeof(du));
	const struct ch_cid_vars v = {.initiator_user = iu, .destination_user = du};
	static const char *const legs[2] = {"initiator", "destination"};
	struct orig_caller_id *ids[2] = {&r->id_initiator, &r->id_destination};
	const char *base[2] = {s->identity, res->tinit}; /* the From a user template rewrites, by default */
	for (int i = 0; i < 2; i++) {
		const struct orig_cid_tmpl *t = &s->cid[i];
		struct orig_caller_id *id = ids[i];
		char user[ORIG_URI_MAX];
		if ((t->display &&
		     !cid_one(t->display, &v, legs[i], "display", id->display, sizeof(id->display), res)) ||
		    (t->from && !cid_one(t->from, &v, legs[i], "from", id->from, sizeof(id->from), res)) ||
		    (t->pai && !cid_one(t->pai, &v, legs[i], "p_asserted_identity", id->pai, sizeof(id->pai), res)) ||
		    (t->user && !cid_one(t->user, &v, legs[i], "user", user, sizeof(user), res)))
			return res->refusal;
		if (t->user && !ch_cid_set_user(id->from[0] ? id->from : base[i], user, id->from, sizeof(id->from))) {
			(void)ch_fmt(res->reason, sizeof(res->reason),
				     "originator.caller_id.%s.user: the From it gives is not a SIP URI", legs[i]);
			return res->refusal = ORIG_BAD_CALLER_ID;
		}
		if (t->privacy)
			(void)ch_fmt(id->privacy, sizeof(id->privacy), "%s", t->privacy);
	}
	return ORIG_PLACED;
}

static enum orig_refusal admit(struct orig_svc *v, const struct orig_snap *s, const struct orig_place_req *rq,
			       const struct orig_watch *watch, struct orig_place_res *res)
{
	struct orig_call_req r;
	memset(&r, 0, sizeof(r));
	memcpy(r.initiator, res->tinit, strlen(res->tinit) + 1);
	memcpy(r.destination, res->tdest, strlen(res->tdest) + 1);
	r.anchor = rq->anchor;
	r.ring_timeout_s = rq->ring_timeout_s;
	if (extras(s, rq, &r, res) != ORIG_PLACED || caller_id(s, &r, res) != ORIG_PLACED)
		return res->refusal;
	uint64_t id = 0;
	struct orig_call_meta meta = {.front = rq->front,
				      .client_ip = rq->client_ip,
				      .client_user = rq->client_user,
				      .initiator = rq->initiator,
				      .destination = rq->destination,
				      .auto_answer = rq->auto_answer};
	int64_t now = ch_now_ms();
	enum orig_admit a =
	    v->shared ? orig_shared_admit(v->shared, v->calls, v->sip, &s->limits, &r, &meta, rq->status_callback,
					  watch, rq->ring_timeout_s, now, &id)
		      : orig_calls_admit(v->calls, v->sip, &s->limits, &r, &meta, rq->status_callback, watch, now, &id);
	switch (a) {
	case ORIG_ADMIT_OK:
		res->id = id;
		ch_info("originator: call %llu: %s -> %s (%s)", (unsigned long long)id, res->tinit, res->tdest,
			rq->anchor ? "anchored" : "REFER");
		return ORIG_PLACED;
	case ORIG_ADMIT_CONCURRENT:
		return refuse(res, ORIG_OVER_LIMIT, "too many concurrent calls");
	case ORIG_ADMIT_RATE:
		return refuse(res, ORIG_OVER_LIMIT, "calls per minute limit reached");
	case ORIG_ADMIT_INITIATOR:
		return refuse(res, ORIG_OVER_LIMIT, "calls per minute limit reached for this initiator");
	case ORIG_ADMIT_DESTINATION:
		return refuse(res, ORIG_OVER_LIMIT, "calls per hour limit reached for this destination");
	case ORIG_ADMIT_DISTINCT:
		return refuse(res, ORIG_OVER_LIMIT, "distinct destinations per hour limit reached for this initiator");
	case ORIG_ADMIT_ENGINE:
		return refuse(res, ORIG_UNAVAILABLE, "originator unavailable");
	case ORIG_ADMIT_STORE:
		return refuse(res, ORIG_UNAVAILABLE, "state store unavailable");
	}
	return refuse(res, ORIG_UNAVAILABLE, "originator unavailable");
}

void orig_svc_place(struct orig_svc *v, const struct orig_place_req *rq, const struct orig_watch *watch,
		    struct orig_place_res *res)
{
	memset(res, 0, sizeof(*res));
	if (atomic_load(&v->stopping)) {
		refuse(res, ORIG_UNAVAILABLE, "shutting down");
		return;
	}
	struct orig_snap *s = orig_svc_snap_get(v);
	if (translate(s, rq, res) == ORIG_PLACED)
		admit(v, s, rq, watch, res);
	if (res->refusal != ORIG_PLACED)
		ch_info("originator: call refused (%s: %s)", refusal_label[res->refusal], res->reason);
	orig_snap_unref(s);
}

int orig_svc_hangup(struct orig_svc *v, uint64_t id)
{
	int rc = orig_calls_check_active(v->calls, id);
	if (rc)
		return rc;
	return orig_sip_hangup(v->sip, id);
}

json_t *orig_svc_call_view(struct orig_svc *v, uint64_t id)
{
	struct orig_snap *s = orig_svc_snap_get(v);
	json_t *j = orig_calls_get(v->calls, id, s->limits.keep_ended_s, ch_now_ms());
	orig_snap_unref(s);
	return j;
}

json_t *orig_svc_calls_view(struct orig_svc *v)
{
	return orig_calls_list(v->calls);
}

int orig_refusal_status(enum orig_refusal r)
{
	switch (r) {
	case ORIG_PLACED:
		return 0;
	case ORIG_BAD_ADDRESS:
	case ORIG_BAD_HEADER:
	case ORIG_BAD_CALLER_ID:
		return 400;
	case ORIG_DENIED:
	case ORIG_FORBIDDEN:
		return 403;
	case ORIG_OVER_LIMIT:
		return 429;
	case ORIG_UNAVAILABLE:
		return 503;
	}
	return 503;
}
