/* tests/it/harness.c: daemon lifecycle and libcurl helpers for integration tests. */
#include "harness.h"

#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- run-wide log collection for the secrets-leak check (test_no_secret_in_logs.c) ----
 * With CH_TEST_LOG_DIR defined (tests/CMakeLists.txt), every daemon log and
 * every chd_run output is copied there before it is deleted, and the secrets
 * of every config the harness starts are appended to <prog>-<pid>.secrets
 * (NUL-separated), so the last ctest can grep all logs for all secrets. */
#ifdef CH_TEST_LOG_DIR
static void collect_file(const char *src, const char *kind)
{
	static unsigned seq;
	FILE *in = fopen(src, "rb");
	if (!in)
		return;
	mkdir(CH_TEST_LOG_DIR, 0700);
	char dst[512];
	snprintf(dst, sizeof(dst), "%s/%s-%ld-%u-%s.log", CH_TEST_LOG_DIR, program_invocation_short_name,
		 (long)getpid(), seq++, kind);
	int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
			if (write(fd, buf, n) != (ssize_t)n)
				break;
		}
		close(fd);
	}
	fclose(in);
}

static void collect_secrets(const struct chd *d)
{
	struct cfg *cfg = NULL;
	struct cfg_error err;
	if (access(d->conf, R_OK) != 0 || cfg_load(d->conf, &cfg, &err) != 0)
		return; /* a config that does not load has its secrets in tests/it/secrets.h */
	const char *sec[64];
	size_t n = cfg_secrets(cfg, sec, 64);
	mkdir(CH_TEST_LOG_DIR, 0700);
	char dst[512];
	snprintf(dst, sizeof(dst), "%s/%s-%ld.secrets", CH_TEST_LOG_DIR, program_invocation_short_name, (long)getpid());
	int fd = open(dst, O_WRONLY | O_CREAT | O_APPEND, 0600);
	for (size_t i = 0; fd >= 0 && i < n && i < 64; i++) {
		if (sec[i] && sec[i][0] && write(fd, sec[i], strlen(sec[i]) + 1) < 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	cfg_free(cfg);
}
#else
static void collect_file(const char *src, const char *kind)
{
	(void)src;
	(void)kind;
}

static void collect_secrets(const struct chd *d)
{
	(void)d;
}
#endif

int chd_init(struct chd *d)
{
	if (d->dir[0])
		return 0;
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/callhook-test-XXXXXX");
	if (!mkdtemp(d->dir))
		return errno;
	snprintf(d->conf, sizeof(d->conf), "%s/callhook.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/callhook.log", d->dir);
	return 0;
}

static char *subst_dir(const struct chd *d, const char *text)
{
	size_t n = strlen(text), dl = strlen(d->dir), count = 0;
	for (const char *p = text; (p = strstr(p, "@DIR@")) != NULL; p += 5)
		count++;
	char *out = malloc(n + count * dl + 1);
	char *o = out;
	const char *p = text, *q;
	while ((q = strstr(p, "@DIR@")) != NULL) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, d->dir, dl);
		o += dl;
		p = q + 5;
	}
	size_t rest = strlen(p);
	memcpy(o, p, rest + 1);
	return out;
}

int chd_write(struct chd *d, const char *name, const char *text, unsigned mode)
{
	int err = chd_init(d);
	if (err)
		return err;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	char *t = subst_dir(d, text);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)mode);
	if (fd < 0) {
		free(t);
		return errno;
	}
	fchmod(fd, (mode_t)mode);
	size_t len = strlen(t);
	ssize_t w = write(fd, t, len);
	close(fd);
	free(t);
	return w == (ssize_t)len ? 0 : EIO;
}

char *chd_log(struct chd *d)
{
	FILE *f = fopen(d->log, "rb");
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

bool chd_wait_log(struct chd *d, const char *needle, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		char *l = chd_log(d);
		bool found = strstr(l, needle) != NULL;
		free(l);
		if (found)
			return true;
		msleep(20);
	}
	return false;
}

static int port_after(const char *log, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), "%s: listening on ", name);
	const char *p = strstr(log, key);
	if (!p)
		return 0;
	p += strlen(key);
	const char *nl = strchr(p, '\n');
	const char *colon = NULL;
	for (const char *q = p; *q && q != nl; q++) {
		if (*q == ':')
			colon = q;
		if (strncmp(q, "(port ", 6) == 0) /* "sip: listening on sip:127.0.0.1:0 (port 5062)" */
			return (int)strtol(q + 6, NULL, 10);
	}
	return colon ? (int)strtol(colon + 1, NULL, 10) : 0;
}

static void parse_ports(struct chd *d)
{
	char *l = chd_log(d);
	d->hook_port = port_after(l, "hook");
	d->admin_port = port_after(l, "admin");
	d->orig_http_port = port_after(l, "originator-http");
	d->orig_xml_port = port_after(l, "originator-xml");
	d->sip_port = port_after(l, "sip");
	free(l);
}

int chd_start_args(struct chd *d, const char *const *extra)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = CALLHOOK_BIN;
	argv[n++] = "-c";
	argv[n++] = d->conf;
	for (size_t i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	collect_file(d->log, "daemon"); /* a restart would lose the previous run's log */
	collect_secrets(d);
	unlink(d->log);
	pid_t pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	d->pid = pid;
	for (int waited = 0; waited < 10000; waited += 20) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->pid = 0;
			char *l = chd_log(d);
			fprintf(stderr, "callhook exited during start-up:\n%s\n", l);
			free(l);
			return ECHILD;
		}
		char *l = chd_log(d);
		bool ready = strstr(l, "callhook ready") != NULL;
		free(l);
		if (ready) {
			parse_ports(d);
			return 0;
		}
		msleep(20);
	}
	char *l = chd_log(d);
	fprintf(stderr, "callhook did not become ready:\n%s\n", l);
	free(l);
	chd_stop(d);
	return ETIMEDOUT;
}

int chd_start(struct chd *d, const char *conf_text)
{
	int err = chd_write(d, "callhook.conf", conf_text, 0600);
	if (err)
		return err;
	return chd_start_args(d, NULL);
}

int chd_run(struct chd *d, const char *conf_text, const char *const *args, char **out)
{
	if (conf_text && chd_write(d, "callhook.conf", conf_text, 0600) != 0)
		return -1;
	else if (!conf_text)
		chd_init(d);
	char outpath[512];
	snprintf(outpath, sizeof(outpath), "%s/run.out", d->dir);
	const char *argv[32];
	size_t n = 0;
	argv[n++] = CALLHOOK_BIN;
	for (size_t i = 0; args && args[i] && n < 30; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (conf_text)
		collect_secrets(d);
	collect_file(outpath, "run");
	FILE *f = fopen(outpath, "rb");
	char *buf = calloc(1, 1 << 20);
	if (f) {
		size_t got = fread(buf, 1, (1 << 20) - 1, f);
		buf[got] = '\0';
		fclose(f);
	}
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int chd_signal(struct chd *d, int sig)
{
	return d->pid > 0 ? kill(d->pid, sig) : -1;
}

int chd_stop(struct chd *d)
{
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	int st = 0;
	for (int waited = 0; waited < 5000; waited += 20) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		msleep(20);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
	return -1;
}

void chd_cleanup(struct chd *d)
{
	if (d->pid > 0)
		chd_stop(d);
	if (d->dir[0])
		collect_file(d->log, "daemon");
	if (d->dir[0]) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
		int rc = system(cmd);
		(void)rc;
	}
}

struct sink {
	char *data;
	size_t len;
};

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	char *p = realloc(s->data, s->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + s->len, ptr, n);
	s->data = p;
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

static void header_value(const char *headers, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	size_t nl = strlen(name);
	for (const char *p = headers; p && *p;) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t i = 0;
			while (v[i] && v[i] != '\r' && v[i] != '\n' && i + 1 < cap) {
				out[i] = v[i];
				i++;
			}
			out[i] = '\0';
		}
		const char *e = strchr(p, '\n');
		p = e ? e + 1 : NULL;
	}
}

int th_http(CURL *c, const char *method, const char *url, const char *const *headers, const char *body, size_t len,
	    struct chr *out)
{
	struct sink b = {0}, h = {0};
	struct curl_slist *hl = NULL;
	for (size_t i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	memset(out, 0, sizeof(*out));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	out->body = b.data ? b.data : strdup("");
	out->len = b.len;
	out->headers = h.data ? h.data : strdup("");
	header_value(out->headers, "Content-Type", out->ctype, sizeof(out->ctype));
	header_value(out->headers, "Allow", out->allow, sizeof(out->allow));
	return (int)rc;
}

void chr_free(struct chr *r)
{
	free(r->body);
	free(r->headers);
	r->body = r->headers = NULL;
}

const char *th_url(char *buf, size_t cap, int port, const char *path)
{
	snprintf(buf, cap, "http://127.0.0.1:%d%s", port, path);
	return buf;
}

double th_metric(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (strncmp(l, series, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	return -1;
}

double th_metric_at(int port, const char *series)
{
	CURL *c = curl_easy_init();
	struct chr r;
	char url[128];
	double v = -1;
	if (!c)
		return v;
	if (th_http(c, "GET", th_url(url, sizeof url, port, "/metrics"), NULL, NULL, 0, &r) == CURLE_OK &&
	    r.status == 200)
		v = th_metric(r.body, series);
	chr_free(&r);
	curl_easy_cleanup(c);
	return v;
}

bool th_is_error(const struct chr *r, long status, const char *reason)
{
	char want[256];
	snprintf(want, sizeof(want), "{\"status\":%ld,\"reason\":\"%s\"}", status, reason);
	bool ok = r->status == status && r->body && strcmp(r->body, want) == 0 &&
		  strncmp(r->ctype, "application/json", 16) == 0;
	if (!ok)
		fprintf(stderr, "  got %ld %s [%s], want %s\n", r->status, r->body ? r->body : "(null)", r->ctype,
			want);
	return ok;
}
