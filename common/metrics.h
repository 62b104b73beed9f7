/* common/metrics.h: a tiny Prometheus registry: counters, gauges and one histogram kind, rendered as text. */
#ifndef CH_METRICS_H
#define CH_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Declare a family once (name, "counter" | "gauge" | "histogram", help).
 * Thread-safe; declaring twice is harmless. */
void ch_metrics_declare(const char *name, const char *type, const char *help);
/* labels: a ready label set like "method=\"connect\",status=\"200\"" or "".
 * Callers pass only label values they control (never raw client input). */
void ch_metrics_add(const char *name, const char *labels, double v);
void ch_metrics_set(const char *name, const char *labels, double v);
/* Histogram with fixed latency buckets (seconds). */
void ch_metrics_observe(const char *name, const char *labels, double seconds);

/* The latency buckets' count (their bounds are fixed, 100 us to 1 s). */
#define CH_METRICS_NBUCKETS 11
/* The first bucket seconds falls in: the i with seconds <= its bound, or
 * CH_METRICS_NBUCKETS (above the last; only +Inf counts it). Pure. */
size_t ch_metrics_bucket(double seconds);
/* Replace a histogram series with counts kept elsewhere (without the
 * registry's lock per observation): per[i] observations whose first bucket
 * is i (ch_metrics_bucket), i = 0..CH_METRICS_NBUCKETS, and their sum. */
void ch_metrics_set_histogram(const char *name, const char *labels, const uint64_t *per, double sum);

/* Called at each render to refresh gauges computed on demand. */
typedef void (*ch_metrics_collect_fn)(void *arg);
/* Register (arg non-NULL) or remove (fn NULL) the collector for a slot 0..7. Waits for a render whose
 * collectors are running, so that arg may be freed once a removal returns; never call it from a collector. */
void ch_metrics_collector(unsigned slot, ch_metrics_collect_fn fn, void *arg);

/* The whole exposition text; new string (caller frees), NULL on ENOMEM. */
char *ch_metrics_render(size_t *len);
/* Forget everything (tests). */
void ch_metrics_reset(void);

#endif
