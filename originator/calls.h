/* originator/calls.h: the call registry (private to originator/): ids, states, limits, event fan-out. */
#ifndef CALLHOOK_ORIGINATOR_CALLS_H
#define CALLHOOK_ORIGINATOR_CALLS_H

#include "originator/callback.h"
#include "originator/orig_sip.h"
#include "originator/record.h"

#include "common/cdr.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define ORIG_KEEP_ENDED_MAX 10000 /* ended calls kept readable, at most */

/* Receives the steps of one call; called with the registry lock held (on the
 * SIP thread or, for a refusal, never): must not block, must not call back
 * into the registry. release() is called once, after the final event or
 * when placing failed. */
struct orig_watch {
	void (*on_event)(void *arg, const struct orig_event *ev, const char *tinit, const char *tdest);
	void (*release)(void *arg);
	void *arg;
};

/* The limits of one config generation (0 = no cap). */
struct orig_limits {
	unsigned concurrent_calls;
	unsigned calls_per_minute;
	unsigned calls_per_minute_per_initiator;
	unsigned calls_per_hour_per_destination;
	unsigned distinct_destinations_per_hour_per_initiator;
	int64_t keep_ended_s;
};

/* Who asked for a call and how, for its record (docs/cdr.md). Every pointer borrowed, copied by
 * orig_calls_admit. */
struct orig_call_meta {
	enum orig_front front;
	const char *client_ip;   /* the peer's address, NULL = unknown */
	const char *client_user; /* the authenticated HTTP user, NULL = none */
	const char *initiator;   /* as asked */
	const char *destination; /* as asked */
	bool auto_answer;
	const char *slot; /* its concurrent slot in the shared store (originator/shared.h), NULL = none */
};

struct orig_calls;

int orig_calls_new(struct orig_calls **out);
void orig_calls_free(struct orig_calls *c); /* NULL-safe; releases remaining watches */

enum orig_admit {
	ORIG_ADMIT_OK,
	ORIG_ADMIT_CONCURRENT,  /* concurrent_calls reached */
	ORIG_ADMIT_RATE,        /* calls_per_minute */
	ORIG_ADMIT_INITIATOR,   /* calls_per_minute_per_initiator */
	ORIG_ADMIT_DESTINATION, /* calls_per_hour_per_destination */
	ORIG_ADMIT_DISTINCT,    /* distinct_destinations_per_hour_per_initiator */
	ORIG_ADMIT_ENGINE,      /* the engine refused (stopping, no memory) */
	ORIG_ADMIT_STORE,       /* the shared store did not answer and on_unavailable = "fail_closed" */
};

/* Called (outside the registry lock, on the SIP thread or the lifecycle's) once for every recorded call that
 * has a slot (meta->slot) when it ends, or when the registry is freed with it still active. */
typedef void (*orig_slot_release_fn)(const char *slot, void *arg);
/* Lifecycle thread, before any call: who releases the slots. */
void orig_calls_set_release(struct orig_calls *c, orig_slot_release_fn fn, void *arg);

/* Under the registry lock: apply lim at now_ms, call orig_sip_call(sip, r, &id)
 * and record the call (with meta, for its record), so that its first event
 * always finds it. cb_url may be NULL (copied). watch may be NULL; on ORIG_ADMIT_OK its ownership moves to
 * the registry (release will be called), else the caller keeps it. */
enum orig_admit orig_calls_admit(struct orig_calls *c, struct orig_sip *sip, const struct orig_limits *lim,
				 const struct orig_call_req *r, const struct orig_call_meta *meta, const char *cb_url,
				 const struct orig_watch *watch, int64_t now_ms, uint64_t *id);

/* The engine's event, on the SIP thread: update the call, tell its watch,
 * and when it has a status_callback, hand the JSON to cb (may be NULL). The
 * final event writes the call's record to cdr (may be NULL; after the
 * registry lock is released) and adds it to the final callback as
 * "call_record". */
void orig_calls_event(struct orig_calls *c, const struct orig_event *ev, struct orig_cb *cb, struct ch_cdr *cdr,
		      int64_t keep_ended_s, int64_t now_ms);

/* ENOENT, EALREADY, or 0 (then the caller asks the engine to hang up). */
int orig_calls_check_active(struct orig_calls *c, uint64_t id);

/* New JSON: one call / the active calls. NULL for an unknown id. */
json_t *orig_calls_get(struct orig_calls *c, uint64_t id, int64_t keep_ended_s, int64_t now_ms);
json_t *orig_calls_list(struct orig_calls *c);

#endif
