/* tests/support/net.h: loopback ports for the tests' peers (one finder for SIPp, Kamailio, baresip and the benches). */
#ifndef CALLHOOK_TESTS_SUPPORT_NET_H
#define CALLHOOK_TESTS_SUPPORT_NET_H
#include <stdbool.h>
#include <stddef.h>

/* Whether a socket of type (SOCK_DGRAM, SOCK_STREAM) can bind 127.0.0.1:port now. */
bool tn_bindable(int type, int port);

/* A 127.0.0.1 port the kernel hands out, free for UDP and TCP (peers such as SIPp bind both); with pair, port + 1
 * too. taken (may be NULL) vetoes ports the caller already handed to another peer. The port, or -1. */
int tn_free_port(bool pair, bool (*taken)(int port, void *arg), void *arg);

/* A TCP connection to 127.0.0.1:port whose reads time out after timeout_s (0: never). The socket, or -1. */
int tn_tcp_connect(int port, int timeout_s);

/* Send req on a new connection and read into buf (NUL-terminated, at most cap - 1 bytes) until the server
 * closes: 1; until the 3 s read timeout or a reset: 0; -1 when it could not connect or send. */
int tn_exchange(int port, const char *req, char *buf, size_t cap);
#endif
