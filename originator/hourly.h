/* originator/hourly.h: the hourly call limits of the registry (private to originator/): calls per destination and
 * distinct destinations per initiator, over a sliding hour. */
#ifndef CALLHOOK_ORIGINATOR_HOURLY_H
#define CALLHOOK_ORIGINATOR_HOURLY_H

#include "originator/calls.h"

#include <stdint.h>

#define ORIG_HOUR_MS 3600000

/* Exact counts over the last ORIG_HOUR_MS: every call is remembered until it
 * is an hour old (per instance, in memory). Not thread-safe: the registry
 * calls it under its lock, which makes check-then-record atomic. */
struct orig_hourly;

/* A prepared admission: what orig_hourly_commit records. */
struct orig_hourly_slot {
	struct orig_hwin *dest; /* NULL: no destination limit */
	struct orig_hwin *ini;  /* NULL: no distinct-destination limit */
	char *sub;              /* the destination key to add to ini, new; NULL when it is there already */
	long at;                /* its index in ini when already there, else -1 */
};

int orig_hourly_new(struct orig_hourly **out); /* 0 or ENOMEM */
void orig_hourly_free(struct orig_hourly *h);  /* NULL-safe */

/* Would a call from initiator key ikey to destination key dkey pass lim at
 * now_ms? ORIG_ADMIT_OK with *slot prepared (memory reserved: the commit
 * cannot fail), ORIG_ADMIT_DESTINATION or ORIG_ADMIT_DISTINCT (also when
 * memory or the table's cap runs out: fail closed). Then exactly one of
 * orig_hourly_commit and orig_hourly_abandon on an OK slot. */
enum orig_admit orig_hourly_prepare(struct orig_hourly *h, const struct orig_limits *lim, const char *ikey,
				    const char *dkey, int64_t now_ms, struct orig_hourly_slot *slot);
/* The call was placed: count it. */
void orig_hourly_commit(struct orig_hourly_slot *slot, int64_t now_ms);
/* It was not. */
void orig_hourly_abandon(struct orig_hourly_slot *slot);

#endif
