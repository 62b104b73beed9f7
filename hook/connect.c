/* hook/connect.c: the connect hook: the site by origin, the signed token, the button, admission, the rewritten answer.
 */
#include "hook/hook_int.h"
#include "hook/store_redis.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* What the phases of one connect learn, in order. */
struct cx {
	struct hook_ctx *x;
	struct pol_origin origin;
	const struct hook_site *site;
	const char *sid;
	struct pol_token_claims claims;
	bool have_claims;
	const char *button; /* NULL = none */
	bool locked;        /* the button came from the token */
	const char *why;    /* the reason of a refusal */
};

/* The site whose patterns match the origin, and a usable sessionId. */
static enum hook_verdict connect_site(struct cx *c)
{
	const struct hook_rt *rt = c->x->rt;
	const char *origin_s = hook_str_member(c->x->b, "origin");
	if (!origin_s || pol_origin_parse(origin_s, strlen(origin_s), &c->origin) != 0) {
		c->why = origin_s ? "origin is not a valid origin" : "origin is missing";
		return HOOK_DENY_ORIGIN;
	}
	for (size_t i = 0; i < rt->n_sites && !c->site; i++) {
		for (size_t j = 0; j < rt->sites[i].n_patterns && !c->site; j++) {
			if (pol_origin_match(&rt->sites[i].patterns[j], &c->origin))
				c->site = &rt->sites[i];
		}
	}
	if (!c->site) {
		c->why = "origin not allowed";
		return HOOK_DENY_ORIGIN;
	}
	ch_scopy(c->x->out->site, sizeof(c->x->out->site), c->site->cfg->name);
	c->sid = hook_str_member(c->x->b, "sessionId");
	if (!c->sid || !*c->sid || strlen(c->sid) > HS_KEY_MAX) {
		c->why = "sessionId is missing or invalid";
		return HOOK_BAD_BODY;
	}
	return HOOK_ALLOW;
}

/* The signed token: the site's backend vouches for this visitor. */
static enum hook_verdict connect_token(struct cx *c)
{
	bool bad;
	const char *token = hook_custom_str(c->x->b, "token", &bad);
	const struct cfg_token *tc = &c->site->cfg->token;
	if (bad) {
		c->why = "custom.token must be a string";
		return HOOK_DENY_TOKEN;
	}
	if (!tc->present || (!token && !tc->required))
		return HOOK_ALLOW;
	if (!token) {
		c->why = "token required";
		return HOOK_DENY_TOKEN;
	}
	char norm[POL_HOST_MAX + 32];
	if (pol_origin_format(&c->origin, norm, sizeof(norm)) != 0) {
		c->why = "origin not allowed";
		return HOOK_DENY_ORIGIN;
	}
	struct pol_token_params p = {.secret = (const unsigned char *)tc->secret,
				     .secret_len = tc->secret_len,
				     .max_age_s = tc->max_age_s,
				     .leeway_s = tc->leeway_s,
				     .audience = tc->audience};
	enum pol_token_verdict v = pol_token_check(token, &p, norm, c->x->wall_s, &c->claims);
	if (v != POL_TOKEN_OK) {
		c->why = pol_token_reason(v);
		return HOOK_DENY_TOKEN;
	}
	c->have_claims = true;
	return HOOK_ALLOW;
}

/* The button: a token's claim wins and locks it; else custom.button. */
static enum hook_verdict connect_button(struct cx *c)
{
	bool bad;
	c->button = hook_custom_str(c->x->b, "button", &bad);
	if (!bad && c->have_claims && c->claims.has_button) {
		c->button = c->claims.button;
		c->locked = true;
	}
	if (bad || (c->button && !hook_button_of(c->site, c->button))) {
		c->why = "unknown button";
		return HOOK_DENY_BUTTON;
	}
	return HOOK_ALLOW;
}

/* Under the store lock: every check before any write, so that a refused
 * request changes nothing; then the writes. */
static enum hook_verdict admit_locked(struct cx *c, struct hs_session *sess)
{
	struct hook_store *st = c->x->st;
	const struct hook_rt *rt = c->x->rt;
	int64_t now_ms = c->x->now_ms;
	struct hs_session old;
	bool retry = hs_session_get(st, c->sid, now_ms, &old) == 0;
	if (retry && strcmp(old.site, c->site->cfg->name) != 0) {
		/* a sessionId is one WCS session of one site: taking it over from
		 * another site would skip this site's connect budget and carry the
		 * other site's call count over */
		c->why = "sessionId belongs to another site";
		return HOOK_SESSION_CONFLICT;
	}
	if (retry) {
		sess->calls = old.calls;
		sess->created_ms = old.created_ms;
	}
	char ip[64] = "";
	hook_client_key(c->sid, c->site, ip, sizeof(ip));
	int64_t lim = c->site->cfg->limits.connects_per_minute_per_ip;
	char key[HS_KEY_MAX];
	size_t n = ch_scat(key, sizeof(key), ch_scopy(key, sizeof(key), "connect|"), c->site->cfg->name);
	ch_scat(key, sizeof(key), ch_scat(key, sizeof(key), n, "|"), ip); /* "connect|<site>|<ip>" */
	if (!retry && hs_session_count(st) >= (size_t)rt->cfg->hook.max_sessions) {
		c->why = "session table full";
		return HOOK_TABLE_FULL;
	}
	const struct cfg_token *tc = &c->site->cfg->token;
	int64_t exp_ms = c->have_claims ? now_ms + (c->claims.exp + tc->leeway_s - c->x->wall_s) * 1000 : 0;
	if (c->have_claims && hs_jti_bind(st, c->claims.jti, c->sid, exp_ms, false) == EEXIST) {
		c->why = "token already used by another session";
		return HOOK_DENY_TOKEN;
	}
	int bt = !retry && lim > 0 ? hs_bucket_take(st, key, (unsigned)lim, now_ms, true) : 0;
	if (bt) {
		c->why = bt == EAGAIN ? "connects_per_minute_per_ip exceeded" : "state table full";
		return bt == EAGAIN ? HOOK_OVER_BUDGET : HOOK_TABLE_FULL;
	}
	int err = c->have_claims ? hs_jti_bind(st, c->claims.jti, c->sid, exp_ms, true) : 0;
	if (!err)
		err = hs_session_put(st, c->sid, sess, (size_t)rt->cfg->hook.max_sessions,
				     now_ms + rt->cfg->hook.session_ttl_s * 1000);
	if (err) {
		c->why = err == ENOSPC ? "session table full" : "out of memory";
		return err == ENOSPC ? HOOK_TABLE_FULL : HOOK_STORE_NOMEM;
	}
	/* for the records of its calls: without memory for it they say origin null */
	char norm[POL_HOST_MAX + 32];
	if (rt->cdr && pol_origin_format(&c->origin, norm, sizeof(norm)) == 0)
		(void)hs_session_set_origin(st, c->sid, norm);
	return HOOK_ALLOW;
}

/* store.backend = "redis": the whole admission is one FCALL (ch3_connect); false when Redis did not answer. */
static bool admit_remote(struct cx *c, const struct hs_session *sess, enum hook_verdict *out, char *why, size_t cap)
{
	struct hook_ctx *x = c->x;
	const struct cfg_token *tc = &c->site->cfg->token;
	char ip[64] = "", bucket[HS_KEY_MAX], norm[POL_HOST_MAX + 32], attempt[HSR_ATTEMPT_MAX];
	hook_client_key(c->sid, c->site, ip, sizeof(ip));
	snprintf(bucket, sizeof(bucket), "connect|%s|%s", c->site->cfg->name, ip);
	bool origin = x->rt->cdr && pol_origin_format(&c->origin, norm, sizeof(norm)) == 0;
	int64_t ttl_ms = x->rt->cfg->hook.session_ttl_s * 1000;
	struct hsr_connect_req q = {
	    .sid = c->sid,
	    .site = sess->site,
	    .button = sess->button,
	    .locked = sess->button_locked,
	    .ttl_ms = ttl_ms,
	    .max_sessions = (size_t)x->rt->cfg->hook.max_sessions,
	    .limit = (unsigned)c->site->cfg->limits.connects_per_minute_per_ip,
	    .bucket = bucket,
	    .jti = c->have_claims ? c->claims.jti : NULL,
	    .jti_ttl_ms = c->have_claims ? (c->claims.exp + tc->leeway_s - x->wall_s) * 1000 : 0,
	    .origin = origin ? norm : NULL,
	    .attempt = attempt,
	};
	struct hsr_verdict v;
	hsr_attempt(hs_redis(x->st), attempt);
	if (hsr_connect(hs_redis(x->st), &q, &v) != HSR_OK) {
		/* sent, no answer: Redis may still run it; what it took is given back then */
		if (v.sent)
			hs_cancel_connect(x->st, c->sid, attempt);
		return false;
	}
	*out = hook_store_verdict(v.deny);
	ch_scopy(why, cap, v.reason);
	c->why = why;
	if (*out == HOOK_ALLOW) {
		struct hs_session local = *sess;
		local.calls = v.sess.calls;
		hs_lock(x->st);
		hs_expire(x->st, x->now_ms);
		hs_remember_session(x->st, c->sid, &local, x->now_ms + ttl_ms);
		if (origin)
			(void)hs_session_set_origin(x->st, c->sid, norm);
		hs_unlock(x->st);
	}
	return true;
}

static enum hook_verdict connect_admit(struct cx *c, char *why, size_t cap)
{
	struct hs_session sess = {0};
	ch_scopy(sess.site, sizeof(sess.site), c->site->cfg->name);
	ch_scopy(sess.button, sizeof(sess.button), c->button ? c->button : "");
	sess.button_locked = c->locked;
	sess.created_ms = c->x->now_ms;
	enum hook_verdict v = HOOK_ALLOW;
	if (hs_redis(c->x->st) && admit_remote(c, &sess, &v, why, cap))
		return v;
	hs_lock(c->x->st);
	hs_expire(c->x->st, c->x->now_ms);
	if (hs_redis(c->x->st) && hs_unavailable(c->x->st)) {
		c->why = "state store unavailable";
		v = HOOK_STORE_DOWN;
	} else {
		v = admit_locked(c, &sess); /* the memory store, or fail_open's fallback */
	}
	hs_unlock(c->x->st);
	return v;
}

/* The browser's members minus any SIP account or restClientConfig, then the
 * site's (serialised once per runtime). */
static int build_connect_answer(const struct hook_site *site, const struct hook_body *b, struct ch_buf *o)
{
	bool first = true;
	int err = ch_buf_add(o, "{", 1);
	for (size_t i = 0; !err && i < b->n; i++) {
		/* case-insensitive, as in the forwarder: the SIP account and
		 * restClientConfig come from the config only, however the browser
		 * spells them ("SIPLogin", "sipPASSWORD", "restclientconfig") */
		if (strncasecmp(b->names[i], "sip", 3) == 0 || strcasecmp(b->names[i], "restClientConfig") == 0)
			continue;
		err = hook_copy_member(o, b, i, &first);
	}
	if (!err && !first)
		err = ch_buf_add(o, ",", 1);
	if (!err)
		err = ch_buf_add(o, site->connect_tail, site->connect_tail_len);
	return err ? err : ch_buf_add(o, "}", 1);
}

void hook_connect(struct hook_ctx *x)
{
	struct cx c = {.x = x};
	enum hook_verdict v = connect_site(&c);
	if (v == HOOK_ALLOW)
		v = connect_token(&c);
	if (v == HOOK_ALLOW)
		v = connect_button(&c);
	char why[128];
	if (v == HOOK_ALLOW)
		v = connect_admit(&c, why, sizeof(why));
	if (v != HOOK_ALLOW) {
		hook_answer_verdict(x->out, v, c.why);
		return;
	}
	struct ch_buf o;
	ch_buf_init(&o, (size_t)x->rt->cfg->hook.max_body_bytes + HOOK_ANSWER_SLACK);
	/* one allocation: the answer is at most the body and the tail (past the limit, the adds say so) */
	(void)ch_buf_reserve(&o, x->rq->body_len + c.site->connect_tail_len + 2);
	if (build_connect_answer(c.site, x->b, &o)) {
		ch_buf_free(&o);
		hook_answer_verdict(x->out, HOOK_INTERNAL, "could not build the answer");
		return;
	}
	hook_answer_buf(x->out, &o, HOOK_ALLOW);
}
