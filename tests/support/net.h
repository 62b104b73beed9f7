/* tests/support/net.h: loopback ports for the tests' peers (one finder for SIPp, Kamailio, baresip and the benches). */
#ifndef CALLHOOK_TESTS_SUPPORT_NET_H
#define CALLHOOK_TESTS_SUPPORT_NET_H
#include <stdbool.h>

/* Whether a socket of type (SOCK_DGRAM, SOCK_STREAM) can bind 127.0.0.1:port now. */
bool tn_bindable(int type, int port);

/* A 127.0.0.1 port the kernel hands out, free for UDP and TCP (peers such as SIPp bind both); with pair, port + 1
 * too. taken (may be NULL) vetoes ports the caller already handed to another peer. The port, or -1. */
int tn_free_port(bool pair, bool (*taken)(int port, void *arg), void *arg);
#endif
