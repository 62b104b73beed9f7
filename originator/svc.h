/* originator/svc.h: the call service the front ends use (private to originator/): place, hang up, views, settings. */
#ifndef CALLHOOK_ORIGINATOR_SVC_H
#define CALLHOOK_ORIGINATOR_SVC_H

#include "originator/calls.h"
#include "originator/orig_sip.h"
#include "originator/snap.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define ORIG_RING_TIMEOUT_MAX 600 /* per-request ring_timeout_s bound */
#define ORIG_URI_MAX          512 /* as struct orig_call_req */

/*
 * One struct orig_svc holds what the front ends share: the current settings
 * snapshot, the call registry, the status-callback sender and the SIP engine.
 * Every function below may be called from any front-end thread, concurrently,
 * except where a comment names the lifecycle thread (originator.c's caller).
 */
struct orig_svc;

/* Why a call was not placed; each front end maps it to its own code. */
enum orig_refusal {
	ORIG_PLACED,
	ORIG_BAD_ADDRESS,   /* the initiator or destination cannot be translated */
	ORIG_DENIED,        /* the destination rules refuse it */
	ORIG_OVER_LIMIT,    /* concurrent calls, a per-minute rate or an hourly limit */
	ORIG_UNAVAILABLE,   /* stopping, or the engine refused */
	ORIG_BAD_HEADER,    /* an extra header: its name is not allowed, its value is bad, too many (400) */
	ORIG_FORBIDDEN,     /* auto_answer for an initiator auto_answer.initiators does not list (403) */
	ORIG_BAD_CALLER_ID, /* a caller-id template gives no valid display name / URI for this call (400) */
};

/* The HTTP status of a refusal, which the XML port's Result Code borrows too; 0 for ORIG_PLACED. */
int orig_refusal_status(enum orig_refusal r);

/* One extra header of a request, as received (checked by orig_svc_place). */
struct orig_place_hdr {
	const char *name;
	const char *value;
};

struct orig_place_req {
	const char *initiator;   /* as received */
	const char *destination; /* as received */
	bool anchor;
	unsigned ring_timeout_s;              /* 0 = default */
	const char *status_callback;          /* NULL = none; already checked against the allow list */
	bool auto_answer;                     /* the initiator's phone answers by itself (fenced by the snapshot) */
	const struct orig_place_hdr *headers; /* n_headers extra headers for the INVITEs, borrowed */
	size_t n_headers;
	enum orig_front front;   /* for the call record */
	const char *client_ip;   /* the peer's address, NULL = unknown */
	const char *client_user; /* the authenticated HTTP user, NULL = none */
};

struct orig_place_res {
	enum orig_refusal refusal;
	char reason[160]; /* when refusal != ORIG_PLACED */
	uint64_t id;      /* when placed */
	char tinit[ORIG_URI_MAX];
	char tdest[ORIG_URI_MAX];
};

struct orig_shared;
/* Lifecycle thread: a service on snap (taken on success), with its registry
 * and callback sender, and the shared limits (taken, always; NULL = the
 * registry's own); no engine yet. 0 or errno (ENOMEM, or the callback
 * thread's), *out untouched on failure. */
int orig_svc_new(struct orig_snap *snap, struct orig_shared *shared, struct orig_svc **out);
/* Lifecycle thread: start the SIP engine with events going to the registry;
 * logs "sip: listening on HOST:PORT". 0 or orig_sip_start's errno. */
int orig_svc_sip_start(struct orig_svc *v, const struct orig_sip_opts *opts);
/* Lifecycle thread: swap in a new snapshot (taken); requests being handled finish on the old. */
void orig_svc_swap(struct orig_svc *v, struct orig_snap *snap);
/* Lifecycle thread: refuse new calls from now on. */
void orig_svc_shut(struct orig_svc *v);
/* Lifecycle thread: hang up every call and stop the engine (grace_ms for the final results). */
void orig_svc_sip_stop(struct orig_svc *v, unsigned grace_ms);
/* Lifecycle thread: deliver queued callbacks (cb_grace_ms at most), free everything. NULL-safe. */
void orig_svc_free(struct orig_svc *v, unsigned cb_grace_ms);

/* Translate, check policy and limits, register the call, hand it to the
 * engine. watch may be NULL; when placed its ownership moves to the registry
 * (release will be called), else the caller keeps it. res is always written. */
void orig_svc_place(struct orig_svc *v, const struct orig_place_req *rq, const struct orig_watch *watch,
		    struct orig_place_res *res);
/* 0 queued, ENOENT unknown id, EALREADY already ended, ESHUTDOWN. */
int orig_svc_hangup(struct orig_svc *v, uint64_t id);
/* New JSON: one call (NULL for an unknown id) / the active calls. */
json_t *orig_svc_call_view(struct orig_svc *v, uint64_t id);
json_t *orig_svc_calls_view(struct orig_svc *v);
/* The current settings: a new reference, dropped with orig_svc_snap_put. */
struct orig_snap *orig_svc_snap_get(struct orig_svc *v);
void orig_svc_snap_put(struct orig_svc *v, struct orig_snap *s);

#endif
