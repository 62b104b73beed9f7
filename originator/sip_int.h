/* originator/sip_int.h: the SIP engine's private declarations (struct orig_sip, struct sip_call, its legs, phases and
 * steps), shared by originator/sip_*.c only; the one header that includes Sofia-SIP. */
#ifndef ORIG_SIP_INT_H
#define ORIG_SIP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"
#include "originator/gauges.h"
#include "originator/orig_sip.h"
#include "originator/sip_sdp_int.h"

struct orig_sip;
struct sip_call;
struct sip_leg;
struct orig_msg;

#define SU_ROOT_MAGIC_T struct orig_sip
#define NUA_MAGIC_T     struct orig_sip
#define NUA_HMAGIC_T    struct sip_leg
#define SU_MSG_ARG_T    struct orig_msg
#define SU_TIMER_ARG_T  void

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/tport_tag.h>

/* Where a call is; each phase has at most one timer. Changed only through
 * orig_sip_set_phase(), which logs every transition. */
enum sip_phase {
	PH_A_INVITE,       /* INVITE to the initiator, waiting for its answer */
	PH_REFER,          /* REFER sent, waiting for its response */
	PH_REFER_ACCEPTED, /* REFER accepted, following NOTIFYs */
	PH_B_INVITE,       /* anchored: INVITE without SDP to the destination */
	PH_REINVITE,       /* anchored: destination answered (ACK held), re-INVITE to the initiator */
	PH_CONNECTED,      /* anchored: both ACKs sent */
	PH_DONE,
};

enum sip_leg_st {
	LS_NONE,       /* no handle yet */
	LS_INVITING,   /* initial INVITE in progress */
	LS_UP,         /* dialog confirmed (2xx received) */
	LS_CLOSING,    /* CANCEL or BYE sent */
	LS_SUBSCRIBED, /* initiator: its session ended but the REFER subscription lives on */
	LS_GONE,       /* handle destroyed */
};

/* The steps of a call as orig_sip.h's table lists them: each fixes the event's
 * state, leg, code and reason (orig_sip_emit_step, orig_sip_end_call). */
enum sip_step_id {
	STEP_IN_PROGRESS,         /* CALLING_INITIATOR    NONE         100 */
	STEP_INITIATOR_RINGING,   /* INITIATOR_RINGING    INITIATOR    180 */
	STEP_INITIATOR_ANSWERED,  /* INITIATOR_ANSWERED   INITIATOR    200 */
	STEP_CALLING_DESTINATION, /* CALLING_DESTINATION  DESTINATION  0 */
	STEP_REFER_REFUSED,       /* CALLING_DESTINATION  DESTINATION  181 (reason names the code) */
	STEP_DESTINATION_RINGING, /* DESTINATION_RINGING  DESTINATION  180 */
	STEP_CONNECTED,           /* CONNECTED            DESTINATION  200 */
	STEP_TRANSFERRED,         /* TRANSFERRED          DESTINATION  final */
	STEP_ENDED,               /* ENDED                NONE         final */
	STEP_FAILED_INITIATOR,    /* FAILED               INITIATOR    final */
	STEP_FAILED_DESTINATION,  /* FAILED               DESTINATION  final */
};

/* A mid-call offer/answer relayed from one phone (from) to the other. */
struct sip_relay {
	bool active;
	bool is_update; /* UPDATE rather than re-INVITE */
	bool offerless; /* the incoming re-INVITE had no SDP: answer comes in its ACK */
};

struct sip_leg {
	struct sip_call *c;
	enum orig_leg which;
	nua_handle_t *nh;
	enum sip_leg_st st;
	bool ringing;               /* 18x reported */
	bool ack_pending;           /* destination's 2xx not ACKed yet */
	int auth_tries;             /* consecutive 401/407 on the current request */
	bool auth_declined;         /* the last response was a challenge we did not answer */
	struct sip_relay in;        /* a request from this phone being relayed to the other */
	bool out_relay;             /* a request we sent to this phone on behalf of the other */
	bool out_ack_pending;       /* our relayed offerless re-INVITE got 2xx, ACK held for the answer */
	nua_saved_event_t saved[1]; /* the incoming request being relayed, answered later */
	bool has_saved;
};

struct sip_call {
	struct sip_call *next, *prev;
	struct orig_sip *s;
	uint64_t id;
	char initiator[512];
	char destination[512];
	bool anchor;
	bool fallback;
	int fallback_code;
	bool ended;
	bool dest_ringing; /* REFER path: 18x NOTIFY reported */
	enum sip_phase ph;
	unsigned ring_s;
	int64_t t_start, t_connected;
	su_timer_t *tmr;
	struct sip_leg a; /* initiator */
	struct sip_leg b; /* destination */
	/* Our SDP origin toward the initiator: stable for the dialog. */
	struct orig_sdp_origin a_sdp;
	/* What the legs' requests carry (sip_hdrs.c), built once at the start. */
	char *a_from;   /* leg 1 From, display name included */
	char *a_hdrs;   /* leg 1 extra headers, "Name: value\r\n"..., or NULL */
	char *b_from;   /* leg 2 From */
	char *b_hdrs;   /* leg 2 extra headers, or NULL */
	char *refer_by; /* Referred-By of the REFER */
};

struct orig_sip {
	/* Immutable after start. */
	orig_sip_event_fn cb;
	void *cb_arg;
	char *listen, *tls_listen, *tls_cert_dir, *identity, *proxy, *auth_user, *auth_password;
	bool tls_verify;
	unsigned ring_s, notify_s, reinvite_s, max_call_s, max_calls;
	int rcvbuf;
	int linger_ms; /* NTATAG_UA_LINGER; < 0 = RFC 3261's timers */

	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int start_state; /* 0 pending, 1 running, -errno failed */
	bool stopping;   /* under mu */

	su_root_t *root;
	nua_t *nua;
	atomic_uint_fast64_t next_id;
	atomic_uint active;
	atomic_int port;

	/* SIP thread only. */
	struct sip_call *calls;
	char host[128]; /* our address, for SDP */
	bool host_v6;
	uint64_t sid_seed;
	su_timer_t *grace_tmr;
	su_timer_t *trim_tmr;
	int64_t last_end_ms; /* when the last call ended, 0 = none yet */
	bool shutting_down;
	bool shutdown_sent;
};

/* Everything below runs on the SIP thread. */

/* sip_engine.c */
void orig_sip_do_shutdown(struct orig_sip *s);

/* sip_call.c: lifecycle, steps, timers */
void orig_sip_start_call(struct orig_sip *s, uint64_t id, const struct orig_call_req *r);
void orig_sip_set_phase(struct sip_call *c, enum sip_phase ph);
/* A non-final step with its table's code and reason. */
void orig_sip_emit_step(struct sip_call *c, enum sip_step_id step, int sip_code, const char *sip_reason);
/* The same with the reason text given (STEP_REFER_REFUSED). */
void orig_sip_emit_text(struct sip_call *c, enum sip_step_id step, const char *reason, int sip_code,
			const char *sip_reason);
/* End the call with a final step (its reason from the table) and release both legs. */
void orig_sip_end_call(struct sip_call *c, enum sip_step_id step, int code, int sip_code, const char *sip_reason,
		       enum orig_ended_by by);
/* The final step of a failure on leg (initiator, else destination). */
enum sip_step_id orig_sip_failed_on(enum orig_leg leg);
/* The final step of a failure on the leg the current phase is trying to reach. */
enum sip_step_id orig_sip_failed_step(const struct sip_call *c);
/* Local end (API, shutdown, timer on a connected call). */
void orig_sip_end_local(struct sip_call *c, int code_if_failed, const char *why, enum orig_ended_by by);
/* A local error: FAILED 500 on leg, ended by ERROR. */
void orig_sip_fail_local(struct sip_call *c, enum orig_leg leg, const char *why);
void orig_sip_maybe_free(struct sip_call *c);
void orig_sip_leg_gone(struct sip_leg *l);
/* CANCEL a ringing leg, BYE an established one. */
void orig_sip_release_leg(struct sip_leg *l);
void orig_sip_timer_set(struct sip_call *c, unsigned ms);
void orig_sip_timer_stop(struct sip_call *c);
/* After the stack is gone: free the calls left (their handles went with it). */
void orig_sip_free_calls(struct orig_sip *s);

/* sip_hdrs.c: the caller id and the extra headers of each leg */
/* Fill c's a_from, a_hdrs, b_from, b_hdrs and refer_by from r (checked by orig_sip_call). 0, ENOMEM or ENOSPC. */
int orig_sip_call_headers(struct sip_call *c, const struct orig_call_req *r);
/* Free them. */
void orig_sip_call_headers_free(struct sip_call *c);

/* sip_invite.c: the INVITE legs */
void orig_sip_start_b(struct sip_call *c);
void orig_sip_r_invite(struct orig_sip *s, struct sip_leg *l, int status, const char *phrase, const sip_t *sip);
void orig_sip_i_state(struct sip_leg *l, int status, tagi_t tags[]);
void orig_sip_leg_terminated(struct sip_leg *l);

/* sip_refer.c: the REFER path */
void orig_sip_start_refer(struct sip_call *c);
void orig_sip_fallback(struct sip_call *c, int code, const char *phrase);
void orig_sip_r_refer(struct orig_sip *s, struct sip_call *c, int status, const char *phrase, const sip_t *sip);
void orig_sip_i_notify(struct orig_sip *s, struct sip_call *c, const sip_t *sip);

/* sip_relay.c: mid-call offers between the phones (anchored) */
/* The SDP body of a message, or NULL. Borrowed from sip. */
const char *orig_sip_sdp_of(const sip_t *sip, size_t *len);
void orig_sip_relay_request(struct sip_leg *l, bool is_update, const sip_t *sip);
void orig_sip_relay_response(struct sip_leg *o, int status, const char *phrase, const sip_t *sip);
void orig_sip_relay_ack(struct sip_leg *l, const sip_t *sip);

/* sip_auth.c: digest challenges */
/* true when status was a 401/407 we answered (the request is being retried). */
bool orig_sip_challenged(struct orig_sip *s, struct sip_leg *l, int status, const sip_t *sip);

#endif
