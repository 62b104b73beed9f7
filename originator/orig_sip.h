/* originator/orig_sip.h: the originator's SIP engine, a thread that owns every Sofia-SIP object and places two-leg
 * click-to-call calls. */
#ifndef ORIG_SIP_H
#define ORIG_SIP_H

/*
 * Threads. orig_sip_start() starts one thread (the "SIP thread") that owns the
 * Sofia stack. orig_sip_call(), orig_sip_hangup() and orig_sip_port() may be
 * called from any thread, concurrently; they copy their arguments and hand a
 * flat request to the SIP thread. Events come back through the callback given
 * to orig_sip_start(), always on the SIP thread, one call at a time.
 *
 * Plain C types only: the front ends never see Sofia, the engine never sees
 * HTTP, JSON or XML.
 *
 * Event sequence of one call (each line one struct orig_event; "code" is the
 * XML Result code of that step, 0 for a state change that has no XML line):
 *
 *   state                     leg          code  reason
 *   ORIG_CALLING_INITIATOR    NONE         100   "In progress"          (always first)
 *   ORIG_INITIATOR_RINGING    INITIATOR    180   "Ringing initiator"    (on 18x; once)
 *   ORIG_INITIATOR_ANSWERED   INITIATOR    200   "Connected to initiator"
 *   ORIG_CALLING_DESTINATION  DESTINATION  0     "Calling destination"  (REFER sent / INVITE sent)
 *   ORIG_CALLING_DESTINATION  DESTINATION  181   "REFER refused (NNN), bridging"
 *                                                (fallback = true, fallback_code = NNN; then
 *                                                 the anchored flow runs; 408 if the REFER
 *                                                 timed out)
 *   ORIG_DESTINATION_RINGING  DESTINATION  180   "Ringing destination"  (once)
 *   ORIG_TRANSFERRED          DESTINATION  200   "Connected to destination"  final (REFER path:
 *                                                 the NOTIFY said 2xx, we sent BYE on our leg)
 *   ORIG_CONNECTED            DESTINATION  200   "Connected to destination"  (anchored: both
 *                                                 ACKs sent; not final, we stay in the call)
 *   ORIG_ENDED                NONE         200   "Call ended"           final, after CONNECTED
 *                                                (ended_by tells who hung up)
 *   ORIG_FAILED               INITIATOR or DESTINATION  >= 300  "Failed to connect to
 *                                                 initiator" / "... destination"  final
 *
 * Exactly one event has final == true and it is the last of its call. A call
 * cancelled through orig_sip_hangup() or orig_sip_stop() before it is connected
 * ends with ORIG_FAILED, code 487, on the leg being attempted; after it is
 * connected with ORIG_ENDED. Timeouts use 408: ring timeout (the leg was
 * CANCELled), REFER NOTIFY timeout (leg destination), re-INVITE watchdog (leg
 * initiator), max_call_s (ORIG_ENDED, ended_by TIMEOUT, code 408).
 */

#include <stdbool.h>
#include <stdint.h>

/* Options of the engine. Every pointer is borrowed for the duration of
 * orig_sip_start() only (the engine copies what it keeps). Zero timers mean
 * the defaults shown. */
struct orig_sip_opts {
	const char *listen;              /* "sip:127.0.0.1:5072" UDP and TCP; port 0 = ephemeral
					    (see orig_sip_port); NULL = "sip:0.0.0.0:5072" */
	const char *tls_listen;          /* "sips:0.0.0.0:5073" or NULL/"" = no TLS */
	const char *tls_cert_dir;        /* directory with agent.pem/cafile.pem for TLS, or NULL */
	bool tls_verify;                 /* outgoing TLS: verify the peer's certificate against cafile.pem */
	const char *identity;            /* "sip:clicktocall@example.com" (required): From of leg 1,
					    Referred-By of the REFER */
	const char *outbound_proxy;      /* "sip:proxy.example.com;lr" or NULL/"" */
	const char *auth_user;           /* digest user for 401/407, or NULL/"" = no auth */
	const char *auth_password;       /* secret: never logged */
	unsigned ring_timeout_s;         /* 45: per leg, CANCEL after it */
	unsigned refer_notify_timeout_s; /* 32: REFER accepted but no final NOTIFY */
	unsigned reinvite_timeout_s;     /* 10: anchored re-INVITE watchdog (keep < 32) */
	unsigned max_call_s;             /* 7200: a connected anchored call is released after it */
	int linger_ms;                   /* how long a finished SIP transaction is kept to absorb
					    retransmissions (NTATAG_UA_LINGER): 0 = 1500 ms,
					    < 0 = RFC 3261's timers (32 s) */
	int udp_rcvbuf_bytes;            /* 4 MiB; the SIP UDP socket receive buffer */
	unsigned max_calls;              /* 0 = no cap; over it orig_sip_call returns EAGAIN */
};

/* The auto-answer signal on the initiator's INVITE. */
enum orig_auto_answer {
	ORIG_AA_NONE = 0,
	ORIG_AA_CALL_INFO,   /* Call-Info: <identity>;answer-after=0 */
	ORIG_AA_ALERT_INFO,  /* Alert-Info: <http://localhost>;info=alert-autoanswer;delay=0 */
	ORIG_AA_ANSWER_MODE, /* Answer-Mode: Auto (RFC 5373) */
};

#define ORIG_EXTRA_HEADERS 8 /* CH_SIP_HDR_PER_CALL */

/* One extra header (a CRM's): name and value, NUL-terminated. */
struct orig_hdr {
	char name[65];   /* ch_sip_hdr_name_ok, not ch_sip_hdr_reserved */
	char value[257]; /* ch_sip_hdr_value_ok */
};

/* The caller id one leg's INVITE carries; "" = the default of that field. */
struct orig_caller_id {
	char display[128]; /* From display name, unquoted (ch_sip_display_ok; the engine quotes it) */
	char from[512];    /* From URI (a SIP URI) */
	char pai[512];     /* P-Asserted-Identity URI (a SIP URI), "" = none */
	char privacy[64];  /* Privacy value (ch_sip_hdr_value_ok), "" = none */
};

/* One call request. URIs already translated and policy-checked by the caller
 * (a SIP URI, possibly with parameters such as ;transport=tcp, no headers).
 * Every string is checked again by orig_sip_call (no CR, LF, NUL or other
 * control reaches a header, whatever the caller did). */
struct orig_call_req {
	char initiator[512];               /* leg 1 request URI; also the default From of leg 2 (anchored) */
	char destination[512];             /* Refer-To, or leg 2 request URI (anchored) */
	bool anchor;                       /* true: RFC 3725 third-party call control; false: REFER */
	unsigned ring_timeout_s;           /* 0 = the engine default */
	enum orig_auto_answer auto_answer; /* on the initiator's INVITE only */
	/* Leg 1: default display "Click-To-Call: <destination user>", From the identity. */
	struct orig_caller_id id_initiator;
	/* Leg 2 (anchored, fallback): default no display, From the initiator. On the REFER
	 * path its display and From are the Referred-By (default: the identity). */
	struct orig_caller_id id_destination;
	unsigned n_headers;                          /* 0..ORIG_EXTRA_HEADERS */
	struct orig_hdr headers[ORIG_EXTRA_HEADERS]; /* on both legs' INVITEs */
};

enum orig_state {
	ORIG_CALLING_INITIATOR = 0,
	ORIG_INITIATOR_RINGING,
	ORIG_INITIATOR_ANSWERED,
	ORIG_CALLING_DESTINATION,
	ORIG_DESTINATION_RINGING,
	ORIG_CONNECTED,
	ORIG_TRANSFERRED,
	ORIG_ENDED,
	ORIG_FAILED,
};

enum orig_leg {
	ORIG_LEG_NONE = 0,
	ORIG_LEG_INITIATOR,
	ORIG_LEG_DESTINATION,
};

enum orig_ended_by {
	ORIG_BY_NONE = 0,    /* not ended yet (non-final events) */
	ORIG_BY_INITIATOR,   /* the initiator hung up, refused or failed */
	ORIG_BY_DESTINATION, /* the destination hung up, refused or failed (incl. NOTIFY >= 300) */
	ORIG_BY_TIMEOUT,     /* ring, NOTIFY, re-INVITE or max_call_s timer */
	ORIG_BY_API,         /* orig_sip_hangup() */
	ORIG_BY_SHUTDOWN,    /* orig_sip_stop() */
	ORIG_BY_TRANSFER,    /* REFER path succeeded: the phones talk without us */
	ORIG_BY_ERROR,       /* local error (could not build a request, bad URI...) */
};

/* Names for JSON: "calling_initiator", ..., "failed". Static strings; any
 * thread. */
const char *orig_state_name(enum orig_state st);
/* "none", "initiator", "destination". */
const char *orig_leg_name(enum orig_leg leg);
/* "none", "initiator", "destination", "timeout", "api", "shutdown",
 * "transfer", "error". */
const char *orig_ended_by_name(enum orig_ended_by by);

/* One progress step of a call. Passed to the callback by pointer, valid only
 * during the callback: copy it. */
struct orig_event {
	uint64_t call_id;
	enum orig_state state;
	enum orig_leg leg;           /* the leg this step is about */
	int code;                    /* XML Result code of the step (see table), 0 = no XML line */
	char reason[128];            /* XML Result text of the step */
	int sip_code;                /* the SIP status behind the step (e.g. 183, 202, 486), 0 = none */
	char sip_reason[128];        /* its reason phrase as received, "" = none */
	bool fallback;               /* the REFER was refused: this call is now anchored */
	int fallback_code;           /* the REFER's status (408 for a timeout), when fallback */
	bool final;                  /* last event of the call */
	enum orig_ended_by ended_by; /* set on the final event */
	int64_t duration_ms;         /* final event: time connected (0 if never connected) */
	int64_t age_ms;              /* time since orig_sip_call() */
};

/* Called on the SIP thread for every event. Must not block and must not call
 * orig_sip_stop(); it may call orig_sip_call() and orig_sip_hangup(). */
typedef void (*orig_sip_event_fn)(const struct orig_event *ev, void *arg);

struct orig_sip;

/* Bind the listeners and start the SIP thread. Returns 0 and a new engine in
 * *out (release with orig_sip_stop), or an errno value: EINVAL (bad options,
 * e.g. no identity or a bad URI), EADDRINUSE / EADDRNOTAVAIL (could not bind;
 * Sofia does not always say which, so any bind failure of listen maps to
 * EADDRINUSE), ENOMEM. cb is required; arg is passed back untouched. */
int orig_sip_start(const struct orig_sip_opts *o, orig_sip_event_fn cb, void *arg, struct orig_sip **out);

/* Place a call. Any thread. *id is written (with a new, never reused, non-zero
 * id) before the request is handed to the SIP thread, so a caller that holds
 * its own lock across this call and takes it in the callback always knows the
 * id before the first event. The first event of the call is
 * ORIG_CALLING_INITIATOR. Returns 0, EINVAL (a URI that is not sip:/sips:
 * or holds whitespace, controls, quotes or angle brackets; a caller id, header
 * name or value that fails its check above, a reserved header name, more than
 * ORIG_EXTRA_HEADERS headers, an unknown auto_answer), EAGAIN (max_calls
 * reached), ESHUTDOWN (stopping), ENOMEM. */
int orig_sip_call(struct orig_sip *s, const struct orig_call_req *r, uint64_t *id);

/* Release a call: CANCEL ringing legs, BYE established ones; the call ends with
 * ended_by ORIG_BY_API. Any thread. Returns 0 when queued (an id that is
 * unknown or already ended is then ignored: the caller's registry answers
 * 404), ESHUTDOWN, ENOMEM. */
int orig_sip_hangup(struct orig_sip *s, uint64_t id);

/* The bound UDP/TCP port of listen (the real one when listen asked for port
 * 0). Any thread. */
int orig_sip_port(const struct orig_sip *s);

/* Number of calls not yet ended. Any thread. */
unsigned orig_sip_active(const struct orig_sip *s);

/* Stop: hang up every call (CANCEL/BYE, ended_by ORIG_BY_SHUTDOWN, their final
 * events are delivered before this returns), wait up to grace_ms for the
 * transactions to finish, shut the stack down and join the thread. Frees s.
 * NULL-safe. Not from the callback. */
void orig_sip_stop(struct orig_sip *s, unsigned grace_ms);

#endif
