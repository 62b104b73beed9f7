/* config/config.h: loads and validates callhook.conf (libconfig syntax) into plain, immutable C structs.
 * Every setting is declared once in a table (config/schema.c) with its type,
 * bounds, default and flags (required, secret, restart-only, non-empty, list
 * maximum); the walkers below read that table, so the --check summary, the
 * secrets to redact, the restart-only settings and callhook.conf(5) cannot
 * drift from it. Unknown keys are errors. Errors read "file:line: path:
 * message". A loaded struct cfg is never modified; a reload builds a new one
 * (reference counted by the caller). */
#ifndef CFG_CONFIG_H
#define CFG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Most addresses a listen list may hold (hook, admin, originator HTTP and XML);
 * more is a config error. */
#define CFG_MAX_LISTEN 16

/* One error record for everything that can fail at start or compile time. */
struct cfg_error {
	char file[256];
	int line; /* 0 when unknown */
	char path[256];
	char msg[512];
};

/* A list of strings. */
struct cfg_strv {
	char **v;
	size_t n;
};

/* A name -> value map in declaration order (a button's invite_parameters). */
struct cfg_map {
	char **keys;
	char **vals;
	size_t n;
};

struct cfg_tls {
	char *cert; /* NULL = no TLS */
	char *key;
};

struct cfg_log {
	char *level;  /* error|warn|info|debug */
	char *format; /* text|json */
	char *file;   /* NULL = stderr; "syslog" = syslog */
};

struct cfg_wcs_auth {
	struct cfg_strv hmac_keys;      /* inline + read from hmac_key_files (secrets) */
	struct cfg_strv hmac_key_files; /* as configured */
	char *basic_user;
	char *basic_password; /* inline or read from basic_password_file (secret) */
	char *basic_password_file;
	struct cfg_strv allow_from; /* CIDR strings */
};

struct cfg_forward {
	char *url;
	struct cfg_strv methods;
	int64_t timeout_ms;
	int64_t queue_max;
	int64_t retries;
};

/* A call record file (hook.cdr, originator.cdr). */
struct cfg_cdr {
	char *file; /* resolved path */
};

struct cfg_hook {
	struct cfg_strv listen; /* "host:port", "[::1]:port" */
	int64_t max_body_bytes;
	int64_t request_timeout_s;
	int64_t max_sessions;
	int64_t session_ttl_s;
	int64_t threads; /* 0 = one per CPU */
	int64_t max_json_depth;
	int64_t max_members;
	int64_t max_connections;
	int64_t max_connections_per_ip;
	char *rest_client_config; /* resolved path, or NULL */
	bool has_wcs_auth;
	struct cfg_wcs_auth wcs_auth;
	struct cfg_tls tls;
	struct cfg_forward *forward;
	size_t n_forward;
	bool has_cdr;
	struct cfg_cdr cdr;
};

/* store: where the hook keeps its state (memory, or Redis shared by instances). */
struct cfg_store_redis_tls {
	char *ca_file;
	char *server_name;
};
struct cfg_store_redis {
	char *address;             /* "host:port", or NULL */
	char *unix_path;           /* "unix": a socket path, or NULL */
	struct cfg_strv sentinels; /* "host:port" of Redis Sentinels: the master is asked of them */
	char *master_name;         /* the master's name at the sentinels */
	int64_t db;
	char *prefix;
	char *user;
	char *password; /* read from password_file (secret), or NULL */
	char *password_file;
	bool has_tls; /* not yet supported: present is an error */
	struct cfg_store_redis_tls tls;
	int64_t connect_timeout_ms;
	int64_t timeout_ms;
};
struct cfg_store {
	char *backend;              /* "memory" or "redis" */
	char *on_unavailable;       /* "fail_closed" or "fail_open" */
	int64_t fail_open_share_pm; /* fail_open_share in thousandths */
	struct cfg_store_redis redis;
};

struct cfg_sip_account {
	char *login;
	char *auth_name;
	char *password; /* inline or read from password_file (secret) */
	char *password_file;
	char *domain;
	char *outbound_proxy;
	int64_t port; /* 0 = not configured -> "" */
	bool register_required;
};

struct cfg_token {
	bool present;
	char *secret; /* read from secret_file (secret) */
	size_t secret_len;
	char *secret_file;
	bool required;
	int64_t max_age_s;
	int64_t leeway_s;
	char *audience; /* NULL = none: a token with an aud claim is refused */
};

struct cfg_site_limits {
	int64_t connects_per_minute_per_ip;
	int64_t calls_per_minute_per_ip;
	int64_t calls_per_session;
	int64_t calls_per_minute;
	int64_t concurrent_calls;
	int64_t call_max_s;  /* a call whose end never arrives frees its slot after this */
	int64_t ipv6_prefix; /* IPv6 clients share the per-IP budgets of their /ipv6_prefix */
};

/* Opening hours (a site's or a button's hours group), as written; the hook
 * compiles and checks them (policy/hours.c: pol_hours_compile). */
struct cfg_hours {
	char *tz;               /* an IANA zone name, "Europe/Berlin" */
	struct cfg_strv open;   /* "Mon-Fri 09:00-17:30" ...; empty = never open */
	struct cfg_strv closed; /* "2026-12-24" ... */
};

/* One entry of a site's buttons: `name = "callee";` or `name = { callee; ... };`. */
struct cfg_button {
	char *name; /* the key; first, as every FT_NAMED element */
	char *callee;
	char *visible_name;               /* the call's visibleName, or NULL (the browser's is kept) */
	struct cfg_map invite_parameters; /* SIP header name -> value */
	bool has_hours;
	struct cfg_hours hours;
};

struct cfg_site {
	char *name;
	struct cfg_strv origins;
	char *domain; /* shorthand, or NULL */
	struct cfg_sip_account sip;
	char *callee; /* or NULL */
	struct cfg_button *buttons;
	size_t n_buttons;
	bool has_hours;
	struct cfg_hours hours;
	bool allow_transfer;
	bool allow_messages;
	struct cfg_token token;
	struct cfg_site_limits limits;
};

struct cfg_orig_timers {
	int64_t ring_timeout_s;
	int64_t refer_notify_timeout_s;
	int64_t reinvite_timeout_s;
	int64_t max_call_s;
	int64_t transaction_linger_ms;
};

struct cfg_orig_limits {
	int64_t concurrent_calls;
	int64_t calls_per_minute;
	int64_t calls_per_minute_per_initiator;
	int64_t calls_per_hour_per_destination;
	int64_t distinct_destinations_per_hour_per_initiator;
};

/* originator.auto_answer: who may be answered automatically, and with which header. */
struct cfg_orig_auto_answer {
	struct cfg_strv initiators; /* PCRE2 patterns over the translated initiator; none = nobody */
	char *header;               /* "call-info" | "alert-info" | "answer-mode" */
};

/* originator.headers: the extra headers a request may add. */
struct cfg_orig_headers {
	struct cfg_strv allow; /* PCRE2 patterns over header names (case-insensitive); none = none */
};

struct cfg_translation {
	char *pattern;
	char *output;
};

/* The caller id of one leg (originator.caller_id.initiator / .destination): templates over ${initiator_user}
 * and ${destination_user}, checked at load (config/checks.c); NULL = the engine's default. */
struct cfg_orig_cid_leg {
	char *display;
	char *from;
	char *user;
	char *p_asserted_identity;
	char *privacy; /* fixed: RFC 3323 values */
};

struct cfg_orig_caller_id {
	struct cfg_orig_cid_leg initiator;   /* the INVITE to the initiator (what the agent sees) */
	struct cfg_orig_cid_leg destination; /* the INVITE to the destination, and the REFER's Referred-By */
};

struct cfg_orig_http {
	struct cfg_strv listen;
	char *user;
	char *password; /* inline or from password_file (secret) */
	char *password_file;
	char *digest_algorithm; /* "SHA-256" | "MD5" */
	char *auth;             /* "digest" | "basic" (basic needs tls) */
	struct cfg_tls tls;
};

struct cfg_orig_xml {
	struct cfg_strv listen;
	struct cfg_strv allow_from;
	int64_t max_connections;
};

struct cfg_originator {
	char *identity;
	char *listen;              /* "sip:0.0.0.0:5072" */
	char *tls_listen;          /* or NULL */
	char *tls_certificate_dir; /* agent.pem + cafile.pem (Sofia's layout); required with tls_listen */
	bool tls_verify;           /* outgoing TLS checks the peer against cafile.pem */
	char *outbound_proxy;
	bool has_auth;
	char *auth_user;
	char *auth_password; /* inline or from password_file (secret) */
	char *auth_password_file;
	struct cfg_translation *translations;
	size_t n_translations;
	struct cfg_strv dest_allow; /* absent = any */
	bool has_dest_allow;
	struct cfg_strv dest_deny;
	struct cfg_orig_timers timers;
	struct cfg_orig_limits limits;
	bool has_http;
	struct cfg_orig_http http;
	bool has_xml;
	struct cfg_orig_xml xml;
	struct cfg_strv callbacks_allow;
	int64_t keep_ended_s;
	struct cfg_orig_auto_answer auto_answer;
	struct cfg_orig_headers headers;
	bool has_cdr;
	struct cfg_cdr cdr; /* originator.cdr: one record per finished call */
	struct cfg_orig_caller_id caller_id;
};

struct cfg_admin {
	struct cfg_strv listen;
	struct cfg_tls tls;
};

struct cfg {
	char *path; /* the file as given */
	char *dir;  /* its directory, for relative paths */
	struct cfg_log log;
	bool has_hook;
	struct cfg_hook hook;
	struct cfg_store store;
	struct cfg_site *sites;
	size_t n_sites;
	bool has_originator;
	struct cfg_originator orig;
	bool has_admin;
	struct cfg_admin admin;
	char *pid_file;
	int64_t shutdown_grace_s;
	void *priv; /* the loader's own data (source lines); do not touch */
};

/* Load and validate a config file. On success *out is new (cfg_free).
 * On failure returns EINVAL (or errno for I/O) and fills *err. */
int cfg_load(const char *path, struct cfg **out, struct cfg_error *err);

/* Same from a string (tests, fuzzing); name is used in error messages,
 * dir resolves relative paths. */
int cfg_load_string(const char *text, const char *name, const char *dir, struct cfg **out, struct cfg_error *err);

void cfg_free(struct cfg *c);

/* The source line of a setting by path ("sites.[0].origins.[1]"), 0 if
 * unknown. For errors found after loading (pattern compilation). */
int cfg_line_of(const struct cfg *c, const char *path);

/* Fill err for a setting of a loaded config (c may be NULL: no file, no line). */
void cfg_set_error(const struct cfg *c, struct cfg_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Format "file:line: path: message" into buf. */
void cfg_error_format(const struct cfg_error *err, char *buf, size_t cap);

/* Warnings found while loading (group-readable secret files...), each a
 * formatted line, for the caller to log. Borrowed from c. */
const struct cfg_strv *cfg_warnings(const struct cfg *c);

/* Calls fn for every non-empty secret value of the config (every setting the
 * table marks secret: passwords, HMAC keys, token secrets), for log redaction
 * and leak tests. The values are borrowed, valid while c lives. */
void cfg_each_secret(const struct cfg *c, void (*fn)(const char *secret, void *arg), void *arg);

/* The same into out[max] (tests); returns how many were stored. */
size_t cfg_secrets(const struct cfg *c, const char **out, size_t max);

/* Prints every setting of c, one "path value" line each, in table order;
 * secrets as ***, unset values as -, absent optional groups left out. */
void cfg_dump(const struct cfg *c, FILE *f);

enum cfg_change {
	CFG_CHANGED, /* a restart-only value differs */
	CFG_ADDED,   /* an optional group whose presence needs a restart appeared */
	CFG_REMOVED, /* ... or went away */
};

/* Calls fn(path, what, arg) for every restart-only setting (CFG_RESTART in the
 * table) whose value differs between old and new, and for every optional group
 * marked restart-on-presence that was added or removed. Secrets are compared
 * in constant time and never passed on: only paths. old may be a full config
 * or a cfg_restart_copy. */
void cfg_restart_changes(const struct cfg *old, const struct cfg *new,
			 void (*fn)(const char *path, enum cfg_change what, void *arg), void *arg);

/* A copy of c holding only its restart-only values (and which optional groups
 * are present), for a later cfg_restart_changes when c itself is not kept.
 * 0 or ENOMEM; *out is new (cfg_free). */
int cfg_restart_copy(const struct cfg *c, struct cfg **out);

/* What the table says about one setting, for the reference (callhook.conf(5)). */
struct cfg_setting_info {
	const char *path;  /* "originator.http.user"; list elements as "sites.[].name" */
	const char *type;  /* "integer", "boolean", "string", "list of strings", "group", ... */
	const char *def;   /* the default as text, or NULL */
	const char *range; /* bounds, choices or list maximum as text, or NULL */
	bool required, secret, restart, nonempty;
};

/* Calls fn for every setting of the table (groups included), in table order. */
void cfg_each_setting(void (*fn)(const struct cfg_setting_info *s, void *arg), void *arg);

#endif
