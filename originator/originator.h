/* originator.h: the click-to-call originator as main.c sees it: start (translations, SIP engine, HTTP and XML
 * listeners), reload, stop. */
#ifndef ORIGINATOR_H
#define ORIGINATOR_H

#include "config/config.h"

#include <stddef.h>

/*
 * One struct orig runs the whole originator: the SIP engine (orig_sip.h), the
 * HTTP listener(s) of originator.http (the HTML page and the JSON API, HTTP
 * Digest on every path), the XML port(s) of originator.xml, the status
 * callback sender, and the call registry behind them.
 *
 * Threads: orig_start, orig_reload and orig_stop are called from one thread
 * (main's), never concurrently with each other. Everything else runs on the
 * originator's own threads.
 */

struct orig;

/* Compile the translation and destination rules, start the SIP engine, bind
 * and start the HTTP and XML listeners. cfg is borrowed for the call only:
 * what is kept is copied. Logs, via ch_info, one line per bound listener:
 *   "sip: listening on HOST:PORT"
 *   "originator-http: listening on HOST:PORT"   (one per http.listen entry)
 *   "originator-xml: listening on HOST:PORT"    (one per xml.listen entry)
 * with the real port (a configured port 0 gets an ephemeral one).
 * Refuses to start (EINVAL, err says why) without an http password when an
 * http listener is configured, with auth = "basic" and no TLS, with a
 * pattern that does not compile. Returns 0 and a new struct orig in *out
 * (orig_stop frees it), or an errno value with err filled (nothing left
 * running, *out untouched). */
int orig_start(const struct cfg *cfg, struct orig **out, char *err, size_t errlen);

/* Apply a new config: translations, destination allow/deny, limits,
 * keep_ended_s, http user/password/digest algorithm, xml allow_from,
 * callbacks.allow are swapped atomically (requests already being handled
 * finish with the old ones). Settings that need a restart (SIP listen,
 * identity, outbound proxy, SIP auth, timers, http/xml listen addresses,
 * TLS) keep their running values and each change is logged as "needs a
 * restart". On error (EINVAL, ENOMEM) nothing changes and err says why.
 * cfg is borrowed for the call only. */
int orig_reload(struct orig *o, const struct cfg *cfg, char *err, size_t errlen);

/* Stop: refuse new calls, close the HTTP listeners, hang up every call
 * (their final results still reach XML clients and status callbacks, within
 * grace_ms), close the XML port, join every thread, free o. NULL-safe. */
void orig_stop(struct orig *o, unsigned grace_ms);

#endif
