/* config/schema.c: the config table: every setting once, one line each: name, type, bounds, default, flags. */
#include "config/config_int.h"

/* The prose of each setting is in docs/callhook.conf.5.txt, keyed by its path;
 * the docs.conf_settings test fails when an entry here has none. */

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const formats[] = {"text", "json", NULL};
static const char *const digest_algos[] = {"SHA-256", "MD5", NULL};
static const char *const http_auths[] = {"digest", "basic", NULL};
static const char *const default_listen[] = {"127.0.0.1:8081", NULL};
static const char *const default_xml_allow[] = {"127.0.0.0/8", "::1/128", NULL};
static const char *const store_backends[] = {"memory", "redis", NULL};
static const char *const store_modes[] = {"fail_closed", "fail_open", NULL};
static const char *const aa_headers[] = {"call-info", "alert-info", "answer-mode", NULL};

#define R  CFG_RESTART
#define S  CFG_SECRET
#define RQ CFG_REQUIRED
#define NE CFG_NONEMPTY
#define LM CFG_MAX_LISTEN

/* clang-format off */
/* check_src: table */
static const struct field log_fields[] = {
    F_STR_DEF("level", struct cfg_log, level, "info", levels, 0),
    F_STR_DEF("format", struct cfg_log, format, "text", formats, 0),
    F_STR("file", struct cfg_log, file, 0),
    F_END,
};
static const struct group log_group = {log_fields, NULL};

/* check_src: table */
static const struct field tls_fields[] = {
    F_STR("cert", struct cfg_tls, cert, 0),
    F_STR("key", struct cfg_tls, key, 0),
    F_END,
};
static const struct group tls_group = {tls_fields, cfg_check_tls};

/* check_src: table */
static const struct field wcs_auth_fields[] = {
    F_STRV("hmac_keys", struct cfg_wcs_auth, hmac_keys, 0, S),
    F_STRV("hmac_key_files", struct cfg_wcs_auth, hmac_key_files, 0, 0),
    F_STR("basic_user", struct cfg_wcs_auth, basic_user, 0),
    F_STR("basic_password", struct cfg_wcs_auth, basic_password, S),
    F_STR("basic_password_file", struct cfg_wcs_auth, basic_password_file, 0),
    F_STRV("allow_from", struct cfg_wcs_auth, allow_from, 0, 0),
    F_END,
};
static const struct group wcs_auth_group = {wcs_auth_fields, cfg_check_wcs_auth};

/* check_src: table */
static const struct field forward_fields[] = {
    F_STR("url", struct cfg_forward, url, RQ),
    F_STRV("methods", struct cfg_forward, methods, 0, RQ),
    F_INT("timeout_ms", struct cfg_forward, timeout_ms, 100, 60000, 5000, 0),
    F_INT("queue_max", struct cfg_forward, queue_max, 1, 1000000, 10000, 0),
    F_INT("retries", struct cfg_forward, retries, 0, 10, 3, 0),
    F_END,
};
static const struct group forward_group = {forward_fields, cfg_check_forward};

/* check_src: table */
static const struct field cdr_fields[] = {
    F_STR("file", struct cfg_cdr, file, RQ | NE),
    F_END,
};
static const struct group cdr_group = {cdr_fields, cfg_check_cdr};

/* check_src: table */
static const struct field hook_fields[] = {
    F_STRV_DEF("listen", struct cfg_hook, listen, LM, default_listen, 0),
    F_INT("max_body_bytes", struct cfg_hook, max_body_bytes, 1024, 64 << 20, 1 << 20, 0),
    F_INT("request_timeout_s", struct cfg_hook, request_timeout_s, 1, 300, 10, 0),
    F_INT("max_sessions", struct cfg_hook, max_sessions, 1, 10000000, 100000, 0),
    F_INT("session_ttl_s", struct cfg_hook, session_ttl_s, 60, 30 * 86400, 86400, 0),
    F_INT("threads", struct cfg_hook, threads, 0, 256, 0, 0),
    F_INT("max_json_depth", struct cfg_hook, max_json_depth, 2, 512, 32, 0),
    F_INT("max_members", struct cfg_hook, max_members, 8, 100000, 1000, 0),
    F_INT("max_connections", struct cfg_hook, max_connections, 1, 100000, 4096, 0),
    F_INT("max_connections_per_ip", struct cfg_hook, max_connections_per_ip, 0, 100000, 0, 0),
    F_STR("rest_client_config", struct cfg_hook, rest_client_config, 0),
    F_GROUP_OPT("wcs_auth", struct cfg_hook, wcs_auth, has_wcs_auth, wcs_auth_group, 0),
    F_GROUP("tls", struct cfg_hook, tls, tls_group, 0),
    F_LIST("forward", struct cfg_hook, forward, n_forward, forward_group, struct cfg_forward, 0),
    F_GROUP_OPT("cdr", struct cfg_hook, cdr, has_cdr, cdr_group, 0),
    F_END,
};
const struct group cfg_hook_group = {hook_fields, cfg_check_hook};

/* check_src: table */
static const struct field sip_fields[] = {
    F_STR("login", struct cfg_sip_account, login, RQ),
    F_STR("auth_name", struct cfg_sip_account, auth_name, 0),
    F_STR("password", struct cfg_sip_account, password, S),
    F_STR("password_file", struct cfg_sip_account, password_file, 0),
    F_STR("domain", struct cfg_sip_account, domain, 0),
    F_STR("outbound_proxy", struct cfg_sip_account, outbound_proxy, 0),
    F_INT("port", struct cfg_sip_account, port, 0, 65535, 0, 0),
    F_BOOL("register_required", struct cfg_sip_account, register_required, 0, 0),
    F_END,
};
static const struct group sip_group = {sip_fields, cfg_check_sip};

/* check_src: table */
static const struct field token_fields[] = {
    F_STR("secret_file", struct cfg_token, secret_file, RQ),
    F_BOOL("required", struct cfg_token, required, 1, 0),
    F_INT("max_age_s", struct cfg_token, max_age_s, 1, 86400, 300, 0),
    F_INT("leeway_s", struct cfg_token, leeway_s, 0, 600, 30, 0),
    F_STR("audience", struct cfg_token, audience, 0),
    F_STR("(secret)", struct cfg_token, secret, S | CFG_INTERNAL),
    F_END,
};
static const struct group token_group = {token_fields, cfg_check_token};

/* check_src: table */
static const struct field site_limit_fields[] = {
    F_INT("connects_per_minute_per_ip", struct cfg_site_limits, connects_per_minute_per_ip, 0, 1000000, 10, 0),
    F_INT("calls_per_minute_per_ip", struct cfg_site_limits, calls_per_minute_per_ip, 0, 1000000, 3, 0),
    F_INT("calls_per_session", struct cfg_site_limits, calls_per_session, 0, 1000000, 3, 0),
    F_INT("calls_per_minute", struct cfg_site_limits, calls_per_minute, 0, 1000000, 30, 0),
    F_INT("concurrent_calls", struct cfg_site_limits, concurrent_calls, 0, 1000000, 10, 0),
    F_INT("call_max_s", struct cfg_site_limits, call_max_s, 60, 86400, 7200, 0),
    F_INT("ipv6_prefix", struct cfg_site_limits, ipv6_prefix, 32, 128, 64, CFG_PREFIXLEN),
    F_END,
};
static const struct group site_limits_group = {site_limit_fields, NULL};

/* check_src: table */
static const struct field hours_fields[] = {
    F_STR("tz", struct cfg_hours, tz, RQ | NE),
    F_STRV("open", struct cfg_hours, open, 64, RQ),
    F_STRV("closed", struct cfg_hours, closed, 1000, 0),
    F_END,
};
static const struct group hours_group = {hours_fields, NULL}; /* the entries: hook_compile (pol_hours_compile) */

/* A button's first setting is what the shorthand `name = "callee";` sets. */
/* check_src: table */
static const struct field button_fields[] = {
    F_STR("(name)", struct cfg_button, name, CFG_INTERNAL),
    F_STR("callee", struct cfg_button, callee, NE),
    F_STR("visible_name", struct cfg_button, visible_name, 0),
    F_MAP("invite_parameters", struct cfg_button, invite_parameters, 0),
    F_GROUP_OPT("hours", struct cfg_button, hours, has_hours, hours_group, 0),
    F_END,
};
static const struct group button_group = {button_fields, cfg_check_button};

/* check_src: table */
static const struct field site_fields[] = {
    F_STR("name", struct cfg_site, name, RQ),
    F_STRV("origins", struct cfg_site, origins, 0, 0),
    F_STR("domain", struct cfg_site, domain, 0),
    F_GROUP("sip", struct cfg_site, sip, sip_group, RQ),
    F_STR("callee", struct cfg_site, callee, NE),
    F_NAMED("buttons", struct cfg_site, buttons, n_buttons, button_group, struct cfg_button, 0),
    F_GROUP_OPT("hours", struct cfg_site, hours, has_hours, hours_group, 0),
    F_BOOL("allow_transfer", struct cfg_site, allow_transfer, 0, 0),
    F_BOOL("allow_messages", struct cfg_site, allow_messages, 0, 0),
    F_GROUP_OPT("token", struct cfg_site, token, token.present, token_group, 0),
    F_GROUP("limits", struct cfg_site, limits, site_limits_group, CFG_DEFAULTS),
    F_END,
};
static const struct group site_group = {site_fields, cfg_check_site};

/* check_src: table */
static const struct field translation_fields[] = {
    F_STR("pattern", struct cfg_translation, pattern, RQ),
    F_STR("output", struct cfg_translation, output, RQ),
    F_END,
};
static const struct group translation_group = {translation_fields, NULL};

/* check_src: table */
static const struct field timer_fields[] = {
    F_INT("ring_timeout_s", struct cfg_orig_timers, ring_timeout_s, 1, 600, 45, 0),
    F_INT("refer_notify_timeout_s", struct cfg_orig_timers, refer_notify_timeout_s, 1, 300, 32, 0),
    F_INT("reinvite_timeout_s", struct cfg_orig_timers, reinvite_timeout_s, 1, 30, 10, 0),
    F_INT("max_call_s", struct cfg_orig_timers, max_call_s, 0, 7 * 86400, 7200, 0),
    F_INT("transaction_linger_ms", struct cfg_orig_timers, transaction_linger_ms, 0, 32000, 1500, 0),
    F_END,
};
static const struct group timer_group = {timer_fields, NULL};

/* check_src: table */
static const struct field orig_limit_fields[] = {
    F_INT("concurrent_calls", struct cfg_orig_limits, concurrent_calls, 0, 1000000, 50, 0),
    F_INT("calls_per_minute", struct cfg_orig_limits, calls_per_minute, 0, 10000000, 60, 0),
    F_INT("calls_per_minute_per_initiator", struct cfg_orig_limits, calls_per_minute_per_initiator, 0, 1000000, 5, 0),
    F_INT("calls_per_hour_per_destination", struct cfg_orig_limits, calls_per_hour_per_destination, 0, 10000, 10, 0),
    F_INT("distinct_destinations_per_hour_per_initiator", struct cfg_orig_limits, distinct_destinations_per_hour_per_initiator, 0, 10000, 100, 0),
    F_END,
};
static const struct group orig_limits_group = {orig_limit_fields, NULL};

/* check_src: table */
static const struct field orig_http_fields[] = {
    F_STRV("listen", struct cfg_orig_http, listen, LM, R),
    F_STR_DEF("user", struct cfg_orig_http, user, "admin", NULL, NE),
    F_STR("password", struct cfg_orig_http, password, S),
    F_STR("password_file", struct cfg_orig_http, password_file, 0),
    F_STR_DEF("digest_algorithm", struct cfg_orig_http, digest_algorithm, "SHA-256", digest_algos, 0),
    F_STR_DEF("auth", struct cfg_orig_http, auth, "digest", http_auths, 0),
    F_GROUP("tls", struct cfg_orig_http, tls, tls_group, R),
    F_END,
};
static const struct group orig_http_group = {orig_http_fields, cfg_check_orig_http};

/* check_src: table */
static const struct field orig_xml_fields[] = {
    F_STRV("listen", struct cfg_orig_xml, listen, LM, R),
    F_STRV_DEF("allow_from", struct cfg_orig_xml, allow_from, 0, default_xml_allow, 0),
    F_INT("max_connections", struct cfg_orig_xml, max_connections, 1, 100000, 256, R),
    F_END,
};
static const struct group orig_xml_group = {orig_xml_fields, cfg_check_orig_xml};

/* check_src: table */
static const struct field orig_aa_fields[] = {
    F_STRV("initiators", struct cfg_orig_auto_answer, initiators, 1000, 0),
    F_STR_DEF("header", struct cfg_orig_auto_answer, header, "call-info", aa_headers, 0),
    F_END,
};
static const struct group orig_aa_group = {orig_aa_fields, NULL}; /* the patterns: orig_snap_build */

/* check_src: table */
static const struct field orig_headers_fields[] = {
    F_STRV("allow", struct cfg_orig_headers, allow, 1000, 0),
    F_END,
};
static const struct group orig_headers_group = {orig_headers_fields, NULL}; /* the patterns: orig_snap_build */

/* check_src: table */
static const struct field orig_cid_leg_fields[] = {
    F_STR("display", struct cfg_orig_cid_leg, display, 0),
    F_STR("from", struct cfg_orig_cid_leg, from, 0),
    F_STR("user", struct cfg_orig_cid_leg, user, 0),
    F_STR("p_asserted_identity", struct cfg_orig_cid_leg, p_asserted_identity, 0),
    F_STR("privacy", struct cfg_orig_cid_leg, privacy, 0),
    F_END,
};
static const struct group orig_cid_leg_group = {orig_cid_leg_fields, cfg_check_cid_leg};

/* check_src: table */
static const struct field orig_cid_fields[] = {
    F_GROUP("initiator", struct cfg_orig_caller_id, initiator, orig_cid_leg_group, CFG_DEFAULTS),
    F_GROUP("destination", struct cfg_orig_caller_id, destination, orig_cid_leg_group, CFG_DEFAULTS),
    F_END,
};
static const struct group orig_cid_group = {orig_cid_fields, NULL};

/* Groups flattened into struct cfg_originator (offsets relative to it). */
/* check_src: table */
static const struct field orig_auth_fields[] = {
    F_STR("user", struct cfg_originator, auth_user, RQ | R),
    F_STR("password", struct cfg_originator, auth_password, S | R),
    F_STR("password_file", struct cfg_originator, auth_password_file, 0),
    F_END,
};
static const struct group orig_auth_group = {orig_auth_fields, cfg_check_orig_auth};

/* check_src: table */
static const struct field orig_dest_fields[] = {
    F_STRV_OPT("allow", struct cfg_originator, dest_allow, has_dest_allow, 0),
    F_STRV("deny", struct cfg_originator, dest_deny, 0, 0),
    F_END,
};
static const struct group orig_dest_group = {orig_dest_fields, NULL};

/* check_src: table */
static const struct field orig_cb_fields[] = {
    F_STRV("allow", struct cfg_originator, callbacks_allow, 0, 0),
    F_END,
};
static const struct group orig_cb_group = {orig_cb_fields, cfg_check_orig_callbacks};

/* check_src: table */
static const struct field orig_fields[] = {
    F_STR("identity", struct cfg_originator, identity, RQ | R),
    F_STR_DEF("listen", struct cfg_originator, listen, "sip:0.0.0.0:5072", NULL, R),
    F_STR("tls_listen", struct cfg_originator, tls_listen, R),
    F_STR("tls_certificate_dir", struct cfg_originator, tls_certificate_dir, R),
    F_BOOL("tls_verify", struct cfg_originator, tls_verify, 1, R),
    F_STR("outbound_proxy", struct cfg_originator, outbound_proxy, R),
    F_FLAT_OPT("auth", struct cfg_originator, has_auth, orig_auth_group, CFG_RESTART_PRESENCE),
    F_LIST("translations", struct cfg_originator, translations, n_translations, translation_group, struct cfg_translation, RQ),
    F_FLAT("destinations", orig_dest_group, 0),
    F_GROUP("timers", struct cfg_originator, timers, timer_group, CFG_DEFAULTS | R),
    F_GROUP("limits", struct cfg_originator, limits, orig_limits_group, CFG_DEFAULTS),
    F_GROUP_OPT("http", struct cfg_originator, http, has_http, orig_http_group, CFG_RESTART_PRESENCE),
    F_GROUP_OPT("xml", struct cfg_originator, xml, has_xml, orig_xml_group, CFG_RESTART_PRESENCE),
    F_FLAT("callbacks", orig_cb_group, 0),
    F_INT("keep_ended_s", struct cfg_originator, keep_ended_s, 0, 7 * 86400, 3600, 0),
    F_GROUP("auto_answer", struct cfg_originator, auto_answer, orig_aa_group, CFG_DEFAULTS),
    F_GROUP("headers", struct cfg_originator, headers, orig_headers_group, CFG_DEFAULTS),
    F_GROUP_OPT("cdr", struct cfg_originator, cdr, has_cdr, cdr_group, 0),
    F_GROUP("caller_id", struct cfg_originator, caller_id, orig_cid_group, CFG_DEFAULTS),
    F_END,
};
static const struct group orig_group = {orig_fields, cfg_check_orig};

/* check_src: table */
static const struct field admin_fields[] = {
    F_STRV("listen", struct cfg_admin, listen, LM, R),
    F_GROUP("tls", struct cfg_admin, tls, tls_group, R),
    F_END,
};
static const struct group admin_group = {admin_fields, cfg_check_admin};

/* check_src: table */
static const struct field redis_tls_fields[] = {
    F_STR("ca_file", struct cfg_store_redis_tls, ca_file, 0),
    F_STR("server_name", struct cfg_store_redis_tls, server_name, 0),
    F_END,
};
static const struct group redis_tls_group = {redis_tls_fields, NULL};

/* check_src: table */
static const struct field redis_fields[] = {
    F_STR("address", struct cfg_store_redis, address, 0),
    F_STR("unix", struct cfg_store_redis, unix_path, 0),
    F_STRV("sentinels", struct cfg_store_redis, sentinels, 0, 0),
    F_STR_DEF("master_name", struct cfg_store_redis, master_name, "callhook", NULL, 0),
    F_INT("db", struct cfg_store_redis, db, 0, 15, 0, 0),
    F_STR_DEF("prefix", struct cfg_store_redis, prefix, "callhook:", NULL, 0),
    F_STR("user", struct cfg_store_redis, user, 0),
    F_STR("(password)", struct cfg_store_redis, password, S | CFG_INTERNAL),
    F_STR("password_file", struct cfg_store_redis, password_file, 0),
    F_GROUP_OPT("tls", struct cfg_store_redis, tls, has_tls, redis_tls_group, 0),
    F_INT("connect_timeout_ms", struct cfg_store_redis, connect_timeout_ms, 10, 10000, 200, 0),
    F_INT("timeout_ms", struct cfg_store_redis, timeout_ms, 5, 5000, 50, 0),
    F_END,
};
static const struct group redis_group = {redis_fields, NULL};

/* check_src: table */
static const struct field store_fields[] = {
    F_STR_DEF("backend", struct cfg_store, backend, "memory", store_backends, 0),
    F_GROUP("redis", struct cfg_store, redis, redis_group, CFG_DEFAULTS),
    F_STR_DEF("on_unavailable", struct cfg_store, on_unavailable, "fail_closed", store_modes, 0),
    F_INT("fail_open_share", struct cfg_store, fail_open_share_pm, 0, 1000, 500, CFG_PERMILLE),
    F_END,
};
static const struct group store_group = {store_fields, cfg_check_store};

/* check_src: table */
static const struct field top_fields[] = {
    F_GROUP("log", struct cfg, log, log_group, CFG_DEFAULTS),
    F_GROUP_OPT("hook", struct cfg, hook, has_hook, cfg_hook_group, CFG_RESTART_PRESENCE),
    F_GROUP("store", struct cfg, store, store_group, CFG_DEFAULTS | R),
    F_LIST("sites", struct cfg, sites, n_sites, site_group, struct cfg_site, 0),
    F_GROUP_OPT("originator", struct cfg, orig, has_originator, orig_group, CFG_RESTART_PRESENCE),
    F_GROUP_OPT("admin", struct cfg, admin, has_admin, admin_group, CFG_RESTART_PRESENCE),
    F_STR("pid_file", struct cfg, pid_file, 0),
    F_INT("shutdown_grace_s", struct cfg, shutdown_grace_s, 0, 600, 10, 0),
    F_END,
};
const struct group cfg_top_group = {top_fields, cfg_check_top};
/* clang-format on */
