/* hook/watchdog.c: the header watchdog: cuts connections whose request headers trickle in past 2 x request_timeout_s.
 */
#include "hook/hook_int.h"

#include "common/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

/* One TCP connection: libmicrohttpd's idle timeout restarts with every
 * byte, so a client sending one header line at a time would never be cut
 * without the watchdog. */
struct conn {
	struct conn *prev, *next;
	struct MHD_Connection *c;
	/* atomic, without the list's lock (taken twice a request otherwise):
	 * phase_of(when this connection started or its last request ended,
	 * whether the current request reached the access handler) */
	int64_t phase;
	bool cut;
};

struct hook_watchdog {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct conn *conns;
	bool stop;        /* under lock */
	int64_t limit_ms; /* atomic */
	pthread_t thr;
};

static int64_t phase_of(int64_t ms, bool headers_done)
{
	return ms * 2 + (headers_done ? 1 : 0);
}

void hook_watchdog_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct hook_watchdog *w = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn *k = calloc(1, sizeof(*k));
		if (!k)
			return;
		k->c = c;
		k->phase = phase_of(ch_now_ms(), false);
		pthread_mutex_lock(&w->lock);
		k->next = w->conns;
		if (w->conns)
			w->conns->prev = k;
		w->conns = k;
		pthread_mutex_unlock(&w->lock);
		*socket_context = k;
		return;
	}
	struct conn *k = *socket_context;
	if (!k)
		return;
	pthread_mutex_lock(&w->lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		w->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&w->lock);
	free(k);
	*socket_context = NULL;
}

void hook_watchdog_phase(struct hook_watchdog *w, struct MHD_Connection *c, bool headers_done, int64_t now_ms)
{
	(void)w;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *k = ci ? ci->socket_context : NULL;
	if (k)
		__atomic_store_n(&k->phase, phase_of(now_ms, headers_done), __ATOMIC_RELAXED);
}

void hook_watchdog_set_limit(struct hook_watchdog *w, int64_t request_timeout_s)
{
	__atomic_store_n(&w->limit_ms, request_timeout_s * 2000, __ATOMIC_RELAXED);
}

/* Cut connections whose request headers are not complete within twice
 * request_timeout_s of the connection's start (or of its previous request's
 * end: an idle keep-alive connection is closed by libmicrohttpd after
 * request_timeout_s anyway). shutdown() wakes libmicrohttpd, which then
 * closes the connection in its own thread. */
static void *watchdog_loop(void *arg)
{
	struct hook_watchdog *w = arg;
	(void)pthread_setname_np(pthread_self(), "ch-watchdog");
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		int64_t limit = __atomic_load_n(&w->limit_ms, __ATOMIC_RELAXED);
		int64_t now = ch_now_ms();
		for (struct conn *k = w->conns; k; k = k->next) {
			int64_t phase = __atomic_load_n(&k->phase, __ATOMIC_RELAXED);
			if ((phase & 1) || k->cut || now - phase / 2 <= limit)
				continue;
			const union MHD_ConnectionInfo *ci =
			    MHD_get_connection_info(k->c, MHD_CONNECTION_INFO_CONNECTION_FD);
			if (ci) {
				shutdown(ci->connect_fd, SHUT_RDWR);
				k->cut = true;
				ch_warn("hook: request headers not complete within 2 x request_timeout_s, closing");
				hook_metrics_verdict(HOOK_TIMEOUT);
			}
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int hook_watchdog_start(int64_t request_timeout_s, struct hook_watchdog **out)
{
	struct hook_watchdog *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	hook_watchdog_set_limit(w, request_timeout_s);
	int rc = pthread_create(&w->thr, NULL, watchdog_loop, w);
	if (rc) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void hook_watchdog_stop(struct hook_watchdog *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thr, NULL);
	/* the listeners are stopped: every connection has been notified closed */
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
