/* originator/gauges.h: the originator's gauges (active calls, SIP engine calls, XML connections), kept as
 * process-wide atomic counts that each owner moves by +1 / -1 and /metrics reads when it renders. */
#ifndef ORIG_GAUGES_H
#define ORIG_GAUGES_H

enum orig_gauge {
	ORIG_G_CALLS,     /* callhook_originator_calls_active: calls in the registry without their final result */
	ORIG_G_SIP_CALLS, /* callhook_originator_sip_calls: calls the SIP engine still holds (legs, timers) */
	ORIG_G_XML_CONNS, /* callhook_originator_xml_connections: open connections on the XML port */
	ORIG_G_N
};

/* Declare the families and register their collector (idempotent, thread-safe). */
void orig_gauges_init(void);
/* Move one gauge by d; any thread. */
void orig_gauge_add(enum orig_gauge g, int d);

#endif
