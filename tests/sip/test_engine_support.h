/* tests/sip/test_engine_support.h: the harness of the SIP engine tests (test_engine.c): events, SIPp peers, the
 * engine under test. */
#ifndef CH_TEST_ENGINE_SUPPORT_H
#define CH_TEST_ENGINE_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "originator/orig_sip.h"
#include "sipp_peer.h"

#ifndef SIPP_BIN
#define SIPP_BIN "sipp"
#endif
#ifndef SCENARIO_DIR
#define SCENARIO_DIR "."
#endif

/* One expected event: its state, leg and code. */
struct want {
	enum orig_state state;
	enum orig_leg leg;
	int code;
};

extern char workdir[256];    /* this case's SIPp logs (and engine.log) */
extern struct orig_sip *eng; /* the engine under test */

/* The engine callback: every event into the log. */
void on_event(const struct orig_event *ev, void *arg);
/* Wait until an event of call id matches (state, -1 = any; final if want_final). */
bool wait_event(uint64_t id, int state, bool want_final, int timeout_ms);
bool wait_final(uint64_t id, int timeout_ms);
/* The events of call id are exactly w[0..n-1]; the last one is final and ended by `by` (a CHECK). */
void expect_events(uint64_t id, const struct want *w, int n, enum orig_ended_by by);
/* The last event of call id / its last one with code; zeroed if none. */
struct orig_event last_event(uint64_t id);
struct orig_event find_event(uint64_t id, int code);

/* Start `sipp -sf scenario` as a one-call UAS; extra SIPp arguments end with NULL. */
bool peer_start(struct sipp_peer *p, const char *name, const char *scenario, ...);
/* The body of the n-th (0-based) SIP message in a SIPp message log whose first line starts with `start`. New string
 * or NULL. */
char *msg_body(const char *path, const char *start, int nth);
/* The header block (start line included, up to the blank line) of the same message as msg_body. New string or
 * NULL. */
char *msg_head(const char *path, const char *start, int nth);
/* An SDP body's lines normalised (CRLF -> LF, blank lines and leading spaces dropped; o= -> "o=*" when drop_origin,
 * the o= line copied to origin). */
void sdp_norm(const char *in, char *out, size_t cap, bool drop_origin, char *origin, size_t ocap);

/* The events of a REFER call whose destination rang (NOTIFY 180) and then ended st/code, ended by `by`. */
void expect_refer_events(uint64_t id, enum orig_state st, int code, enum orig_ended_by by);
/* The events of a call whose initiator rang and then refused it with `code`. */
void expect_initiator_refused(uint64_t id, int code);
/* Stop eng; remove workdir when every check passed (and CH_SIP_KEEP is unset), else say where it is. */
void engine_teardown(void);

/* Start eng on listen (NULL = sip:127.0.0.1:0) with the test timers; exits on failure. */
void engine_start(const char *listen, const char *auth_user, const char *auth_password, unsigned max_call_s);
/* Place a call (CHECKed) and return its id. */
uint64_t place(const char *initiator, const char *destination, bool anchor, unsigned ring_s);
/* "sip:user@127.0.0.1:<port of p>" */
void uri_of(const struct sipp_peer *p, const char *user, char *out, size_t cap);

#endif
