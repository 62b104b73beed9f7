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
	json_decref(b->root);
	free(b->m);
	free(b->names);
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

static void answer_raw(struct hook_resp *out, const char *raw, size_t len, enum hook_verdict v)
{
	out->body = ch_strndup(raw, len);
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

static int parse_body(const struct hook_rt *rt, const struct hook_req *rq, struct hook_body *b, const char **why)
{
	memset(b, 0, sizeof(*b));
	b->raw = rq->body;
	size_t max_depth = (size_t)rt->cfg->hook.max_json_depth;
	if (rq->body_len == 0) {
		*why = "empty body: a JSON object is required";
		return EINVAL;
	}
	if (pol_json_depth(rq->body, rq->body_len, max_depth) > max_depth) {
		*why = "JSON nested too deeply";
		return EINVAL;
	}
	json_error_t jerr;
	/* DECODE_ANY: a scalar body is valid JSON but not an object, and says so */
	b->root = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY,
			     &jerr);
	if (!b->root) {
		/* never echo body bytes back: only the kind of fault */
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key:
			*why = "duplicate object key";
			break;
		case json_error_invalid_utf8:
			*why = "invalid UTF-8";
			break;
		default:
			*why = "malformed JSON";
			break;
		}
		return EINVAL;
	}
	if (!json_is_object(b->root)) {
		*why = "the body must be a JSON object";
		goto bad;
	}
	size_t count = json_object_size(b->root);
	if (count > (size_t)rt->cfg->hook.max_members) {
		*why = "too many members in the body object";
		goto bad;
	}
	/* sized from the real count: most bodies have a dozen members, not max_members */
	b->m = malloc((count + 1) * sizeof(*b->m));
	if (!b->m)
		goto nomem;
	int err = pol_json_members(rq->body, rq->body_len, b->m, count + 1, &b->n);
	if (err || b->n != count) {
		*why = "malformed JSON";
		goto bad;
	}
	b->names = malloc((b->n + 1) * sizeof(*b->names));
	if (!b->names)
		goto nomem;
	size_t i = 0;
	for (void *it = json_object_iter(b->root); it && i < b->n; it = json_object_iter_next(b->root, it))
		b->names[i++] = json_object_iter_key(it);
	return 0;
nomem:
	*why = "out of memory";
bad:
	body_free(b);
	memset(b, 0, sizeof(*b));
	return EINVAL;
}

const char *hook_str_member(json_t *o, const char *name)
{
	json_t *v = o ? json_object_get(o, name) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* custom.<name>: NULL when absent; *bad when present but not a string. */
const char *hook_custom_str(const struct hook_body *b, const char *name, bool *bad)
{
	json_t *custom = json_object_get(b->root, "custom");
	json_t *v = json_is_object(custom) ? json_object_get(custom, name) : NULL;
	*bad = v && !json_is_string(v);
	return json_is_string(v) ? json_string_value(v) : NULL;
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

static const struct hook_site *site_by_name(const struct hook_rt *rt, const char *name)
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
		const struct hook_site *s = site_by_name(rt, sess->site);
		if (s)
			return s;
		*known = false; /* the site was removed by a reload */
	}
	/* a restarted hook keeps working when there is only one place the call can go */
	if (rt->n_sites == 1 && !(rt->sites[0].cfg->token.present && rt->sites[0].cfg->token.required))
		return &rt->sites[0];
	return NULL;
}

/* ---- the handlers without a file of their own ------------------------------ */

/* transfer / sendMessage: only where the site allows them. */
static void gated(struct hook_ctx *x, bool transfer)
{
	const char *sid = hook_str_member(x->b->root, "sessionId");
	hs_lock(x->st);
	struct hs_session sess;
	bool known;
	const struct hook_site *site = hook_session_site(x->rt, x->st, sid, x->now_ms, &sess, &known);
	hs_unlock(x->st);
	if (!site) {
		hook_answer_verdict(x->out, HOOK_DENY_SESSION, "unknown session");
		return;
	}
	snprintf(x->out->site, sizeof(x->out->site), "%s", site->cfg->name);
	if (transfer && !site->cfg->allow_transfer) {
		hook_answer_verdict(x->out, HOOK_DENY_TRANSFER, "transfers are not allowed for this site");
		return;
	}
	if (!transfer && !site->cfg->allow_messages) {
		hook_answer_verdict(x->out, HOOK_DENY_MESSAGE, "messages are not allowed for this site");
		return;
	}
	answer_raw(x->out, x->rq->body, x->rq->body_len, HOOK_ALLOW);
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
	answer_raw(x->out, x->rq->body, x->rq->body_len, HOOK_MIRROR);
}

static bool status_is(const char *status, const char *a, const char *b, const char *c)
{
	return status && (strcmp(status, a) == 0 || strcmp(status, b) == 0 || (c && strcmp(status, c) == 0));
}

/* A session that ended frees its entry. */
void hook_connection_status(struct hook_ctx *x)
{
	const char *sid = hook_str_member(x->b->root, "sessionId");
	if (sid && status_is(hook_str_member(x->b->root, "status"), "DISCONNECTED", "FAILED", NULL)) {
		hs_lock(x->st);
		hs_session_del(x->st, sid);
		hs_unlock(x->st);
	}
	hook_mirror(x);
}

/* sipStatus as a SIP status code (100-699), else 0. Bodies are decoded with integers as reals. */
static int sip_status_of(json_t *root)
{
	json_t *v = json_object_get(root, "sipStatus");
	double d = json_is_number(v) ? json_number_value(v) : 0;
	return d >= 100 && d <= 699 && d == (double)(int)d ? (int)d : 0;
}

/* A call that ended frees its concurrent slot and its record joins the
 * ended list; only the session that placed the call ends it (when the event
 * names one). ESTABLISHED is noted in the record. */
void hook_call_status(struct hook_ctx *x)
{
	const char *call_id = hook_str_member(x->b->root, "callId");
	const char *status = hook_str_member(x->b->root, "status");
	const char *sid = hook_str_member(x->b->root, "sessionId");
	if (call_id && status_is(status, "FINISH", "FAILED", "BUSY")) {
		enum hs_end end = strcmp(status, "FINISH") == 0   ? HS_END_FINISH
				  : strcmp(status, "FAILED") == 0 ? HS_END_FAILED
								  : HS_END_BUSY;
		hs_lock(x->st);
		hs_call_end(x->st, call_id, sid, end, sip_status_of(x->b->root), x->wall_ms);
		hs_unlock(x->st);
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
	const char *sid = hook_str_member(b.root, "sessionId");
	if (sid)
		snprintf(out->sid, sizeof(out->sid), "%s", sid);
	struct hook_ctx x = {.rt = rt,
			     .st = st,
			     .rq = rq,
			     .b = &b,
			     .now_ms = now_ms,
			     .wall_s = wall_ms / 1000,
			     .wall_ms = wall_ms,
			     .out = out};
	hs_request_begin();
	hook_route_of(out->method)(&x);
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
