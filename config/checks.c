/* config/checks.c: the cross-field checks the table cannot say: pairs of settings, secret files, paths, listen lists.
 */
#include "config/config_int.h"

#include "common/common.h"
#include "common/sip_cid.h"
#include "common/sip_hdr.h"
#include "common/sip_uri.h"

#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- shared ------------------------------------------------------------ */

static int check_listen_list(struct loader *L, const config_setting_t *s, const char *path, const char *field,
			     const struct cfg_strv *v)
{
	const config_setting_t *ls = s ? config_setting_get_member(s, field) : NULL;
	if (v->n == 0)
		return cfg_fail_at(L, s, path, field, "at least one listen address is required");
	for (size_t i = 0; i < v->n; i++) {
		char epath[CFG_PATH + 16];
		snprintf(epath, sizeof(epath), "%s.%s.[%zu]", path, field, i);
		if (ch_parse_listen(v->v[i], NULL, NULL) != 0)
			return cfg_fail(L, ls ? config_setting_get_elem(ls, (unsigned)i) : s, epath,
					"\"%s\" is not host:port (IPv4, [IPv6] or localhost; port 0-65535)", v->v[i]);
	}
	return 0;
}

/* Read a secret file (relative to the config's directory or $CREDENTIALS_DIRECTORY). */
static int read_secret(struct loader *L, const config_setting_t *fs, const char *fpath, const char *file, char **out)
{
	bool warn;
	const char *why;
	char *data = NULL;
	int err = ch_read_secret_file(file, L->cfg->dir, SECRET_MAX, &data, &warn, &why);
	if (err)
		return cfg_fail(L, fs, fpath, "cannot use \"%s\": %s", file, why ? why : strerror(err));
	if (warn)
		cfg_add_warning(L, fs, fpath, "secret file is readable by its group (chmod 0600 recommended)");
	*out = data;
	return 0;
}

/* Resolve "x" / "x_file" pairs: exactly one may be set; the file is read as a secret. */
static int resolve_secret(struct loader *L, const config_setting_t *s, const char *path, const char *name, char **value,
			  const char *file, bool required)
{
	char fpath[CFG_PATH], fname[96];
	snprintf(fname, sizeof(fname), "%s_file", name);
	if (*value && file)
		return cfg_fail_at(L, s, path, fname, "set either %s or %s, not both", name, fname);
	if (file) {
		cfg_child_path(fpath, sizeof(fpath), path, fname);
		return read_secret(L, config_setting_get_member(s, fname), fpath, file, value);
	}
	if (!*value && required) {
		cfg_child_path(fpath, sizeof(fpath), path, name);
		return cfg_fail(L, s, fpath, "required: set %s or %s", name, fname);
	}
	return 0;
}

/* A path relative to the config file's directory becomes absolute; NULL stays NULL. */
static int resolve_path(struct loader *L, char **p)
{
	if (!*p || (*p)[0] == '/')
		return 0;
	size_t n = strlen(L->cfg->dir) + strlen(*p) + 2;
	char *full = malloc(n);
	if (!full)
		return ENOMEM;
	snprintf(full, n, "%s/%s", L->cfg->dir, *p);
	free(*p);
	*p = full;
	return 0;
}

/* A plain name: letters, digits, '_', '-', '.', 1..64 bytes. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

static bool http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* The RFC 3261 grammar (common/sip_uri.c) for identities and proxies; a listen URI may use port 0 or host '*'
 * (Sofia's "any"), which the grammar refuses, so it gets the scheme check only. */
static bool sip_uri_ok(const char *s, bool listen)
{
	if (listen)
		return (strncmp(s, "sip:", 4) == 0 && s[4]) || (strncmp(s, "sips:", 5) == 0 && s[5]);
	return ch_sip_uri_ok(s);
}

/* ---- the hook ---------------------------------------------------------- */

int cfg_check_tls(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_tls *t = obj;
	if (!t->cert)
		return cfg_fail_at(L, s, path, "cert", "required when tls is set");
	if (!t->key)
		return cfg_fail_at(L, s, path, "key", "required when tls is set");
	return 0;
}

static int read_hmac_key_files(struct loader *L, struct cfg_wcs_auth *a, const config_setting_t *s, const char *path)
{
	const config_setting_t *list = config_setting_get_member(s, "hmac_key_files");
	for (size_t i = 0; i < a->hmac_key_files.n; i++) {
		char p[CFG_PATH + 32];
		snprintf(p, sizeof(p), "%s.hmac_key_files.[%zu]", path, i);
		const config_setting_t *fs = list ? config_setting_get_elem(list, (unsigned)i) : s;
		char *key = NULL;
		int err = read_secret(L, fs, p, a->hmac_key_files.v[i], &key);
		if (err)
			return err;
		err = cfg_strv_push(&a->hmac_keys, key);
		memset(key, 0, strlen(key));
		free(key);
		if (err)
			return err;
	}
	return 0;
}

int cfg_check_wcs_auth(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_wcs_auth *a = obj;
	int err = read_hmac_key_files(L, a, s, path);
	if (err)
		return err;
	for (size_t i = 0; i < a->hmac_keys.n; i++) {
		if (!a->hmac_keys.v[i][0]) {
			char p[CFG_PATH + 32];
			snprintf(p, sizeof(p), "%s.hmac_keys.[%zu]", path, i);
			return cfg_fail(L, s, p, "an HMAC key may not be empty");
		}
	}
	err = resolve_secret(L, s, path, "basic_password", &a->basic_password, a->basic_password_file, false);
	if (err)
		return err;
	if (a->basic_password && !a->basic_user)
		return cfg_fail_at(L, s, path, "basic_user", "required when basic_password is set");
	if (a->basic_user && !a->basic_password)
		return cfg_fail_at(L, s, path, "basic_password",
				   "required when basic_user is set (or basic_password_file)");
	if (a->basic_user && strchr(a->basic_user, ':'))
		return cfg_fail_at(L, s, path, "basic_user", "may not contain ':'");
	if (a->basic_user && a->hmac_keys.n)
		return cfg_fail_at(L, s, path, "basic_user",
				   "HMAC keys and Basic credentials both use the Authorization header: configure one");
	return 0;
}

int cfg_check_forward(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_forward *f = obj;
	if (!http_url(f->url))
		return cfg_fail_at(L, s, path, "url", "\"%s\" is not an http(s) URL", f->url);
	if (f->methods.n == 0)
		return cfg_fail_at(L, s, path, "methods", "list at least one WCS method");
	return 0;
}

int cfg_check_hook(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_hook *h = obj;
	int err = check_listen_list(L, s, path, "listen", &h->listen);
	if (err)
		return err;
	return resolve_path(L, &h->rest_client_config);
}

/* ---- sites ------------------------------------------------------------- */

int cfg_check_sip(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_sip_account *a = obj;
	return resolve_secret(L, s, path, "password", &a->password, a->password_file, false);
}

int cfg_check_token(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_token *t = obj;
	char p[CFG_PATH];
	cfg_child_path(p, sizeof(p), path, "secret_file");
	const config_setting_t *fs = config_setting_get_member(s, "secret_file");
	int err = read_secret(L, fs, p, t->secret_file, &t->secret);
	if (err)
		return err;
	t->secret_len = strlen(t->secret);
	if (t->secret_len < 32)
		return cfg_fail(L, fs, p, "the token secret must be at least 32 bytes (it has %zu)", t->secret_len);
	if (t->audience && (!t->audience[0] || strlen(t->audience) > 255))
		return cfg_fail_at(L, s, path, "audience", "must be 1 to 255 bytes");
	return 0;
}

/* The headers the SIP stack writes itself: a button may not set them. */
static const char *const sip_owned[] = {"Via",
					"From",
					"To",
					"Call-ID",
					"CSeq",
					"Contact",
					"Max-Forwards",
					"Content-Length",
					"Content-Type",
					"Route",
					"Record-Route",
					"Authorization",
					"Proxy-Authorization",
					"Expires",
					NULL};

/* RFC 3261 token: alphanum and -.!%*_+`'~ */
static bool sip_token(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("-.!%*_+`'~", *s)))
			return false;
	}
	return true;
}

/* Visible ASCII and spaces, not at either end: nothing that could end a header line. */
static bool header_value_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 256 || v[0] == ' ' || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return false;
	}
	return true;
}

static int check_invite_parameters(struct loader *L, const struct cfg_map *m, const config_setting_t *s,
				   const char *path)
{
	const config_setting_t *ms = s ? config_setting_get_member(s, "invite_parameters") : NULL;
	char mpath[CFG_PATH];
	cfg_child_path(mpath, sizeof(mpath), path, "invite_parameters");
	if (m->n > 16)
		return cfg_fail(L, ms, mpath, "has %zu headers; at most 16 are allowed", m->n);
	for (size_t i = 0; i < m->n; i++) {
		const config_setting_t *e = ms ? config_setting_get_member(ms, m->keys[i]) : NULL;
		char p[CFG_PATH + 80];
		snprintf(p, sizeof(p), "%s.%s", mpath, m->keys[i]);
		if (!sip_token(m->keys[i]))
			return cfg_fail(L, e, p, "not a SIP header name (an RFC 3261 token of at most 64 bytes)");
		for (size_t k = 0; sip_owned[k]; k++) {
			if (strcasecmp(m->keys[i], sip_owned[k]) == 0)
				return cfg_fail(L, e, p, "%s is written by the SIP stack; a button may not set it",
						sip_owned[k]);
		}
		for (size_t k = 0; k < i; k++) {
			if (strcasecmp(m->keys[i], m->keys[k]) == 0)
				return cfg_fail(L, e, p, "duplicate header (names are case-insensitive)");
		}
		if (!header_value_ok(m->vals[i]))
			return cfg_fail(L, e, p,
					"must be 1-256 bytes of visible ASCII and spaces (no CR, LF or other control "
					"characters, no space at either end)");
	}
	return 0;
}

int cfg_check_button(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_button *b = obj;
	if (!b->callee)
		return cfg_fail_at(L, s, path, "callee", "required setting is missing");
	if (b->visible_name) {
		size_t n = strlen(b->visible_name);
		if (n == 0 || n > 128 || strpbrk(b->visible_name, "\"\\"))
			return cfg_fail_at(L, s, path, "visible_name", "must be 1-128 bytes without '\"' or '\\'");
	}
	return check_invite_parameters(L, &b->invite_parameters, s, path);
}

/* One caller-id template: known variables only, and with sample user parts the result is what it must be. */
static int check_cid_tmpl(struct loader *L, const config_setting_t *s, const char *path, const char *name,
			  const char *tmpl, bool uri)
{
	if (!tmpl)
		return 0;
	struct ch_cid_vars sample = {.initiator_user = "1001", .destination_user = "9055551234"};
	char out[1024], where[80];
	switch (ch_cid_expand(tmpl, &sample, out, sizeof(out), where, sizeof(where))) {
	case CH_CID_OK:
		break;
	case CH_CID_UNKNOWN_VAR:
		return cfg_fail_at(L, s, path, name,
				   "unknown variable \"%s\" (known: ${initiator_user}, ${destination_user})", where);
	case CH_CID_BAD_VALUE:
	case CH_CID_TOO_LONG:
		return cfg_fail_at(L, s, path, name, "\"%s\" is too long", tmpl);
	}
	if (uri && !ch_sip_uri_ok(out))
		return cfg_fail_at(L, s, path, name, "\"%s\" can never be a SIP URI (it gives \"%s\")", tmpl, out);
	if (!uri && strcmp(name, "user") == 0 && !ch_cid_user_ok(out))
		return cfg_fail_at(L, s, path, name,
				   "\"%s\" can never be a SIP user part (1-128 letters, digits, + - _ . ! ~ * ' ( ))",
				   tmpl);
	if (!uri && strcmp(name, "display") == 0 && !ch_sip_display_ok(out))
		return cfg_fail_at(L, s, path, name,
				   "\"%s\" can never be a display name (printable ASCII, at most %d bytes)", tmpl,
				   CH_SIP_DISPLAY_MAX);
	return 0;
}

int cfg_check_cid_leg(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_orig_cid_leg *c = obj;
	int rc = check_cid_tmpl(L, s, path, "display", c->display, false);
	rc = rc ? rc : check_cid_tmpl(L, s, path, "from", c->from, true);
	rc = rc ? rc : check_cid_tmpl(L, s, path, "user", c->user, false);
	rc = rc ? rc : check_cid_tmpl(L, s, path, "p_asserted_identity", c->p_asserted_identity, true);
	if (!rc && c->privacy && !ch_cid_privacy_ok(c->privacy))
		rc = cfg_fail_at(
		    L, s, path, "privacy",
		    "\"%s\" is not a Privacy value (none, header, session, user, id, critical; ';' between)",
		    c->privacy);
	return rc;
}

int cfg_check_cdr(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_cdr *c = obj;
	(void)s;
	(void)path;
	return resolve_path(L, &c->file);
}

int cfg_check_site(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_site *site = obj;
	if (!name_ok(site->name))
		return cfg_fail_at(L, s, path, "name", "\"%s\" is not a name (1-64 letters, digits, '_', '-', '.')",
				   site->name);
	if (site->origins.n == 0 && !site->domain)
		return cfg_fail_at(L, s, path, "origins", "a site needs origins or domain");
	const config_setting_t *bs = s ? config_setting_get_member(s, "buttons") : NULL;
	for (size_t i = 0; i < site->n_buttons; i++) {
		if (!name_ok(site->buttons[i].name)) {
			char p[CFG_PATH + 80];
			snprintf(p, sizeof(p), "%s.buttons.%s", path, site->buttons[i].name);
			return cfg_fail(L, bs ? config_setting_get_member(bs, site->buttons[i].name) : s, p,
					"not a button name (1-64 letters, digits, '_', '-', '.')");
		}
	}
	if (!site->callee && site->n_buttons == 0)
		cfg_add_warning(L, s, path, "neither callee nor buttons: every call of this site is refused");
	return 0;
}

/* ---- the originator ---------------------------------------------------- */

int cfg_check_orig_http(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_orig_http *h = obj;
	int err = check_listen_list(L, s, path, "listen", &h->listen);
	if (err)
		return err;
	err = resolve_secret(L, s, path, "password", &h->password, h->password_file, true);
	if (err)
		return err;
	if (!h->password[0])
		return cfg_fail_at(L, s, path, h->password_file ? "password_file" : "password", "may not be empty");
	if (strcmp(h->auth, "basic") == 0 && !h->tls.cert)
		return cfg_fail_at(
		    L, s, path, "auth",
		    "\"basic\" sends the password in clear: it needs tls = { cert; key; } on this listener");
	return 0;
}

int cfg_check_orig_xml(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_orig_xml *x = obj;
	return check_listen_list(L, s, path, "listen", &x->listen);
}

int cfg_check_orig_auth(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_originator *o = obj;
	return resolve_secret(L, s, path, "password", &o->auth_password, o->auth_password_file, true);
}

/* A callback URL must start with one of these prefixes: each is an http(s) URL prefix. */
int cfg_check_orig_callbacks(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_originator *o = obj;
	const config_setting_t *list = s ? config_setting_get_member(s, "allow") : NULL;
	for (size_t i = 0; i < o->callbacks_allow.n; i++) {
		const char *p = o->callbacks_allow.v[i];
		if (http_url(p))
			continue;
		char epath[CFG_PATH + 16];
		snprintf(epath, sizeof(epath), "%s.allow.[%zu]", path, i);
		return cfg_fail(L, list ? config_setting_get_elem(list, (unsigned)i) : s, epath,
				"\"%s\" must start with https:// or http://", p);
	}
	return 0;
}

int cfg_check_orig(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_originator *o = obj;
	const struct {
		const char *name;
		const char *val;
		bool listen;
	} uris[] = {{"identity", o->identity, false},
		    {"listen", o->listen, true},
		    {"tls_listen", o->tls_listen, true},
		    {"outbound_proxy", o->outbound_proxy, false}};
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		if (uris[i].val && uris[i].val[0] && !sip_uri_ok(uris[i].val, uris[i].listen))
			return cfg_fail_at(L, s, path, uris[i].name, "\"%s\" is not a SIP URI", uris[i].val);
	}
	if (o->tls_listen && o->tls_listen[0] && !o->tls_certificate_dir) {
		char p[CFG_PATH];
		cfg_child_path(p, sizeof(p), path, "tls_certificate_dir");
		return cfg_fail(
		    L, config_setting_get_member(s, "tls_listen"), p,
		    "required with tls_listen: a directory with agent.pem (key and certificate) and cafile.pem");
	}
	int64_t linger = o->timers.transaction_linger_ms;
	if (linger > 0 && linger < 1000) {
		char tp[CFG_PATH];
		cfg_child_path(tp, sizeof(tp), path, "timers");
		return cfg_fail_at(L, config_setting_get_member(s, "timers"), tp, "transaction_linger_ms",
				   "%" PRId64
				   " ms would not absorb a 2xx retransmitted 0.5 s and 1.5 s after the first: "
				   "0 (RFC 3261's timers) or 1000 to 32000",
				   linger);
	}
	int err = resolve_path(L, &o->tls_certificate_dir);
	if (err)
		return err;
	if (o->n_translations == 0) {
		char p[CFG_PATH];
		cfg_child_path(p, sizeof(p), path, "translations");
		return cfg_fail(L, s, p, "at least one { pattern; output; } rule is required");
	}
	return 0;
}

/* ---- admin and the top level ------------------------------------------ */

int cfg_check_admin(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_admin *a = obj;
	return check_listen_list(L, s, path, "listen", &a->listen);
}

/* "host:port" with a port 1 to 65535 (IPv6 in brackets). */
static bool redis_addr_ok(const char *a)
{
	const char *c = strrchr(a, ':');
	if (!c || c == a || !c[1] || strlen(c + 1) > 5)
		return false;
	long port = 0;
	for (const char *p = c + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (*p - '0');
	}
	return port >= 1 && port <= 65535;
}

/* store: the Redis backend needs exactly one of address, unix and sentinels (each sentinel host:port, with a
 * master_name); tls goes with address only (a readable ca_file), not with unix or (not yet) with sentinels. */
int cfg_check_store(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg_store *st = obj;
	struct cfg_store_redis *r = &st->redis;
	const config_setting_t *rs = s ? config_setting_get_member(s, "redis") : NULL;
	char rp[CFG_PATH];
	cfg_child_path(rp, sizeof(rp), path, "redis");
	if (r->address && r->unix_path)
		return cfg_fail_at(L, rs, rp, "unix", "set either address or unix, not both");
	if (r->address && !redis_addr_ok(r->address))
		return cfg_fail_at(L, rs, rp, "address", "\"%s\" is not host:port", r->address);
	if (r->sentinels.n && (r->address || r->unix_path))
		return cfg_fail_at(L, rs, rp, "sentinels",
				   "set either sentinels (the master is asked of them) or address / unix, not both");
	for (size_t i = 0; i < r->sentinels.n; i++) {
		if (!redis_addr_ok(r->sentinels.v[i]))
			return cfg_fail_at(L, rs, rp, "sentinels", "\"%s\" is not host:port", r->sentinels.v[i]);
	}
	if (r->sentinels.n && (!r->master_name || !r->master_name[0] || strpbrk(r->master_name, " \t\r\n")))
		return cfg_fail_at(L, rs, rp, "master_name", "the master's name as the sentinels know it (no spaces)");
	if (r->sentinels.n > 16)
		return cfg_fail_at(L, rs, rp, "sentinels", "at most 16");
	if (r->has_tls && (r->unix_path || r->sentinels.n))
		return cfg_fail_at(L, rs, rp, "tls",
				   r->unix_path ? "TLS is for a TCP address, not a unix socket"
						: "TLS with sentinels is not yet supported: use address with tls");
	if (r->has_tls && r->tls.ca_file) {
		const config_setting_t *ts = rs ? config_setting_get_member(rs, "tls") : NULL;
		char tp[CFG_PATH];
		cfg_child_path(tp, sizeof(tp), rp, "tls");
		int err = resolve_path(L, &r->tls.ca_file);
		if (err)
			return err;
		if (access(r->tls.ca_file, R_OK) != 0)
			return cfg_fail_at(L, ts, tp, "ca_file", "cannot read %s: %s", r->tls.ca_file, strerror(errno));
	}
	if (r->password_file) {
		char fp[CFG_PATH];
		cfg_child_path(fp, sizeof(fp), rp, "password_file");
		int err = read_secret(L, rs ? config_setting_get_member(rs, "password_file") : NULL, fp,
				      r->password_file, &r->password);
		if (err)
			return err;
	}
	if (strcmp(st->backend, "redis") == 0 && !r->address && !r->unix_path && !r->sentinels.n)
		return cfg_fail_at(L, rs, rp, "address", "backend \"redis\" needs address, unix or sentinels");
	return 0;
}

int cfg_check_top(struct loader *L, void *obj, const config_setting_t *s, const char *path)
{
	struct cfg *c = obj;
	(void)path;
	if (c->n_sites && !c->has_hook) {
		/* sites alone imply the hook with its defaults */
		int err = cfg_load_group(L, NULL, &cfg_hook_group, &c->hook, "hook");
		if (err)
			return err;
		c->has_hook = true;
	}
	if (!c->has_hook && !c->has_originator)
		return cfg_fail(L, s, "", "nothing to do: configure hook and sites, or originator (or both)");
	for (size_t i = 0; i < c->n_sites; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->sites[i].name, c->sites[j].name) == 0) {
				char p[64];
				snprintf(p, sizeof(p), "sites.[%zu].name", i);
				return cfg_fail(L, cfg_lookup(L, p), p, "duplicate site name \"%s\"", c->sites[i].name);
			}
		}
	}
	if (c->has_hook && c->n_sites == 0)
		cfg_add_warning(L, s, "sites", "no sites: every connect is refused");
	return 0;
}
