/* originator/http.h: the originator's HTTP listener (private to originator/): the page and the JSON API. */
#ifndef CALLHOOK_ORIGINATOR_HTTP_H
#define CALLHOOK_ORIGINATOR_HTTP_H

#include "config/config.h"
#include "originator/svc.h"

struct orig_http;

/* Read the TLS files of originator.http.tls (when set) and check the nonce
 * source: everything that can be refused before a socket is bound. 0 and a
 * new, unbound listener set in *out, or errno with err filled. cfg borrowed. */
int orig_http_prepare(const struct cfg *cfg, struct orig_http **out, struct cfg_error *err);
/* Bind every originator.http.listen address (sockets only, no thread yet).
 * Logs nothing. 0 or errno with err filled. */
int orig_http_bind(struct orig_http *h, const struct cfg *cfg, struct cfg_error *err);
/* Start serving through v (borrowed, outlives h); logs "originator-http: listening on ..." per listener. */
int orig_http_run(struct orig_http *h, struct orig_svc *v, const struct cfg *cfg, struct cfg_error *err);
void orig_http_stop(struct orig_http *h); /* NULL-safe; frees */

#endif
