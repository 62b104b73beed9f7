/* hook/call.c: the call hook: the callId, the session and its site, the callee, the budgets, the record, the answer. */
#include "hook/hook_int.h"
#include "hook/store_redis.h"

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
	const struct hook_button *btn; /* the button's compiled entry, NULL = the site's callee */
	struct hs_call prev;
	bool seen, retry;
	char ipkey[HS_KEY_MAX], sitekey[HS_KEY_MAX];
	char attempt[HSR_ATTEMPT_MAX]; /* the last ch3_call's name */
	int status;                    /* of a refusal replayed to a retry, else 0 */
	const char *why;               /* the reason of a refusal */
	char whybuf[128];
};

/* Without a callId a call could hold no slot and never be ended. */
static enum hook_verdict call_ids(struct kx *k)
{
	k->sid = hook_str_member(k->x->b, "sessionId");
	k->owner = k->sid ? k->sid : "";
	k->call_id = hook_str_member(k->x->b, "callId");
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
	ch_scopy(k->x->out->site, sizeof(k->x->out->site), k->site->cfg->name);
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
	k->btn = k->button ? hook_button_of(k->site, k->button) : NULL;
	k->callee = k->button ? (k->btn ? k->btn->cfg->callee : NULL) : k->site->cfg->callee;
	if (!k->callee) {
		k->why = k->button ? "unknown button" : "no callee configured for this site";
		return HOOK_DENY_BUTTON;
	}
	return HOOK_ALLOW;
}

/* The button's hours, else the site's; a WCS retry of a placed call is not asked again. */
static enum hook_verdict call_hours(struct kx *k)
{
	const struct pol_hours *h = k->btn ? k->btn->hours : k->site->hours;
	if (h && !pol_hours_open_at(h, k->x->wall_ms)) {
		k->why = "closed: outside opening hours";
		return HOOK_CLOSED;
	}
	return HOOK_ALLOW;
}

/* The record this call's end will write, when the hook keeps records. NULL without memory: the call goes on. */
static struct hs_cdr *call_cdr(struct kx *k, const char *origin)
{
	if (!k->x->rt->cdr)
		return NULL;
	char ip[64];
	bool have_ip = k->sid && pol_session_ip(k->sid, ip, sizeof(ip)) == 0;
	struct hs_cdr *r =
	    hs_cdr_new(k->site->cfg->name, k->button, k->callee, have_ip ? ip : NULL, k->sid, k->call_id, origin);
	if (!r) {
		ch_warn("hook: site %s: no memory for the record of call %s", k->site->cfg->name, k->call_id);
		return NULL;
	}
	r->call_ms = k->x->wall_ms;
	r->max_ms = k->x->wall_ms + k->site->cfg->limits.call_max_s * 1000;
	return r;
}

/* Under the lock, changing nothing: is there room in every budget? */
static enum hook_verdict call_budget(struct kx *k)
{
	struct hook_store *st = k->x->st;
	const struct cfg_site_limits *l = &k->site->cfg->limits;
	int64_t now_ms = k->x->now_ms;
	char ip[64];
	hook_client_key(k->sid, k->site, ip, sizeof(ip));
	size_t n =
	    ch_scat(k->ipkey, sizeof(k->ipkey), ch_scopy(k->ipkey, sizeof(k->ipkey), "call|"), k->site->cfg->name);
	ch_scat(k->ipkey, sizeof(k->ipkey), ch_scat(k->ipkey, sizeof(k->ipkey), n, "|"), ip);
	ch_scat(k->sitekey, sizeof(k->sitekey), ch_scopy(k->sitekey, sizeof(k->sitekey), "call|"), k->site->cfg->name);
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
	ch_scopy(c.site, sizeof(c.site), k->site->cfg->name);
	ch_scopy(c.button, sizeof(c.button), k->button ? k->button : "");
	struct hs_cdr *rec = call_cdr(k, k->sid ? hs_session_origin(st, k->sid) : NULL);
	/* EAGAIN from the put: another instance took the last concurrent slot since the check */
	const char *lost = "concurrent_calls exceeded";
	int full = hs_call_put(st, k->call_id, k->owner, &c, rec, now_ms + l->call_max_s * 1000);
	if (full)
		hs_cdr_free(rec); /* not taken */
	if (!full && l->calls_per_minute_per_ip > 0) {
		lost = "calls_per_minute_per_ip exceeded";
		full = hs_bucket_take(st, k->ipkey, (unsigned)l->calls_per_minute_per_ip, now_ms, true);
	}
	if (!full && l->calls_per_minute > 0) {
		lost = "calls_per_minute exceeded";
		full = hs_bucket_take(st, k->sitekey, (unsigned)l->calls_per_minute, now_ms, true);
	}
	if (full) {
		if (k->seen)
			hs_call_put(st, k->call_id, k->owner, &k->prev, NULL, now_ms + l->call_max_s * 1000);
		else
			hs_call_forget(st, k->call_id);
		/* EAGAIN: another instance took the last token since the check (store.backend = "redis") */
		k->why = full == EAGAIN ? lost : "state table full";
		return full == EAGAIN ? HOOK_OVER_BUDGET : HOOK_TABLE_FULL;
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

/* ---- store.backend = "redis": the whole decision in one FCALL (ch3_call) ---- */

/* The site's buttons with a callee as ch3_call reads them, "o:name c:name" (open or closed now), and the
 * state of the site's own callee; new (free), NULL without memory. */
static char *button_list(const struct hook_site *s, int64_t wall_ms, char *dflt)
{
	size_t cap = s->n_buttons * (HS_NAME_MAX + 3) + 1, at = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < s->n_buttons; i++) {
		const struct hook_button *b = &s->buttons[i];
		if (!b->cfg->callee)
			continue;
		if (at)
			out[at++] = ' ';
		out[at++] = !b->hours || pol_hours_open_at(b->hours, wall_ms) ? 'o' : 'c';
		out[at++] = ':';
		at += ch_scopy(out + at, cap - at, b->cfg->name);
	}
	*dflt = !s->cfg->callee ? 'n' : s->hours && !pol_hours_open_at(s->hours, wall_ms) ? 'c' : 'o';
	return out;
}

/* One ch3_call for site (NULL: not known here; Redis says whose the session is). */
static enum hsr_result ask(struct kx *k, const struct hook_site *site, bool lookup, struct hsr_verdict *v)
{
	const struct hook_site *fb = hook_fallback_site(k->x->rt);
	char dflt = 'n', ip[64] = "";
	char *buttons = site ? button_list(site, k->x->wall_ms, &dflt) : NULL;
	if (site && !buttons)
		return HSR_DOWN;
	const struct cfg_site_limits *l = site ? &site->cfg->limits : NULL;
	if (site) {
		hook_client_key(k->sid, site, ip, sizeof(ip));
		snprintf(k->ipkey, sizeof(k->ipkey), "call|%s|%s", site->cfg->name, ip);
		snprintf(k->sitekey, sizeof(k->sitekey), "call|%s", site->cfg->name);
	}
	struct hsr_call_req q = {.sid = k->sid,
				 .lookup = lookup,
				 .site = site ? site->cfg->name : "",
				 .fallback = site && site == fb,
				 .owner = k->owner,
				 .call_id = k->call_id,
				 .req_button = k->req_button,
				 .buttons = buttons ? buttons : "",
				 .dflt = dflt,
				 .cps = l ? (unsigned)l->calls_per_session : 0,
				 .conc = l ? (unsigned)l->concurrent_calls : 0,
				 .per_ip = l ? (unsigned)l->calls_per_minute_per_ip : 0,
				 .per_site = l ? (unsigned)l->calls_per_minute : 0,
				 .call_max_ms = l ? l->call_max_s * 1000 : 1,
				 .ttl_ms = k->x->rt->cfg->hook.session_ttl_s * 1000,
				 .ipkey = site ? k->ipkey : "",
				 .sitekey = site ? k->sitekey : "",
				 .attempt = k->attempt};
	hsr_attempt(hs_redis(k->x->st), k->attempt);
	enum hsr_result res = hsr_call(hs_redis(k->x->st), &q, v);
	free(buttons);
	/* sent, no answer: Redis may still run it (it was stalled, not down); what it took is given back then */
	if (res != HSR_OK && v->sent)
		hs_cancel_call(k->x->st, k->call_id, k->attempt);
	return res;
}

/* The site to ask for: this instance's copy of the session, else the only site. */
static const struct hook_site *guess_site(struct kx *k)
{
	char site[HS_NAME_MAX + 1];
	const struct hook_site *s = NULL;
	hs_lock(k->x->st);
	hs_expire(k->x->st, k->x->now_ms);
	if (k->sid && hs_local_site(k->x->st, k->sid, site, sizeof(site)))
		s = hook_site_by_name(k->x->rt, site);
	hs_unlock(k->x->st);
	return s ? s : k->x->rt->n_sites == 1 ? &k->x->rt->sites[0] : NULL;
}

/* After the admission: the callee, the local record (call record file, fail_open's view). */
static enum hook_verdict admitted(struct kx *k, const struct hsr_verdict *v)
{
	k->known = v->known;
	k->retry = v->retry;
	k->button = v->button[0] ? v->button : NULL;
	k->btn = k->button ? hook_button_of(k->site, k->button) : NULL;
	k->callee = k->button ? (k->btn ? k->btn->cfg->callee : NULL) : k->site->cfg->callee;
	if (!k->callee) {
		k->why = "unknown button"; /* a reload since the FCALL: give back what it took */
		hs_cancel_call(k->x->st, k->call_id, k->attempt);
		return HOOK_DENY_BUTTON;
	}
	if (k->retry)
		return HOOK_ALLOW;
	struct hs_call c = {.status = 200, .active = true};
	ch_scopy(c.site, sizeof(c.site), k->site->cfg->name);
	ch_scopy(c.button, sizeof(c.button), k->button ? k->button : "");
	struct hs_cdr *rec = call_cdr(k, v->origin[0] ? v->origin : NULL);
	int64_t now = k->x->now_ms;
	hs_lock(k->x->st);
	hs_remember_call(k->x->st, k->call_id, k->owner, &c, rec, now + k->site->cfg->limits.call_max_s * 1000,
			 now + k->x->rt->cfg->hook.session_ttl_s * 1000);
	hs_unlock(k->x->st);
	return HOOK_ALLOW;
}

/* One FCALL when this instance knows the session's site (it took the connect, or saw the session before);
 * two when the session was accepted elsewhere and is new here (ch3_call answers whose it is, writing
 * nothing). *answered false: Redis did not answer. */
static enum hook_verdict call_remote(struct kx *k, bool *answered)
{
	const struct hook_site *site = guess_site(k);
	bool lookup = true;
	struct hsr_verdict v;
	*answered = false;
	for (int round = 0;; round++) {
		if (ask(k, site, lookup, &v) != HSR_OK)
			return HOOK_ALLOW; /* not answered: on_unavailable decides */
		if (v.deny != HSR_WHERE || round == 1)
			break;
		const struct hook_site *s = hook_site_by_name(k->x->rt, v.sess.site);
		if (s) {
			hs_lock(k->x->st);
			hs_remember_session(k->x->st, k->sid, &v.sess,
					    k->x->now_ms + k->x->rt->cfg->hook.session_ttl_s * 1000);
			hs_unlock(k->x->st);
		}
		/* a site removed by a reload: the session is unknown, the fallback may take the call */
		lookup = s != NULL;
		site = s ? s : hook_fallback_site(k->x->rt);
	}
	*answered = true;
	if (v.deny == HSR_WHERE)
		v.deny = HSR_SESSION;
	if (site && v.deny != HSR_SESSION) {
		k->site = site;
		ch_scopy(k->x->out->site, sizeof(k->x->out->site), site->cfg->name);
	}
	ch_scopy(k->whybuf, sizeof(k->whybuf), v.deny == HSR_SESSION ? "unknown session" : v.reason);
	k->why = k->whybuf;
	k->status = v.deny == HSR_REPLAY ? v.status : 0;
	return v.deny == HSR_ADMIT ? admitted(k, &v) : hook_store_verdict(v.deny);
}

/* A member the answer sets: name and its JSON value. */
struct set_member {
	const char *name;
	char *json; /* NULL = not set by this answer */
	bool done;
};

/* The JSON text of a string, new. */
static char *json_str(const char *s)
{
	json_t *j = json_string(s);
	char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	return out;
}

/* The browser's members, with callee set to the chosen callee,
 * inviteParameters to the button's (or emptied) and visibleName to the
 * button's when it sets one; each in place, or appended when absent. Another
 * spelling of a member we set ("Callee", "INVITEPARAMETERS") is dropped, so
 * no reader can take it for the real one. */
static int build_call_answer(const struct hook_body *b, const char *callee, const struct hook_button *btn,
			     struct ch_buf *o)
{
	struct set_member set[] = {
	    {"callee", json_str(callee), false},
	    {"inviteParameters", ch_strndup(btn ? btn->invite_json : "{}", strlen(btn ? btn->invite_json : "{}")),
	     false},
	    {"visibleName", btn && btn->cfg->visible_name ? json_str(btn->cfg->visible_name) : NULL, false},
	};
	const size_t n_set = sizeof(set) / sizeof(set[0]);
	bool first = true;
	int err = !set[0].json || !set[1].json || (btn && btn->cfg->visible_name && !set[2].json) ? ENOMEM : 0;
	if (!err)
		err = ch_buf_add(o, "{", 1);
	for (size_t i = 0; !err && i < b->n; i++) {
		struct set_member *m = NULL;
		bool other_spelling = false;
		for (size_t k = 0; k < n_set; k++) {
			if (set[k].json && strcmp(b->names[i], set[k].name) == 0)
				m = &set[k];
			else if (set[k].json && strcasecmp(b->names[i], set[k].name) == 0)
				other_spelling = true;
		}
		if (other_spelling)
			continue;
		if (!m) {
			err = hook_copy_member(o, b, i, &first);
			continue;
		}
		if (!first)
			err = ch_buf_add(o, ",", 1);
		first = false;
		if (!err)
			err = ch_buf_add(o, b->raw + b->m[i].key_off, b->m[i].key_len);
		if (!err)
			err = ch_buf_add(o, ":", 1);
		if (!err)
			err = ch_buf_adds(o, m->json);
		m->done = true;
	}
	for (size_t k = 0; !err && k < n_set; k++) {
		if (!set[k].json || set[k].done)
			continue;
		err = ch_buf_adds(o, first ? "\"" : ",\"");
		if (!err)
			err = ch_buf_adds(o, set[k].name);
		if (!err)
			err = ch_buf_adds(o, "\":");
		if (!err)
			err = ch_buf_adds(o, set[k].json);
		first = false;
	}
	for (size_t k = 0; k < n_set; k++)
		free(set[k].json);
	return err ? err : ch_buf_add(o, "}", 1);
}

void hook_call(struct hook_ctx *x)
{
	struct kx k = {.x = x};
	enum hook_verdict v = call_ids(&k);
	bool answered = false;
	if (v == HOOK_ALLOW && hs_redis(x->st))
		v = call_remote(&k, &answered);
	if (v == HOOK_ALLOW && !answered) {
		hs_lock(x->st);
		hs_expire(x->st, x->now_ms);
		if (hs_redis(x->st) && hs_unavailable(x->st)) {
			k.why = "state store unavailable";
			v = HOOK_STORE_DOWN;
		} else {
			v = call_callee(&k); /* the memory store, or fail_open's fallback */
		}
		if (v == HOOK_ALLOW && !k.retry)
			v = call_hours(&k);
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
	/* one allocation for the usual answer: the body and a few members (past it, it grows) */
	(void)ch_buf_reserve(&o, x->rq->body_len + 256 < o.limit ? x->rq->body_len + 256 : o.limit);
	if (build_call_answer(x->b, k.callee, k.btn, &o)) {
		ch_buf_free(&o);
		hook_answer_verdict(x->out, HOOK_INTERNAL, "could not build the answer");
		return;
	}
	hook_answer_buf(x->out, &o, HOOK_ALLOW);
}
