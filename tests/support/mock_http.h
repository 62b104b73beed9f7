/* tests/support/mock_http.h: an HTTP receiver on 127.0.0.1 for the tests of everything callhook POSTs (event
 * forwarding, status callbacks): it keeps what it got and answers with a status the test sets, slowly on demand. */
#ifndef CALLHOOK_TESTS_SUPPORT_MOCK_HTTP_H
#define CALLHOOK_TESTS_SUPPORT_MOCK_HTTP_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_RX_KEEP 64

struct tm_rx_msg {
	char *body;     /* new, NUL-terminated */
	char line[300]; /* "POST /path" */
	char event[64]; /* X-Callhook-Event */
	char ctype[64]; /* Content-Type */
};

/* The fields are the receiver's state; the test sets status, slow_left (under mu) and delay_ms, and reads
 * total (atomic), in_slow (atomic) and msgs[0..n) (under mu). */
struct tm_rx {
	pthread_mutex_t mu;
	struct tm_rx_msg msgs[TM_RX_KEEP];
	size_t n;      /* kept */
	int total;     /* requests seen (atomic) */
	int status;    /* the answer (atomic) */
	int slow_left; /* so many next requests answer after delay_ms (under mu) */
	int delay_ms;  /* (atomic) */
	int in_slow;   /* requests sleeping now (atomic) */
	bool release;  /* end every sleep now (atomic) */
	void *d;       /* the libmicrohttpd daemon */
	uint16_t port; /* 0 before the first start: an ephemeral one, then kept for a restart */
};

#define TM_RX_INIT                                                                                                     \
	{                                                                                                              \
		.mu = PTHREAD_MUTEX_INITIALIZER, .status = 200                                                         \
	}

/* Listen on 127.0.0.1:rx->port (0: ephemeral, remembered); false when it cannot. */
bool tm_rx_start(struct tm_rx *rx);
/* Close the port (a connection to it is then refused); sleeping answers end at once. */
void tm_rx_stop(struct tm_rx *rx);
/* Forget what was received; answer 200 at once again. */
void tm_rx_reset(struct tm_rx *rx);
/* The number of requests seen, after waiting up to timeout_ms for want of them. */
int tm_rx_wait(struct tm_rx *rx, int want, int timeout_ms);
/* Whether some kept body contains needle, after waiting up to timeout_ms. */
bool tm_rx_wait_body(struct tm_rx *rx, const char *needle, int timeout_ms);
#endif
