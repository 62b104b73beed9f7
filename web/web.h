/* web/web.h: the one libmicrohttpd glue: listeners, RFC 9112 framing refusal, TLS files, answers, /healthz and
 * /metrics. Used by the hook, the admin listener and the originator's HTTP API, so that every HTTP listener of the
 * daemon gets the same framing check, the same logger and the same answers. */
#ifndef WEB_WEB_H
#define WEB_WEB_H

#include "config/config.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

/* A string literal and its length, for every API that takes (data, len):
 * no length is ever counted by hand. */
#define WEB_LIT(s) (s), (sizeof(s) - 1)

/* TLS files (certificate, key) are at most this large. */
#define WEB_TLS_FILE_MAX (1u << 20)

/* Called when a request was refused for its framing (the 400 is already
 * queued): for the caller's log line and metrics. method is MHD's. */
typedef void web_refused_fn(struct MHD_Connection *c, const char *method, const char *reason, void *arg);

struct web_params {
	const char *name; /* for the log: "<name>: listening on host:port" */
	MHD_AccessHandlerCallback handler;
	void *arg;                              /* handler, completed, notify and refused get it */
	MHD_RequestCompletedCallback completed; /* or NULL */
	MHD_NotifyConnectionCallback notify;    /* or NULL */
	void *notify_arg;                       /* notify gets this one */
	web_refused_fn *refused;                /* or NULL */
	unsigned threads;                       /* thread pool size; 0 or 1 = one polling thread */
	unsigned timeout_s;                     /* idle connection timeout */
	unsigned max_conn, per_ip;              /* per_ip 0 = no limit */
	size_t mem_limit;                       /* per-connection pool; 0 = libmicrohttpd's default */
	const char *cert, *key;                 /* PEM text (borrowed for the listener's life), or NULL */
	int listen_fd;                          /* a bound listening socket (taken), or -1: bind the address */
	const struct MHD_OptionItem *extra;     /* more options, MHD_OPTION_END-terminated, or NULL */
	const struct cfg *cfg;                  /* the config the address comes from, for the error's line */
	const char *path;                       /* its setting ("hook.listen.[0]"), or NULL: "<name>.listen" */
};

struct web_listener;

/* Start one listener on addr ("host:port"; with listen_fd >= 0 only shown in
 * the log). Every request it serves is first checked for RFC 9112 framing a
 * proxy could read differently (two Content-Length fields, Transfer-Encoding
 * with Content-Length, whitespace before a colon): such a request is answered
 * 400 {"status":400,"reason":"..."} with Connection: close before the
 * handler ever sees it (p->refused is told), and its body is discarded.
 * Logs "<name>: listening on host:port[ (TLS)]". 0, or EINVAL (addr is not
 * host:port) / EADDRINUSE (cannot start), with err naming p->path (file:line
 * when p->cfg knows it); *out written only on success. */
int web_listen(const char *addr, const struct web_params *p, struct web_listener **out, struct cfg_error *err);
/* The port the listener is bound to (0 when unknown). */
int web_bound_port(const struct web_listener *l);
/* Stop accepting without resetting clients: connections already queued in
 * the kernel's backlog are handed to libmicrohttpd and answered; new attempts
 * are then refused. Idempotent. */
void web_quiesce(struct web_listener *l);
/* Quiesce, stop (waits for the listener's threads) and free. NULL-safe. */
void web_stop(struct web_listener *l);

/* Read the certificate and key (a secret file: refused when others may read
 * it; the key defaults to the certificate file) of the TLS group at path
 * ("hook.tls"). cfg, when not NULL, gives the config's directory and the
 * line numbers of errors. New strings in *cert and *key, written only on
 * success; 0, or EINVAL / ENOTSUP (no TLS in libmicrohttpd) with err filled. */
int web_tls_load(const struct cfg *cfg, const char *path, const struct cfg_tls *t, char **cert, char **key,
		 struct cfg_error *err);
/* Wipe and free a key loaded by web_tls_load. NULL-safe. */
void web_key_free(char *key);

/* One answer. */
struct web_answer {
	unsigned status;
	const char *ctype;
	const char *body; /* len bytes; copied, unless take */
	size_t len;
	bool take;                  /* body was malloc'd: libmicrohttpd frees it (also on failure) */
	const char *allow;          /* Allow header, or NULL */
	bool close;                 /* Connection: close */
	const char *const *headers; /* more "name", "value" pairs, NULL-terminated, or NULL */
};
enum MHD_Result web_send(struct MHD_Connection *c, const struct web_answer *a);
/* Answer with body[0..len) (copied). */
enum MHD_Result web_reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body, size_t len,
			  const char *allow);
/* {"status":N,"reason":"..."} as a new string (length in *len), or NULL. */
char *web_error_body(unsigned status, const char *reason, size_t *len);
/* Answer application/json {"status":N,"reason":"..."}. */
enum MHD_Result web_reply_error(struct MHD_Connection *c, unsigned status, const char *reason);

/* The client's address as text ("" when unknown). */
void web_peer_ip(struct MHD_Connection *c, char *out, size_t cap);

/* What web_serve_health_metrics answered. */
enum web_hm {
	WEB_HM_NONE,       /* neither path: nothing was answered */
	WEB_HM_HEALTH,     /* GET/HEAD /healthz: 200 {"status":"ok"} */
	WEB_HM_METRICS,    /* GET/HEAD /metrics: 200, the Prometheus text (500 when out of memory) */
	WEB_HM_BAD_METHOD, /* another method on either path: 405 "use GET or HEAD" */
};
/* What web_serve_health_metrics would answer (pure). */
enum web_hm web_hm_of(const char *url, const char *method);
/* The one place /healthz and /metrics are answered, on the admin listener
 * and on the hook's port when there is none. close adds Connection: close.
 * *what says what was answered; with WEB_HM_NONE nothing is queued and
 * MHD_YES is returned. */
enum MHD_Result web_serve_health_metrics(struct MHD_Connection *c, const char *url, const char *method, bool close,
					 enum web_hm *what);

#endif
