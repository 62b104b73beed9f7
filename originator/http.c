/* originator/http.c: the originator's HTTP listener (libmicrohttpd): Digest auth on every path, the clicktocall.html
 * page and the /v1/calls JSON API. */
#include "originator/http.h"

#include "common/common.h"

#include "originator/callback.h"

#include "web/web.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#define REALM           "callhook originator"
#define NONCE_TIMEOUT_S 300u
#define NONCE_NC_SIZE   1024u
#define BODY_MAX        (16 * 1024)

struct hl {
	int fd; /* until web/ takes it */
	char text[80];
	struct web_listener *l;
};

struct orig_http {
	struct hl *l;
	size_t n;
	struct orig_svc *v;
	unsigned char rnd[32]; /* nonce key for MHD; lives as long as the daemons */
	char opaque[33];
	char *tls_cert; /* PEM text, or NULL */
	char *tls_key;  /* secret */
};

struct req {
	bool responded;
	bool too_big;
	struct ch_buf body;
	char user[256]; /* who authenticated (for the call record) */
};

/* The call record's view of the client: its address and who it authenticated as. */
static void place_client(struct MHD_Connection *c, const struct req *r, struct orig_place_req *rq, char *ip, size_t cap)
{
	web_peer_ip(c, ip, cap);
	rq->client_ip = ip[0] ? ip : NULL;
	rq->client_user = r->user[0] ? r->user : NULL;
}

/* ---- responses ----------------------------------------------------------------- */

static void common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *ctype, const char *data,
				size_t len, const char *allow, const char *location)
{
	const char *h[10] = {"Cache-Control", "no-store", "X-Content-Type-Options", "nosniff"};
	size_t n = 4;
	if (location) {
		h[n++] = "Location";
		h[n++] = location;
	}
	if (strncmp(ctype, "text/html", 9) == 0) {
		h[n++] = "Content-Security-Policy";
		h[n++] = "default-src 'none'";
	}
	struct web_answer a = {
	    .status = status, .ctype = ctype, .body = data, .len = len, .allow = allow, .headers = h};
	return web_send(c, &a);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j, const char *allow,
				 const char *location)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return send_buf(c, 500, "application/json", WEB_LIT("{\"status\":500,\"reason\":\"out of memory\"}"),
				NULL, NULL);
	enum MHD_Result ret = send_buf(c, status, "application/json", s, strlen(s), allow, location);
	free(s);
	return ret;
}

static enum MHD_Result send_err(struct MHD_Connection *c, unsigned status, const char *reason, const char *allow)
{
	return send_json(c, status, json_pack("{s:i, s:s}", "status", (int)status, "reason", reason), allow, NULL);
}

/* ---- authentication ------------------------------------------------------------- */

static enum MHD_Result auth_fail(struct orig_http *h, struct MHD_Connection *c, const struct orig_snap *s, bool stale)
{
	static const char body[] = "{\"status\":401,\"reason\":\"authentication required\"}";
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	common_headers(r);
	MHD_add_response_header(r, "Content-Type", "application/json");
	enum MHD_Result ret;
	if (s->auth == ORIG_AUTH_BASIC)
		ret = MHD_queue_basic_auth_fail_response(c, REALM, r);
	else
		ret = MHD_queue_auth_fail_response2(c, REALM, h->opaque, r, stale ? MHD_YES : MHD_NO,
						    s->sha256 ? MHD_DIGEST_ALG_SHA256 : MHD_DIGEST_ALG_MD5);
	MHD_destroy_response(r);
	return ret;
}

/* true when the request carries valid credentials; *stale for an old nonce */
static bool auth_ok(struct MHD_Connection *c, const struct orig_snap *s, bool *stale)
{
	*stale = false;
	if (!s->http_password || !*s->http_password)
		return false;
	const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!authz)
		return false;
	if (s->auth == ORIG_AUTH_BASIC && strncasecmp(authz, "Basic ", 6) == 0) {
		char *pass = NULL;
		char *user = MHD_basic_auth_get_username_password(c, &pass);
		bool ok = user && pass && ch_ct_equal(user, strlen(user), s->http_user, strlen(s->http_user)) &&
			  ch_ct_equal(pass, strlen(pass), s->http_password, strlen(s->http_password));
		if (pass) {
			/* the password was ours or a guess: do not leave it in the heap */
			explicit_bzero(pass, strlen(pass));
			MHD_free(pass);
		}
		MHD_free(user);
		return ok;
	}
	if (strncasecmp(authz, "Digest ", 7) != 0)
		return false;
	int rc = MHD_digest_auth_check2(c, REALM, s->http_user, s->http_password, NONCE_TIMEOUT_S,
					s->sha256 ? MHD_DIGEST_ALG_SHA256 : MHD_DIGEST_ALG_MD5);
	if (rc == MHD_YES)
		return true;
	if (rc == MHD_INVALID_NONCE)
		*stale = true;
	return false;
}

/* ---- the HTML page ----------------------------------------------------------------- */

/* Appends that keep the first error in *e and then do nothing. */
static void add(struct ch_buf *b, int *e, const char *s)
{
	if (!*e)
		*e = ch_buf_adds(b, s);
}

static void add_esc(struct ch_buf *b, int *e, const char *s)
{
	if (!*e)
		*e = ch_buf_add_escaped(b, s);
}

/* A query argument as a C string; NULL when absent or when it holds a NUL. */
static const char *arg(struct MHD_Connection *c, const char *name, bool *bad)
{
	const char *v = NULL;
	size_t n = 0;
	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, &n) != MHD_YES || !v)
		return NULL;
	if (strlen(v) != n)
		*bad = true;
	return v;
}

/* The page's text: what was placed, or why not (status != 0). */
static int page_body(struct ch_buf *b, unsigned status, const char *ini, const char *dst, bool bad,
		     const struct orig_place_res *res)
{
	int e = 0;
	add(b, &e,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Click-to-call</title></head>\n<body>\n");
	char num[64];
	if (!status) {
		(void)ch_fmt(num, sizeof(num), "%llu", (unsigned long long)res->id);
		add(b, &e, "<h1>Call placed</h1>\n<p>Call ");
		add(b, &e, num);
		add(b, &e, ": calling <b>");
		add_esc(b, &e, ini);
		add(b, &e, "</b> (");
		add_esc(b, &e, res->tinit);
		add(b, &e, "), then connecting to <b>");
		add_esc(b, &e, dst);
		add(b, &e, "</b> (");
		add_esc(b, &e, res->tdest);
		add(b, &e, ").</p>\n");
	} else {
		(void)ch_fmt(num, sizeof(num), "%u", status);
		add(b, &e, "<h1>Call not placed</h1>\n<p>");
		add(b, &e, num);
		add(b, &e, ": ");
		add_esc(b, &e, res->reason);
		add(b, &e, "</p>\n");
		if (ini && !bad) {
			add(b, &e, "<p>Initiator: ");
			add_esc(b, &e, ini);
			add(b, &e, "</p>\n");
		}
		if (dst && !bad) {
			add(b, &e, "<p>Destination: ");
			add_esc(b, &e, dst);
			add(b, &e, "</p>\n");
		}
	}
	add(b, &e, "</body></html>\n");
	return e;
}

static enum MHD_Result page(struct orig_http *h, struct MHD_Connection *c, const struct req *r)
{
	bool bad = false;
	const char *ini = arg(c, "initiator", &bad);
	const char *dst = arg(c, "destination", &bad);
	const char *anc = arg(c, "anchor", &bad);
	const char *aa = arg(c, "auto_answer", &bad);
	struct orig_place_res res;
	memset(&res, 0, sizeof(res));
	unsigned status = 400;
	if (bad) {
		(void)ch_fmt(res.reason, sizeof(res.reason), "a parameter contains a NUL byte");
	} else if (!ini || !*ini || !dst || !*dst) {
		(void)ch_fmt(res.reason, sizeof(res.reason),
			     "missing parameter: initiator and destination are required");
	} else {
		struct orig_place_req rq = {
		    .initiator = ini,
		    .destination = dst,
		    .anchor = anc && strcasecmp(anc, "true") == 0,
		    .auto_answer = aa && strcasecmp(aa, "true") == 0,
		    .front = ORIG_FE_HTML,
		};
		char ip[64];
		place_client(c, r, &rq, ip, sizeof(ip));
		orig_svc_place(h->v, &rq, NULL, &res);
		status = (unsigned)orig_refusal_status(res.refusal);
	}
	struct ch_buf b;
	ch_buf_init(&b, 64 * 1024);
	enum MHD_Result ret;
	if (page_body(&b, status, ini, dst, bad, &res))
		ret = send_buf(c, 500, "text/plain; charset=utf-8", WEB_LIT("out of memory\n"), NULL, NULL);
	else
		ret = send_buf(c, status ? status : 200, "text/html; charset=utf-8", b.data, b.len, NULL, NULL);
	ch_buf_free(&b);
	return ret;
}

/* ---- the JSON API -------------------------------------------------------------------- */

static bool is_json_ctype(const char *ct)
{
	if (!ct || strncasecmp(ct, "application/json", 16) != 0)
		return false;
	return ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ';
}

/* The members a POST /v1/calls body may carry; any other is refused. */
/* check_src: table */
static const char *const call_members[] = {"initiator",       "destination", "anchor", "ring_timeout_s",
					   "status_callback", "auto_answer", "headers"};

static bool known_member(const char *key)
{
	for (size_t i = 0; i < sizeof(call_members) / sizeof(call_members[0]); i++) {
		if (strcmp(key, call_members[i]) == 0)
			return true;
	}
	return false;
}

/* A JSON string without an embedded NUL (C code reads it up to the first). */
static bool json_str_ok(const json_t *j)
{
	return json_is_string(j) && strlen(json_string_value(j)) == json_string_length(j);
}

/* "headers": {"X-CRM-Ticket": "48213", ...} into hv (names and values borrowed from j); the names and values
 * themselves are judged by orig_svc_place. NULL, or the reason. */
static const char *call_headers(json_t *jh, struct orig_place_hdr *hv, size_t cap, size_t *n, char *why, size_t wcap)
{
	*n = 0;
	if (!jh || json_is_null(jh))
		return NULL;
	if (!json_is_object(jh))
		return "headers must be an object of strings";
	if (json_object_size(jh) > cap) {
		(void)ch_fmt(why, wcap, "too many headers (at most %zu)", cap);
		return why;
	}
	const char *key;
	json_t *v;
	json_object_foreach(jh, key, v)
	{
		if (!json_str_ok(v)) {
			(void)ch_fmt(why, wcap, "header \"%.64s\" value must be a string", key);
			return why;
		}
		hv[*n].name = key;
		hv[*n].value = json_string_value(v);
		(*n)++;
	}
	return NULL;
}

/* The body's members checked one by one; NULL, or the reason (in why, or a literal). */
static const char *call_fields(struct orig_http *h, json_t *j, struct orig_place_req *rq, struct orig_place_hdr *hv,
			       char *why, size_t cap, unsigned *status)
{
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v)
	{
		if (!known_member(key)) {
			(void)ch_fmt(why, cap, "unknown member \"%.64s\"", key);
			return why;
		}
	}
	json_t *ji = json_object_get(j, "initiator"), *jd = json_object_get(j, "destination");
	json_t *ja = json_object_get(j, "anchor"), *jr = json_object_get(j, "ring_timeout_s");
	json_t *jc = json_object_get(j, "status_callback"), *jaa = json_object_get(j, "auto_answer");
	if (!json_is_string(ji) || !json_is_string(jd))
		return "initiator and destination are required strings";
	if (!json_str_ok(ji) || !json_str_ok(jd))
		return "a string contains a NUL character";
	if (ja && !json_is_boolean(ja))
		return "anchor must be true or false";
	if (jaa && !json_is_boolean(jaa))
		return "auto_answer must be true or false";
	size_t nh = 0;
	const char *hbad = call_headers(json_object_get(j, "headers"), hv, ORIG_EXTRA_HEADERS, &nh, why, cap);
	if (hbad)
		return hbad;
	if (jr &&
	    (!json_is_integer(jr) || json_integer_value(jr) < 1 || json_integer_value(jr) > ORIG_RING_TIMEOUT_MAX)) {
		(void)ch_fmt(why, cap, "ring_timeout_s must be an integer from 1 to %d", ORIG_RING_TIMEOUT_MAX);
		return why;
	}
	if (jc && !json_is_null(jc)) {
		if (!json_str_ok(jc))
			return "status_callback must be a URL string";
		struct orig_snap *s = orig_svc_snap_get(h->v);
		bool ok = orig_cb_url_allowed(json_string_value(jc), s->cb_allow, s->n_cb_allow);
		orig_svc_snap_put(h->v, s);
		if (!ok) {
			*status = 403;
			return "status_callback URL not allowed";
		}
	}
	*rq = (struct orig_place_req){
	    .initiator = json_string_value(ji),
	    .destination = json_string_value(jd),
	    .anchor = ja && json_is_true(ja),
	    .ring_timeout_s = jr ? (unsigned)json_integer_value(jr) : 0,
	    .status_callback = jc && json_is_string(jc) ? json_string_value(jc) : NULL,
	    .auto_answer = jaa && json_is_true(jaa),
	    .headers = hv,
	    .n_headers = nh,
	};
	return NULL;
}

static enum MHD_Result create_call(struct orig_http *h, struct MHD_Connection *c, struct req *r)
{
	if (r->too_big)
		return send_err(c, 413, "body too large", NULL);
	if (!is_json_ctype(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type")))
		return send_err(c, 415, "Content-Type must be application/json", NULL);
	json_error_t je;
	json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return send_err(c, 400, "body must be one JSON object", NULL);
	}
	enum MHD_Result ret;
	char why[160];
	unsigned status = 400;
	struct orig_place_req rq;
	struct orig_place_hdr hv[ORIG_EXTRA_HEADERS];
	const char *bad = call_fields(h, j, &rq, hv, why, sizeof(why), &status);
	if (bad) {
		ret = send_err(c, status, bad, NULL);
		goto out;
	}
	struct orig_place_res res;
	char ip[64];
	place_client(c, r, &rq, ip, sizeof(ip));
	rq.front = ORIG_FE_JSON;
	orig_svc_place(h->v, &rq, NULL, &res);
	if (res.refusal != ORIG_PLACED) {
		ret = send_err(c, (unsigned)orig_refusal_status(res.refusal), res.reason, NULL);
		goto out;
	}
	char loc[64];
	(void)ch_fmt(loc, sizeof(loc), "/v1/calls/%llu", (unsigned long long)res.id);
	ret = send_json(c, 202,
			json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)res.id, "state",
				  orig_state_name(ORIG_CALLING_INITIATOR), "translated_initiator", res.tinit,
				  "translated_destination", res.tdest),
			NULL, loc);
out:
	json_decref(j);
	return ret;
}

static enum MHD_Result one_call(struct orig_http *h, struct MHD_Connection *c, const char *method, const char *idtext)
{
	int64_t id;
	if (ch_parse_i64(idtext, strlen(idtext), 1, INT64_MAX, &id) != 0)
		return send_err(c, 404, "no such call", NULL);
	if (strcmp(method, "GET") == 0) {
		json_t *j = orig_svc_call_view(h->v, (uint64_t)id);
		if (!j)
			return send_err(c, 404, "no such call", NULL);
		return send_json(c, 200, j, NULL, NULL);
	}
	if (strcmp(method, "DELETE") == 0) {
		int rc = orig_svc_hangup(h->v, (uint64_t)id);
		switch (rc) {
		case 0:
			return send_json(c, 202, orig_svc_call_view(h->v, (uint64_t)id), NULL, NULL);
		case ENOENT:
			return send_err(c, 404, "no such call", NULL);
		case EALREADY:
			return send_err(c, 409, "call already ended", NULL);
		default:
			return send_err(c, 503, "originator unavailable", NULL);
		}
	}
	return send_err(c, 405, "method not allowed", "GET, DELETE");
}

static enum MHD_Result route(struct orig_http *h, struct MHD_Connection *c, const char *url, const char *method,
			     struct req *r)
{
	if (strcmp(url, "/clicktocall.html") == 0) {
		if (strcmp(method, "GET") != 0)
			return send_err(c, 405, "method not allowed", "GET");
		return page(h, c, r);
	}
	if (strcmp(url, "/v1/calls") == 0) {
		if (strcmp(method, "GET") == 0)
			return send_json(c, 200, orig_svc_calls_view(h->v), NULL, NULL);
		if (strcmp(method, "POST") == 0)
			return create_call(h, c, r);
		return send_err(c, 405, "method not allowed", "GET, POST");
	}
	if (strncmp(url, "/v1/calls/", 10) == 0)
		return one_call(h, c, method, url + 10);
	return send_err(c, 404, "not found", NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)version;
	struct orig_http *h = cls;
	struct req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		ch_buf_init(&r->body, BODY_MAX);
		*con_cls = r;
		/* authenticate before accepting any body */
		struct orig_snap *s = orig_svc_snap_get(h->v);
		bool stale;
		bool ok = auth_ok(c, s, &stale);
		enum MHD_Result ret = MHD_YES;
		if (!ok) {
			r->responded = true;
			ret = auth_fail(h, c, s, stale);
		} else {
			(void)ch_fmt(r->user, sizeof(r->user), "%s", s->http_user);
		}
		orig_svc_snap_put(h->v, s);
		return ret;
	}
	if (r->responded) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && ch_buf_add(&r->body, upload_data, *upload_size) != 0)
			r->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	r->responded = true;
	return route(h, c, url, method, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *r = *con_cls;
	if (!r)
		return;
	ch_buf_free(&r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

/* The digest nonce key and the opaque value, fresh for each start. */
static int http_random(struct orig_http *h)
{
	unsigned char op[16];
	if (getrandom(h->rnd, sizeof(h->rnd), 0) != (ssize_t)sizeof(h->rnd) ||
	    getrandom(op, sizeof(op), 0) != (ssize_t)sizeof(op))
		return EIO;
	for (size_t i = 0; i < sizeof(op); i++) {
		static const char hx[] = "0123456789abcdef";
		h->opaque[2 * i] = hx[op[i] >> 4];
		h->opaque[2 * i + 1] = hx[op[i] & 15];
	}
	h->opaque[32] = '\0';
	return 0;
}

int orig_http_prepare(const struct cfg *cfg, struct orig_http **out, struct cfg_error *err)
{
	const struct cfg_orig_http *hc = &cfg->orig.http;
	int rc = ENOMEM;
	struct orig_http *h = calloc(1, sizeof(*h));
	if (!h || !(h->l = calloc(hc->listen.n, sizeof(*h->l)))) {
		cfg_set_error(cfg, err, "originator.http", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < hc->listen.n; i++)
		h->l[i].fd = -1;
	h->n = hc->listen.n;
	rc = http_random(h);
	if (rc) {
		cfg_set_error(cfg, err, "originator.http", "no random bytes for digest nonces");
		goto out;
	}
	if (hc->tls.cert) {
		rc = web_tls_load(cfg, "originator.http.tls", &hc->tls, &h->tls_cert, &h->tls_key, err);
		if (rc)
			goto out;
	}
	*out = h;
	h = NULL;
out:
	orig_http_stop(h);
	return rc;
}

int orig_http_bind(struct orig_http *h, const struct cfg *cfg, struct cfg_error *err)
{
	const struct cfg_strv *ls = &cfg->orig.http.listen;
	for (size_t i = 0; i < h->n && i < ls->n; i++) {
		int rc = ch_listen_tcp(ls->v[i], true, &h->l[i].fd, h->l[i].text, sizeof(h->l[i].text));
		if (rc) {
			char path[64];
			(void)ch_fmt(path, sizeof(path), "originator.http.listen.[%zu]", i);
			cfg_set_error(cfg, err, path, "cannot listen on %s: %s", ls->v[i], strerror(rc));
			return rc;
		}
	}
	return 0;
}

int orig_http_run(struct orig_http *h, struct orig_svc *v, const struct cfg *cfg, struct cfg_error *err)
{
	h->v = v;
	const struct MHD_OptionItem digest[] = {
	    {MHD_OPTION_DIGEST_AUTH_RANDOM, (intptr_t)sizeof(h->rnd), h->rnd},
	    {MHD_OPTION_NONCE_NC_SIZE, NONCE_NC_SIZE, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct web_params p = {.name = "originator-http",
			       .handler = handler,
			       .arg = h,
			       .completed = completed,
			       .timeout_s = 30,
			       .max_conn = 256,
			       .per_ip = 64,
			       .cert = h->tls_cert,
			       .key = h->tls_key,
			       .extra = digest};
	for (size_t i = 0; i < h->n; i++) {
		p.listen_fd = h->l[i].fd;
		h->l[i].fd = -1; /* web_listen takes it, also when it fails */
		char path[64];
		(void)ch_fmt(path, sizeof(path), "originator.http.listen.[%zu]", i);
		p.cfg = cfg;
		p.path = path;
		if (web_listen(h->l[i].text, &p, &h->l[i].l, err) != 0)
			return EIO;
	}
	return 0;
}

void orig_http_stop(struct orig_http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n; i++) {
		web_stop(h->l[i].l); /* closes the listen socket it was given */
		if (h->l[i].fd >= 0)
			close(h->l[i].fd);
	}
	free(h->l);
	free(h->tls_cert);
	web_key_free(h->tls_key);
	explicit_bzero(h->rnd, sizeof(h->rnd));
	free(h);
}
