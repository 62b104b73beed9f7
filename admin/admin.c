/* admin/admin.c: the admin listener: /healthz and /metrics on admin.listen, through web/. */
#include "admin/admin.h"
#include "common/common.h"

#include "web/web.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct admin {
	struct web_listener **l;
	size_t n;
	char *cert;
	char *key;
};

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	if (!*con_cls) {
		*con_cls = (void *)(uintptr_t)1; /* answer after the (ignored) body */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	enum web_hm what;
	enum MHD_Result ret = web_serve_health_metrics(c, url, method, false, &what);
	if (what == WEB_HM_NONE)
		return web_reply_error(c, 404, "not found: use /healthz or /metrics");
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	*con_cls = NULL;
}

int admin_start(const struct cfg *cfg, struct admin **out, struct cfg_error *err)
{
	int rc = ENOMEM;
	struct admin *a = calloc(1, sizeof(*a));
	if (!a || !(a->l = calloc(cfg->admin.listen.n ? cfg->admin.listen.n : 1, sizeof(*a->l)))) {
		cfg_set_error(cfg, err, "admin", "out of memory");
		goto out;
	}
	if (cfg->admin.tls.cert) {
		rc = web_tls_load(cfg, "admin.tls", &cfg->admin.tls, &a->cert, &a->key, err);
		if (rc)
			goto out;
	}
	struct web_params p = {.name = "admin",
			       .handler = on_admin,
			       .completed = on_done,
			       .threads = 1,
			       .timeout_s = 10,
			       .max_conn = 64,
			       .listen_fd = -1,
			       .cert = a->cert,
			       .key = a->key,
			       .cfg = cfg};
	for (size_t i = 0; i < cfg->admin.listen.n; i++) {
		char path[48];
		(void)ch_fmt(path, sizeof path, "admin.listen.[%zu]", i);
		p.path = path;
		rc = web_listen(cfg->admin.listen.v[i], &p, &a->l[a->n], err);
		if (rc)
			goto out;
		a->n++;
	}
	*out = a;
	a = NULL;
	rc = 0;
out:
	admin_stop(a);
	return rc;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		web_stop(a->l[i]);
	free(a->l);
	free(a->cert);
	web_key_free(a->key);
	free(a);
}
