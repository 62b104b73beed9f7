/* main.c: callhook's entry point: arguments, config, wiring the hook and the originator, signals. */
#include "common/cdr.h"
#include "admin/admin.h"
#include "common/common.h"
#include "common/metrics.h"
#include "config/config.h"
#include "hook/hook.h"
#include "originator/originator.h"

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
	struct orig *orig;
	sigset_t signals; /* the ones main takes with sigwait */
};

/* A config loaded and compiled for every module, nothing bound or swapped yet. */
struct prep {
	struct cfg *cfg; /* owned by rt when there is one */
	struct hook_rt *rt;
	struct orig_plan *plan;
};

static void prep_drop(struct prep *p)
{
	orig_plan_free(p->plan);
	if (p->rt)
		hook_rt_release(p->rt);
	else
		cfg_free(p->cfg);
	memset(p, 0, sizeof(*p));
}

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

static void print_error(const struct cfg_error *err)
{
	char msg[1200];
	cfg_error_format(err, msg, sizeof(msg));
	fprintf(stderr, "%s\n", msg);
}

/* Load path and prepare every part it configures (the hook's runtime, the
 * originator's plan): every pattern, file and address checked, nothing bound. */
static int load_all(const char *path, struct prep *out, FILE *notes)
{
	struct cfg_error err;
	struct prep p = {0};
	int rc = cfg_load(path, &p.cfg, &err);
	if (rc) {
		print_error(&err);
		return rc;
	}
	/* secrets are known from here on: redact them in every later line */
	cfg_each_secret(p.cfg, add_secret, NULL);
	const struct cfg_strv *w = cfg_warnings(p.cfg);
	for (size_t i = 0; i < w->n; i++)
		fprintf(stderr, "warning: %s\n", w->v[i]);
	if (p.cfg->has_hook)
		rc = hook_compile(p.cfg, &p.rt, &err, print_raise, notes);
	if (!rc && p.cfg->has_originator)
		rc = orig_prepare(p.cfg, &p.plan, &err);
	if (rc) {
		print_error(&err);
		prep_drop(&p);
		return rc;
	}
	*out = p;
	return 0;
}

static int run_check(const char *path)
{
	struct prep p;
	if (load_all(path, &p, stdout))
		return 1;
	/* what the config will do: every setting from the table, secrets as *** */
	cfg_dump(p.cfg, stdout);
	printf("%s: configuration OK\n", path);
	prep_drop(&p);
	return 0;
}

/* The restart-only settings outside the originator (orig_swap reports its own). */
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

/* Reload all or nothing: every part is prepared first, and only then does any
 * part change; a listener the hook cannot bind leaves both parts as they are. */
static void reload(struct app *a)
{
	struct prep p;
	struct cfg_error err;
	char msg[1400];
	ch_info("reload: loading %s", a->path);
	if (load_all(a->path, &p, NULL)) {
		ch_err("reload: %s is invalid (see above); still running the previous configuration", a->path);
		reload_result(false);
		return;
	}
	bool presence = false;
	cfg_restart_changes(a->cfg, p.cfg, restart_presence, &presence);
	if (presence) {
		ch_err("reload: adding or removing the hook, originator or admin group needs a restart; "
		       "still running the previous configuration");
		goto drop;
	}
	cfg_restart_changes(a->cfg, p.cfg, restart_warn, NULL);
	/* read what is needed from the old config now: with a hook, hook_reload
	 * releases the old runtime, and the old config with it */
	struct cfg *old = a->cfg;
	bool same_file = (!p.cfg->log.file && !old->log.file) ||
			 (p.cfg->log.file && old->log.file && strcmp(p.cfg->log.file, old->log.file) == 0);
	/* the one step that can still fail (a new hook address that does not bind) goes first */
	if (a->hook && hook_reload(a->hook, p.rt, &err) != 0) {
		cfg_error_format(&err, msg, sizeof(msg));
		ch_err("reload: %s; still running the previous configuration", msg);
		goto drop;
	}
	if (a->orig)
		orig_swap(a->orig, p.plan);
	p.plan = NULL;
	apply_log(p.cfg);
	if (!same_file && ch_log_open(p.cfg->log.file) != 0)
		ch_err("reload: log.file: cannot open %s; logging stays where it was", p.cfg->log.file);
	/* with a hook the old cfg belongs to the old runtime, released by hook_reload */
	if (!a->hook)
		cfg_free(old);
	a->cfg = p.cfg;
	a->rt = p.rt;
	ch_info("reload: %s loaded", a->path);
	reload_result(true);
	return;
drop:
	reload_result(false);
	prep_drop(&p);
}

static int write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : errno;
}

/* The options: -1 to go on with *path (and *check), else the exit status. */
static int parse_args(int argc, char **argv, const char **path, bool *check)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"check", no_argument, NULL, 't'},
					     {"version", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			*path = optarg;
			break;
		case 't':
			*check = true;
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
	if (!*path || optind != argc) {
		fputs(callhook_usage, stderr);
		return 2;
	}
	return -1;
}

/* Commit a prepared config: bind and start every part (p is taken). 0 or 1 (logged). */
static int start_all(struct app *a, struct prep *p)
{
	char msg[1400];
	struct cfg_error err;
	a->cfg = p->cfg;
	a->rt = p->rt;
	struct orig_plan *plan = p->plan;
	memset(p, 0, sizeof(*p));
	/* declared before any listener can count a request */
	hook_metrics_declare();
	if ((a->rt && hook_start(a->rt, &a->hook, &err) != 0) ||
	    (a->cfg->has_admin && admin_start(a->cfg, &a->admin, &err) != 0))
		goto fail_err;
	if (plan) {
		int rc = orig_start(a->cfg, plan, &a->orig, &err);
		plan = NULL; /* taken */
		if (rc)
			goto fail_err;
	}
	if (a->cfg->pid_file && write_pid_file(a->cfg->pid_file) != 0) {
		ch_err("pid_file: cannot write %s: %s", a->cfg->pid_file, strerror(errno));
		goto fail;
	}
	return 0;
fail_err:
	cfg_error_format(&err, msg, sizeof(msg));
	ch_err("%s", msg);
fail:
	orig_plan_free(plan);
	return 1;
}

/* Take signals until SIGTERM or SIGINT: SIGHUP reloads, SIGUSR1 reopens the log and the call record files. */
static void run(struct app *a)
{
	ch_info("callhook ready (version %s, pid %ld)", CALLHOOK_VERSION, (long)getpid());
	for (;;) {
		int sig = 0;
		if (sigwait(&a->signals, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(a);
		} else if (sig == SIGUSR1) {
			if (a->cfg->log.file && ch_log_open(a->cfg->log.file) != 0)
				ch_err("cannot reopen log file %s", a->cfg->log.file);
			ch_cdr_reopen_all(); /* every call record file, at its next line */
		} else {
			break;
		}
	}
	ch_info("stopping: finishing requests in flight (up to %lld s)", (long long)a->cfg->shutdown_grace_s);
}

/* Stop every part (the originator first: its calls end while the rest still runs) and free. */
static void app_free(struct app *a, bool remove_pid_file)
{
	unsigned grace = (unsigned)a->cfg->shutdown_grace_s * 1000;
	orig_stop(a->orig, grace);
	admin_stop(a->admin);
	if (a->cfg->pid_file && remove_pid_file)
		unlink(a->cfg->pid_file);
	if (a->hook)
		hook_stop(a->hook, grace); /* frees the runtime and with it a->cfg */
	else if (a->rt)
		hook_rt_release(a->rt);
	else
		cfg_free(a->cfg);
	ch_info("stopped");
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	bool check = false;
	int rc = parse_args(argc, argv, &path, &check);
	if (rc >= 0)
		return rc;
	if (check)
		return run_check(path);

	/* every thread created from here inherits the mask; main takes signals with sigwait */
	struct app a = {.path = path};
	sigemptyset(&a.signals);
	sigaddset(&a.signals, SIGHUP);
	sigaddset(&a.signals, SIGTERM);
	sigaddset(&a.signals, SIGINT);
	sigaddset(&a.signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &a.signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* once, before any thread: the hook's forwarder and the originator's callbacks share it */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("callhook: cannot initialise libcurl\n", stderr);
		return 1;
	}
	struct prep p;
	rc = 1;
	if (load_all(path, &p, NULL))
		goto out;
	apply_log(p.cfg);
	if (p.cfg->log.file && ch_log_open(p.cfg->log.file) != 0) {
		fprintf(stderr, "%s: log.file: cannot open \"%s\": %s\n", path, p.cfg->log.file, strerror(errno));
		prep_drop(&p);
		goto out;
	}
	rc = start_all(&a, &p);
	if (rc == 0)
		run(&a);
	app_free(&a, rc == 0);
out:
	curl_global_cleanup();
	return rc;
}
