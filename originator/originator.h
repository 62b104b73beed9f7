/* originator/originator.h: the click-to-call originator as main.c sees it: prepare, start, swap (reload), stop. */
#ifndef CALLHOOK_ORIGINATOR_ORIGINATOR_H
#define CALLHOOK_ORIGINATOR_ORIGINATOR_H

#include "config/config.h"

/*
 * One struct orig runs the whole originator: the SIP engine (orig_sip.h), the
 * HTTP listener(s) of originator.http (the HTML page and the JSON API, HTTP
 * Digest on every path), the XML port(s) of originator.xml, the status
 * callback sender, and the call registry behind them.
 *
 * Two phases, as the hook's hook_compile / hook_start: orig_prepare compiles
 * and checks everything a config asks for without binding or starting
 * anything (and may fail); orig_start binds and starts (it can fail only on a
 * socket or a thread), orig_swap applies a prepared config to a running
 * originator and cannot fail. main prepares the hook and the originator
 * first, and commits either both or neither.
 *
 * Threads: every function here is called from one thread (main's), never
 * concurrently with each other. Everything else runs on the originator's own
 * threads.
 */

struct orig;
struct orig_plan;

/* Compile cfg's translation and destination rules, the XML allow list, the
 * limits and credentials, and read the HTTP TLS files. cfg is borrowed for the
 * call only: what is kept is copied. 0 and a new plan in *out, or EINVAL /
 * ENOMEM / a file's errno with err filled ("file:line: path: message"), *out
 * untouched. Logs nothing. */
int orig_prepare(const struct cfg *cfg, struct orig_plan **out, struct cfg_error *err);
/* NULL-safe. */
void orig_plan_free(struct orig_plan *p);

/* Start the SIP engine, bind and start the HTTP and XML listeners of cfg (the
 * config plan was prepared from; borrowed for the call). plan is taken, also
 * on failure. Logs, via ch_info, one line per bound listener:
 *   "sip: listening on HOST:PORT"
 *   "originator-http: listening on HOST:PORT"   (one per http.listen entry)
 *   "originator-xml: listening on HOST:PORT"    (one per xml.listen entry)
 * with the real port (a configured port 0 gets an ephemeral one). Returns 0
 * and a new struct orig in *out (orig_stop frees it), or an errno value with
 * err filled (nothing left running, *out untouched). */
int orig_start(const struct cfg *cfg, struct orig_plan *plan, struct orig **out, struct cfg_error *err);

/* Apply a prepared config (plan taken): translations, destination
 * allow/deny, limits, keep_ended_s, http user/password/digest algorithm, xml
 * allow_from, callbacks.allow are swapped atomically (requests already being
 * handled finish with the old ones). Settings that need a restart (SIP
 * listen, identity, outbound proxy, SIP auth, timers, http/xml listen
 * addresses, TLS) keep their running values and each change is logged as
 * "needs a restart". */
void orig_swap(struct orig *o, struct orig_plan *plan);

/* Stop: refuse new calls, close the HTTP listeners, hang up every call
 * (their final results still reach XML clients and status callbacks, within
 * grace_ms), close the XML port, join every thread, free o. NULL-safe. */
void orig_stop(struct orig *o, unsigned grace_ms);

#endif
