/* main.c: callhook's entry point: arguments, config, wiring the hook and the originator, signals. */
#include "admin/admin.h"
#include "common/cdr.h"
#include "common/common.h"
#include "common/metrics.h"
#include "config/config.h"
#include "hook/hook.h"
#include "policy/policy.h"
#if defined(CALLHOOK_WITH_ORIGINATOR)
#include "originator/originator.h"
#endif

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the --help text, generated from docs/callhook.8.txt (the man page's source) */
#include "callhook_usage.h"

static void print_raise(const char *method, const char *field, const char *old_value, const char *new_value, void *arg)
{
	FILE *f = arg;
	if (f)
		fprintf(f, "restClientConfig: raised %s.%s: \"%s\" -> \"%s\"\n", method, field, old_value, new_value);
}

struct app {
	const char *path;
	struct cfg *cfg; /* borrowed from the hook runtime, or owned when no hook */
	struct hook *hook;
	struct hook_rt *rt;
	struct admin *admin;
#ifdef CALLHOOK_WITH_ORIGINATOR
	struct orig *orig;
#endif
};

static void apply_log(const struct cfg *c)
{
	enum ch_level lvl = CH_LOG_INFO;
	ch_log_level_parse(c->log.level, &lvl);
	ch_log_set_level(lvl);
	ch_log_set_format(strcmp(c->log.format, "json") == 0 ? CH_LOG_JSON : CH_LOG_TEXT);
}

static void add_secret(const char *secret, void *arg)
{
	(void)arg;
	ch_log_add_secret(secret);
}

static int load_all(const char *path, struct cfg **cfg, struct hook_rt **rt, FILE *notes)
{
	struct cfg_error err;
	char msg[1200];
	int rc = cfg_load(path, cfg, &err);
	if (rc) {
		cfg_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		return rc;
	}
	/* secrets are known from here on: redact them in every later line */
	cfg_each_secret(*cfg, add_secret, NULL);
	const struct cfg_strv *w = cfg_warnings(*cfg);
	for (size_t i = 0; i < w->n; i++)
		fprintf(stderr, "warning: %s\n", w->v[i]);
	*rt = NULL;
	if ((*cfg)->has_hook) {
		rc = hook_compile(*cfg, rt, &err, print_raise, notes);
		if (rc) {
			cfg_error_format(&err, msg, sizeof(msg));
			fprintf(stderr, "%s\n", msg);
			cfg_free(*cfg);
			*cfg = NULL;
			return rc;
		}
	}
	return 0;
}

static int run_check(const char *path)
{
	struct cfg *cfg;
	struct hook_rt *rt;
	if (load_all(path, &cfg, &rt, stdout))
		return 1;
	/* what the config will do: every setting from the table, secrets as *** */
	cfg_dump(cfg, stdout);
	printf("%s: configuration OK\n", path);
	if (rt)
		hook_rt_release(rt);
	else
		cfg_free(cfg);
	return 0;
}

/* The restart-only settings outside the originator (orig_reload reports its own). */
static void restart_presence(const char *path, enum cfg_change what, void *arg)
{
	bool *changed = arg;
	if (what != CFG_CHANGED && !strchr(path, '.'))
		*changed = true;
}

static void restart_warn(const char *path, enum cfg_change what, void *arg)
{
	(void)arg;
	if (what != CFG_CHANGED || strncmp(path, "originator.", 11) == 0)
		return;
	if (strncmp(path, "admin.", 6) == 0)
		ch_warn("reload: %s changed; it needs a restart (the admin listener stays as it is)", path);
	else
		ch_warn("reload: %s changed; it needs a restart (the running value stays)", path);
}

static void reload_result(bool ok)
{
	ch_metrics_add("callhook_reloads_total", ok ? "result=\"ok\"" : "result=\"failed\"", 1);
}

static void reload(struct app *a)
{
	struct cfg *cfg;
	struct hook_rt *rt;
	char err[512] = "";
	ch_info("reload: loading %s", a->path);
	if (load_all(a->path, &cfg, &rt, NULL)) {
		ch_err("reload: %s is invalid (see above); still running the previous configuration", a->path);
		reload_result(false);
		return;
	}
	bool presence = false;
	cfg_restart_changes(a->cfg, cfg, restart_presence, &presence);
	if (presence) {
		ch_err("reload: adding or removing the hook, originator or admin group needs a restart; "
		       "still running the previous configuration");
		goto drop;
	}
	cfg_restart_changes(a->cfg, cfg, restart_warn, NULL);
	/* read what is needed from the old config now: with a hook, hook_reload
	 * releases the old runtime, and the old config with it */
	struct cfg *old = a->cfg;
	bool same_file = (!cfg->log.file && !old->log.file) ||
			 (cfg->log.file && old->log.file && strcmp(cfg->log.file, old->log.file) == 0);
	bool old_has_orig = old->has_originator;
#ifdef CALLHOOK_WITH_ORIGINATOR
	/* the originator checks everything before it changes anything */
	if (a->orig && orig_reload(a->orig, cfg, err, sizeof(err)) != 0) {
		ch_err("reload: originator: %s; still running the previous configuration", err);
		goto drop;
	}
#endif
	if (a->hook && hook_reload(a->hook, rt, err, sizeof(err)) != 0) {
		/* the originator already took the new settings: say so plainly */
		ch_err("reload: %s; the hook keeps its previous configuration%s", err,
		       old_has_orig ? " (the originator has the new one)" : "");
		goto drop;
	}
	apply_log(cfg);
	if (!same_file && ch_log_open(cfg->log.file) != 0)
		ch_err("reload: log.file: cannot open %s; logging stays where it was", cfg->log.file);
	a->cfg = cfg;
	a->rt = rt;
	/* with a hook the old cfg belongs to the old runtime, released by hook_reload */
	if (!a->hook)
		cfg_free(old);
	ch_info("reload: %s loaded", a->path);
	reload_result(true);
	return;
drop:
	reload_result(false);
	if (rt)
		hook_rt_release(rt);
	else
		cfg_free(cfg);
}

static int write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : errno;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check", no_argument, NULL, 't'},
					     {"version", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *path = NULL;
	bool check = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("callhook %s\n", CALLHOOK_VERSION);
			return 0;
		case 'h':
			fputs(callhook_usage, stdout);
			return 0;
		default:
			fputs(callhook_usage, stderr);
			return 2;
		}
	}
	if (!path || optind != argc) {
		fputs(callhook_usage, stderr);
		return 2;
	}
	if (check)
		return run_check(path);

	/* every thread created from here inherits the mask; main takes signals with sigwait */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* once, before any thread: the hook's forwarder and the originator's callbacks share it */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("callhook: cannot initialise libcurl\n", stderr);
		return 1;
	}

	struct app a = {.path = path};
	if (load_all(path, &a.cfg, &a.rt, NULL))
		return 1;
	apply_log(a.cfg);
	if (a.cfg->log.file && ch_log_open(a.cfg->log.file) != 0) {
		fprintf(stderr, "%s: log.file: cannot open \"%s\": %s\n", path, a.cfg->log.file, strerror(errno));
		return 1;
	}
	char err[512] = "";
	int rc = 1;
	/* declared before any listener can count a request */
	hook_metrics_declare();
	if (a.rt) {
		if (hook_start(a.rt, &a.hook, err, sizeof(err)) != 0) {
			ch_err("%s", err);
			hook_rt_release(a.rt);
			return 1;
		}
	}
	if (a.cfg->has_admin && admin_start(a.cfg, &a.admin, err, sizeof(err)) != 0) {
		ch_err("%s", err);
		goto out;
	}
#ifdef CALLHOOK_WITH_ORIGINATOR
	if (a.cfg->has_originator && orig_start(a.cfg, &a.orig, err, sizeof(err)) != 0) {
		ch_err("originator: %s", err);
		goto out;
	}
#endif
	if (a.cfg->pid_file && write_pid_file(a.cfg->pid_file) != 0) {
		ch_err("pid_file: cannot write %s: %s", a.cfg->pid_file, strerror(errno));
		goto out;
	}
	ch_info("callhook ready (version %s, pid %ld)", CALLHOOK_VERSION, (long)getpid());
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&a);
		} else if (sig == SIGUSR1) {
			ch_cdr_reopen_all(); /* every call record file, at its next line */
			if (a.cfg->log.file && ch_log_open(a.cfg->log.file) != 0)
				ch_err("cannot reopen log file %s", a.cfg->log.file);
		} else {
			break;
		}
	}
	rc = 0;
	ch_info("stopping: finishing requests in flight (up to %lld s)", (long long)a.cfg->shutdown_grace_s);
out:;
	unsigned grace = (unsigned)a.cfg->shutdown_grace_s * 1000;
#ifdef CALLHOOK_WITH_ORIGINATOR
	orig_stop(a.orig, grace);
#endif
	admin_stop(a.admin);
	if (a.cfg->pid_file && rc == 0)
		unlink(a.cfg->pid_file);
	if (a.hook)
		hook_stop(a.hook, grace); /* frees the runtime and with it a.cfg */
	else if (a.rt)
		hook_rt_release(a.rt);
	else
		cfg_free(a.cfg);
	ch_info("stopped");
	curl_global_cleanup();
	return rc;
}
