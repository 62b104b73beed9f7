/* hook/cdr.c: the hook's call records: one JSON line per ended WCS call (docs/cdr.md), written to hook.cdr.file. */
#include "hook/hook_int.h"

#include <stdlib.h>
#include <string.h>

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t ms)
{
	char t[32];
	return ms && ch_iso_utc_ms(ms, t, sizeof(t)) == 0 ? json_string(t) : json_null();
}

static json_t *ms_or_null(int64_t from, int64_t to)
{
	return from && to ? json_integer(to > from ? to - from : 0) : json_null();
}

/* The JSON text of one record (compact, ASCII); new, or NULL (ENOMEM). */
static char *cdr_text(const struct hs_cdr *r)
{
	json_t *j =
	    json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:o,s:o}", "record", "hook", "site",
		      str_or_null(r->site), "button", str_or_null(r->button), "callee", str_or_null(r->callee),
		      "client_ip", str_or_null(r->client_ip), "session_id", str_or_null(r->session_id), "call_id",
		      str_or_null(r->call_id), "origin", str_or_null(r->origin), "call_at", time_or_null(r->call_ms),
		      "established_at", time_or_null(r->established_ms), "ended_at", time_or_null(r->end_ms), "status",
		      hs_end_name(r->end), "sip_status", r->sip_status ? json_integer(r->sip_status) : json_null(),
		      "setup_ms", ms_or_null(r->call_ms, r->established_ms), "talk_ms",
		      ms_or_null(r->established_ms, r->end_ms), "duration_ms", ms_or_null(r->call_ms, r->end_ms));
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
	json_decref(j);
	return s;
}

void hook_cdr_flush(struct hook_rt *rt, struct hook_store *st)
{
	hs_lock(st);
	struct hs_cdr *r = hs_take_ended(st);
	hs_unlock(st);
	while (r) {
		struct hs_cdr *next = r->next;
		char *line = rt->cdr ? cdr_text(r) : NULL;
		if (line)
			(void)ch_cdr_write_text(rt->cdr, line); /* a failure is counted and logged there */
		else if (rt->cdr)
			ch_warn("hook: no memory for the record of call %s", r->call_id ? r->call_id : "-");
		free(line);
		hs_cdr_free(r);
		r = next;
	}
}
