/* common/metrics.c: the metrics registry behind /metrics, one mutex, text exposition format 0.0.4. */
#include "common/metrics.h"

#include "common/common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS CH_METRICS_NBUCKETS
static const double bucket_le[NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0};

struct series {
	struct series *next;
	char *labels;
	double value; /* counter / gauge; histogram sum */
	uint64_t count;
	uint64_t buckets[NBUCKETS];
};

struct family {
	struct family *next;
	char *name;
	char type[16];
	char *help;
	struct series *series;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Held while collectors run and while one is registered or removed, so that a removal waits for a collect
 * in progress (its argument may be freed right after); taken before lock, never inside a collector. */
static pthread_mutex_t collect_mu = PTHREAD_MUTEX_INITIALIZER;
static struct family *families;
static struct family *last_family;
static struct {
	ch_metrics_collect_fn fn;
	void *arg;
} collectors[8];

/* Caller holds lock. */
static struct family *family_get(const char *name, const char *type, const char *help)
{
	for (struct family *f = families; f; f = f->next) {
		if (strcmp(f->name, name) == 0)
			return f;
	}
	struct family *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->name = strdup(name);
	f->help = strdup(help ? help : name);
	snprintf(f->type, sizeof(f->type), "%s", type ? type : "untyped");
	if (!f->name || !f->help) {
		free(f->name);
		free(f->help);
		free(f);
		return NULL;
	}
	/* keep declaration order in the output */
	if (last_family)
		last_family->next = f;
	else
		families = f;
	last_family = f;
	return f;
}

static struct series *series_get(struct family *f, const char *labels)
{
	for (struct series *s = f->series; s; s = s->next) {
		if (strcmp(s->labels, labels) == 0)
			return s;
	}
	struct series *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->labels = strdup(labels);
	if (!s->labels) {
		free(s);
		return NULL;
	}
	s->next = f->series;
	f->series = s;
	return s;
}

void ch_metrics_declare(const char *name, const char *type, const char *help)
{
	pthread_mutex_lock(&lock);
	family_get(name, type, help);
	pthread_mutex_unlock(&lock);
}

static void update(const char *name, const char *labels, double v, int op)
{
	pthread_mutex_lock(&lock);
	struct family *f = family_get(name, op == 2 ? "histogram" : op == 1 ? "gauge" : "counter", NULL);
	struct series *s = f ? series_get(f, labels ? labels : "") : NULL;
	if (s) {
		if (op == 0) {
			s->value += v;
		} else if (op == 1) {
			s->value = v;
		} else {
			s->value += v;
			s->count++;
			for (size_t i = 0; i < NBUCKETS; i++) {
				if (v <= bucket_le[i])
					s->buckets[i]++;
			}
		}
	}
	pthread_mutex_unlock(&lock);
}

void ch_metrics_add(const char *name, const char *labels, double v)
{
	update(name, labels, v, 0);
}

void ch_metrics_set(const char *name, const char *labels, double v)
{
	update(name, labels, v, 1);
}

void ch_metrics_observe(const char *name, const char *labels, double seconds)
{
	update(name, labels, seconds, 2);
}

size_t ch_metrics_bucket(double seconds)
{
	size_t i = 0;
	while (i < NBUCKETS && !(seconds <= bucket_le[i]))
		i++;
	return i;
}

void ch_metrics_set_histogram(const char *name, const char *labels, const uint64_t *per, double sum)
{
	pthread_mutex_lock(&lock);
	struct family *f = family_get(name, "histogram", NULL);
	struct series *s = f ? series_get(f, labels ? labels : "") : NULL;
	if (s) {
		/* each bucket counts every observation at or below its bound */
		uint64_t below = 0;
		for (size_t i = 0; i < NBUCKETS; i++) {
			below += per[i];
			s->buckets[i] = below;
		}
		s->count = below + per[NBUCKETS];
		s->value = sum;
	}
	pthread_mutex_unlock(&lock);
}

void ch_metrics_collector(unsigned slot, ch_metrics_collect_fn fn, void *arg)
{
	if (slot >= 8)
		return;
	pthread_mutex_lock(&collect_mu);
	collectors[slot].fn = fn;
	collectors[slot].arg = arg;
	pthread_mutex_unlock(&collect_mu);
}

static int emit(struct ch_buf *b, const char *name, const char *suffix, const char *labels, const char *extra, double v)
{
	char line[1024];
	const char *sep = labels[0] && extra[0] ? "," : "";
	if (labels[0] || extra[0])
		snprintf(line, sizeof(line), "%s%s{%s%s%s} %.17g\n", name, suffix, labels, sep, extra, v);
	else
		snprintf(line, sizeof(line), "%s%s %.17g\n", name, suffix, v);
	return ch_buf_adds(b, line);
}

char *ch_metrics_render(size_t *len)
{
	/* collectors call ch_metrics_set: run them before taking the lock; under collect_mu, so that
	 * ch_metrics_collector(slot, NULL, NULL) returns only once no collector is running */
	pthread_mutex_lock(&collect_mu);
	for (unsigned i = 0; i < 8; i++) {
		if (collectors[i].fn)
			collectors[i].fn(collectors[i].arg);
	}
	pthread_mutex_unlock(&collect_mu);
	struct ch_buf b;
	ch_buf_init(&b, 16 << 20);
	int err = 0;
	pthread_mutex_lock(&lock);
	for (struct family *f = families; f && !err; f = f->next) {
		char head[1024];
		snprintf(head, sizeof(head), "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		err = ch_buf_adds(&b, head);
		for (struct series *s = f->series; s && !err; s = s->next) {
			if (strcmp(f->type, "histogram") != 0) {
				err = emit(&b, f->name, "", s->labels, "", s->value);
				continue;
			}
			for (size_t i = 0; i < NBUCKETS && !err; i++) {
				char le[32];
				snprintf(le, sizeof(le), "le=\"%g\"", bucket_le[i]);
				err = emit(&b, f->name, "_bucket", s->labels, le, (double)s->buckets[i]);
			}
			if (!err)
				err = emit(&b, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
			if (!err)
				err = emit(&b, f->name, "_sum", s->labels, "", s->value);
			if (!err)
				err = emit(&b, f->name, "_count", s->labels, "", (double)s->count);
		}
	}
	pthread_mutex_unlock(&lock);
	if (err || ch_buf_nul(&b)) {
		ch_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

void ch_metrics_reset(void)
{
	pthread_mutex_lock(&lock);
	while (families) {
		struct family *f = families;
		families = f->next;
		while (f->series) {
			struct series *s = f->series;
			f->series = s->next;
			free(s->labels);
			free(s);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	last_family = NULL;
	pthread_mutex_unlock(&lock);
}
