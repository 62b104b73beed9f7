/* hook/pipeline.c: one request in, one answer out: method, peer, size and WCS auth checks, the body, the routed
 * handler; the answers and the helpers the handlers share. */
#include "hook/hook_int.h"
#include "hook/store_redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void body_free(struct hook_body *b)
{
	pol_json_doc_free(&b->doc);
}

/* {"status":N,"reason":"..."}: the shape WCS shows to the browser. */
void hook_answer_verdict_as(struct hook_resp *out, enum hook_verdict v, int status, const char *reason)
{
	json_t *o = json_pack("{s:i,s:s}", "status", status, "reason", reason);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	out->status = status;
	out->body = s;
	out->len = s ? strlen(s) : 0;
	out->verdict = v;
}

void hook_answer_verdict(struct hook_resp *out, enum hook_verdict v, const char *reason)
{
	hook_answer_verdict_as(out, v, hook_verdict_status(v), reason);
}

/* 200 with the request's body: its own buffer when the caller gives it. */
static void answer_body(struct hook_resp *out, const struct hook_req *rq, enum hook_verdict v)
{
	const char *raw = rq->body;
	size_t len = rq->body_len;
	if (rq->give && *rq->give == raw) {
		out->body = *rq->give;
		*rq->give = NULL;
	} else {
		out->body = ch_strndup(raw, len);
	}
	if (!out->body) {
		hook_answer_verdict(out, HOOK_INTERNAL, "out of memory");
		return;
	}
	out->status = 200;
	out->len = len;
	out->verdict = v;
}

void hook_answer_buf(struct hook_resp *out, struct ch_buf *b, enum hook_verdict v)
{
	out->status = 200;
	out->body = b->data;
	out->len = b->len;
	b->data = NULL;
	out->verdict = v;
}

/* ---- body ---------------------------------------------------------------- */

/* One strict pass (pol_json_validate): no tree; the member spans, the
 * decoded names, and the strings the handlers read, decoded on first use. */
static int parse_body(const struct hook_rt *rt, const struct hook_req *rq, struct hook_body *b, const char **why)
{
	enum pol_json_fault f = pol_json_validate(rq->body, rq->body_len, (size_t)rt->cfg->hook.max_json_depth,
						  (size_t)rt->cfg->hook.max_members, &b->doc);
	if (f != POL_JSON_OK) {
		/* never echo body bytes back: only the kind of fault */
		*why = pol_json_fault_reason(f);
		return EINVAL;
	}
	b->m = b->doc.m;
	b->names = b->doc.names;
	b->n = b->doc.n;
	b->raw = rq->body;
	return 0;
}

const char *hook_str_member(struct hook_body *b, const char *name)
{
	return pol_json_str(&b->doc, name, NULL);
}

/* custom.<name>: NULL when absent; *bad when present but not a string. */
const char *hook_custom_str(struct hook_body *b, const char *name, bool *bad)
{
	return pol_json_sub_str(&b->doc, "custom", name, bad);
}

/* Append the member's raw bytes "key":value, with a separator. */
int hook_copy_member(struct ch_buf *o, const struct hook_body *b, size_t i, bool *first)
{
	const struct pol_member *m = &b->m[i];
	if (!*first && ch_buf_add(o, ",", 1))
		return ENOMEM;
	*first = false;
	return ch_buf_add(o, b->raw + m->key_off, m->val_off + m->val_len - m->key_off);
}

/* ---- sites --------------------------------------------------------------- */

const struct hook_site *hook_site_by_name(const struct hook_rt *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_sites; i++) {
		if (strcmp(rt->sites[i].cfg->name, name) == 0)
			return &rt->sites[i];
	}
	return NULL;
}

/* The per-IP budget key of a session's client: its IPv4 address, or its
 * IPv6 network cut to the site's limits.ipv6_prefix (pol_ip_key). "" when the
 * sessionId carries no address. */
void hook_client_key(const char *sid, const struct hook_site *site, char *out, size_t cap)
{
	char ip[64];
	out[0] = '\0';
	if (sid && pol_session_ip(sid, ip, sizeof(ip)) == 0 &&
	    pol_ip_key(ip, (unsigned)site->cfg->limits.ipv6_prefix, out, cap) != 0)
		out[0] = '\0';
}

const struct hook_button *hook_button_of(const struct hook_site *s, const char *name)
{
	for (size_t i = 0; i < s->n_buttons; i++) {
		if (strcmp(s->buttons[i].cfg->name, name) == 0)
			return &s->buttons[i];
	}
	return NULL;
}

/* The site of a session-scoped hook (call, transfer, sendMessage). Caller holds the store lock.
 * NULL with *why set when the session is unknown and no fallback applies. */
const struct hook_site *hook_session_site(const struct hook_rt *rt, struct hook_store *st, const char *sid,
					  int64_t now_ms, struct hs_session *sess, bool *known)
{
	*known = sid && hs_session_get(st, sid, now_ms, sess) == 0;
	if (*known) {
		const struct hook_site *s = hook_site_by_name(rt, sess->site);
		if (s)
			return s;
		*known = false; /* the site was removed by a reload */
	}
	return hook_fallback_site(rt);
}

const struct hook_site *hook_fallback_site(const struct hook_rt *rt)
{
	/* a restarted hook keeps working when there is only one place the call can go */
	if (rt->n_sites == 1 && !(rt->sites[0].cfg->token.present && rt->sites[0].cfg->token.required))
		return &rt->sites[0];
	return NULL;
}

enum hook_verdict hook_store_verdict(enum hsr_deny d)
{
	switch (d) {
	case HSR_ADMIT:
		return HOOK_ALLOW;
	case HSR_FULL:
		return HOOK_TABLE_FULL;
	case HSR_CONFLICT:
		return HOOK_SESSION_CONFLICT;
	case HSR_TOKEN:
		return HOOK_DENY_TOKEN;
	case HSR_BUDGET:
	case HSR_REPLAY:
		return HOOK_OVER_BUDGET;
	case HSR_SESSION:
		return HOOK_DENY_SESSION;
	case HSR_CALLID:
		return HOOK_CALLID_CONFLICT;
	case HSR_BUTTON:
		return HOOK_DENY_BUTTON;
	case HSR_CLOSED:
		return HOOK_CLOSED;
	case HSR_WHERE:
		break;
	}
	return HOOK_INTERNAL;
}

/* ---- the handlers without a file of their own ------------------------------ */

/* transfer / sendMessage: only where the site allows them. */
static void gated(struct hook_ctx *x, bool transfer)
{
	const char *sid = hook_str_member(x->b, "sessionId");
	hs_lock(x->st);
	struct hs_session sess;
	bool known;
	const struct hook_site *site = hook_session_site(x->rt, x->st, sid, x->now_ms, &sess, &known);
	hs_unlock(x->st);
	if (!site) {
		hook_answer_verdict(x->out, HOOK_DENY_SESSION, "unknown session");
		return;
	}
	ch_scopy(x->out->site, sizeof(x->out->site), site->cfg->name);
	if (transfer && !site->cfg->allow_transfer) {
		hook_answer_verdict(x->out, HOOK_DENY_TRANSFER, "transfers are not allowed for this site");
		return;
	}
	if (!transfer && !site->cfg->allow_messages) {
		hook_answer_verdict(x->out, HOOK_DENY_MESSAGE, "messages are not allowed for this site");
		return;
	}
	answer_body(x->out, x->rq, HOOK_ALLOW);
}

void hook_transfer(struct hook_ctx *x)
{
	gated(x, true);
}

void hook_send_message(struct hook_ctx *x)
{
	gated(x, false);
}

void hook_mirror(struct hook_ctx *x)
{
	answer_body(x->out, x->rq, HOOK_MIRROR);
}

static bool status_is(const char *status, const char *a, const char *b, const char *c)
{
	return status && (strcmp(status, a) == 0 || strcmp(status, b) == 0 || (c && strcmp(status, c) == 0));
}

/* A session that ended frees its entry. */
void hook_connection_status(struct hook_ctx *x)
{
	const char *sid = hook_str_member(x->b, "sessionId");
	if (sid && status_is(hook_str_member(x->b, "status"), "DISCONNECTED", "FAILED", NULL)) {
		hs_release_session(x->st, sid);
	}
	hook_mirror(x);
}

/* sipStatus as a SIP status code (100-699), else 0 (1e999 converts to inf: 0). */
static int sip_status_of(const struct hook_body *b)
{
	double d = 0;
	if (pol_json_num(&b->doc, "sipStatus", &d) != 0)
		d = 0;
	return d >= 100 && d <= 699 && d == (double)(int)d ? (int)d : 0;
}

/* A call that ended frees its concurrent slot and its record joins the
 * ended list; only the session that placed the call ends it (when the event
 * names one). ESTABLISHED is noted in the record. */
void hook_call_status(struct hook_ctx *x)
{
	const char *call_id = hook_str_member(x->b, "callId");
	const char *status = hook_str_member(x->b, "status");
	const char *sid = hook_str_member(x->b, "sessionId");
	if (call_id && status_is(status, "FINISH", "FAILED", "BUSY")) {
		enum hs_end end = strcmp(status, "FINISH") == 0   ? HS_END_FINISH
				  : strcmp(status, "FAILED") == 0 ? HS_END_FAILED
								  : HS_END_BUSY;
		(void)hs_release_call(x->st, call_id, sid, end, sip_status_of(x->b), x->wall_ms);
	} else if (call_id && status && strcmp(status, "ESTABLISHED") == 0) {
		hs_lock(x->st);
		hs_call_established(x->st, call_id, sid, x->wall_ms);
		hs_unlock(x->st);
	}
	hook_mirror(x);
}

/* ---- the pipeline -------------------------------------------------------- */

static bool auth_ok(const struct hook_rt *rt, const struct hook_req *rq)
{
	const struct cfg_wcs_auth *a = &rt->cfg->hook.wcs_auth;
	if (!rt->cfg->hook.has_wcs_auth)
		return true;
	if (a->hmac_keys.n)
		return pol_wcs_hmac_ok(rq->authz, rq->body, rq->body_len, (const char *const *)a->hmac_keys.v,
				       a->hmac_keys.n);
	if (a->basic_user)
		return pol_basic_ok(rq->authz, a->basic_user, a->basic_password);
	return true;
}

bool hook_peer_allowed(const struct hook_rt *rt, const char *peer_ip)
{
	if (rt->n_allow_from == 0)
		return true;
	return peer_ip && pol_cidr_match(rt->allow_from, rt->n_allow_from, peer_ip);
}

/* The WCS method: the last path segment, one trailing slash ignored. */
static void wcs_method(const char *path, char *out, size_t cap)
{
	size_t n = strlen(path);
	if (n > 1 && path[n - 1] == '/')
		n--;
	size_t s = n;
	while (s > 0 && path[s - 1] != '/')
		s--;
	size_t len = n - s;
	if (len >= cap)
		len = cap - 1;
	memcpy(out, path + s, len);
	out[len] = '\0';
}

void hook_process(struct hook_rt *rt, struct hook_store *st, const struct hook_req *rq, int64_t now_ms, int64_t wall_ms,
		  struct hook_resp *out)
{
	memset(out, 0, sizeof(*out));
	wcs_method(rq->path, out->method, sizeof(out->method));
	out->route = hook_route_index(out->method) + 1; /* once, for the handler and the metric label */
	if (!rq->http_method || strcmp(rq->http_method, "POST") != 0) {
		out->allow = "POST";
		hook_answer_verdict(out, HOOK_DENY_METHOD, "use POST");
		return;
	}
	if (!hook_peer_allowed(rt, rq->peer_ip)) {
		hook_answer_verdict(out, HOOK_DENY_PEER, "address not allowed");
		return;
	}
	if (rq->body_too_large) {
		hook_answer_verdict(out, HOOK_DENY_SIZE, "body larger than max_body_bytes");
		return;
	}
	if (!auth_ok(rt, rq)) {
		hook_answer_verdict(out, HOOK_DENY_AUTH, "WCS authentication failed");
		return;
	}
	struct hook_body b;
	const char *why = NULL;
	if (parse_body(rt, rq, &b, &why) != 0) {
		hook_answer_verdict(out, HOOK_BAD_BODY, why);
		return;
	}
	const char *sid = hook_str_member(&b, "sessionId");
	if (sid)
		ch_scopy(out->sid, sizeof(out->sid), sid);
	struct hook_ctx x = {.rt = rt,
			     .st = st,
			     .rq = rq,
			     .b = &b,
			     .now_ms = now_ms,
			     .wall_s = wall_ms / 1000,
			     .wall_ms = wall_ms,
			     .out = out};
	hs_request_begin();
	hook_route_fn_at(out->route - 1)(&x);
	if (hs_request_refused(st) && (strcmp(out->method, "connect") == 0 || strcmp(out->method, "call") == 0)) {
		hook_resp_free(out); /* fail_closed: Redis did not answer a step of the decision */
		hook_answer_verdict(out, HOOK_STORE_DOWN, "state store unavailable");
	}
	body_free(&b);
	/* the calls this request ended, or whose slots its sweep found lapsed */
	hook_cdr_flush(rt, st);
}

void hook_resp_free(struct hook_resp *r)
{
	free(r->body);
	r->body = NULL;
}
