/* originator/gauges.c: the originator's gauges: atomic counts moved by their owners, copied into the metrics
 * registry by a collector at each render, so that no reader depends on an object another thread may free. */
#include "originator/gauges.h"

#include "common/metrics.h"

#include <pthread.h>
#include <stdatomic.h>

#define GAUGE_SLOT 2 /* the metrics collector slot (0 the hook, 1 the shared store) */

/* check_src: table */
static const struct {
	const char *name, *help;
} gauges[ORIG_G_N] = {
    [ORIG_G_CALLS] = {"callhook_originator_calls_active", "Originator calls not yet ended (every front end)."},
    [ORIG_G_SIP_CALLS] = {"callhook_originator_sip_calls",
			  "Calls the originator's SIP engine still holds, legs and timers included."},
    [ORIG_G_XML_CONNS] = {"callhook_originator_xml_connections", "Open connections on the XML port."},
};

static atomic_long counts[ORIG_G_N];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void collect(void *arg)
{
	(void)arg;
	for (int g = 0; g < ORIG_G_N; g++)
		ch_metrics_set(gauges[g].name, "", (double)atomic_load(&counts[g]));
}

static void init_once(void)
{
	for (int g = 0; g < ORIG_G_N; g++) {
		ch_metrics_declare(gauges[g].name, "gauge", gauges[g].help);
		ch_metrics_set(gauges[g].name, "", 0);
	}
	/* the collector's argument only has to be non-NULL: the counts are static */
	ch_metrics_collector(GAUGE_SLOT, collect, (void *)gauges);
}

void orig_gauges_init(void)
{
	(void)pthread_once(&once, init_once);
}

void orig_gauge_add(enum orig_gauge g, int d)
{
	if (g >= 0 && g < ORIG_G_N)
		atomic_fetch_add(&counts[g], d);
}
