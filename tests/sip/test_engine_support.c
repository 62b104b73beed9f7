/* tests/sip/test_engine_support.c: the harness of test_engine.c: the event log, waits and expectations on it, SIPp
 * peers and their message logs, the engine under test. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"
#include "test_engine_support.h"
#include "tests/check.h"

/* ---- events ------------------------------------------------------------ */

#define MAX_EV 2048

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct orig_event ev[MAX_EV];
	int n;
} evs = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0};

void on_event(const struct orig_event *ev, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&evs.mu);
	if (evs.n < MAX_EV)
		evs.ev[evs.n++] = *ev;
	pthread_cond_broadcast(&evs.cv);
	pthread_mutex_unlock(&evs.mu);
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait until an event of call id matches (state; final if want_final). */
bool wait_event(uint64_t id, int state, bool want_final, int timeout_ms)
{
	struct timespec ts;
	deadline_after(&ts, timeout_ms);
	bool found = false;
	pthread_mutex_lock(&evs.mu);
	for (;;) {
		for (int i = 0; i < evs.n && !found; i++) {
			const struct orig_event *e = &evs.ev[i];
			if (e->call_id == id && (state < 0 || (int)e->state == state) && (!want_final || e->final))
				found = true;
		}
		if (found)
			break;
		if (pthread_cond_timedwait(&evs.cv, &evs.mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&evs.mu);
	return found;
}

bool wait_final(uint64_t id, int timeout_ms)
{
	return wait_event(id, -1, true, timeout_ms);
}

static void print_events(void)
{
	pthread_mutex_lock(&evs.mu);
	for (int i = 0; i < evs.n; i++) {
		const struct orig_event *e = &evs.ev[i];
		fprintf(stderr, "  event %d: call %llu %s leg=%s code=%d \"%s\" sip=%d \"%s\"%s%s%s\n", i,
			(unsigned long long)e->call_id, orig_state_name(e->state), orig_leg_name(e->leg), e->code,
			e->reason, e->sip_code, e->sip_reason, e->fallback ? " fallback" : "",
			e->final ? " final by " : "", e->final ? orig_ended_by_name(e->ended_by) : "");
	}
	pthread_mutex_unlock(&evs.mu);
}

/* The events of call id are exactly w[0..n-1]; the last one is final and
 * ended by `by`. */
void expect_events(uint64_t id, const struct want *w, int n, enum orig_ended_by by)
{
	int k = 0;
	bool ok = true;
	pthread_mutex_lock(&evs.mu);
	for (int i = 0; i < evs.n; i++) {
		const struct orig_event *e = &evs.ev[i];
		if (e->call_id != id)
			continue;
		if (k >= n || e->state != w[k].state || e->leg != w[k].leg || e->code != w[k].code)
			ok = false;
		if (e->final != (k == n - 1))
			ok = false;
		if (e->final && e->ended_by != by)
			ok = false;
		k++;
	}
	pthread_mutex_unlock(&evs.mu);
	CHECK_MSG(ok && k == n, "event sequence of call %llu differs (got %d, want %d)", (unsigned long long)id, k, n);
	if (!(ok && k == n)) {
		for (int i = 0; i < n; i++)
			fprintf(stderr, "  want %d: %s leg=%s code=%d\n", i, orig_state_name(w[i].state),
				orig_leg_name(w[i].leg), w[i].code);
		print_events();
	}
}

struct orig_event last_event(uint64_t id)
{
	struct orig_event out;
	memset(&out, 0, sizeof out);
	pthread_mutex_lock(&evs.mu);
	for (int i = 0; i < evs.n; i++)
		if (evs.ev[i].call_id == id)
			out = evs.ev[i];
	pthread_mutex_unlock(&evs.mu);
	return out;
}

struct orig_event find_event(uint64_t id, int code)
{
	struct orig_event out;
	memset(&out, 0, sizeof out);
	pthread_mutex_lock(&evs.mu);
	for (int i = 0; i < evs.n; i++)
		if (evs.ev[i].call_id == id && evs.ev[i].code == code)
			out = evs.ev[i];
	pthread_mutex_unlock(&evs.mu);
	return out;
}

/* ---- SIPp peers --------------------------------------------------------- */

char workdir[256];

/* Start `sipp -sf scenario` as a one-call UAS; extra SIPp arguments end with NULL. */
bool peer_start(struct sipp_peer *p, const char *name, const char *scenario, ...)
{
	va_list ap;
	va_start(ap, scenario);
	bool ok = sipp_peer_startv(p, workdir, name, scenario, ap);
	va_end(ap);
	return ok;
}

/* The body of the n-th (0-based) SIP message in a SIPp message log whose
 * first line starts with `start` ("INVITE ", "ACK "). New string or NULL. */
char *msg_body(const char *path, const char *start, int nth)
{
	char *data = NULL;
	size_t len = 0;
	if (ch_read_file(path, 1 << 20, &data, &len) != 0)
		return NULL;
	char *p = data;
	int seen = 0;
	char *out = NULL;
	while ((p = strstr(p, start)) != NULL) {
		/* A message starts right after a blank line in the log. */
		bool at_line = p == data || p[-1] == '\n';
		if (!at_line || strncmp(p + strlen(start), "sip:", 4) != 0) {
			p++;
			continue;
		}
		if (seen++ < nth) {
			p++;
			continue;
		}
		char *hdr_end = strstr(p, "\r\n\r\n");
		char *hdr_end_lf = strstr(p, "\n\n");
		size_t skip = 4;
		if (!hdr_end || (hdr_end_lf && hdr_end_lf < hdr_end)) {
			hdr_end = hdr_end_lf;
			skip = 2;
		}
		if (!hdr_end)
			break;
		char *b = hdr_end + skip;
		/* The log separates messages with a dashed line. */
		char *e = strstr(b, "\n-----");
		size_t bl = e ? (size_t)(e - b) : strlen(b);
		out = ch_strndup(b, bl);
		break;
	}
	free(data);
	return out;
}

char *msg_head(const char *path, const char *start, int nth)
{
	char *data = NULL;
	size_t len = 0;
	if (ch_read_file(path, 1 << 20, &data, &len) != 0)
		return NULL;
	char *out = NULL;
	int seen = 0;
	for (char *p = data; (p = strstr(p, start)) != NULL; p++) {
		bool at_line = p == data || p[-1] == '\n';
		if (!at_line || strncmp(p + strlen(start), "sip:", 4) != 0 || seen++ < nth)
			continue;
		char *e = strstr(p, "\r\n\r\n");
		out = ch_strndup(p, e ? (size_t)(e - p) + 2 : strlen(p));
		break;
	}
	free(data);
	return out;
}

/* Lines of an SDP body, normalised: CRLF -> LF, trailing blank lines and
 * leading spaces dropped; the o= line replaced by "o=*" when drop_origin. */
void sdp_norm(const char *in, char *out, size_t cap, bool drop_origin, char *origin, size_t ocap)
{
	size_t o = 0;
	if (origin && ocap)
		origin[0] = '\0';
	const char *p = in;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *e = p + strcspn(p, "\r\n");
		size_t n = (size_t)(e - p);
		if (n) {
			if (p[0] == 'o' && p[1] == '=') {
				if (origin)
					(void)ch_fmt(origin, ocap, "%.*s", (int)n, p);
				if (drop_origin) {
					p = "o=*";
					n = 3;
				}
			}
			if (o + n + 2 < cap) {
				memcpy(out + o, p, n);
				o += n;
				out[o++] = '\n';
			}
		}
		p = e;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	out[o] = '\0';
}

/* ---- the engine under test --------------------------------------------- */

struct orig_sip *eng;

void expect_refer_events(uint64_t id, enum orig_state st, int code, enum orig_ended_by by)
{
	const struct want w[] = {
	    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},          {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
	    {ORIG_INITIATOR_ANSWERED, ORIG_LEG_INITIATOR, 200},    {ORIG_CALLING_DESTINATION, ORIG_LEG_DESTINATION, 0},
	    {ORIG_DESTINATION_RINGING, ORIG_LEG_DESTINATION, 180}, {st, ORIG_LEG_DESTINATION, code},
	};
	expect_events(id, w, 6, by);
}

void expect_initiator_refused(uint64_t id, int code)
{
	const struct want w[] = {
	    {ORIG_CALLING_INITIATOR, ORIG_LEG_NONE, 100},
	    {ORIG_INITIATOR_RINGING, ORIG_LEG_INITIATOR, 180},
	    {ORIG_FAILED, ORIG_LEG_INITIATOR, code},
	};
	expect_events(id, w, 3, ORIG_BY_INITIATOR);
}

void engine_teardown(void)
{
	orig_sip_stop(eng, 2000);
	if (check_done() == 0 && !getenv("CH_SIP_KEEP")) {
		char cmd[300];
		(void)ch_fmt(cmd, sizeof cmd, "rm -rf '%s'", workdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", workdir);
	} else {
		fprintf(stderr, "SIPp logs kept in %s\n", workdir);
	}
}

void engine_start(const char *listen, const char *auth_user, const char *auth_password, unsigned max_call_s)
{
	struct orig_sip_opts o;
	memset(&o, 0, sizeof o);
	o.listen = listen ? listen : "sip:127.0.0.1:0";
	o.identity = "sip:c2c@127.0.0.1";
	o.auth_user = auth_user;
	o.auth_password = auth_password;
	o.ring_timeout_s = 10;
	o.refer_notify_timeout_s = 3;
	o.reinvite_timeout_s = 2;
	o.max_call_s = max_call_s ? max_call_s : 30;
	int err = orig_sip_start(&o, on_event, NULL, &eng);
	CHECK_MSG(err == 0, "orig_sip_start: %s", strerror(err));
	if (err)
		exit(check_done());
	CHECK(orig_sip_port(eng) > 0);
}

uint64_t place(const char *initiator, const char *destination, bool anchor, unsigned ring_s)
{
	struct orig_call_req r;
	memset(&r, 0, sizeof r);
	(void)ch_fmt(r.initiator, sizeof r.initiator, "%s", initiator);
	(void)ch_fmt(r.destination, sizeof r.destination, "%s", destination);
	r.anchor = anchor;
	r.ring_timeout_s = ring_s;
	uint64_t id = 0;
	int err = orig_sip_call(eng, &r, &id);
	CHECK_MSG(err == 0, "orig_sip_call: %s", strerror(err));
	CHECK(id != 0);
	return id;
}

void uri_of(const struct sipp_peer *p, const char *user, char *out, size_t cap)
{
	(void)ch_fmt(out, cap, "sip:%s@127.0.0.1:%d", user, p->port);
}
