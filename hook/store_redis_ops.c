/* hook/store_redis_ops.c: the decisions in Redis: each one FCALL into callhook_v3, its answer read back. */
#include "hook/store_redis_int.h"

#include "common/common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYCAP (HS_KEY_MAX + 160)

/* "<prefix><kind><name>" in a caller's buffer. */
static const char *key(const struct hsr *r, char *buf, size_t cap, const char *kind, const char *name)
{
	ch_fmt(buf, cap, "%s%s%s", hsr_prefix(r), kind, name);
	return buf;
}

/* Element i of an array reply as a string, or NULL. */
static const char *el(const redisReply *rep, size_t i)
{
	if (!rep || rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
		return NULL;
	const redisReply *e = rep->element[i];
	return e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS ? e->str : NULL;
}

static long long num(const char *s)
{
	return s ? strtoll(s, NULL, 10) : 0;
}

static enum hsr_deny deny_of(const char *kind)
{
	static const struct {
		const char *name;
		enum hsr_deny d;
	} t[] = {{"conflict", HSR_CONFLICT}, {"full", HSR_FULL},       {"token", HSR_TOKEN},
		 {"budget", HSR_BUDGET},     {"session", HSR_SESSION}, {"callid", HSR_CALLID},
		 {"button", HSR_BUTTON},     {"closed", HSR_CLOSED},   {"replay", HSR_REPLAY}};
	for (size_t i = 0; kind && i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(kind, t[i].name) == 0)
			return t[i].d;
	}
	return HSR_ADMIT; /* not a denial we know: the caller treats the answer as none */
}

/* The common part of a decision's answer: maxmemory, a denial; false when the reply is no answer at all. */
static bool verdict_of(redisReply *rep, struct hsr_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (rep == &hsr_oom_reply) {
		v->deny = HSR_FULL;
		ch_scopy(v->reason, sizeof(v->reason), "state table full");
		return true;
	}
	const char *what = el(rep, 0);
	if (!what)
		return false;
	if (strcmp(what, "deny") == 0) {
		v->deny = deny_of(el(rep, 1));
		ch_scopy(v->reason, sizeof(v->reason), el(rep, 2) ? el(rep, 2) : "");
		v->status = (int)num(el(rep, 3));
		return v->deny != HSR_ADMIT;
	}
	return strcmp(what, "ok") == 0 || strcmp(what, "where") == 0;
}

static void done(redisReply *rep)
{
	if (rep != &hsr_oom_reply)
		freeReplyObject(rep);
}

enum hsr_result hsr_connect(struct hsr *r, const struct hsr_connect_req *q, struct hsr_verdict *v)
{
	char ks[KEYCAP], ki[KEYCAP], kj[KEYCAP], kb[KEYCAP], kx[KEYCAP], ttl[24], mx[24], lim[16], jttl[24];
	ch_fmt(ttl, sizeof(ttl), "%" PRId64, q->ttl_ms < 1 ? 1 : q->ttl_ms);
	ch_fmt(mx, sizeof(mx), "%zu", q->max_sessions);
	ch_fmt(lim, sizeof(lim), "%u", q->limit);
	ch_fmt(jttl, sizeof(jttl), "%" PRId64, q->jti_ttl_ms < 1 ? 1 : q->jti_ttl_ms);
	const char *kv[] = {key(r, ks, sizeof(ks), "s:", q->sid),
			    key(r, ki, sizeof(ki), "sessions:index", ""),
			    key(r, kj, sizeof(kj), "j:", q->jti ? q->jti : ""),
			    key(r, kb, sizeof(kb), "b:", q->bucket),
			    key(r, kx, sizeof(kx), "x:", q->attempt ? q->attempt : ""),
			    q->sid,
			    q->site,
			    q->button,
			    q->locked ? "1" : "0",
			    ttl,
			    mx,
			    lim,
			    q->jti ? "1" : "0",
			    jttl,
			    q->origin ? q->origin : "",
			    q->attempt ? q->attempt : ""};
	bool sent;
	redisReply *rep = hsr_fcall_sent(r, HSR_OP_CONNECT, "ch3_connect", 5, kv, 11, &sent);
	v->sent = sent;
	if (!rep)
		return HSR_DOWN;
	bool ok = verdict_of(rep, v);
	v->sent = sent;
	if (ok && v->deny == HSR_ADMIT) {
		v->retry = num(el(rep, 1)) != 0;
		v->sess.calls = (unsigned)num(el(rep, 2));
	}
	done(rep);
	return ok ? HSR_OK : HSR_DOWN;
}

static void read_call(const redisReply *rep, struct hsr_verdict *v)
{
	if (strcmp(el(rep, 0), "where") == 0) {
		v->deny = HSR_WHERE;
		ch_scopy(v->sess.site, sizeof(v->sess.site), el(rep, 1) ? el(rep, 1) : "");
		ch_scopy(v->sess.button, sizeof(v->sess.button), el(rep, 2) ? el(rep, 2) : "");
		v->sess.button_locked = num(el(rep, 3)) != 0;
		v->sess.calls = (unsigned)num(el(rep, 4));
		return;
	}
	ch_scopy(v->button, sizeof(v->button), el(rep, 1) ? el(rep, 1) : "");
	v->known = num(el(rep, 2)) != 0;
	v->retry = num(el(rep, 3)) != 0;
	ch_scopy(v->origin, sizeof(v->origin), el(rep, 4) ? el(rep, 4) : "");
}

enum hsr_result hsr_call(struct hsr *r, const struct hsr_call_req *q, struct hsr_verdict *v)
{
	char ks[KEYCAP], kc[KEYCAP], kslots[KEYCAP], kip[KEYCAP], ksite[KEYCAP], ki[KEYCAP], kx[KEYCAP];
	char btn[HS_NAME_MAX + 3], dflt[2] = {q->dflt, '\0'}, cps[16], conc[16], pip[16], psite[16], cmax[24], ttl[24];
	ch_fmt(btn, sizeof(btn), "%s%s", q->req_button ? "+" : "-", q->req_button ? q->req_button : "");
	ch_fmt(cps, sizeof(cps), "%u", q->cps);
	ch_fmt(conc, sizeof(conc), "%u", q->conc);
	ch_fmt(pip, sizeof(pip), "%u", q->per_ip);
	ch_fmt(psite, sizeof(psite), "%u", q->per_site);
	ch_fmt(cmax, sizeof(cmax), "%" PRId64, q->call_max_ms < 1 ? 1 : q->call_max_ms);
	ch_fmt(ttl, sizeof(ttl), "%" PRId64, q->ttl_ms < 1 ? 1 : q->ttl_ms);
	const char *kv[] = {key(r, ks, sizeof(ks), "s:", q->sid ? q->sid : ""),
			    key(r, kc, sizeof(kc), "c:", q->call_id),
			    key(r, kslots, sizeof(kslots), "slots:", q->site),
			    key(r, kip, sizeof(kip), "b:", q->ipkey),
			    key(r, ksite, sizeof(ksite), "b:", q->sitekey),
			    key(r, ki, sizeof(ki), "sessions:index", ""),
			    key(r, kx, sizeof(kx), "x:", q->attempt ? q->attempt : ""),
			    q->sid && q->lookup ? "1" : "0",
			    q->site,
			    q->fallback ? "1" : "0",
			    q->owner,
			    btn,
			    q->buttons,
			    dflt,
			    cps,
			    conc,
			    pip,
			    psite,
			    cmax,
			    ttl,
			    q->sid ? q->sid : "",
			    q->attempt ? q->attempt : ""};
	bool sent;
	redisReply *rep = hsr_fcall_sent(r, HSR_OP_CALL, "ch3_call", 7, kv, 15, &sent);
	v->sent = sent;
	if (!rep)
		return HSR_DOWN;
	bool ok = verdict_of(rep, v);
	v->sent = sent;
	if (ok && v->deny == HSR_ADMIT && rep != &hsr_oom_reply)
		read_call(rep, v);
	done(rep);
	return ok ? HSR_OK : HSR_DOWN;
}

/* An FCALL whose answer is an integer; maxmemory counts as an answer of 0 (nothing written). */
static enum hsr_result fcall_int(struct hsr *r, enum hsr_op op, const char *fn, int nkeys, const char **kv, int nargs,
				 long long *out)
{
	redisReply *rep = hsr_fcall(r, op, fn, nkeys, kv, nargs);
	if (rep == &hsr_oom_reply) {
		*out = 0;
		return HSR_OK;
	}
	bool ok = rep && rep->type == REDIS_REPLY_INTEGER;
	if (ok)
		*out = rep->integer;
	if (rep)
		freeReplyObject(rep);
	return ok ? HSR_OK : HSR_DOWN;
}

enum hsr_result hsr_call_end(struct hsr *r, const char *call_id, const char *sid, bool *freed)
{
	char k[KEYCAP];
	const char *kv[] = {key(r, k, sizeof(k), "c:", call_id), hsr_prefix(r), sid ? "0" : "1", sid ? sid : ""};
	long long n;
	if (fcall_int(r, HSR_OP_CALL_END, "ch3_call_end", 1, kv, 3, &n) != HSR_OK)
		return HSR_DOWN;
	*freed = n == 1; /* at maxmemory: not freed, the slot lapses at its deadline */
	return HSR_OK;
}

/* A tombstone outlives any stall of Redis a command could wait out and still run (an hour). */
#define CANCEL_TTL_MS "3600000"

enum hsr_result hsr_call_cancel(struct hsr *r, const char *call_id, const char *attempt, bool *given)
{
	char kc[KEYCAP], kx[KEYCAP];
	const char *kv[] = {key(r, kc, sizeof(kc), "c:", call_id), key(r, kx, sizeof(kx), "x:", attempt), hsr_prefix(r),
			    attempt, CANCEL_TTL_MS};
	redisReply *rep = hsr_fcall(r, HSR_OP_CALL_CANCEL, "ch3_call_cancel", 2, kv, 3);
	/* at maxmemory the tombstone is not written: not an answer, the outbox tries again */
	bool ok = rep && rep != &hsr_oom_reply && rep->type == REDIS_REPLY_INTEGER;
	*given = ok && rep->integer == 1;
	done(rep);
	return ok ? HSR_OK : HSR_DOWN;
}

enum hsr_result hsr_connect_cancel(struct hsr *r, const char *sid, const char *attempt, bool *given)
{
	char ks[KEYCAP], ki[KEYCAP], kx[KEYCAP];
	const char *kv[] = {key(r, ks, sizeof(ks), "s:", sid),
			    key(r, ki, sizeof(ki), "sessions:index", ""),
			    key(r, kx, sizeof(kx), "x:", attempt),
			    sid,
			    attempt,
			    CANCEL_TTL_MS};
	redisReply *rep = hsr_fcall(r, HSR_OP_CONNECT_CANCEL, "ch3_connect_cancel", 3, kv, 3);
	bool ok = rep && rep != &hsr_oom_reply && rep->type == REDIS_REPLY_INTEGER;
	*given = ok && rep->integer == 1;
	done(rep);
	return ok ? HSR_OK : HSR_DOWN;
}

enum hsr_result hsr_session_close(struct hsr *r, const char *sid)
{
	char k[KEYCAP], idx[KEYCAP];
	const char *kv[] = {key(r, k, sizeof(k), "s:", sid), key(r, idx, sizeof(idx), "sessions:index", ""), sid};
	long long n;
	return fcall_int(r, HSR_OP_SESSION_CLOSE, "ch3_sess_close", 2, kv, 1, &n);
}

static const char *field(const redisReply *rep, const char *name)
{
	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
		if (rep->element[i]->type == REDIS_REPLY_STRING && strcmp(rep->element[i]->str, name) == 0)
			return rep->element[i + 1]->type == REDIS_REPLY_STRING ? rep->element[i + 1]->str : NULL;
	}
	return NULL;
}

enum hsr_result hsr_session_get(struct hsr *r, const char *sid, struct hs_session *out, int *rc)
{
	char k[KEYCAP];
	const char *argv[] = {"HGETALL", key(r, k, sizeof(k), "s:", sid)};
	redisReply *rep = hsr_run(r, HSR_OP_SESSION_GET, 2, argv);
	if (rep == &hsr_oom_reply || (rep && rep->type != REDIS_REPLY_ARRAY)) {
		done(rep);
		return HSR_DOWN;
	}
	if (!rep)
		return HSR_DOWN;
	const char *site = field(rep, "site");
	*rc = site ? 0 : ENOENT;
	if (site) {
		memset(out, 0, sizeof(*out));
		ch_scopy(out->site, sizeof(out->site), site);
		const char *b = field(rep, "button");
		ch_scopy(out->button, sizeof(out->button), b ? b : "");
		out->button_locked = num(field(rep, "locked")) != 0;
		out->calls = (unsigned)num(field(rep, "calls"));
	}
	freeReplyObject(rep);
	return HSR_OK;
}

enum hsr_result hsr_session_count(struct hsr *r, size_t *n)
{
	char idx[KEYCAP];
	const char *kv[] = {key(r, idx, sizeof(idx), "sessions:index", "")};
	long long v;
	if (fcall_int(r, HSR_OP_STATS, "ch3_count", 1, kv, 0, &v) != HSR_OK)
		return HSR_DOWN;
	*n = v > 0 ? (size_t)v : 0;
	return HSR_OK;
}

enum hsr_result hsr_site_active(struct hsr *r, const char *site, unsigned *n)
{
	char slots[KEYCAP];
	const char *kv[] = {key(r, slots, sizeof(slots), "slots:", site)};
	long long v;
	if (fcall_int(r, HSR_OP_STATS, "ch3_count", 1, kv, 0, &v) != HSR_OK)
		return HSR_DOWN;
	*n = v > 0 ? (unsigned)v : 0;
	return HSR_OK;
}
