/* originator/record.c: the call record of one finished call as JSON (docs/cdr.md, "record":"originator"). */
#include "originator/record.h"

#include "common/cdr.h"
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

const char *orig_front_name(enum orig_front f)
{
	switch (f) {
	case ORIG_FE_HTML:
		return "html";
	case ORIG_FE_JSON:
		return "json";
	case ORIG_FE_XML:
		return "xml";
	}
	return "json";
}

/* A string that is not UTF-8 (a reason phrase off the wire) is null rather than a lost record. */
static json_t *str_or_null(const char *s)
{
	json_t *j = s && *s ? json_string(s) : NULL;
	return j ? j : json_null();
}

static json_t *int_or_null(bool known, int64_t v)
{
	return known ? json_integer((json_int_t)v) : json_null();
}

/* A wall-clock time as "2026-05-04T09:12:01.123Z", null for 0 (never). */
static json_t *time_or_null(int64_t ms)
{
	char buf[40];
	if (ms <= 0 || ch_iso_utc_ms(ms, buf, sizeof(buf)) != 0)
		return json_null();
	return json_string(buf);
}

/* The shared status (the hook's words): FINISH once the destination answered, BUSY when the leg that failed said
 * busy (486, 600), FAILED otherwise. */
static const char *shared_status(const struct orig_rec *r)
{
	if (r->state != ORIG_FAILED)
		return "FINISH";
	int st = r->leg == ORIG_LEG_INITIATOR     ? r->leg_status[0]
		 : r->leg == ORIG_LEG_DESTINATION ? r->leg_status[1]
						  : 0;
	return st == 486 || st == 600 ? "BUSY" : "FAILED";
}

/* The leg's final status: a 1xx is progress, not an answer. */
static json_t *leg_status(const struct orig_rec *r, int i)
{
	return int_or_null(r->leg_status[i] >= 200, r->leg_status[i]);
}

static json_t *leg_reason(const struct orig_rec *r, int i)
{
	return r->leg_status[i] >= 200 ? str_or_null(r->leg_reason[i]) : json_null();
}

/* The times and durations (ms); durations are null when one end is unknown. */
static int add_times(json_t *j, const struct orig_rec *r)
{
	int64_t c = r->call_at_ms, ia = r->initiator_answered_ms, da = r->destination_answered_ms, e = r->ended_ms;
	/* on the REFER path the phones talk without us after the transfer: nobody knows the talk time */
	bool talk = da > 0 && r->state == ORIG_ENDED;
	json_t *t = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "call_at", time_or_null(c),
			      "initiator_answered_at", time_or_null(ia), "destination_answered_at", time_or_null(da),
			      "established_at", time_or_null(da), "ended_at", time_or_null(e), "initiator_setup_ms",
			      int_or_null(ia > 0, ia - c), "setup_ms", int_or_null(da > 0, da - c), "talk_ms",
			      int_or_null(talk, e - da), "duration_ms", json_integer((json_int_t)(e - c)));
	if (!t)
		return -1;
	int rc = json_object_update(j, t);
	json_decref(t);
	return rc;
}

json_t *orig_rec_json(const struct orig_rec *r)
{
	json_t *j = json_pack(
	    "{s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:o, s:b}", "record", "originator", "call_id",
	    (json_int_t)r->id, "front_end", orig_front_name(r->front), "client_ip", str_or_null(r->client_ip),
	    "client_user", str_or_null(r->client_user), "initiator", str_or_null(r->initiator), "destination",
	    str_or_null(r->destination), "translated_initiator", str_or_null(r->tinit), "translated_destination",
	    str_or_null(r->tdest), "callee", str_or_null(r->tdest), "anchor", r->anchor, "fallback", r->fallback,
	    "fallback_code", int_or_null(r->fallback, r->fallback_code), "auto_answer", r->auto_answer);
	if (!j)
		return NULL;
	json_t *k = json_pack("{s:o, s:o, s:o, s:o, s:s, s:i, s:s, s:o, s:s, s:s, s:o}", "initiator_status",
			      leg_status(r, 0), "initiator_reason", leg_reason(r, 0), "destination_status",
			      leg_status(r, 1), "destination_reason", leg_reason(r, 1), "result",
			      orig_state_name(r->state), "result_code", r->code, "result_reason", r->reason,
			      "result_leg", r->leg == ORIG_LEG_NONE ? json_null() : json_string(orig_leg_name(r->leg)),
			      "ended_by", orig_ended_by_name(r->ended_by), "status", shared_status(r), "sip_status",
			      int_or_null(r->sip_code >= 100, r->sip_code));
	if (!k || json_object_update(j, k) != 0 || add_times(j, r) != 0) {
		json_decref(k);
		json_decref(j);
		return NULL;
	}
	json_decref(k);
	return j;
}

char *orig_rec_text(const json_t *rec)
{
	return json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
}
