/* admin/admin.h: the admin listener (admin.listen): GET/HEAD /healthz and /metrics, nothing else. */
#ifndef ADMIN_ADMIN_H
#define ADMIN_ADMIN_H

#include "config/config.h"

#include <stddef.h>

struct admin;

/* Bind every address of cfg->admin.listen (all of them: there is no cap) with
 * cfg->admin.tls when set, and serve /healthz and /metrics there (any other
 * path is 404, any other method 405). Logs "admin: listening on ADDR:PORT"
 * for each. cfg is borrowed for the call only. 0, or an errno value with a
 * message in err; *out written only on success. */
int admin_start(const struct cfg *cfg, struct admin **out, struct cfg_error *err);
/* Stop every listener and free. NULL-safe. */
void admin_stop(struct admin *a);

#endif
