/* hook/hook.h: the WCS REST hook: compiles a config into a runtime, serves it over HTTP, swaps it on reload. */
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
int hook_compile(struct cfg *cfg, struct hook_rt **out, struct cfg_error *err, pol_rcc_note_fn note, void *arg);
/* Drop a reference (the creator holds one). NULL-safe. */
void hook_rt_release(struct hook_rt *rt);

/* Bind every listener of rt's hook.listen and start serving; logs
 * "hook: listening on ADDR:PORT" for each. Takes rt. 0 or errno, err naming the setting
 * (hook.listen.[i]: cannot listen on ...). */
int hook_start(struct hook_rt *rt, struct hook **out, struct cfg_error *err);
/* Swap in a new runtime (taken on success); requests in flight finish on the
 * old. Listeners of addresses no longer configured close, new ones bind (a
 * TLS change rebinds all); unchanged ones never close. On failure (a new
 * address cannot bind) nothing changes, rt is not taken, err names the setting. */
int hook_reload(struct hook *h, struct hook_rt *rt, struct cfg_error *err);
/* Declare the hook's metric families (idempotent). */
void hook_metrics_declare(void);
/* Stop accepting, wait for requests in flight (grace_ms at most), free. NULL-safe. */
void hook_stop(struct hook *h, unsigned grace_ms);

#endif
