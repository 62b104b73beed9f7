/* tests/it/test_ops.c: operations: /metrics parsed by a Prometheus parser, admin listener, reload under load, broken
 * reload, rebinding, graceful stop, pid file, TLS, JSON logs, log reopen. */
#include "tests/check.h"
#include "tests/support/mock_http.h"
#include "harness.h"

#include <jansson.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static const char *site_conf(char *buf, size_t cap, const char *hook_extra, const char *callee, const char *top)
{
	snprintf(buf, cap,
		 "%s\nhook = { listen = [ \"127.0.0.1:0\" ]; %s };\n"
		 "sites = ( { name = \"shop\"; domain = \"example.com\"; sip = { login = \"10001\"; password = "
		 "\"Ops-Secret-1\"; };\n"
		 "  callee = \"%s\"; limits = { connects_per_minute_per_ip = 0; calls_per_minute_per_ip = 0;\n"
		 "  calls_per_session = 0; calls_per_minute = 0; concurrent_calls = 0; }; } );\n",
		 top ? top : "", hook_extra ? hook_extra : "", callee);
	return buf;
}

static long post_status(CURL *c, int port, const char *path, const char *body, char **answer)
{
	char url[256];
	struct chr r;
	int rc = th_http(c, "POST", th_url(url, sizeof(url), port, path), NULL, body, strlen(body), &r);
	long st = rc == CURLE_OK ? r.status : -rc;
	if (answer)
		*answer = strdup(r.body);
	chr_free(&r);
	return st;
}

/* ---- /metrics through a real Prometheus parser ------------------------- */

TEST_CASE(metrics)
{
	struct chd d = {0};
	char conf[4096];
	CHECK(chd_start(&d, site_conf(conf, sizeof(conf), "", "10002", NULL)) == 0);
	CURL *c = curl_easy_init();
	CHECK(post_status(c, d.hook_port, "/rest-hook/connect",
			  "{\"sessionId\":\"/1.2.3.4:1/m\",\"origin\":\"https://www.example.com\"}", NULL) == 200);
	CHECK(post_status(c, d.hook_port, "/rest-hook/connect",
			  "{\"sessionId\":\"/1.2.3.4:1/m2\",\"origin\":\"https://evil.net\"}", NULL) == 403);
	CHECK(post_status(c, d.hook_port, "/rest-hook/Whatever123", "{}", NULL) == 200);
	char url[256];
	struct chr r;
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/metrics"), NULL, NULL, 0, &r);
	CHECK(r.status == 200);
	CHECK(strncmp(r.ctype, "text/plain", 10) == 0);
	CHECK(strstr(r.body, "callhook_requests_total{method=\"connect\",status=\"200\"} 1") != NULL);
	CHECK(strstr(r.body, "callhook_requests_total{method=\"connect\",status=\"403\"} 1") != NULL);
	CHECK(strstr(r.body, "method=\"other\"") != NULL);
	CHECK(strstr(r.body, "Whatever123") == NULL); /* client text never becomes a label */
	CHECK(strstr(r.body, "callhook_verdicts_total{verdict=\"origin\"} 1") != NULL);
	CHECK(strstr(r.body, "callhook_sessions_active 1") != NULL);
	CHECK(strstr(r.body, "callhook_site_concurrent_calls{site=\"shop\"} 0") != NULL);
	CHECK(strstr(r.body, "callhook_build_info{version=") != NULL);
	CHECK(strstr(r.body, "callhook_request_duration_seconds_bucket{le=\"+Inf\"} 3") != NULL);
	chd_write(&d, "metrics.txt", r.body, 0600);
	chr_free(&r);
	/* Debian's python3-prometheus-client parses the exposition format strictly */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import sys\nfrom prometheus_client.parser import text_string_to_metric_families "
		 "as p\n"
		 "fams = {f.name: f for f in p(open(sys.argv[1]).read())}\n"
		 "need = [\"callhook_requests\", \"callhook_verdicts\", \"callhook_request_duration_seconds\", "
		 "\"callhook_sessions_active\", \"callhook_reloads\", \"callhook_build_info\"]\n"
		 "missing = [n for n in need if n not in fams]\nassert not missing, missing\n"
		 "assert fams[\"callhook_request_duration_seconds\"].type == \"histogram\"\n' '%s/metrics.txt'",
		 d.dir);
	CHECK_MSG(system(cmd) == 0, "the Prometheus parser refused /metrics");
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
}

/* ---- admin listener moves /healthz and /metrics ----------------------- */

TEST_CASE(admin)
{
	struct chd d = {0};
	char conf[4096];
	CHECK(chd_start(&d, site_conf(conf, sizeof(conf), "", "1", "admin = { listen = [ \"127.0.0.1:0\" ]; };")) == 0);
	CHECK(d.admin_port > 0 && d.admin_port != d.hook_port);
	CURL *c = curl_easy_init();
	char url[256];
	struct chr r;
	th_http(c, "GET", th_url(url, sizeof(url), d.admin_port, "/healthz"), NULL, NULL, 0, &r);
	CHECK(r.status == 200 && strcmp(r.body, "{\"status\":\"ok\"}") == 0);
	chr_free(&r);
	th_http(c, "GET", th_url(url, sizeof(url), d.admin_port, "/metrics"), NULL, NULL, 0, &r);
	CHECK(r.status == 200 && strstr(r.body, "# TYPE callhook_requests_total counter") != NULL);
	chr_free(&r);
	th_http(c, "POST", th_url(url, sizeof(url), d.admin_port, "/metrics"), NULL, "x", 1, &r);
	CHECK(r.status == 405 && strcmp(r.allow, "GET, HEAD") == 0);
	chr_free(&r);
	th_http(c, "GET", th_url(url, sizeof(url), d.admin_port, "/connect"), NULL, NULL, 0, &r);
	CHECK(r.status == 404);
	chr_free(&r);
	/* the public port no longer serves them */
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/healthz"), NULL, NULL, 0, &r);
	CHECK(r.status == 405);
	chr_free(&r);
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/metrics"), NULL, NULL, 0, &r);
	CHECK(r.status == 405);
	chr_free(&r);
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
}

/* ---- reload under load ----------------------------------------------- */

/* Shared by the load threads and the case: every counter is atomic. */
struct load {
	int port;
	atomic_bool stop;
	atomic_long ok;
	atomic_long failed;
	atomic_long refused; /* could not connect: only expected after a stop */
	atomic_long last_fail_status;
};

static void *load_loop(void *arg)
{
	struct load *l = arg;
	CURL *c = curl_easy_init();
	for (long i = 0; !l->stop; i++) {
		char body[256];
		snprintf(body, sizeof(body),
			 "{\"sessionId\":\"/10.1.0.1:%ld/load\",\"origin\":\"https://www.example.com\"}", i % 500);
		long st = post_status(c, l->port, "/rest-hook/connect", body, NULL);
		if (st == 200) {
			l->ok++;
		} else if (st == -CURLE_COULDNT_CONNECT) {
			l->refused++;
			msleep(5);
		} else {
			l->failed++;
			l->last_fail_status = st;
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

/* Five good reloads under load from two threads, the callee changing each time: no request fails. */
static void reload_under_load(struct chd *dp, CURL *c, char *conf, size_t cap)
{
#define d (*dp)
	struct load l = {.port = d.hook_port};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, load_loop, &l);
	msleep(200);
	/* five good reloads under load, the callee changing each time */
	for (int i = 0; i < 5; i++) {
		char callee[16];
		snprintf(callee, sizeof(callee), "2000%d", i);
		chd_write(&d, "callhook.conf", site_conf(conf, cap, "", callee, NULL), 0600);
		CHECK(chd_signal(&d, SIGHUP) == 0);
		msleep(150);
	}
	l.stop = true;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_MSG(l.failed == 0 && l.refused == 0, "ok %ld failed %ld refused %ld (last %ld)", l.ok, l.failed,
		  l.refused, l.last_fail_status);
	CHECK(l.ok > 100);
	char *ans = NULL;
	CHECK(post_status(c, d.hook_port, "/rest-hook/call", "{\"sessionId\":\"/10.1.0.1:1/load\",\"callId\":\"r1\"}",
			  &ans) == 200);
	CHECK_MSG(strstr(ans, "\"callee\":\"20004\"") != NULL, "%s", ans);
	free(ans);

#undef d
}

/* A broken config, or one whose patterns do not compile, is refused with the --check message; the old one keeps
 * serving. */
static void reload_refused(struct chd *dp, CURL *c)
{
#define d (*dp)
	char *ans = NULL;
	/* a broken config is refused with the --check message; the old one keeps serving */
	chd_write(&d, "callhook.conf", "hook = { listen = [ \"127.0.0.1:0\" ]; bogus = 1; };\n", 0600);
	CHECK(chd_signal(&d, SIGHUP) == 0);
	CHECK(chd_wait_log(&d, "still running the previous configuration", 3000));
	CHECK(chd_wait_log(&d, "callhook.conf:1: hook.bogus: unknown setting", 100));
	CHECK(post_status(c, d.hook_port, "/rest-hook/call", "{\"sessionId\":\"/10.1.0.1:2/load\",\"callId\":\"r2\"}",
			  &ans) == 200);
	CHECK(strstr(ans, "\"callee\":\"20004\"") != NULL);
	free(ans);
	/* a pattern error (found after loading) is refused the same way */
	chd_write(
	    &d, "callhook.conf",
	    "sites = ( { name = \"s\"; origins = [ \"https//x\" ]; sip = { login = \"1\"; }; callee = \"1\"; } );\n",
	    0600);
	CHECK(chd_signal(&d, SIGHUP) == 0);
	CHECK(chd_wait_log(&d, "sites.[0].origins.[0]: \"https//x\" is not an origin", 3000));

#undef d
}

/* A second listen address binds on reload and the first never closes; dropping the first closes only it. */
static void reload_rebind(struct chd *dp, CURL *c, char *conf, size_t cap)
{
#define d (*dp)
	/* a second listen address binds on reload; the first never closes */
	chd_write(&d, "callhook.conf", site_conf(conf, cap, "", "30003", NULL), 0600);
	char two[4096];
	snprintf(two, sizeof(two), "%s", conf);
	char *p = strstr(two, "[ \"127.0.0.1:0\" ]");
	CHECK(p != NULL);
	if (p) {
		char rest[4096];
		snprintf(rest, sizeof(rest), "%s", p + strlen("[ \"127.0.0.1:0\" ]"));
		snprintf(p, sizeof(two) - (size_t)(p - two), "[ \"127.0.0.1:0\", \"127.0.0.2:0\" ]%s", rest);
	}
	chd_write(&d, "callhook.conf", two, 0600);
	CHECK(chd_signal(&d, SIGHUP) == 0);
	CHECK(chd_wait_log(&d, "hook: listening on 127.0.0.2:", 3000));
	char *log = chd_log(&d);
	const char *q = strstr(log, "hook: listening on 127.0.0.2:");
	int port2 = q ? (int)strtol(q + strlen("hook: listening on 127.0.0.2:"), NULL, 10) : 0;
	free(log);
	CHECK(port2 > 0);
	char url[256];
	struct chr r;
	snprintf(url, sizeof(url), "http://127.0.0.2:%d/rest-hook/call", port2);
	const char *cb = "{\"sessionId\":\"/10.1.0.1:3/load\",\"callId\":\"r3\"}";
	th_http(c, "POST", url, NULL, cb, strlen(cb), &r);
	CHECK(r.status == 200 && strstr(r.body, "\"callee\":\"30003\"") != NULL);
	chr_free(&r);
	CHECK(post_status(c, d.hook_port, "/rest-hook/call", "{\"sessionId\":\"/10.1.0.1:4/load\",\"callId\":\"r4\"}",
			  NULL) == 200);
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/metrics"), NULL, NULL, 0, &r);
	CHECK(strstr(r.body, "callhook_reloads_total{result=\"ok\"} 6") != NULL);
	CHECK(strstr(r.body, "callhook_reloads_total{result=\"failed\"} 2") != NULL);
	chr_free(&r);
	/* and dropping the first address closes only it */
	snprintf(conf, cap, "%s", two);
	p = strstr(conf, "\"127.0.0.1:0\", ");
	if (p)
		memmove(p, p + strlen("\"127.0.0.1:0\", "), strlen(p + strlen("\"127.0.0.1:0\", ")) + 1);
	chd_write(&d, "callhook.conf", conf, 0600);
	CHECK(chd_signal(&d, SIGHUP) == 0);
	CHECK(chd_wait_log(&d, "hook: closing listener 127.0.0.1:0", 3000));
	snprintf(url, sizeof(url), "http://127.0.0.2:%d/healthz", port2);
	th_http(c, "GET", url, NULL, NULL, 0, &r);
	CHECK(r.status == 200);
	chr_free(&r);
#undef d
}

TEST_CASE(reload)
{
	struct chd d = {0};
	char conf[4096];
	CHECK(chd_start(&d, site_conf(conf, sizeof(conf), "", "10002", NULL)) == 0);
	CURL *c = curl_easy_init();
	reload_under_load(&d, c, conf, sizeof(conf));
	reload_refused(&d, c);
	reload_rebind(&d, c, conf, sizeof(conf));
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
}

/* ---- graceful stop, pid file ------------------------------------------- */

TEST_CASE(stop)
{
	struct chd d = {0};
	chd_init(&d);
	char conf[4096], top[1024];
	snprintf(top, sizeof(top), "pid_file = \"%s/callhook.pid\";\nshutdown_grace_s = 5;", d.dir);
	CHECK(chd_start(&d, site_conf(conf, sizeof(conf), "", "1", top)) == 0);
	char pidpath[400];
	snprintf(pidpath, sizeof(pidpath), "%s/callhook.pid", d.dir);
	FILE *f = fopen(pidpath, "r");
	long pid = 0;
	CHECK(f != NULL);
	if (f) {
		CHECK(fscanf(f, "%ld", &pid) == 1);
		fclose(f);
	}
	CHECK(pid == (long)d.pid);
	struct load l = {.port = d.hook_port};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, load_loop, &l);
	msleep(300);
	CHECK(chd_stop(&d) == 0); /* SIGTERM: exit 0 */
	msleep(100);
	l.stop = true;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* every request that reached the daemon was answered; after the stop, connections are refused */
	CHECK_MSG(l.failed == 0, "ok %ld failed %ld (last %ld)", l.ok, l.failed, l.last_fail_status);
	CHECK(l.ok > 10);
	CHECK(access(pidpath, F_OK) != 0);
	chd_cleanup(&d);
}

/* ---- TLS -------------------------------------------------------------- */

TEST_CASE(tls)
{
	struct chd d = {0};
	chd_init(&d);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext "
		 "subjectAltName=DNS:localhost "
		 "-keyout key.pem -out cert.pem -days 1 >/dev/null 2>&1 && chmod 600 key.pem",
		 d.dir);
	CHECK(system(cmd) == 0);
	char conf[4096], extra[1024];
	snprintf(extra, sizeof(extra), "tls = { cert = \"%s/cert.pem\"; key = \"%s/key.pem\"; };", d.dir, d.dir);
	CHECK(chd_start(&d, site_conf(conf, sizeof(conf), extra, "1", NULL)) == 0);
	CHECK(chd_wait_log(&d, "(TLS)", 100));
	CURL *c = curl_easy_init();
	char url[256], ca[400];
	snprintf(url, sizeof(url), "https://localhost:%d/rest-hook/connect", d.hook_port);
	snprintf(ca, sizeof(ca), "%s/cert.pem", d.dir);
	struct chr r;
	curl_easy_reset(c);
	const char *body = "{\"sessionId\":\"/1.1.1.1:1/tls\",\"origin\":\"https://www.example.com\"}";
	/* th_http resets the handle, so do this one by hand */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	FILE *devnull = fopen("/dev/null", "w");
	curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
	CHECK(curl_easy_perform(c) == CURLE_OK);
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	CHECK(st == 200);
	fclose(devnull);
	/* plain HTTP to the TLS port does not get an answer */
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/healthz"), NULL, NULL, 0, &r);
	CHECK(r.status != 200);
	chr_free(&r);
	CHECK(chd_stop(&d) == 0);
	/* a key readable by others refuses to start, and says why */
	snprintf(cmd, sizeof(cmd), "chmod 644 '%s/key.pem'", d.dir);
	CHECK(system(cmd) == 0);
	char *out = NULL;
	char confpath[400];
	snprintf(confpath, sizeof(confpath), "%s/callhook.conf", d.dir);
	const char *args[] = {"--check", "-c", confpath, NULL};
	CHECK(chd_run(&d, site_conf(conf, sizeof(conf), extra, "1", NULL), args, &out) == 1);
	CHECK_MSG(strstr(out, "hook.tls.key: cannot use") != NULL && strstr(out, "readable by others") != NULL, "%s",
		  out);
	free(out);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
}

/* ---- JSON logs and reopening the log file --------------------------- */

TEST_CASE(logs)
{
	struct chd d = {0};
	char conf[4096];
	CHECK(chd_start(&d, site_conf(conf, sizeof(conf), "", "1", "log = { format = \"json\"; };")) == 0);
	CURL *c = curl_easy_init();
	CHECK(post_status(c, d.hook_port, "/rest-hook/connect",
			  "{\"sessionId\":\"/1.1.1.1:1/j\",\"origin\":\"https://x.example.com\"}", NULL) == 200);
	int lines = 0, bad = 0;
	char *log = chd_log(&d);
	char *save = NULL;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL);
		lines++;
		if (!j || !json_is_string(json_object_get(j, "ts")) || !json_is_string(json_object_get(j, "level")) ||
		    !json_is_string(json_object_get(j, "msg"))) {
			bad++;
			fprintf(stderr, "not a JSON log line: %s\n", line);
		}
		json_decref(j);
	}
	free(log);
	CHECK(lines >= 3 && bad == 0);

	/* reload into a log file, then logrotate: rename + SIGUSR1 opens a new file */
	char top[512];
	snprintf(top, sizeof(top), "log = { file = \"%s/app.log\"; };", d.dir);
	chd_write(&d, "callhook.conf", site_conf(conf, sizeof(conf), "", "1", top), 0600);
	CHECK(chd_signal(&d, SIGHUP) == 0);
	CHECK(chd_wait_log(&d, "reload: loading", 2000));
	char p1[400], p2[400];
	snprintf(p1, sizeof(p1), "%s/app.log", d.dir);
	snprintf(p2, sizeof(p2), "%s/app.log.1", d.dir);
	for (int i = 0; i < 100 && access(p1, F_OK) != 0; i++)
		msleep(20);
	CHECK(post_status(c, d.hook_port, "/rest-hook/x", "{}", NULL) == 200);
	CHECK(rename(p1, p2) == 0);
	CHECK(chd_signal(&d, SIGUSR1) == 0);
	for (int i = 0; i < 100 && access(p1, F_OK) != 0; i++)
		msleep(20);
	CHECK(post_status(c, d.hook_port, "/rest-hook/after-rotate", "{}", NULL) == 200);
	msleep(50);
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(p1, "r");
	CHECK(f != NULL);
	if (f) {
		text = calloc(1, 65536);
		len = fread(text, 1, 65535, f);
		fclose(f);
		CHECK(len > 0 && strstr(text, "method=after-rotate") != NULL);
		free(text);
	}
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
}

/* Whether the log shows a second "... loaded" (the reload after start) within 2 s. */
static bool loaded_twice(struct chd *d)
{
	for (int i = 0; i < 200; i++) {
		char *log = chd_log(d);
		const char *p1 = strstr(log, " loaded");
		bool second = p1 && strstr(p1 + 1, " loaded") != NULL;
		free(log);
		if (second)
			return true;
		msleep(10);
	}
	return false;
}

TEST_CASE(forward)
{
	static struct tm_rx rc = TM_RX_INIT;
	CHECK(tm_rx_start(&rc));

	struct chd d = {0};
	char conf[4096], extra[512];
	snprintf(extra, sizeof(extra),
		 "forward = ( { url = \"http://127.0.0.1:%d/hooks\"; methods = [ \"CallStatusEvent\" ]; timeout_ms = "
		 "2000; } );",
		 rc.port);
	CHECK(chd_start(&d, site_conf(conf, sizeof(conf), extra, "1", NULL)) == 0);
	CURL *c = curl_easy_init();
	const char *ev =
	    "{\"sessionId\":\"/1.1.1.1:1/f\",\"callId\":\"c1\",\"status\":\"FINISH\",\"f\":0.1,"
	    "\"sipPassword\":\"Ops-Secret-1\",\"custom\":{\"token\":\"eyJhbGciOi.x.y\",\"button\":\"sales\"}}";
	char *ans = NULL;
	CHECK(post_status(c, d.hook_port, "/rest-hook/CallStatusEvent", ev, &ans) == 200);
	CHECK(ans && strcmp(ans, ev) == 0); /* WCS still gets the exact mirror */
	free(ans);
	/* not a forwarded method */
	CHECK(post_status(c, d.hook_port, "/rest-hook/ConnectionStatusEvent", "{\"status\":\"ESTABLISHED\"}", NULL) ==
	      200);
	(void)tm_rx_wait(&rc, 1, 2000);
	msleep(100);
	pthread_mutex_lock(&rc.mu);
	CHECK(rc.n == 1);
	CHECK_MSG(strstr(rc.msgs[0].body, "\"callId\":\"c1\"") != NULL && strstr(rc.msgs[0].body, "\"f\":0.1") != NULL,
		  "%s", rc.msgs[0].body);
	CHECK(strstr(rc.msgs[0].body, "sipPassword") == NULL);
	CHECK(strstr(rc.msgs[0].body, "Ops-Secret-1") == NULL);
	CHECK(strstr(rc.msgs[0].body, "eyJhbGciOi") == NULL);
	CHECK(strstr(rc.msgs[0].body, "\"button\":\"sales\"") != NULL);
	CHECK(strstr(rc.msgs[0].line, "POST /hooks") != NULL);
	pthread_mutex_unlock(&rc.mu);
	char url[256];
	struct chr r;
	th_http(c, "GET", th_url(url, sizeof(url), d.hook_port, "/metrics"), NULL, NULL, 0, &r);
	CHECK_MSG(strstr(r.body, "callhook_forward_total{outcome=\"sent\"} 1") != NULL, "%s", r.body);
	chr_free(&r);
	/* a reload that keeps hook.forward keeps the forwarder; one that drops it stops it */
	CHECK(chd_signal(&d, SIGHUP) == 0);
	CHECK(chd_wait_log(&d, "reload: ", 2000));
	CHECK(post_status(c, d.hook_port, "/rest-hook/CallStatusEvent", ev, NULL) == 200);
	CHECK(tm_rx_wait(&rc, 2, 2000) == 2);
	chd_write(&d, "callhook.conf", site_conf(conf, sizeof(conf), "", "1", NULL), 0600);
	CHECK(chd_signal(&d, SIGHUP) == 0);
	CHECK(loaded_twice(&d));
	CHECK(post_status(c, d.hook_port, "/rest-hook/CallStatusEvent", ev, NULL) == 200);
	msleep(300);
	pthread_mutex_lock(&rc.mu);
	CHECK(rc.n == 2);
	pthread_mutex_unlock(&rc.mu);
	CHECK(chd_stop(&d) == 0);
	chd_cleanup(&d);
	curl_easy_cleanup(c);
	tm_rx_stop(&rc);
	tm_rx_reset(&rc);
}

/* Each case starts the daemons it needs. */
int test_setup(const char *name)
{
	(void)name;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

void test_teardown(void)
{
	curl_global_cleanup();
}
