/* tests/support/mock_http.c: an HTTP receiver on 127.0.0.1 for the tests (tests/support/mock_http.h). */
#include "tests/support/mock_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/common.h"

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void copy_hdr(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	(void)ch_fmt(out, cap, "%s", v ? v : "");
}

/* Keep the request (up to TM_RX_KEEP); whether its answer is to be slow. */
static bool keep(struct tm_rx *rx, struct MHD_Connection *c, const char *method, const char *url,
		 const struct ch_buf *b)
{
	bool slow = false;
	pthread_mutex_lock(&rx->mu);
	if (rx->n < TM_RX_KEEP) {
		struct tm_rx_msg *m = &rx->msgs[rx->n++];
		m->body = ch_strndup(b->data ? b->data : "", b->len);
		(void)ch_fmt(m->line, sizeof m->line, "%s %s", method, url);
		copy_hdr(c, "X-Callhook-Event", m->event, sizeof(m->event));
		copy_hdr(c, MHD_HTTP_HEADER_CONTENT_TYPE, m->ctype, sizeof(m->ctype));
	}
	if (rx->slow_left > 0) {
		rx->slow_left--;
		slow = true;
	}
	pthread_mutex_unlock(&rx->mu);
	__atomic_add_fetch(&rx->total, 1, __ATOMIC_SEQ_CST);
	return slow;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *data, size_t *size, void **con_cls)
{
	struct tm_rx *rx = cls;
	(void)version;
	struct ch_buf *b = *con_cls;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		ch_buf_init(b, 1 << 20);
		*con_cls = b;
		return MHD_YES;
	}
	if (*size) {
		(void)ch_buf_add(b, data, *size);
		*size = 0;
		return MHD_YES;
	}
	(void)ch_buf_nul(b);
	if (keep(rx, c, method, url, b)) {
		__atomic_add_fetch(&rx->in_slow, 1, __ATOMIC_SEQ_CST);
		int delay = __atomic_load_n(&rx->delay_ms, __ATOMIC_SEQ_CST);
		for (int w = 0; w < delay && !__atomic_load_n(&rx->release, __ATOMIC_SEQ_CST); w += 10)
			sleep_ms(10);
		__atomic_sub_fetch(&rx->in_slow, 1, __ATOMIC_SEQ_CST);
	}
	static char ok[] = "{}";
	struct MHD_Response *r = MHD_create_response_from_buffer(2, ok, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)__atomic_load_n(&rx->status, __ATOMIC_SEQ_CST), r);
	MHD_destroy_response(r);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct ch_buf *b = *con_cls;
	if (b) {
		ch_buf_free(b);
		free(b);
		*con_cls = NULL;
	}
}

bool tm_rx_start(struct tm_rx *rx)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(rx->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	__atomic_store_n(&rx->release, false, __ATOMIC_SEQ_CST);
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler,
			     rx, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, rx, MHD_OPTION_END);
	if (!d)
		return false;
	rx->d = d;
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	rx->port = di ? di->port : 0;
	return rx->port != 0;
}

void tm_rx_stop(struct tm_rx *rx)
{
	__atomic_store_n(&rx->release, true, __ATOMIC_SEQ_CST);
	if (rx->d)
		MHD_stop_daemon(rx->d);
	rx->d = NULL;
}

void tm_rx_reset(struct tm_rx *rx)
{
	pthread_mutex_lock(&rx->mu);
	for (size_t i = 0; i < rx->n; i++)
		free(rx->msgs[i].body);
	rx->n = 0;
	rx->slow_left = 0;
	pthread_mutex_unlock(&rx->mu);
	__atomic_store_n(&rx->total, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rx->status, 200, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rx->delay_ms, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rx->release, false, __ATOMIC_SEQ_CST);
}

int tm_rx_wait(struct tm_rx *rx, int want, int timeout_ms)
{
	int n = __atomic_load_n(&rx->total, __ATOMIC_SEQ_CST);
	for (int w = 0; n < want && w < timeout_ms; w += 10) {
		sleep_ms(10);
		n = __atomic_load_n(&rx->total, __ATOMIC_SEQ_CST);
	}
	return n;
}

bool tm_rx_wait_body(struct tm_rx *rx, const char *needle, int timeout_ms)
{
	for (int w = 0;; w += 20) {
		bool found = false;
		pthread_mutex_lock(&rx->mu);
		for (size_t i = 0; i < rx->n && !found; i++)
			found = strstr(rx->msgs[i].body, needle) != NULL;
		pthread_mutex_unlock(&rx->mu);
		if (found)
			return true;
		if (w >= timeout_ms)
			return false;
		sleep_ms(20);
	}
}
