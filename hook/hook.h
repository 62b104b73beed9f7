/* hook: the WCS REST hook: compiles a config into a runtime, serves it over HTTP, swaps it on reload. */
#ifndef HOOK_HOOK_H
#define HOOK_HOOK_H

#include "config/config.h"
#include "policy/policy.h"

struct hook_rt;
struct hook;

/* Compile what the hook needs from cfg (taken on success: freed with the
 * runtime): origin patterns, the raised restClientConfig (the file is read
 * here), CIDR lists. note, if not NULL, hears every field the floor raised.
 * 0, or EINVAL with *err filled ("file:line: path: message"). */
int hook_compile(struct cfg *cfg, struct hook_rt **out, struct cfg_error *err, pol_rcc_note_fn note,
		 void *arg);
/* Drop a reference (the creator holds one). NULL-safe. */
void hook_rt_release(struct hook_rt *rt);
/* The config a runtime was compiled from (borrowed). */
const struct cfg *hook_rt_cfg(const struct hook_rt *rt);

/* Bind every listener of rt's hook.listen and start serving; logs
 * "hook: listening on ADDR:PORT" for each. Takes rt. 0 or errno, message in err. */
int hook_start(struct hook_rt *rt, struct hook **out, char *err, size_t errlen);
/* Swap in a new runtime (taken); requests in flight finish on the old. */
void hook_reload(struct hook *h, struct hook_rt *rt);
/* Stop accepting, wait for requests in flight (grace_ms at most), free. NULL-safe. */
void hook_stop(struct hook *h, unsigned grace_ms);

#endif
