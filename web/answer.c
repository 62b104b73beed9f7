/* web/answer.c: answers (JSON errors, literal bodies), /healthz and /metrics in one place, TLS file loading. */
#include "web/web.h"

#include "common/common.h"
#include "common/metrics.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

enum MHD_Result web_send(struct MHD_Connection *c, const struct web_answer *a)
{
	enum MHD_ResponseMemoryMode mode = a->take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY;
	if (!a->body)
		mode = MHD_RESPMEM_PERSISTENT;
	struct MHD_Response *r = MHD_create_response_from_buffer(a->len, a->body ? (void *)a->body : (void *)"", mode);
	if (!r) {
		if (a->take)
			free((void *)a->body);
		return MHD_NO;
	}
	for (const char *const *h = a->headers; h && h[0]; h += 2)
		MHD_add_response_header(r, h[0], h[1]);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
	if (a->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, a->allow);
	if (a->close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(c, a->status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result web_reply(struct MHD_Connection *c, unsigned status, const char *ctype, const char *body, size_t len,
			  const char *allow)
{
	struct web_answer a = {.status = status, .ctype = ctype, .body = body, .len = len, .allow = allow};
	return web_send(c, &a);
}

char *web_error_body(unsigned status, const char *reason, size_t *len)
{
	json_t *o = json_pack("{s:i,s:s}", "status", (int)status, "reason", reason);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (s)
		*len = strlen(s);
	return s;
}

enum MHD_Result web_reply_error(struct MHD_Connection *c, unsigned status, const char *reason)
{
	size_t len;
	char *body = web_error_body(status, reason, &len);
	if (!body)
		return web_reply(c, 500, "application/json", WEB_LIT("{\"status\":500,\"reason\":\"out of memory\"}"),
				 NULL);
	struct web_answer a = {.status = status, .ctype = "application/json", .body = body, .len = len, .take = true};
	return web_send(c, &a);
}

/* ---- /healthz and /metrics ----------------------------------------------- */

enum web_hm web_hm_of(const char *url, const char *method)
{
	bool health = strcmp(url, "/healthz") == 0;
	if (!health && strcmp(url, "/metrics") != 0)
		return WEB_HM_NONE;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return WEB_HM_BAD_METHOD;
	return health ? WEB_HM_HEALTH : WEB_HM_METRICS;
}

enum MHD_Result web_serve_health_metrics(struct MHD_Connection *c, const char *url, const char *method, bool close,
					 enum web_hm *what)
{
	static const char metrics_type[] = "text/plain; version=0.0.4; charset=utf-8";
	struct web_answer a = {.status = 200, .ctype = "application/json", .close = close};
	size_t len = 0;
	*what = web_hm_of(url, method);
	switch (*what) {
	case WEB_HM_NONE:
		return MHD_YES;
	case WEB_HM_HEALTH:
		a.body = "{\"status\":\"ok\"}";
		a.len = strlen(a.body);
		break;
	case WEB_HM_METRICS:
		a.body = ch_metrics_render(&len);
		a.len = len;
		a.take = true;
		a.ctype = metrics_type;
		if (!a.body) {
			a.status = 500;
			a.ctype = "application/json";
			a.body = "{\"status\":500,\"reason\":\"out of memory\"}";
			a.len = strlen(a.body);
			a.take = false;
		}
		break;
	case WEB_HM_BAD_METHOD:
		a.status = 405;
		a.allow = "GET, HEAD";
		a.body = web_error_body(405, "use GET or HEAD", &a.len);
		a.take = true;
		if (!a.body)
			return MHD_NO;
		break;
	}
	return web_send(c, &a);
}

/* ---- TLS files ------------------------------------------------------------ */

/* "<what> \"<file>\": <why>" at path; file NULL: "<what>". */
static void tls_error(const struct cfg *cfg, struct cfg_error *err, const char *path, const char *what,
		      const char *file, const char *why)
{
	char msg[sizeof(err->msg)];
	if (file)
		ch_fmt(msg, sizeof(msg), "%s \"%s\": %s", what, file, why);
	else
		ch_fmt(msg, sizeof(msg), "%s", what);
	if (cfg) {
		cfg_set_error(cfg, err, path, "%s", msg);
		return;
	}
	memset(err, 0, sizeof(*err));
	ch_fmt(err->path, sizeof(err->path), "%s", path);
	ch_fmt(err->msg, sizeof(err->msg), "%s", msg);
}

int web_tls_load(const struct cfg *cfg, const char *path, const struct cfg_tls *t, char **cert, char **key,
		 struct cfg_error *err)
{
	char p[96];
	if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		tls_error(cfg, err, path, "libmicrohttpd was built without TLS", NULL, NULL);
		return ENOTSUP;
	}
	char *c = NULL, *k = NULL;
	size_t len;
	ch_fmt(p, sizeof(p), "%s.cert", path);
	int rc = ch_read_file(t->cert, WEB_TLS_FILE_MAX, &c, &len);
	if (rc) {
		tls_error(cfg, err, p, "cannot read", t->cert, strerror(rc));
		return EINVAL;
	}
	bool warn = false;
	const char *why = NULL;
	const char *kf = t->key ? t->key : t->cert;
	ch_fmt(p, sizeof(p), "%s.key", path);
	rc = ch_read_secret_file(kf, cfg ? cfg->dir : NULL, WEB_TLS_FILE_MAX, &k, &warn, &why);
	if (rc) {
		free(c);
		tls_error(cfg, err, p, "cannot use", kf, why ? why : strerror(rc));
		return EINVAL;
	}
	if (warn)
		ch_warn("%s: %s is readable by its group (chmod 0600 recommended)", p, kf);
	*cert = c;
	*key = k;
	return 0;
}

void web_key_free(char *key)
{
	if (!key)
		return;
	explicit_bzero(key, strlen(key));
	free(key);
}
