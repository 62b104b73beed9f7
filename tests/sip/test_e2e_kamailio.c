/* test_e2e_kamailio.c: originator end to end: Kamailio (407) before two baresip phones, REFER and anchored. */
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

#ifndef KAMAILIO_BIN
#define KAMAILIO_BIN "/usr/sbin/kamailio"
#endif
#ifndef KAMAILIO_MODULE_DIR
#define KAMAILIO_MODULE_DIR ""
#endif
#ifndef BARESIP_BIN
#define BARESIP_BIN "/usr/bin/baresip"
#endif
#ifndef BARESIP_MODULE_DIR
#define BARESIP_MODULE_DIR ""
#endif
#ifndef E2E_DIR
#define E2E_DIR "."
#endif

#define SIP_USER     "c2c"
#define SIP_PASSWORD "e2e-Sip-Pw-47"
#define REALM        "e2e.callhook"

/* RTP ranges below the kernel's ephemeral range, one per phone. */
static const int rtp_lo[2] = {21000, 21500};
static const int rtp_hi[2] = {21499, 21999};
static const char *const users[2] = {"1001", "1002"};

struct chd D;
static struct proc kam, phone[2];
int kam_port, orig_port, ctrl_port[2];

/* ---- processes ----------------------------------------------------------------------------- */

/* The guard: a forked helper in its own process group that reads, from a pipe, the pids (> 0)
 * and process groups (< 0) we start. If the pipe reaches EOF without the all-clear (0), this
 * test was killed outright and the guard SIGKILLs them all: PR_SET_PDEATHSIG alone is not
 * enough, Kamailio's workers outlive their main process. */

/* Everything we started, killed and reaped from a signal handler: async-signal-safe calls only. */
static void kill_all_now(void)
{
	pid_t mains[4] = {D.pid, phone[0].pid, phone[1].pid, kam.pid};
	if (D.pid > 0)
		kill(D.pid, SIGKILL);
	for (int i = 0; i < 2; i++)
		if (phone[i].pid > 0)
			kill(-phone[i].pid, SIGKILL);
	if (kam.pid > 0)
		kill(-kam.pid, SIGKILL);
	for (int i = 0; i < 4; i++)
		if (mains[i] > 0)
			waitpid(mains[i], NULL, 0);
	guard_done();
}

static void on_signal(int sig)
{
	kill_all_now();
	_exit(128 + sig);
}

static void stop_all(void)
{
	if (D.pid > 0)
		chd_stop(&D);
	for (int i = 0; i < 2; i++)
		proc_stop(&phone[i], 2);
	proc_stop(&kam, 1);
}

/* ---- files and logs ------------------------------------------------------------------------ */

/* ---- ports ----------------------------------------------------------------------------------- */

/* ---- baresip's ctrl_tcp: netstring-framed JSON ---------------------------------------------- */

/* Run one command on phone i; the response's "data" (new string), or NULL. Events that the
 * phone pushes on the same connection are skipped. */
static char *phone_cmd(int i, const char *command)
{
	int fd = tn_tcp_connect(ctrl_port[i], 0);
	if (fd < 0)
		return NULL;
	char msg[256], frame[320];
	(void)ch_fmt(msg, sizeof msg, "{\"command\":\"%s\",\"token\":\"e2e\"}", command);
	(void)ch_fmt(frame, sizeof frame, "%zu:%s,", strlen(msg), msg);
	char *data = NULL;
	struct ch_buf in;
	ch_buf_init(&in, 1 << 20);
	if (send(fd, frame, strlen(frame), MSG_NOSIGNAL) != (ssize_t)strlen(frame))
		goto out;
	int64_t end = ch_now_ms() + 3000;
	size_t used = 0;
	while (!data && ch_now_ms() < end) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 200) <= 0)
			continue;
		char buf[4096];
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0 || ch_buf_add(&in, buf, (size_t)n) != 0)
			break;
		/* every complete netstring "LEN:PAYLOAD," from `used` on */
		for (;;) {
			const char *s = in.data + used;
			const char *colon = memchr(s, ':', in.len - used);
			int64_t len;
			if (!colon || ch_parse_i64(s, (size_t)(colon - s), 0, 1 << 20, &len) != 0)
				break;
			size_t need = (size_t)(colon - s) + 1 + (size_t)len + 1;
			if (in.len - used < need)
				break;
			json_t *j = json_loadb(colon + 1, (size_t)len, 0, NULL);
			used += need;
			if (j && json_is_true(json_object_get(j, "response")) &&
			    json_string_value(json_object_get(j, "token")) &&
			    strcmp(json_string_value(json_object_get(j, "token")), "e2e") == 0) {
				const char *d = json_string_value(json_object_get(j, "data"));
				data = strdup(d ? d : "");
			}
			json_decref(j);
			if (data)
				break;
		}
	}
out:
	ch_buf_free(&in);
	close(fd);
	return data;
}

/* Wait until phone i lists exactly one call, established with a peer URI containing peer;
 * peer NULL: until it lists no call. */
static bool phone_wait_calls(int i, const char *peer, int timeout_ms)
{
	char *last = NULL;
	for (int waited = 0;; waited += 100) {
		free(last);
		last = phone_cmd(i, "listcalls");
		bool ok;
		if (peer)
			ok = last && count(last, "[line ") == 1 && strstr(last, "ESTABLISHED") && strstr(last, peer);
		else
			ok = last && count(last, "[line ") == 0;
		if (ok) {
			free(last);
			return true;
		}
		if (waited >= timeout_ms)
			break;
		msleep(100);
	}
	fprintf(stderr, "phone %s: calls are \"%s\", want %s %s\n", users[i], last ? last : "(no answer)",
		peer ? "one established with" : "none", peer ? peer : "");
	free(last);
	return false;
}

/* The source port of the RTP phone i reports receiving in its log after byte `from`. */
static int phone_rtp_source(int i, size_t from, int timeout_ms)
{
	const char *needle = "incoming rtp for 'audio' established, receiving from 127.0.0.1:";
	if (!wait_in_file(phone[i].log, from, needle, timeout_ms))
		return -1;
	char *s = slurp(phone[i].log);
	const char *p = strlen(s) >= from ? strstr(s + from, needle) : NULL;
	int64_t port = -1;
	if (p) {
		p += strlen(needle);
		size_t n = strspn(p, "0123456789");
		if (ch_parse_i64(p, n, 1, 65535, &port) != 0)
			port = -1;
	}
	free(s);
	return (int)port;
}

/* RTP between the phones, not through anyone else: each received it from the other's range. */
static void check_rtp_between_phones(const size_t from[2])
{
	for (int i = 0; i < 2; i++) {
		int other = 1 - i;
		int src = phone_rtp_source(i, from[i], 5000);
		CHECK_MSG(src >= rtp_lo[other] && src <= rtp_hi[other],
			  "phone %s received RTP from port %d, want phone %s's range %d-%d", users[i], src,
			  users[other], rtp_lo[other], rtp_hi[other]);
	}
}

/* ---- the originator's JSON API and XML port ----------------------------------------------- */

/* ---- set-up -------------------------------------------------------------------------------- */

static bool need(const char *path, const char *what, const char *package)
{
	if (path[0] && access(path, X_OK) == 0)
		return true;
	fprintf(stderr,
		"%s not found (\"%s\"): this test needs it; install %s (scripts/deps.sh --test) "
		"and re-run cmake\n",
		what, path, package);
	return false;
}

static bool start_kamailio(void)
{
	char kp[16], op[16];
	(void)ch_fmt(kp, sizeof kp, "%d", kam_port);
	(void)ch_fmt(op, sizeof op, "%d", orig_port);
	const char *kv[] = {"@KAM_PORT@", kp,    "@ORIG_PORT@", op,       "@MPATH@",    KAMAILIO_MODULE_DIR "/",
			    "@REALM@",    REALM, "@USER@",      SIP_USER, "@PASSWORD@", SIP_PASSWORD,
			    NULL};
	if (!write_from_template("kamailio.cfg.in", "kamailio.cfg", kv))
		return false;
	char cfg[320];
	(void)ch_fmt(cfg, sizeof cfg, "%s/kamailio.cfg", D.dir);
	const char *argv[] = {KAMAILIO_BIN, "-f", cfg, "-E", "-DD", "-m", "32", "-M", "4", "-Y", D.dir, NULL};
	if (!proc_spawn(&kam, "kamailio", argv))
		return false;
	char ready[64];
	(void)ch_fmt(ready, sizeof ready, "127.0.0.1 [127.0.0.1]:%d", kam_port);
	for (int waited = 0; waited < 10000; waited += 50) {
		if (proc_exited(&kam)) {
			fprintf(stderr, "kamailio exited during start-up\n");
			return false;
		}
		/* the workers' start: the listener is bound, the script loaded */
		char *l = slurp(kam.log);
		bool up = strstr(l, ready) && strstr(l, "SO_RCVBUF is finally");
		free(l);
		if (up)
			return true;
		msleep(50);
	}
	fprintf(stderr, "kamailio did not start\n");
	return false;
}

/* Write phone i's config with fresh ports and start it; true once it says it is ready (its
 * ports bound), false if it exited (a port taken meanwhile) or hung. */
static bool start_phone_once(int i)
{
	char dir[320], sub[64], sp[16], cp[16], rtp[32], kp[16];
	(void)ch_fmt(sub, sizeof sub, "phone%s", users[i]);
	(void)ch_fmt(dir, sizeof dir, "%s/%s", D.dir, sub);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return false;
	ctrl_port[i] = 0;
	int sip = free_port(true);
	ctrl_port[i] = free_port(false);
	if (sip < 0 || ctrl_port[i] < 0)
		return false;
	(void)ch_fmt(sp, sizeof sp, "%d", sip);
	(void)ch_fmt(cp, sizeof cp, "%d", ctrl_port[i]);
	(void)ch_fmt(rtp, sizeof rtp, "%d-%d", rtp_lo[i], rtp_hi[i]);
	(void)ch_fmt(kp, sizeof kp, "%d", kam_port);
	const char *kv[] = {
	    "@SIP_PORT@", sp,       "@CTRL_PORT@", cp, "@RTP_PORTS@", rtp, "@MODULE_PATH@", BARESIP_MODULE_DIR,
	    "@USER@",     users[i], "@KAM_PORT@",  kp, NULL};
	char cfg[96], acc[96];
	(void)ch_fmt(cfg, sizeof cfg, "%s/config", sub);
	(void)ch_fmt(acc, sizeof acc, "%s/accounts", sub);
	if (!write_from_template("baresip.config.in", cfg, kv) || !write_from_template("baresip.accounts.in", acc, kv))
		return false;
	const char *argv[] = {BARESIP_BIN, "-f", dir, "-v", NULL};
	if (!proc_spawn(&phone[i], sub, argv))
		return false;
	char ctrl[64];
	(void)ch_fmt(ctrl, sizeof ctrl, "listening on 127.0.0.1:%d", ctrl_port[i]);
	for (int waited = 0; waited < 5000 && !proc_exited(&phone[i]); waited += 50) {
		char *l = slurp(phone[i].log);
		bool ready = strstr(l, ctrl) && strstr(l, "baresip is ready");
		free(l);
		if (ready)
			return true;
		msleep(50);
	}
	dump_tail("baresip that did not start", phone[i].log);
	proc_stop(&phone[i], 2);
	return false;
}

static bool start_phone(int i)
{
	for (int attempt = 0; attempt < 3; attempt++)
		if (start_phone_once(i))
			return true;
	return false;
}

/* The password the daemon answers 407 with: SIP_PASSWORD, or a wrong one for that case. */
static const char *daemon_sip_password = SIP_PASSWORD;

static void start_daemon(void)
{
	char conf[4096];
	int rc =
	    ch_fmt(conf, sizeof conf,
		   "log = { level = \"debug\"; };\n"
		   "originator = {\n"
		   "  identity = \"sip:c2c@127.0.0.1\";\n"
		   "  listen = \"sip:127.0.0.1:%d\";\n"
		   "  outbound_proxy = \"sip:127.0.0.1:%d\";\n"
		   "  auth = { user = \"" SIP_USER "\"; password = \"%s\"; };\n"
		   "  translations = ( { pattern = \"^(100[12])$\"; output = \"sip:$1@127.0.0.1:%d\"; } );\n"
		   "  destinations = { allow = [ \"^sip:100[12]@127\\\\.0\\\\.0\\\\.1:%d$\" ]; };\n"
		   "  timers = { ring_timeout_s = 15; refer_notify_timeout_s = 15; reinvite_timeout_s = 5;"
		   " max_call_s = 120; };\n"
		   "  limits = { concurrent_calls = 4; calls_per_minute = 60; calls_per_minute_per_initiator = 10; };\n"
		   "  http = { listen = [ \"127.0.0.1:0\" ]; user = \"admin\"; password = \"" HTTP_PASSWORD "\"; };\n"
		   "  xml = { listen = [ \"127.0.0.1:0\" ]; allow_from = [ \"127.0.0.0/8\" ]; };\n"
		   "  keep_ended_s = 600;\n"
		   "};\n",
		   orig_port, kam_port, daemon_sip_password, kam_port, kam_port);
	CHECK(rc == 0);
	CHECK_MSG(chd_start(&D, conf) == 0, "the daemon did not start");
	if (D.pid > 0)
		guard_add((int32_t)D.pid);
	CHECK(D.orig_http_port > 0 && D.orig_xml_port > 0 && D.sip_port == orig_port);
}

/* ---- the two paths --------------------------------------------------------------------------- */

static char kam_uri[2][64];

/* (a) REFER: XML request 1001 -> 1002; 1001 answers, is REFERred, dials 1002 through Kamailio;
 * we BYE our leg on the NOTIFY 200: transferred, and the phones talk to each other. */
static void refer_path(void)
{
	size_t from[2] = {file_size(phone[0].log), file_size(phone[1].log)};
	char *xml = xml_call("1001", "1002", false, 20000);
	char steps[512];
	xml_steps(xml, steps, sizeof steps);
	printf("REFER path, XML results: %s\n", steps);
	bool ok = strncmp(steps, "100/ ", 5) == 0 && strstr(steps, "200/Initiator") &&
		  strlen(steps) > strlen("200/Destination") &&
		  strcmp(steps + strlen(steps) - strlen("200/Destination"), "200/Destination") == 0;
	CHECK_MSG(ok, "XML results \"%s\"", steps);
	char tr[160];
	(void)ch_fmt(tr, sizeof tr, "<TranslatedDestination>%s</TranslatedDestination>", kam_uri[1]);
	CHECK_MSG(strstr(xml, tr) != NULL, "no %s in\n%s", tr, xml);
	free(xml);
	if (!ok)
		return; /* the rest would only wait for what cannot come */

	/* the first call of this daemon: id 1 */
	json_t *j = wait_state(1, "transferred", 5000);
	CHECK_MSG(j != NULL, "GET /v1/calls/1");
	if (j) {
		char *dump = json_dumps(j, JSON_COMPACT);
		printf("REFER path, JSON: %s\n", dump);
		free(dump);
		json_t *res = json_object_get(j, "result");
		json_t *legs = json_object_get(j, "legs");
		CHECK_STR(sv(json_object_get(j, "state")), "transferred");
		CHECK(json_is_false(json_object_get(j, "anchor")));
		CHECK(json_is_false(json_object_get(j, "fallback")));
		CHECK_STR(sv(json_object_get(json_object_get(legs, "initiator"), "uri")), kam_uri[0]);
		CHECK_STR(sv(json_object_get(json_object_get(legs, "destination"), "uri")), kam_uri[1]);
		CHECK(json_integer_value(json_object_get(json_object_get(legs, "initiator"), "status")) == 200);
		CHECK(json_integer_value(json_object_get(json_object_get(legs, "destination"), "status")) == 200);
		CHECK(json_integer_value(json_object_get(res, "code")) == 200);
		CHECK_STR(sv(json_object_get(res, "ended_by")), "transfer");
		json_decref(j);
	}
	char st[512];
	states_of(1, st, sizeof st);
	printf("REFER path, engine states: %s\n", st);
	CHECK_MSG(strstr(st, "calling_initiator") && strstr(st, "initiator_answered calling_destination") &&
		      strcmp(st + strlen(st) - strlen("transferred"), "transferred") == 0,
		  "states \"%s\"", st);

	/* the phones are in a call with each other, RTP flowing between them */
	CHECK(phone_wait_calls(0, kam_uri[1], 5000));
	CHECK(phone_wait_calls(1, kam_uri[0], 5000));
	check_rtp_between_phones(from);
	/* Kamailio challenged the INVITE and the REFER, and relayed them with our credentials */
	char *kl = slurp(kam.log);
	char k[128];
	(void)ch_fmt(k, sizeof k, "407 challenge for initial INVITE from 127.0.0.1:%d", orig_port);
	CHECK_MSG(count(kl, k) >= 1, "Kamailio did not log \"%s\"", k);
	(void)ch_fmt(k, sizeof k, "407 challenge for in-dialog REFER from 127.0.0.1:%d", orig_port);
	CHECK_MSG(count(kl, k) >= 1, "Kamailio did not log \"%s\"", k);
	(void)ch_fmt(k, sizeof k, "in-dialog REFER from 127.0.0.1:%d authenticated as " SIP_USER, orig_port);
	CHECK_MSG(count(kl, k) == 1, "Kamailio did not log \"%s\" once", k);
	free(kl);
	char *dl = chd_log(&D);
	CHECK(strstr(dl, "call 1: 407 challenge, authenticating as " SIP_USER) != NULL);
	free(dl);

	/* 1001 hangs up the call it made: both phones idle again */
	char *r = phone_cmd(0, "hangup");
	CHECK_MSG(r != NULL, "ctrl_tcp hangup on phone 1001");
	free(r);
	CHECK(phone_wait_calls(0, NULL, 5000));
	CHECK(phone_wait_calls(1, NULL, 5000));
}

/* Both INVITEs of the anchored call were challenged, and the re-INVITE that reused a one-time nonce too. */
static void anchored_challenges(size_t kam_from)
{
	char *kl = slurp(kam.log);
	char k[128];
	(void)ch_fmt(k, sizeof k, "407 challenge for initial INVITE from 127.0.0.1:%d", orig_port);
	CHECK_MSG(count(kl + kam_from, k) == 2, "Kamailio logged \"%s\" %d times, want 2", k, count(kl + kam_from, k));
	(void)ch_fmt(k, sizeof k, "in-dialog INVITE from 127.0.0.1:%d authenticated as " SIP_USER, orig_port);
	CHECK_MSG(count(kl + kam_from, k) == 1, "Kamailio did not log \"%s\" once", k);
	free(kl);
}

/* (b) anchored: JSON request 1001 -> 1002 anchor=true; connected with RTP directly between the
 * phones; DELETE releases both legs with BYE. */
/* POST the anchored call 1001 -> 1002: 202, the second call of the run, with the translated URIs. */
static uint64_t anchored_place(void)
{
	long status = 0;
	char *body =
	    api("POST", "/v1/calls", "{\"initiator\":\"1001\",\"destination\":\"1002\",\"anchor\":true}", &status);
	CHECK_MSG(status == 202, "POST /v1/calls: %ld %s", status, body);
	json_t *pj = json_loads(body, 0, NULL);
	uint64_t id = (uint64_t)json_integer_value(json_object_get(pj, "id"));
	CHECK_MSG(id == 2, "call id %llu", (unsigned long long)id);
	CHECK_STR(sv(json_object_get(pj, "translated_initiator")), kam_uri[0]);
	CHECK_STR(sv(json_object_get(pj, "translated_destination")), kam_uri[1]);
	json_decref(pj);
	free(body);
	return id;
}

static void anchored_path(void)
{
	size_t from[2] = {file_size(phone[0].log), file_size(phone[1].log)};
	char *kl0 = slurp(kam.log);
	const char *bye = "e2e: in BYE sip:";
	char bye_from[64];
	(void)ch_fmt(bye_from, sizeof bye_from, " from 127.0.0.1:%d ", orig_port);
	size_t kam_from = strlen(kl0);
	free(kl0);

	uint64_t id = anchored_place();
	long status = 0;
	char *body;

	json_t *j = wait_state(id, "connected", 15000);
	bool connected = j && strcmp(sv(json_object_get(j, "state")), "connected") == 0;
	CHECK_MSG(connected, "state %s", j ? sv(json_object_get(j, "state")) : "(none)");
	if (j) {
		CHECK(json_is_true(json_object_get(j, "anchor")));
		CHECK(json_is_false(json_object_get(j, "fallback")));
		CHECK(json_object_get(j, "result") == NULL);
	}
	json_decref(j);
	if (!connected)
		return;
	char st[512];
	states_of(id, st, sizeof st);
	printf("anchored path, engine states: %s\n", st);
	CHECK_MSG(strcmp(st, "calling_initiator initiator_ringing initiator_answered calling_destination "
			     "destination_ringing connected") == 0 ||
		      strcmp(st, "calling_initiator initiator_answered calling_destination connected") == 0 ||
		      strcmp(st, "calling_initiator initiator_ringing initiator_answered calling_destination "
				 "connected") == 0 ||
		      strcmp(st, "calling_initiator initiator_answered calling_destination "
				 "destination_ringing connected") == 0,
		  "states \"%s\"", st);

	/* 1001 talks to us (c2c), 1002 sees the translated initiator; RTP flows phone to phone */
	CHECK(phone_wait_calls(0, "sip:c2c@127.0.0.1", 5000));
	CHECK(phone_wait_calls(1, kam_uri[0], 5000));
	check_rtp_between_phones(from);

	anchored_challenges(kam_from);

	status = 0;
	char path[64];
	(void)ch_fmt(path, sizeof path, "/v1/calls/%llu", (unsigned long long)id);
	body = api("DELETE", path, NULL, &status);
	CHECK_MSG(status == 202, "DELETE %s: %ld %s", path, status, body);
	free(body);
	j = wait_state(id, "ended", 5000);
	CHECK_MSG(j && json_object_get(j, "result"), "no result after DELETE");
	if (j) {
		char *dump = json_dumps(j, JSON_COMPACT);
		printf("anchored path, JSON: %s\n", dump);
		free(dump);
		json_t *res = json_object_get(j, "result");
		CHECK_STR(sv(json_object_get(j, "state")), "ended");
		CHECK_STR(sv(json_object_get(res, "ended_by")), "api");
		json_decref(j);
	}
	/* a BYE went to each phone through Kamailio and each answered 200 */
	char l0[64], l1[64];
	(void)ch_fmt(l0, sizeof l0, "call %llu initiator: nua_r_bye 200", (unsigned long long)id);
	(void)ch_fmt(l1, sizeof l1, "call %llu destination: nua_r_bye 200", (unsigned long long)id);
	CHECK_MSG(chd_wait_log(&D, l0, 5000), "no \"%s\" in the daemon's log", l0);
	CHECK_MSG(chd_wait_log(&D, l1, 5000), "no \"%s\" in the daemon's log", l1);
	char *kl = slurp(kam.log);
	int byes = 0;
	for (const char *p = kl + kam_from; (p = strstr(p, bye)) != NULL; p++) {
		const char *eol = strchr(p, '\n');
		const char *f = strstr(p, bye_from);
		if (f && (!eol || f < eol))
			byes++;
	}
	CHECK_MSG(byes == 2, "Kamailio relayed %d BYEs from the originator, want 2", byes);
	free(kl);
	CHECK(phone_wait_calls(0, NULL, 5000));
	CHECK(phone_wait_calls(1, NULL, 5000));
}

/* (c) wrong password: Kamailio re-challenges the retried INVITE; the call should fail on the
 * initiator leg with the proxy's 407 and no phone rings. Not registered in ctest yet: the
 * engine reports Sofia's internal 904 "Operation has no matching challenge" (try_auth answers
 * the second challenge again); register "sip_test_e2e_kamailio wrong_password" once fixed. */
static void wrong_password(void)
{
	char *xml = xml_call("1001", "1002", false, 10000);
	char steps[512];
	xml_steps(xml, steps, sizeof steps);
	printf("wrong password, XML results: %s\n", steps);
	CHECK_STR(steps, "100/ 407/Initiator");
	free(xml);
	json_t *j = wait_state(1, "failed", 5000);
	CHECK_MSG(j != NULL, "GET /v1/calls/1");
	if (j) {
		json_t *res = json_object_get(j, "result");
		CHECK_STR(sv(json_object_get(j, "state")), "failed");
		CHECK(json_integer_value(json_object_get(res, "code")) == 407);
		CHECK_STR(sv(json_object_get(res, "ended_by")), "initiator");
		json_decref(j);
	}
	char *kl = slurp(kam.log);
	char k[128];
	(void)ch_fmt(k, sizeof k, "407 challenge for initial INVITE from 127.0.0.1:%d", orig_port);
	CHECK_MSG(count(kl, k) == 2, "Kamailio logged \"%s\" %d times, want 2", k, count(kl, k));
	(void)ch_fmt(k, sizeof k, "authenticated as " SIP_USER);
	CHECK_MSG(strstr(kl, k) == NULL, "Kamailio accepted a wrong password");
	free(kl);
	CHECK(phone_wait_calls(0, NULL, 2000));
	CHECK(phone_wait_calls(1, NULL, 2000));
}

/* Kamailio, the two phones registered with it, then the daemon; false when any of them did not come up (the
 * failure is checked). */
static bool bring_up(void)
{
	orig_port = free_port(false);
	bool kam_up = false;
	for (int attempt = 0; attempt < 3 && !kam_up && orig_port > 0; attempt++) {
		kam_port = free_port(false); /* a port taken meanwhile: try another */
		kam_up = kam_port > 0 && start_kamailio();
		if (!kam_up) {
			dump_tail("kamailio that did not start", kam.log);
			proc_stop(&kam, 1);
		}
	}
	if (!kam_up) {
		CHECK_MSG(0, "kamailio did not start");
		return false;
	}
	for (int i = 0; i < 2; i++)
		(void)ch_fmt(kam_uri[i], sizeof kam_uri[i], "sip:%s@127.0.0.1:%d", users[i], kam_port);
	for (int i = 0; i < 2; i++) {
		if (!start_phone(i)) {
			CHECK_MSG(0, "baresip %s did not start", users[i]);
			return false;
		}
	}
	for (int i = 0; i < 2; i++) {
		char reg[64];
		(void)ch_fmt(reg, sizeof reg, "e2e: registered %s at", users[i]);
		CHECK_MSG(wait_in_file(kam.log, 0, reg, 10000), "phone %s did not register", users[i]);
	}
	if (check_failures)
		return false;
	start_daemon();
	if (check_failures)
		return false;
	return true;
}

int main(int argc, char **argv)
{
	bool wrong = argc > 1 && strcmp(argv[1], "wrong_password") == 0;
	if (argc > 1 && !wrong) {
		fprintf(stderr, "usage: %s [wrong_password]\n", argv[0]);
		return 2;
	}
	if (wrong)
		daemon_sip_password = "not-the-" SIP_PASSWORD;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGABRT, on_signal);
	char probe[512], probe2[512];
	(void)ch_fmt(probe, sizeof probe, "%s/tm.so", KAMAILIO_MODULE_DIR);
	(void)ch_fmt(probe2, sizeof probe2, "%s/ctrl_tcp.so", BARESIP_MODULE_DIR);
	if (!need(KAMAILIO_BIN, "kamailio", "the Debian package kamailio") ||
	    !need(BARESIP_BIN, "baresip", "the Debian package baresip-core") || access(probe, R_OK) != 0 ||
	    access(probe2, R_OK) != 0) {
		printf("skipped: Kamailio or baresip (or their modules: %s, %s) are not installed\n", probe, probe2);
		return 77;
	}
	CHECK(chd_init(&D) == 0);
	guard_start();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int64_t t0 = ch_now_ms();
	if (check_failures)
		goto out;

	if (!bring_up())
		goto out;

	if (wrong) {
		wrong_password();
	} else {
		refer_path();
		anchored_path();
	}

	char *l = chd_log(&D);
	CHECK_MSG(strstr(l, daemon_sip_password) == NULL && strstr(l, HTTP_PASSWORD) == NULL,
		  "a password in the daemon's log");
	free(l);
	CHECK(chd_stop(&D) == 0);
out:
	if (check_failures) {
		dump_tail("kamailio", kam.log);
		dump_tail("baresip 1001", phone[0].log);
		dump_tail("baresip 1002", phone[1].log);
		dump_tail("callhook", D.log);
	}
	stop_all();
	guard_done();
	if (guard_pid > 0)
		waitpid(guard_pid, NULL, 0);
	printf("run time %.1f s\n", (double)(ch_now_ms() - t0) / 1000.0);
	if (check_failures)
		fprintf(stderr, "logs kept in %s\n", D.dir);
	else
		chd_cleanup(&D);
	curl_global_cleanup();
	return check_done();
}
