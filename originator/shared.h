/* originator/shared.h: the originator's limits shared by every instance on one Redis (private to originator/). */
#ifndef CALLHOOK_ORIGINATOR_SHARED_H
#define CALLHOOK_ORIGINATOR_SHARED_H

#include "originator/calls.h"

#include "config/config.h"

#include <stdbool.h>
#include <stdint.h>

extern const char orig_shared_library[]; /* callhook_orig_v2 (shared_lua.c) */

/*
 * With store.backend = "redis", every limit of struct orig_limits is decided by one FCALL (cho2_admit) before the
 * call is handed to the engine, so N instances on one Redis allow the configured budget in total. A concurrent
 * slot is a token with a deadline (the call's longest life: max_call_s plus both legs' ring time), released when
 * the call ends on this instance (cho2_release, idempotent; through an outbox while Redis is down), given back
 * whole when the engine refuses the call or when its admit got no answer (cho2_abort, whose tombstone stops an
 * admit Redis runs later). When Redis does not answer: fail_closed refuses the call
 * (ORIG_ADMIT_STORE), fail_open decides it in the local registry with each limit x fail_open_share (at least 1).
 * Thread-safe.
 */
struct orig_shared;

/* NULL in *out when cfg's store is not Redis. Starts the client's prober and the outbox; connects to nothing.
 * 0, ENOMEM or a thread's errno. */
int orig_shared_new(const struct cfg *cfg, struct orig_shared **out);
/* Delivers what the outbox holds for up to 200 ms, stops. NULL-safe. */
void orig_shared_free(struct orig_shared *sh);

/* orig_calls_admit through the shared limits (same arguments and outcomes, plus ORIG_ADMIT_STORE). ring_s: the
 * request's ring time (0 = the configured one), for the slot's deadline. */
enum orig_admit orig_shared_admit(struct orig_shared *sh, struct orig_calls *c, struct orig_sip *sip,
				  const struct orig_limits *lim, const struct orig_call_req *r,
				  const struct orig_call_meta *meta, const char *cb_url, const struct orig_watch *watch,
				  unsigned ring_s, int64_t now_ms, uint64_t *id);

/* For the registry (orig_calls_set_release): the call holding slot token ended; arg is the orig_shared. */
void orig_shared_release(const char *token, void *arg);

/* The metrics collector (callhook_store_*, with op="orig_..." for the originator's). */
void orig_shared_collect(void *arg);

#endif
