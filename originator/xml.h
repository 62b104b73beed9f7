/* originator/xml.h: the originator's XML port (private to originator/): bind, run, stop. */
#ifndef CALLHOOK_ORIGINATOR_XML_H
#define CALLHOOK_ORIGINATOR_XML_H

#include "config/config.h"
#include "originator/svc.h"

struct orig_xml;

/* Bind every originator.xml.listen address (sockets only, no thread yet). 0 or errno with err filled. */
int orig_xml_bind(const struct cfg *cfg, struct orig_xml **out, struct cfg_error *err);
/* Start the poll thread serving through v (borrowed, outlives x); logs "originator-xml: listening on ..." */
int orig_xml_run(struct orig_xml *x, struct orig_svc *v, struct cfg_error *err);
/* Stop accepting and reading, flush what is queued for up to flush_ms, close. NULL-safe; frees. */
void orig_xml_stop(struct orig_xml *x, unsigned flush_ms);

#endif
