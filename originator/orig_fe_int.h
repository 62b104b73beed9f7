/* orig_fe_int.h: private declarations shared by the originator's front ends (registry, HTTP, XML, callbacks, glue). */
#ifndef ORIG_FE_INT_H
#define ORIG_FE_INT_H

#include "common/common.h"
#include "config/config.h"
#include "originator/orig_sip.h"
#include "policy/policy.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORIG_URI_MAX          512   /* as struct orig_call_req */
#define ORIG_KEEP_ENDED_MAX   10000 /* ended calls kept readable, at most */
#define ORIG_CB_URL_MAX       2048
#define ORIG_RING_TIMEOUT_MAX 600 /* per-request ring_timeout_s bound */

/* ---- reloadable settings --------------------------------------------------
 * One immutable snapshot per config generation, deep-copied from struct cfg
 * (the cfg may be freed after orig_start / orig_reload returns). Readers take
 * a reference with orig_snap_get() and drop it with orig_snap_put(). */
enum orig_auth_mode { ORIG_AUTH_DIGEST, ORIG_AUTH_BASIC };

struct orig_snap {
	int refs; /* under struct orig.snap_mu */
	struct pol_xlate *xlate;
	unsigned concurrent_calls; /* 0 = no cap */
	unsigned calls_per_minute;
	unsigned calls_per_minute_per_initiator;
	int64_t keep_ended_s;
	char *http_user;
	char *http_password; /* secret */
	bool sha256;         /* digest algorithm: SHA-256 (else MD5) */
	enum orig_auth_mode auth;
	struct pol_cidr *xml_allow;
	size_t n_xml_allow;
	char **cb_allow;
	size_t n_cb_allow;
};

struct orig;
struct orig_snap *orig_snap_get(struct orig *o);
void orig_snap_put(struct orig *o, struct orig_snap *s);

/* ---- placing a call (originator.c) -----------------------------------------
 * Translate, check policy and limits, register the call, hand it to the
 * engine. Any front-end thread. */

/* Receives the steps of one call; called with the registry lock held (on the
 * SIP thread or, for a refusal, never): must not block, must not call back
 * into the registry. release() is called once, after the final event or
 * when placing failed. */
struct orig_watch {
	void (*on_event)(void *arg, const struct orig_event *ev, const char *tinit, const char *tdest);
	void (*release)(void *arg);
	void *arg;
};

struct orig_place_req {
	const char *initiator;   /* as received */
	const char *destination; /* as received */
	bool anchor;
	unsigned ring_timeout_s;     /* 0 = default */
	const char *status_callback; /* NULL = none; already checked against the allow list */
};

struct orig_place_res {
	int status;       /* 0 placed; else 400, 403, 429 or 503 */
	char reason[160]; /* when status != 0 */
	uint64_t id;      /* when placed */
	char tinit[ORIG_URI_MAX];
	char tdest[ORIG_URI_MAX];
};

/* watch may be NULL; on success its ownership moves to the registry (release
 * will be called), on failure the caller keeps it (release is not called). */
void orig_place(struct orig *o, const struct orig_place_req *rq, const struct orig_watch *watch,
		struct orig_place_res *res);

/* 0 queued, ENOENT unknown id, EALREADY already ended, ESHUTDOWN. */
int orig_hangup(struct orig *o, uint64_t id);

/* Registry access for the JSON API: new references, or NULL (unknown id). */
json_t *orig_call_json(struct orig *o, uint64_t id);
json_t *orig_calls_json(struct orig *o);

bool orig_stopping(struct orig *o);

/* ---- the registry (calls.c) ------------------------------------------------ */

struct orig_calls;

int orig_calls_new(struct orig_calls **out);
void orig_calls_free(struct orig_calls *c); /* NULL-safe; releases remaining watches */

enum orig_admit {
	ORIG_ADMIT_OK,
	ORIG_ADMIT_CONCURRENT, /* concurrent_calls reached */
	ORIG_ADMIT_RATE,       /* calls_per_minute */
	ORIG_ADMIT_INITIATOR,  /* calls_per_minute_per_initiator */
	ORIG_ADMIT_ENGINE,     /* the engine refused (stopping, no memory) */
};

/* Under the registry lock: apply the limits of snap at now_ms, call
 * orig_sip_call(sip, r, &id) and record the call, so that its first event
 * always finds it. cb_url may be NULL (copied). watch: as orig_place. */
enum orig_admit orig_calls_admit(struct orig_calls *c, struct orig_sip *sip, const struct orig_snap *snap,
				 const struct orig_call_req *r, const char *cb_url, const struct orig_watch *watch,
				 int64_t now_ms, uint64_t *id);

/* The engine's event, on the SIP thread: update the call, tell its watch,
 * and when it has a status_callback, hand the JSON to cb (may be NULL). */
struct orig_cb;
void orig_calls_event(struct orig_calls *c, const struct orig_event *ev, struct orig_cb *cb, int64_t keep_ended_s,
		      int64_t now_ms);

/* ENOENT, EALREADY, or 0 (then the caller asks the engine to hang up). */
int orig_calls_check_active(struct orig_calls *c, uint64_t id);

/* New JSON: one call / the active calls. NULL for an unknown id. */
json_t *orig_calls_get(struct orig_calls *c, uint64_t id, int64_t keep_ended_s, int64_t now_ms);
json_t *orig_calls_list(struct orig_calls *c);

unsigned orig_calls_active(struct orig_calls *c);

/* ---- status callbacks (callback.c) ------------------------------------------ */

/* Start the delivery thread; queue_max events at most waiting. 0 or errno. */
int orig_cb_start(size_t queue_max, struct orig_cb **out);
/* Queue a POST of body (taken: freed by the queue) to url (copied). Never
 * blocks; false (body freed) when the queue is full or stopping. Any thread. */
bool orig_cb_post(struct orig_cb *cb, const char *url, char *body);
/* Deliver what is queued for up to grace_ms, then stop. NULL-safe. */
void orig_cb_stop(struct orig_cb *cb, unsigned grace_ms);
/* Is url acceptable: http(s), printable, under one of the prefixes (a prefix
 * that does not end in '/' must be followed by '/', '?' or the end), and a
 * path libcurl sends as written: no "." or ".." segment, no %2e %2f %5c. */
bool orig_cb_url_allowed(const char *url, char *const *prefixes, size_t n);

/* ---- HTTP (http.c) and XML (xml.c) front ends --------------------------------- */

struct orig_http;
/* Bind every originator.http.listen address (sockets only, no thread yet).
 * Logs nothing. 0 or errno with err filled. */
int orig_http_bind(const struct cfg_orig_http *cfg, struct orig_http **out, char *err, size_t errlen);
/* Start serving; logs "originator-http: listening on ..." per listener. */
int orig_http_run(struct orig_http *h, struct orig *o, char *err, size_t errlen);
void orig_http_stop(struct orig_http *h); /* NULL-safe; frees */

struct orig_xml;
int orig_xml_bind(const struct cfg_orig_xml *cfg, struct orig_xml **out, char *err, size_t errlen);
int orig_xml_run(struct orig_xml *x, struct orig *o, char *err, size_t errlen);
/* Stop accepting and reading, flush what is queued for up to flush_ms, close. */
void orig_xml_stop(struct orig_xml *x, unsigned flush_ms); /* NULL-safe; frees */

/* ---- small helpers (originator.c) ------------------------------------------ */

/* Append s with & < > " ' escaped (XML and HTML). 0 or ch_buf errors. */
int orig_esc_add(struct ch_buf *b, const char *s);
/* Parse "host:port", "[v6]:port" (ch_parse_listen) into a bound, listening TCP socket
 * (SO_REUSEADDR, close-on-exec, non-blocking when nonblock). The real address
 * goes to text ("127.0.0.1:5090" / "[::1]:5090"). 0 or errno. */
int orig_listen_tcp(const char *hostport, bool nonblock, int *fd, char *text, size_t textcap);
/* Status of a translation verdict: 400 (cannot be translated) or 403. */
int orig_xlate_status(enum pol_xlate_verdict v);

/* Format an error message into err (cap errlen); NULL or 0 ignored. Shared by the front ends. */
void orig_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
