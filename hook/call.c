/* hook/call.c: the call hook: the callId, the session and its site, the callee, the budgets, the record, the answer. */
#include "hook/hook_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What the phases of one call learn, in order. */
struct kx {
	struct hook_ctx *x;
	const char *sid, *owner; /* owner: the sessionId, "" for none */
	const char *call_id;
	const char *req_button; /* custom.button, or NULL */
	const struct hook_site *site;
	struct hs_session sess;
	bool known; /* sess is the session's entry */
	const char *button, *callee;
	struct hs_call prev;
	bool seen, retry;
	char ipkey[HS_KEY_MAX], sitekey[HS_KEY_MAX];
	int status;      /* of a refusal replayed to a retry, else 0 */
	const char *why; /* the reason of a refusal */
};

/* Without a callId a call could hold no slot and never be ended. */
static enum hook_verdict call_ids(struct kx *k)
{
	const json_t *root = k->x->b->root;
	k->sid = hook_str_member((json_t *)root, "sessionId");
	k->owner = k->sid ? k->sid : "";
	k->call_id = hook_str_member((json_t *)root, "callId");
	if (!k->call_id || !*k->call_id || strlen(k->call_id) > HS_KEY_MAX) {
		k->why = k->call_id && *k->call_id ? "callId too long" : "callId is missing or invalid";
		return HOOK_BAD_BODY;
	}
	bool bad;
	k->req_button = hook_custom_str(k->x->b, "button", &bad);
	if (bad) {
		k->why = "unknown button";
		return HOOK_DENY_BUTTON;
	}
	return HOOK_ALLOW;
}

/* Under the lock: the session's site, whether this is a WCS retry, and the
 * callee. The browser chooses the callId. Only the same callId from the
 * same session of the same site, while that call has not ended, is a WCS
 * retry: it gets the answer it got, with the callee it was placed with, and
 * is not counted again. A callId another session or site placed is refused
 * and its record left alone (so neither session can free the other's slot);
 * a callId of this session whose call has ended is a new call, counted like
 * any other. */
static enum hook_verdict call_callee(struct kx *k)
{
	struct hook_store *st = k->x->st;
	k->site = hook_session_site(k->x->rt, st, k->sid, k->x->now_ms, &k->sess, &k->known);
	if (!k->site) {
		k->why = "unknown session";
		return HOOK_DENY_SESSION;
	}
	snprintf(k->x->out->site, sizeof(k->x->out->site), "%s", k->site->cfg->name);
	if (k->known && k->sess.button_locked)
		k->button = k->sess.button; /* a signed button cannot be changed by the page */
	else if (k->req_button)
		k->button = k->req_button;
	else if (k->known && k->sess.button[0])
		k->button = k->sess.button;
	bool mine = false;
	k->seen = hs_call_get(st, k->call_id, k->site->cfg->name, k->owner, &k->prev, &mine) == 0;
	if (k->seen && !mine) {
		k->why = "callId belongs to another session";
		return HOOK_CALLID_CONFLICT;
	}
	k->retry = k->seen && k->prev.active;
	if (k->retry && k->prev.status != 200) {
		k->status = k->prev.status;
		k->why = k->prev.reason;
		return HOOK_OVER_BUDGET;
	}
	if (k->retry)
		k->button = k->prev.button[0] ? k->prev.button : NULL;
	k->callee = k->button ? hook_button_callee(k->site, k->button) : k->site->cfg->callee;
	if (!k->callee) {
		k->why = k->button ? "unknown button" : "no callee configured for this site";
		return HOOK_DENY_BUTTON;
	}
	return HOOK_ALLOW;
}

/* Under the lock, changing nothing: is there room in every budget? */
static enum hook_verdict call_budget(struct kx *k)
{
	struct hook_store *st = k->x->st;
	const struct cfg_site_limits *l = &k->site->cfg->limits;
	int64_t now_ms = k->x->now_ms;
	char ip[64];
	hook_client_key(k->sid, k->site, ip, sizeof(ip));
	snprintf(k->ipkey, sizeof(k->ipkey), "call|%s|%s", k->site->cfg->name, ip);
	snprintf(k->sitekey, sizeof(k->sitekey), "call|%s", k->site->cfg->name);
	if (k->known && l->calls_per_session > 0 && k->sess.calls >= (unsigned)l->calls_per_session)
		k->why = "calls_per_session exceeded";
	else if (l->concurrent_calls > 0 && hs_site_active(st, k->site->cfg->name) >= (unsigned)l->concurrent_calls)
		k->why = "concurrent_calls exceeded";
	else if (l->calls_per_minute_per_ip > 0 &&
		 hs_bucket_take(st, k->ipkey, (unsigned)l->calls_per_minute_per_ip, now_ms, false) != 0)
		k->why = "calls_per_minute_per_ip exceeded";
	else if (l->calls_per_minute > 0 &&
		 hs_bucket_take(st, k->sitekey, (unsigned)l->calls_per_minute, now_ms, false) != 0)
		k->why = "calls_per_minute exceeded";
	return k->why ? HOOK_OVER_BUDGET : HOOK_ALLOW;
}

/* Under the lock: the record first (a store at its cap refuses the call
 * before any bucket is taken, rather than place a call nobody counts), then
 * the buckets, then the session's call count. */
static enum hook_verdict call_record(struct kx *k)
{
	struct hook_store *st = k->x->st;
	const struct cfg_site_limits *l = &k->site->cfg->limits;
	int64_t now_ms = k->x->now_ms;
	struct hs_call c = {.status = 200, .active = true};
	snprintf(c.site, sizeof(c.site), "%s", k->site->cfg->name);
	snprintf(c.button, sizeof(c.button), "%s", k->button ? k->button : "");
	int full = hs_call_put(st, k->call_id, k->owner, &c, now_ms + l->call_max_s * 1000);
	if (!full && l->calls_per_minute_per_ip > 0)
		full = hs_bucket_take(st, k->ipkey, (unsigned)l->calls_per_minute_per_ip, now_ms, true);
	if (!full && l->calls_per_minute > 0)
		full = hs_bucket_take(st, k->sitekey, (unsigned)l->calls_per_minute, now_ms, true);
	if (full) {
		if (k->seen)
			hs_call_put(st, k->call_id, k->owner, &k->prev, now_ms + l->call_max_s * 1000);
		else
			hs_call_forget(st, k->call_id);
		k->why = "state table full";
		return HOOK_TABLE_FULL;
	}
	if (k->known) {
		k->sess.calls++;
		/* the entry exists and is replaced in place: only an allocation can fail */
		if (hs_session_put(st, k->sid, &k->sess, SIZE_MAX, now_ms + k->x->rt->cfg->hook.session_ttl_s * 1000) !=
		    0)
			ch_warn("hook: site %s: a call was placed, but its session's call count could not be stored",
				k->site->cfg->name);
	}
	return HOOK_ALLOW;
}

/* The browser's members, with callee set to the chosen callee and
 * inviteParameters emptied (both added when absent). */
static int build_call_answer(const struct hook_body *b, const char *callee, struct ch_buf *o)
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
			err = hook_copy_member(o, b, i, &first);
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

void hook_call(struct hook_ctx *x)
{
	struct kx k = {.x = x};
	enum hook_verdict v = call_ids(&k);
	if (v == HOOK_ALLOW) {
		hs_lock(x->st);
		hs_expire(x->st, x->now_ms);
		v = call_callee(&k);
		if (v == HOOK_ALLOW && !k.retry)
			v = call_budget(&k);
		if (v == HOOK_ALLOW && !k.retry)
			v = call_record(&k);
		hs_unlock(x->st);
	}
	if (v != HOOK_ALLOW) {
		hook_answer_verdict_as(x->out, v, k.status ? k.status : hook_verdict_status(v), k.why);
		return;
	}
	struct ch_buf o;
	ch_buf_init(&o, (size_t)x->rt->cfg->hook.max_body_bytes + HOOK_ANSWER_SLACK);
	if (build_call_answer(x->b, k.callee, &o)) {
		ch_buf_free(&o);
		hook_answer_verdict(x->out, HOOK_INTERNAL, "could not build the answer");
		return;
	}
	hook_answer_buf(x->out, &o, HOOK_ALLOW);
}
