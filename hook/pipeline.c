/* hook/pipeline.c: one request in, one answer out: routing, caps, WCS auth, body checks, connect/call policy. */
#include "hook/hook_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct body {
	json_t *root;
	struct pol_member *m;
	const char **names; /* decoded names, borrowed from root */
	size_t n;
	const char *raw;
};

static void body_free(struct body *b)
{
	json_decref(b->root);
	free(b->m);
	free(b->names);
}

static void set_meta(struct hook_resp *out, const char *verdict)
{
	snprintf(out->verdict, sizeof(out->verdict), "%s", verdict);
}

/* {"status":N,"reason":"..."}: the shape WCS shows to the browser. */
static void answer_error(struct hook_resp *out, int status, const char *verdict, const char *reason)
{
	json_t *o = json_pack("{s:i,s:s}", "status", status, "reason", reason);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	out->status = status;
	out->body = s;
	out->len = s ? strlen(s) : 0;
	set_meta(out, verdict);
}

static void answer_raw(struct hook_resp *out, const char *raw, size_t len, const char *verdict)
{
	out->body = ch_strndup(raw, len);
	if (!out->body) {
		answer_error(out, 500, "internal", "out of memory");
		return;
	}
	out->status = 200;
	out->len = len;
	set_meta(out, verdict);
}

static void answer_buf(struct hook_resp *out, struct ch_buf *b, const char *verdict)
{
	out->status = 200;
	out->body = b->data;
	out->len = b->len;
	b->data = NULL;
	set_meta(out, verdict);
}

/* ---- body ---------------------------------------------------------------- */

static int parse_body(const struct hook_rt *rt, const struct hook_req *rq, struct body *b, const char **why)
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

static const char *str_member(json_t *o, const char *name)
{
	json_t *v = o ? json_object_get(o, name) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* custom.<name>: NULL when absent; *bad when present but not a string. */
static const char *custom_str(const struct body *b, const char *name, bool *bad)
{
	json_t *custom = json_object_get(b->root, "custom");
	json_t *v = json_is_object(custom) ? json_object_get(custom, name) : NULL;
	*bad = v && !json_is_string(v);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Append the member's raw bytes "key":value, with a separator. */
static int copy_member(struct ch_buf *o, const struct body *b, size_t i, bool *first)
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
static void client_key(const char *sid, const struct hook_site *site, char *out, size_t cap)
{
	char ip[64];
	out[0] = '\0';
	if (sid && pol_session_ip(sid, ip, sizeof(ip)) == 0 &&
	    pol_ip_key(ip, (unsigned)site->cfg->limits.ipv6_prefix, out, cap) != 0)
		out[0] = '\0';
}

static const char *button_callee(const struct hook_site *s, const char *button)
{
	for (size_t i = 0; i < s->cfg->buttons.n; i++) {
		if (strcmp(s->cfg->buttons.keys[i], button) == 0)
			return s->cfg->buttons.vals[i];
	}
	return NULL;
}

/* The site of a session-scoped hook (call, transfer, sendMessage). Caller holds the store lock.
 * NULL with *why set when the session is unknown and no fallback applies. */
static const struct hook_site *session_site(const struct hook_rt *rt, struct hook_store *st, const char *sid,
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

/* ---- connect --------------------------------------------------------------- */

static int build_connect_answer(const struct hook_site *site, const struct body *b, struct ch_buf *o)
{
	bool first = true;
	int err = ch_buf_add(o, "{", 1);
	for (size_t i = 0; !err && i < b->n; i++) {
		/* case-insensitive, as in the forwarder: the SIP account and
		 * restClientConfig come from the config only, however the browser
		 * spells them ("SIPLogin", "sipPASSWORD", "restclientconfig") */
		if (strncasecmp(b->names[i], "sip", 3) == 0 || strcasecmp(b->names[i], "restClientConfig") == 0)
			continue;
		err = copy_member(o, b, i, &first);
	}
	if (!err && !first)
		err = ch_buf_add(o, ",", 1);
	if (!err)
		err = ch_buf_add(o, site->connect_tail, site->connect_tail_len);
	return err ? err : ch_buf_add(o, "}", 1);
}

static void do_connect(struct hook_rt *rt, struct hook_store *st, const struct body *b, int64_t now_ms, int64_t wall_s,
		       struct hook_resp *out)
{
	const char *origin_s = str_member(b->root, "origin");
	struct pol_origin origin;
	if (!origin_s || pol_origin_parse(origin_s, strlen(origin_s), &origin) != 0) {
		answer_error(out, 403, "origin", origin_s ? "origin is not a valid origin" : "origin is missing");
		return;
	}
	const struct hook_site *site = NULL;
	for (size_t i = 0; i < rt->n_sites && !site; i++) {
		for (size_t j = 0; j < rt->sites[i].n_patterns && !site; j++) {
			if (pol_origin_match(&rt->sites[i].patterns[j], &origin))
				site = &rt->sites[i];
		}
	}
	if (!site) {
		answer_error(out, 403, "origin", "origin not allowed");
		return;
	}
	snprintf(out->site, sizeof(out->site), "%s", site->cfg->name);
	const char *sid = str_member(b->root, "sessionId");
	if (!sid || !*sid || strlen(sid) > HS_KEY_MAX) {
		answer_error(out, 400, "body", "sessionId is missing or invalid");
		return;
	}

	/* signed token: the site's backend vouches for this visitor */
	bool bad;
	const char *token = custom_str(b, "token", &bad);
	struct pol_token_claims claims;
	bool have_claims = false;
	const struct cfg_token *tc = &site->cfg->token;
	if (bad) {
		answer_error(out, 403, "token", "custom.token must be a string");
		return;
	}
	if (tc->present && (token || tc->required)) {
		if (!token) {
			answer_error(out, 403, "token", "token required");
			return;
		}
		char norm[POL_HOST_MAX + 32];
		if (pol_origin_format(&origin, norm, sizeof(norm)) != 0) {
			answer_error(out, 403, "origin", "origin not allowed");
			return;
		}
		struct pol_token_params p = {.secret = (const unsigned char *)tc->secret,
					     .secret_len = tc->secret_len,
					     .max_age_s = tc->max_age_s,
					     .leeway_s = tc->leeway_s,
					     .audience = tc->audience};
		enum pol_token_verdict v = pol_token_check(token, &p, norm, wall_s, &claims);
		if (v != POL_TOKEN_OK) {
			answer_error(out, 403, "token", pol_token_reason(v));
			return;
		}
		have_claims = true;
	}

	/* the button: a token's claim wins and locks it; else custom.button */
	const char *button = custom_str(b, "button", &bad);
	if (bad) {
		answer_error(out, 403, "button", "unknown button");
		return;
	}
	bool locked = false;
	if (have_claims && claims.has_button) {
		button = claims.button;
		locked = true;
	}
	if (button && !button_callee(site, button)) {
		answer_error(out, 403, "button", "unknown button");
		return;
	}

	char ip[64] = "";
	client_key(sid, site, ip, sizeof(ip));
	struct hs_session sess = {0};
	snprintf(sess.site, sizeof(sess.site), "%s", site->cfg->name);
	snprintf(sess.button, sizeof(sess.button), "%s", button ? button : "");
	sess.button_locked = locked;
	sess.created_ms = now_ms;

	hs_lock(st);
	hs_expire(st, now_ms);
	struct hs_session old;
	bool retry = hs_session_get(st, sid, now_ms, &old) == 0;
	if (retry && strcmp(old.site, site->cfg->name) != 0) {
		/* a sessionId is one WCS session of one site: taking it over from
		 * another site would skip this site's connect budget and carry the
		 * other site's call count over */
		hs_unlock(st);
		answer_error(out, 409, "session", "sessionId belongs to another site");
		return;
	}
	if (retry) {
		sess.calls = old.calls;
		sess.created_ms = old.created_ms;
	}
	int64_t lim = site->cfg->limits.connects_per_minute_per_ip;
	char key[HS_KEY_MAX];
	snprintf(key, sizeof(key), "connect|%s|%s", site->cfg->name, ip);
	/* a refused request changes nothing: every check before any write */
	if (!retry && hs_session_count(st) >= (size_t)rt->cfg->hook.max_sessions) {
		hs_unlock(st);
		answer_error(out, 503, "sessions", "session table full");
		return;
	}
	int64_t exp_ms = have_claims ? now_ms + (claims.exp + tc->leeway_s - wall_s) * 1000 : 0;
	if (have_claims && hs_jti_bind(st, claims.jti, sid, exp_ms, false) == EEXIST) {
		hs_unlock(st);
		answer_error(out, 403, "token", "token already used by another session");
		return;
	}
	int bt = !retry && lim > 0 ? hs_bucket_take(st, key, (unsigned)lim, now_ms, true) : 0;
	if (bt) {
		hs_unlock(st);
		if (bt == EAGAIN)
			answer_error(out, 429, "budget", "connects_per_minute_per_ip exceeded");
		else
			answer_error(out, 503, "sessions", "state table full");
		return;
	}
	int err = have_claims ? hs_jti_bind(st, claims.jti, sid, exp_ms, true) : 0;
	if (!err)
		err = hs_session_put(st, sid, &sess, (size_t)rt->cfg->hook.max_sessions,
				     now_ms + rt->cfg->hook.session_ttl_s * 1000);
	hs_unlock(st);
	if (err) {
		answer_error(out, err == ENOSPC ? 503 : 500, "sessions",
			     err == ENOSPC ? "session table full" : "out of memory");
		return;
	}
	struct ch_buf o;
	ch_buf_init(&o, (size_t)rt->cfg->hook.max_body_bytes + 65536);
	if (build_connect_answer(site, b, &o)) {
		ch_buf_free(&o);
		answer_error(out, 500, "internal", "could not build the answer");
		return;
	}
	answer_buf(out, &o, "allow");
}

/* ---- call ------------------------------------------------------------------ */

static int build_call_answer(const struct body *b, const char *callee, struct ch_buf *o)
{
	bool first = true, have_callee = false, have_ip = false;
	int err = ch_buf_add(o, "{", 1);
	json_t *cs = json_string(callee);
	char *cjs = cs ? json_dumps(cs, JSON_ENCODE_ANY) : NULL;
	json_decref(cs);
	if (!cjs)
		return ENOMEM;
	for (size_t i = 0; !err && i < b->n; i++) {
		const struct pol_member *m = &b->m[i];
		bool is_callee = strcmp(b->names[i], "callee") == 0;
		bool is_ip = strcmp(b->names[i], "inviteParameters") == 0;
		/* "Callee", "INVITEPARAMETERS": another spelling of a member we
		 * overwrite is dropped, so no reader can take it for the real one */
		if ((!is_callee && strcasecmp(b->names[i], "callee") == 0) ||
		    (!is_ip && strcasecmp(b->names[i], "inviteParameters") == 0))
			continue;
		if (!is_callee && !is_ip) {
			err = copy_member(o, b, i, &first);
			continue;
		}
		if (!first)
			err = ch_buf_add(o, ",", 1);
		first = false;
		if (!err)
			err = ch_buf_add(o, b->raw + m->key_off, m->key_len);
		if (!err)
			err = ch_buf_add(o, ":", 1);
		if (!err)
			err = ch_buf_adds(o, is_callee ? cjs : "{}");
		have_callee |= is_callee;
		have_ip |= is_ip;
	}
	if (!err && !have_callee) {
		err = ch_buf_adds(o, first ? "\"callee\":" : ",\"callee\":");
		if (!err)
			err = ch_buf_adds(o, cjs);
		first = false;
	}
	if (!err && !have_ip)
		err = ch_buf_adds(o, first ? "\"inviteParameters\":{}" : ",\"inviteParameters\":{}");
	free(cjs);
	return err ? err : ch_buf_add(o, "}", 1);
}

static void do_call(struct hook_rt *rt, struct hook_store *st, const struct body *b, int64_t now_ms,
		    struct hook_resp *out)
{
	const char *sid = str_member(b->root, "sessionId");
	const char *call_id = str_member(b->root, "callId");
	/* without a callId a call could hold no slot and never be ended */
	if (!call_id || !*call_id || strlen(call_id) > HS_KEY_MAX) {
		answer_error(out, 400, "body",
			     call_id && *call_id ? "callId too long" : "callId is missing or invalid");
		return;
	}
	bool bad;
	const char *req_button = custom_str(b, "button", &bad);
	if (bad) {
		answer_error(out, 403, "button", "unknown button");
		return;
	}

	hs_lock(st);
	hs_expire(st, now_ms);
	struct hs_session sess;
	bool known;
	const struct hook_site *site = session_site(rt, st, sid, now_ms, &sess, &known);
	if (!site) {
		hs_unlock(st);
		answer_error(out, 403, "session", "unknown session");
		return;
	}
	snprintf(out->site, sizeof(out->site), "%s", site->cfg->name);
	const char *button = NULL;
	if (known && sess.button_locked)
		button = sess.button; /* a signed button cannot be changed by the page */
	else if (req_button)
		button = req_button;
	else if (known && sess.button[0])
		button = sess.button;

	/* The browser chooses the callId. Only the same callId from the same
	 * session of the same site, while that call has not ended, is a WCS
	 * retry: it gets the answer it got, with the callee it was placed with,
	 * and is not counted again. A callId another session or site placed is
	 * refused and its record left alone (so neither session can free the
	 * other's slot); a callId of this session whose call has ended is a
	 * new call, counted like any other. */
	const char *owner = sid ? sid : "";
	struct hs_call prev;
	bool mine = false;
	bool seen = hs_call_get(st, call_id, site->cfg->name, owner, &prev, &mine) == 0;
	if (seen && !mine) {
		hs_unlock(st);
		answer_error(out, 409, "callid", "callId belongs to another session");
		return;
	}
	bool retry = seen && prev.active;
	if (retry && prev.status != 200) {
		hs_unlock(st);
		answer_error(out, prev.status, "budget", prev.reason);
		return;
	}
	if (retry)
		button = prev.button[0] ? prev.button : NULL;
	const char *callee = button ? button_callee(site, button) : site->cfg->callee;
	if (!callee) {
		hs_unlock(st);
		answer_error(out, 403, "button", button ? "unknown button" : "no callee configured for this site");
		return;
	}
	if (retry) {
		hs_unlock(st);
		goto answer;
	}

	const struct cfg_site_limits *l = &site->cfg->limits;
	const char *over = NULL;
	char ip[64];
	client_key(sid, site, ip, sizeof(ip));
	char ipkey[HS_KEY_MAX], sitekey[HS_KEY_MAX];
	snprintf(ipkey, sizeof(ipkey), "call|%s|%s", site->cfg->name, ip);
	snprintf(sitekey, sizeof(sitekey), "call|%s", site->cfg->name);
	if (known && l->calls_per_session > 0 && sess.calls >= (unsigned)l->calls_per_session)
		over = "calls_per_session exceeded";
	else if (l->concurrent_calls > 0 && hs_site_active(st, site->cfg->name) >= (unsigned)l->concurrent_calls)
		over = "concurrent_calls exceeded";
	else if (l->calls_per_minute_per_ip > 0 &&
		 hs_bucket_take(st, ipkey, (unsigned)l->calls_per_minute_per_ip, now_ms, false) != 0)
		over = "calls_per_minute_per_ip exceeded";
	else if (l->calls_per_minute > 0 &&
		 hs_bucket_take(st, sitekey, (unsigned)l->calls_per_minute, now_ms, false) != 0)
		over = "calls_per_minute exceeded";
	if (over) {
		hs_unlock(st);
		answer_error(out, 429, "budget", over);
		return;
	}
	struct hs_call c = {.status = 200, .active = true};
	snprintf(c.site, sizeof(c.site), "%s", site->cfg->name);
	snprintf(c.button, sizeof(c.button), "%s", button ? button : "");
	/* the record first: a store at its cap refuses the call before any
	 * bucket is taken, rather than place a call nobody counts */
	int full = hs_call_put(st, call_id, owner, &c, now_ms + l->call_max_s * 1000);
	if (!full && l->calls_per_minute_per_ip > 0)
		full = hs_bucket_take(st, ipkey, (unsigned)l->calls_per_minute_per_ip, now_ms, true);
	if (!full && l->calls_per_minute > 0)
		full = hs_bucket_take(st, sitekey, (unsigned)l->calls_per_minute, now_ms, true);
	if (full) {
		if (seen)
			hs_call_put(st, call_id, owner, &prev, now_ms + l->call_max_s * 1000);
		else
			hs_call_forget(st, call_id);
		hs_unlock(st);
		answer_error(out, 503, "sessions", "state table full");
		return;
	}
	if (known) {
		sess.calls++;
		hs_session_put(st, sid, &sess, SIZE_MAX, now_ms + rt->cfg->hook.session_ttl_s * 1000);
	}
	hs_unlock(st);
answer:;
	struct ch_buf o;
	ch_buf_init(&o, (size_t)rt->cfg->hook.max_body_bytes + 65536);
	if (build_call_answer(b, callee, &o)) {
		ch_buf_free(&o);
		answer_error(out, 500, "internal", "could not build the answer");
		return;
	}
	answer_buf(out, &o, "allow");
}

/* transfer / sendMessage: only where the site allows them. */
static void do_gated(struct hook_rt *rt, struct hook_store *st, const struct hook_req *rq, const struct body *b,
		     int64_t now_ms, bool transfer, struct hook_resp *out)
{
	const char *sid = str_member(b->root, "sessionId");
	hs_lock(st);
	struct hs_session sess;
	bool known;
	const struct hook_site *site = session_site(rt, st, sid, now_ms, &sess, &known);
	hs_unlock(st);
	if (!site) {
		answer_error(out, 403, "session", "unknown session");
		return;
	}
	snprintf(out->site, sizeof(out->site), "%s", site->cfg->name);
	if (transfer ? !site->cfg->allow_transfer : !site->cfg->allow_messages) {
		answer_error(out, 403, transfer ? "transfer" : "message",
			     transfer ? "transfers are not allowed for this site"
				      : "messages are not allowed for this site");
		return;
	}
	answer_raw(out, rq->body, rq->body_len, "allow");
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

void hook_process(struct hook_rt *rt, struct hook_store *st, const struct hook_req *rq, int64_t now_ms, int64_t wall_s,
		  struct hook_resp *out)
{
	memset(out, 0, sizeof(*out));
	const char *hm = rq->http_method ? rq->http_method : "";
	bool get_like = strcmp(hm, "GET") == 0 || strcmp(hm, "HEAD") == 0;
	/* with an admin listener, health and metrics live there and not on the public port */
	bool health = !rq->admin_elsewhere && strcmp(rq->path, "/healthz") == 0;
	if (health && get_like) {
		snprintf(out->method, sizeof(out->method), "healthz");
		answer_raw(out, "{\"status\":\"ok\"}", 15, "health");
		return;
	}
	wcs_method(rq->path, out->method, sizeof(out->method));
	if (strcmp(hm, "POST") != 0) {
		out->allow = health ? "GET, HEAD" : "POST";
		answer_error(out, 405, "method", health ? "use GET or HEAD" : "use POST");
		return;
	}
	if (!hook_peer_allowed(rt, rq->peer_ip)) {
		answer_error(out, 403, "auth", "address not allowed");
		return;
	}
	if (rq->body_too_large) {
		answer_error(out, 413, "size", "body larger than max_body_bytes");
		return;
	}
	if (!auth_ok(rt, rq)) {
		answer_error(out, 403, "auth", "WCS authentication failed");
		return;
	}
	struct body b;
	const char *why = NULL;
	if (parse_body(rt, rq, &b, &why) != 0) {
		answer_error(out, 400, "body", why);
		return;
	}
	const char *sid = str_member(b.root, "sessionId");
	if (sid)
		snprintf(out->sid, sizeof(out->sid), "%s", sid);
	const char *m = out->method;
	if (strcmp(m, "connect") == 0) {
		do_connect(rt, st, &b, now_ms, wall_s, out);
	} else if (strcmp(m, "call") == 0) {
		do_call(rt, st, &b, now_ms, out);
	} else if (strcmp(m, "transfer") == 0 || strcmp(m, "sendMessage") == 0) {
		do_gated(rt, st, rq, &b, now_ms, m[0] == 't', out);
	} else {
		const char *status = str_member(b.root, "status");
		if (status && strcmp(m, "ConnectionStatusEvent") == 0 &&
		    (strcmp(status, "DISCONNECTED") == 0 || strcmp(status, "FAILED") == 0) && sid) {
			hs_lock(st);
			hs_session_del(st, sid);
			hs_unlock(st);
		}
		const char *call_id = str_member(b.root, "callId");
		if (status && call_id && strcmp(m, "CallStatusEvent") == 0 &&
		    (strcmp(status, "FINISH") == 0 || strcmp(status, "FAILED") == 0 || strcmp(status, "BUSY") == 0)) {
			/* only the session that placed the call ends it (when the event names one) */
			hs_lock(st);
			hs_call_end(st, call_id, sid);
			hs_unlock(st);
		}
		answer_raw(out, rq->body, rq->body_len, "mirror");
	}
	body_free(&b);
}

void hook_resp_free(struct hook_resp *r)
{
	free(r->body);
	r->body = NULL;
}
