/* tests/sip/e2e_support.c: helpers of the end-to-end test (e2e.h). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "e2e.h"
#include "tests/support/net.h"
#include "harness.h"
#include "tests/check.h"

static int guard_fd = -1;
pid_t guard_pid;

void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* In the guard: SIGKILL every process whose command line names our private temp dir (the
 * daemon killed while it started, before we could send its pid). */
void guard_sweep(const char *dir)
{
	DIR *pd = opendir("/proc");
	struct dirent *e;
	while (pd && (e = readdir(pd)) != NULL) {
		int64_t pid;
		if (ch_parse_i64(e->d_name, strlen(e->d_name), 2, INT32_MAX, &pid) != 0 || pid == getpid())
			continue;
		char path[64], cmd[4096];
		(void)ch_fmt(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, cmd, sizeof cmd - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (strstr(cmd, dir))
			kill((pid_t)pid, SIGKILL);
	}
	if (pd)
		closedir(pd);
}

void guard_start(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0) {
		setpgid(0, 0);
		close(p[1]);
		int32_t ids[16], v;
		int n = 0;
		while (read(p[0], &v, sizeof v) == (ssize_t)sizeof v) {
			if (v == 0)
				_exit(0);
			if (n < 16)
				ids[n++] = v;
		}
		for (int i = 0; i < n; i++)
			kill((pid_t)ids[i], SIGKILL);
		if (D.dir[0])
			guard_sweep(D.dir);
		_exit(0);
	}
	close(p[0]);
	guard_fd = p[1];
	guard_pid = pid;
}

void guard_add(int32_t id)
{
	if (guard_fd >= 0 && write(guard_fd, &id, sizeof id) != (ssize_t)sizeof id)
		fprintf(stderr, "guard: %s\n", strerror(errno));
}

/* All clear: everything is stopped. Async-signal-safe. */
void guard_done(void)
{
	int32_t zero = 0;
	if (guard_fd >= 0) {
		if (write(guard_fd, &zero, sizeof zero) < 0)
			_exit(1);
		close(guard_fd);
		guard_fd = -1;
	}
}

/* Start argv[0] in its own process group, stdout and stderr to D.dir/<name>.log; it gets
 * SIGKILL if this test dies. */
bool proc_spawn(struct proc *p, const char *name, const char *const *argv)
{
	memset(p, 0, sizeof *p);
	(void)ch_fmt(p->name, sizeof p->name, "%s", name);
	(void)ch_fmt(p->log, sizeof p->log, "%s/%s.log", D.dir, name);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		int in = open("/dev/null", O_RDONLY);
		int out = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid); /* both sides: no race with the kill below */
	p->pid = pid;
	guard_add(-(int32_t)pid);
	return true;
}

/* true once the main process has exited (not reaped: its pid keeps the group id reserved). */
bool proc_exited(const struct proc *p)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	return waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == p->pid;
}

/* SIGTERM the group `terms` times (baresip needs a second one when its registrar is gone),
 * 3 s each, then SIGKILL whatever is left of the group and reap. */
void proc_stop(struct proc *p, int terms)
{
	if (p->pid <= 0)
		return;
	for (int t = 0; t < terms && !proc_exited(p); t++) {
		kill(-p->pid, SIGTERM);
		for (int waited = 0; waited < 3000 && !proc_exited(p); waited += 20)
			msleep(20);
	}
	kill(-p->pid, SIGKILL); /* leftovers: Kamailio's workers */
	int st;
	waitpid(p->pid, &st, 0);
	p->pid = 0;
}

char *slurp(const char *path)
{
	char *s = NULL;
	size_t len = 0;
	if (ch_read_file(path, 64u << 20, &s, &len) != 0)
		return strdup("");
	return s;
}

int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

size_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

/* Wait until the file, from byte `from`, holds needle. */
bool wait_in_file(const char *path, size_t from, const char *needle, int timeout_ms)
{
	for (int waited = 0;; waited += 50) {
		char *s = slurp(path);
		bool found = strlen(s) >= from && strstr(s + from, needle) != NULL;
		free(s);
		if (found)
			return true;
		if (waited >= timeout_ms)
			return false;
		msleep(50);
	}
}

/* Copy tmpl with each "@KEY@" of kv (key, value, ..., NULL; keys with their @) replaced. */
char *subst(const char *tmpl, const char *const *kv)
{
	struct ch_buf b;
	ch_buf_init(&b, 1 << 20);
	for (const char *p = tmpl; *p;) {
		bool done = false;
		for (size_t i = 0; *p == '@' && kv[i]; i += 2) {
			size_t kl = strlen(kv[i]);
			if (strncmp(p, kv[i], kl) == 0) {
				if (ch_buf_adds(&b, kv[i + 1]) != 0)
					goto fail;
				p += kl;
				done = true;
				break;
			}
		}
		if (!done && ch_buf_add(&b, p++, 1) != 0)
			goto fail;
	}
	if (ch_buf_nul(&b) != 0)
		goto fail;
	return b.data;
fail:
	ch_buf_free(&b);
	return NULL;
}

/* Read E2E_DIR/tmpl, substitute, write D.dir/out. */
bool write_from_template(const char *tmpl, const char *out, const char *const *kv)
{
	char path[512];
	(void)ch_fmt(path, sizeof path, "%s/%s", E2E_DIR, tmpl);
	char *t = NULL;
	size_t len = 0;
	if (ch_read_file(path, 1 << 20, &t, &len) != 0) {
		fprintf(stderr, "cannot read the template %s\n", path);
		return false;
	}
	char *s = subst(t, kv);
	free(t);
	bool ok = s && chd_write(&D, out, s, 0600) == 0;
	free(s);
	return ok;
}

/* The last 6 KB of a log, to stderr. */
void dump_tail(const char *what, const char *path)
{
	char *s = slurp(path);
	size_t n = strlen(s);
	fprintf(stderr, "---- %s (%s), last bytes ----\n%s\n", what, path, n > 6144 ? s + n - 6144 : s);
	free(s);
}

/* Ports already handed to Kamailio, the originator or a phone's ctrl_tcp. */
static bool taken_here(int port, void *arg)
{
	(void)arg;
	return port == kam_port || port == orig_port || port == ctrl_port[0] || port == ctrl_port[1];
}

/* A loopback port P the kernel hands out, free for UDP and TCP; with pair, P + 1 too (baresip
 * binds its SIP port on UDP and TCP and the next one for TLS, which 1.0 cannot turn off). */
int free_port(bool pair)
{
	return tn_free_port(pair, taken_here, NULL);
}

size_t grow_cb(char *p, size_t sz, size_t n, void *arg)
{
	return ch_buf_add(arg, p, sz * n) == 0 ? sz * n : 0;
}

/* One request with Digest auth; status into *status, body returned (new). */
char *api(const char *method, const char *path, const char *body, long *status)
{
	CURL *c = curl_easy_init();
	struct ch_buf b;
	ch_buf_init(&b, 1 << 20);
	char url[256];
	(void)ch_fmt(url, sizeof url, "http://127.0.0.1:%d%s", D.orig_http_port, path);
	struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_DIGEST);
	curl_easy_setopt(c, CURLOPT_USERPWD, "admin:" HTTP_PASSWORD);
	CURLcode rc = curl_easy_perform(c);
	CHECK_MSG(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (ch_buf_nul(&b) != 0) {
		ch_buf_free(&b);
		return strdup("");
	}
	return b.data ? b.data : strdup("");
}

json_t *get_call(uint64_t id)
{
	char path[64];
	(void)ch_fmt(path, sizeof path, "/v1/calls/%llu", (unsigned long long)id);
	long st;
	char *body = api("GET", path, NULL, &st);
	json_t *j = st == 200 ? json_loads(body, 0, NULL) : NULL;
	free(body);
	return j;
}

const char *sv(const json_t *j)
{
	const char *s = json_string_value(j);
	return s ? s : "";
}

/* Poll the call until its state is `want` (or it has a result); returns it (new) or NULL. */
json_t *wait_state(uint64_t id, const char *want, int timeout_ms)
{
	json_t *j = NULL;
	for (int waited = 0;; waited += 100) {
		json_decref(j);
		j = get_call(id);
		if (j && (strcmp(sv(json_object_get(j, "state")), want) == 0 || json_object_get(j, "result")))
			return j;
		if (waited >= timeout_ms)
			return j;
		msleep(100);
	}
}

/* The states the engine went through for call id, in order, from the daemon's debug log
 * ("sip: call N: STATE leg=..."), joined by ' '. */
void states_of(uint64_t id, char *out, size_t cap)
{
	char *l = chd_log(&D);
	char key[64];
	(void)ch_fmt(key, sizeof key, "sip: call %llu: ", (unsigned long long)id);
	size_t o = 0;
	out[0] = '\0';
	for (const char *p = l; (p = strstr(p, key)) != NULL;) {
		p += strlen(key);
		size_t n = strcspn(p, " \n");
		if (strncmp(p + n, " leg=", 5) == 0) {
			int w = snprintf(out + o, cap - o, "%s%.*s", o ? " " : "", (int)n, p);
			if (w > 0 && (size_t)w < cap - o)
				o += (size_t)w;
		}
	}
	free(l);
}

/* The decimal number at p, or -1. */
int number_at(const char *p)
{
	int64_t v;
	return ch_parse_i64(p, strspn(p, "0123456789"), 0, 999999, &v) == 0 ? (int)v : -1;
}

/* The XML documents' results as "code/leg" joined by ' ' ("100/ 180/Initiator ..."). */
void xml_steps(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (const char *r = s; (r = strstr(r, "<Result Code=\"")) != NULL;) {
		r += 14;
		int code = number_at(r);
		const char *close = strchr(r, '>');
		const char *lg = strstr(r, "Leg=\"");
		char leg[32] = "";
		if (lg && close && lg < close)
			(void)ch_fmt(leg, sizeof leg, "%.*s", (int)strcspn(lg + 5, "\""), lg + 5);
		int w = snprintf(out + o, cap - o, "%s%d/%s", o ? " " : "", code, leg);
		if (w > 0 && (size_t)w < cap - o)
			o += (size_t)w;
	}
}

/* Send one XML request and read documents until a final one (Code >= 300, or 2xx on
 * Leg="Destination"); the whole stream (new). */
char *xml_call(const char *ini, const char *dest, bool anchor, int timeout_ms)
{
	int fd = tn_tcp_connect(D.orig_xml_port, 0);
	CHECK_MSG(fd >= 0, "connect to the XML port %d", D.orig_xml_port);
	if (fd < 0)
		return strdup("");
	char req[512];
	(void)ch_fmt(req, sizeof req,
		     "<ClickToCall>\n  <Request>\n    <Initiator>%s</Initiator>\n    <Destination>%s"
		     "</Destination>\n    <AnchorCall>%s</AnchorCall>\n  </Request>\n</ClickToCall>\n",
		     ini, dest, anchor ? "true" : "false");
	CHECK(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
	struct ch_buf acc;
	ch_buf_init(&acc, 1 << 20);
	int64_t end = ch_now_ms() + timeout_ms;
	for (;;) {
		if (ch_buf_nul(&acc) == 0 && acc.data) {
			char steps[512];
			xml_steps(acc.data, steps, sizeof steps);
			const char *last = strrchr(steps, ' ');
			last = last ? last + 1 : steps;
			int code = number_at(last);
			bool final = code >= 300 || (code >= 200 && strstr(last, "/Destination"));
			if (final && count(acc.data, "</ClickToCall>") == count(acc.data, "<Result "))
				break;
		}
		int64_t left = end - ch_now_ms();
		if (left <= 0)
			break;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0 || ch_buf_add(&acc, buf, (size_t)n) != 0)
			break;
	}
	close(fd);
	if (ch_buf_nul(&acc) != 0 || !acc.data) {
		ch_buf_free(&acc);
		return strdup("");
	}
	return acc.data;
}
