/* tests/sip/sipp_peer.h: SIPp phones for the SIP tests: free ports, start a one-call UAS, wait for its verdict. */
#ifndef SIPP_PEER_H
#define SIPP_PEER_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

struct sipp_peer {
	pid_t pid;
	int port;
	char name[64];
	char msgs[320]; /* SIPp's message trace (every message sent and received) */
	char errs[320];
	char logs[320];
	char out[320];
};

/* A port free right now on 127.0.0.1 for both UDP and TCP (SIPp binds it a moment later); -1 if none. */
int sipp_free_port(void);

/* Something holds the port (UDP or TCP, on 127.0.0.1 or ::1). */
bool sipp_port_taken(int port);

/* Start `sipp -sf SCENARIO_DIR/scenario` as a one-call UAS on a free port of
 * 127.0.0.1, traces in dir/<name>.*, bounded by `timeout 60` and a 20 s
 * -recv_timeout; the extra SIPp arguments in ap end with NULL. True once
 * SIPp holds its port. */
bool sipp_peer_startv(struct sipp_peer *p, const char *dir, const char *name, const char *scenario, va_list ap);

/* Wait for SIPp to finish (SIGKILL after timeout_ms); true when it counted its
 * call as successful. On failure its error file is printed. */
bool sipp_peer_wait(struct sipp_peer *p, int timeout_ms);

#endif
