/* tests/fuzz/fuzz_pipeline.c: fuzz hook_process, the whole request decision, and check the answer's invariants. */
#include "hook/hook_int.h"

#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Input: up to MAX_REQ requests separated by the byte 0x1e, each
 *   <mode byte><path>\n<Authorization value>\n<body>
 * mode bits 0-1: HTTP method (POST, POST, GET, PUT); bits 2-3: runtime
 * (open, open, hmac, basic); bits 4-5: peer (127.0.0.1, 10.1.2.3, ::1,
 * none); bit 6: body over max_body_bytes. An Authorization value of "!"
 * is replaced by the right one for the runtime (HMAC of the body, or the
 * Basic credentials), so the fuzzer gets past WCS authentication. The
 * requests of one input share a fresh store, 1 s apart on both clocks.
 * A token for the sites below is minted with SECRET and NOW (see the
 * corpus: tokens are valid at NOW + 0..60 s). */

#define MAX_REQ   6
#define INPUT_MAX 16384
#define NOW_MS    5000000LL
#define NOW_S     1700000000LL
#define SECRET    "fuzz-token-secret-0123456789abcdef" /* 34 bytes */
#define HMAC_KEY  "fuzz-hmac-key"
#define BASIC_HDR "Basic d2NzOmZ1enotcGFzcw==" /* wcs:fuzz-pass */

static const char *conf_open =
    "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 8192; max_sessions = 4; max_json_depth = 8;\n"
    "  max_members = 32; };\n"
    "sites = (\n"
    " { name = \"shop\"; origins = [ \"https://www.example.com\", \"https://*.example.com\", \"http://[::1]:8080\" ];\n"
    "   sip = { login = \"10001\"; auth_name = \"10001a\"; password = \"shop-pw\"; domain = \"sip.example.com\"; port "
    "= 5060; };\n"
    "   callee = \"10002\"; buttons = { sales = \"10002\"; support = \"10003\"; };\n"
    "   token = { secret_file = \"token.key\"; required = false; };\n"
    "   limits = { connects_per_minute_per_ip = 3; calls_per_minute_per_ip = 2; calls_per_session = 2;\n"
    "              calls_per_minute = 3; concurrent_calls = 2; }; },\n"
    " { name = \"clinic\"; domain = \"clinic.test\"; sip = { login = \"20001\"; password = \"clinic-pw\"; };\n"
    "   buttons = { desk = \"20002\"; }; allow_transfer = true; allow_messages = true;\n"
    "   token = { secret_file = \"token.key\"; required = true; }; }\n"
    ");\n";

static const char *conf_hmac = "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 8192;\n"
			       "  wcs_auth = { hmac_keys = [ \"other-key\", \"" HMAC_KEY
			       "\" ]; allow_from = [ \"127.0.0.0/8\", \"::1/128\" ]; }; };\n"
			       "sites = ( { name = \"one\"; domain = \"example.com\"; sip = { login = \"30001\"; "
			       "password = \"one-pw\"; }; callee = \"30002\";\n"
			       "   limits = { connects_per_minute_per_ip = 2; calls_per_session = 1; }; } );\n";

static const char *conf_basic =
    "hook = { listen = [ \"127.0.0.1:0\" ]; max_body_bytes = 8192;\n"
    "  wcs_auth = { basic_user = \"wcs\"; basic_password = \"fuzz-pass\"; allow_from = [ \"10.0.0.0/8\" ]; }; };\n"
    "sites = ( { name = \"one\"; domain = \"example.com\"; sip = { login = \"40001\"; password = \"basic-site-pw\"; "
    "};\n"
    "   callee = \"40002\"; buttons = { b = \"40003\"; };\n"
    "   token = { secret_file = \"token.key\"; required = true; }; } );\n";

static struct hook_rt *rts[3];

static struct hook_rt *compile(const char *text, const char *dir)
{
	struct cfg *cfg = NULL;
	struct cfg_error err;
	struct hook_rt *rt = NULL;
	if (cfg_load_string(text, "fuzz.conf", dir, &cfg, &err) != 0) {
		fprintf(stderr, "fuzz_pipeline: config: %s: %s\n", err.path, err.msg);
		abort();
	}
	if (hook_compile(cfg, &rt, &err, NULL, NULL) != 0) {
		fprintf(stderr, "fuzz_pipeline: compile: %s\n", err.msg);
		abort();
	}
	return rt;
}

static void init(void)
{
	char dir[] = "/tmp/fuzz-pipeline-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	ch_log_set_level(CH_LOG_ERROR);
	char path[128];
	snprintf(path, sizeof(path), "%s/token.key", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(SECRET, f);
	fclose(f);
	chmod(path, 0600);
	rts[0] = compile(conf_open, dir);
	rts[1] = compile(conf_hmac, dir);
	rts[2] = compile(conf_basic, dir);
	unlink(path);
	rmdir(dir);
}

static bool is_one_of(const char *v, const char *const *set)
{
	for (size_t i = 0; v && set[i]; i++)
		if (strcmp(v, set[i]) == 0)
			return true;
	return false;
}

static const struct hook_site *site_named(const struct hook_rt *rt, const char *name)
{
	for (size_t i = 0; i < rt->n_sites; i++)
		if (strcmp(rt->sites[i].cfg->name, name) == 0)
			return &rt->sites[i];
	return NULL;
}

static unsigned active_total(struct hook_store *st, const struct hook_rt *rt)
{
	unsigned n = 0;
	hs_lock(st);
	for (size_t i = 0; i < rt->n_sites; i++)
		n += hs_site_active(st, rt->sites[i].cfg->name);
	hs_unlock(st);
	return n;
}

static size_t sessions(struct hook_store *st)
{
	hs_lock(st);
	size_t n = hs_session_count(st);
	hs_unlock(st);
	return n;
}

#define REQUIRE(c)                                                                                                     \
	do {                                                                                                           \
		if (!(c)) {                                                                                            \
			fprintf(stderr, "fuzz_pipeline: invariant failed: %s (line %d)\n", #c, __LINE__);              \
			abort();                                                                                       \
		}                                                                                                      \
	} while (0)

static void check_answer(const struct hook_rt *rt, const struct hook_req *rq, const struct hook_resp *out,
			 size_t sess_before, size_t sess_after, unsigned act_before, unsigned act_after)
{
	int s = out->status;
	/* 409: a connect reusing another site's sessionId (docs/security.md) */
	if (!(s == 200 || s == 400 || s == 403 || s == 405 || s == 409 || s == 413 || s == 429 || s == 503)) {
		fprintf(stderr, "fuzz_pipeline: unexpected status %d: %.*s\n", s, (int)out->len,
			out->body ? out->body : "");
		abort();
	}
	REQUIRE(out->body != NULL);
	REQUIRE(out->len == strlen(out->body));
	json_error_t jerr;
	json_t *j = json_loadb(out->body, out->len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	if (!j && json_error_code(&jerr) == json_error_numeric_overflow) {
		/* A number past a double's range (1e33333333) is mirrored byte for byte (issue 10: validated, never
		 * converted), and Jansson, converting, refuses it: no oracle for this answer. It must still be one
		 * object our own validator accepts, and only a 200 mirrors a request's members. */
		static struct pol_json_doc doc; /* big: off the stack */
		REQUIRE(s == 200);
		REQUIRE(pol_json_validate(out->body, out->len, 64, 100000, &doc) == POL_JSON_OK);
		pol_json_doc_free(&doc);
		return;
	}
	REQUIRE(j != NULL && json_is_object(j));
	bool post = strcmp(rq->http_method, "POST") == 0;
	if (s != 200) {
		/* exactly {"status":N,"reason":"..."} */
		REQUIRE(json_object_size(j) == 2);
		json_t *st = json_object_get(j, "status");
		json_t *why = json_object_get(j, "reason");
		REQUIRE(json_is_number(st) && (int)json_number_value(st) == s);
		REQUIRE(json_is_string(why) && json_string_length(why) > 0);
		char pre[32];
		snprintf(pre, sizeof(pre), "{\"status\":%d,\"reason\":\"", s);
		REQUIRE(strncmp(out->body, pre, strlen(pre)) == 0);
		/* a refusal changes no session and takes no call slot */
		REQUIRE(sess_after == sess_before);
		REQUIRE(act_after == act_before);
	}
	if (s == 405)
		REQUIRE(out->allow != NULL && !post);
	if (!post && s != 405)
		REQUIRE(strcmp(rq->path, "/healthz") == 0 && s == 200);
	if (post && !hook_peer_allowed(rt, rq->peer_ip))
		REQUIRE(s == 403 &&
			strcmp(json_string_value(json_object_get(j, "reason")), "address not allowed") == 0);
	else if (post && rq->body_too_large)
		REQUIRE(s == 413);
	if (s == 200 && post) {
		if (strcmp(out->method, "connect") == 0) {
			/* the account is the site's, never the browser's */
			const struct hook_site *site = site_named(rt, out->site);
			REQUIRE(site != NULL);
			const struct cfg_sip_account *a = &site->cfg->sip;
			REQUIRE(strcmp(json_string_value(json_object_get(j, "sipLogin")), a->login) == 0);
			const char *pw = json_string_value(json_object_get(j, "sipPassword"));
			REQUIRE(pw && strcmp(pw, a->password ? a->password : "") == 0);
			REQUIRE(json_is_boolean(json_object_get(j, "sipRegisterRequired")));
			REQUIRE(json_equal(json_object_get(j, "restClientConfig"), rt->rcc));
			REQUIRE(!json_object_get(j, "sipProxy"));
			REQUIRE(sess_after >= sess_before && sess_after <= sess_before + 1);
		} else if (strcmp(out->method, "call") == 0) {
			const char *callees[16];
			size_t n = 0;
			for (size_t i = 0; i < rt->n_sites; i++) {
				const struct cfg_site *cs = rt->sites[i].cfg;
				if (cs->callee && n < 15)
					callees[n++] = cs->callee;
				for (size_t k = 0; k < cs->n_buttons && n < 15; k++)
					callees[n++] = cs->buttons[k].callee;
			}
			callees[n] = NULL;
			REQUIRE(is_one_of(json_string_value(json_object_get(j, "callee")), callees));
			json_t *ip = json_object_get(j, "inviteParameters");
			REQUIRE(json_is_object(ip) && json_object_size(ip) == 0);
			REQUIRE(act_after <= act_before + 1);
		} else {
			/* everything else is mirrored byte for byte */
			REQUIRE(out->len == rq->body_len && memcmp(out->body, rq->body, out->len) == 0);
		}
	}
	json_decref(j);
}

static void one(struct hook_store *st, const uint8_t *p, size_t n, int idx)
{
	if (n == 0)
		return;
	static const char *const methods[] = {"POST", "POST", "GET", "PUT"};
	static const char *const peers[] = {"127.0.0.1", "10.1.2.3", "::1", NULL};
	uint8_t mode = p[0];
	unsigned which = (mode >> 2) & 3;
	struct hook_rt *rt = rts[which == 3 ? 2 : which == 2 ? 1 : 0];
	p++;
	n--;
	const uint8_t *nl1 = memchr(p, '\n', n);
	size_t plen = nl1 ? (size_t)(nl1 - p) : n;
	const uint8_t *a = nl1 ? nl1 + 1 : p + n;
	size_t rest = n - (size_t)(a - p);
	const uint8_t *nl2 = memchr(a, '\n', rest);
	size_t alen = nl2 ? (size_t)(nl2 - a) : 0;
	const uint8_t *body = nl2 ? nl2 + 1 : a + rest;
	size_t blen = (size_t)(p + n - body);

	/* the server hands over the path without its query string: so do we */
	const uint8_t *q = memchr(p, '?', plen);
	char *path = ch_strndup((const char *)p, q ? (size_t)(q - p) : plen);
	char *authz = nl2 ? ch_strndup((const char *)a, alen) : NULL;
	/* the body is not NUL-terminated, as it comes from the network */
	char *b = malloc(blen ? blen : 1);
	if (!path || (nl2 && !authz) || !b)
		goto out;
	memcpy(b, body, blen);
	char good[128];
	if (authz && strcmp(authz, "!") == 0) {
		if (rt == rts[1]) {
			unsigned char mac[16];
			gnutls_hmac_fast(GNUTLS_MAC_MD5, HMAC_KEY, strlen(HMAC_KEY), b, blen, mac);
			int o = snprintf(good, sizeof(good), "WCS ");
			for (int i = 0; i < 16; i++)
				o += snprintf(good + o, sizeof(good) - (size_t)o, "%02x", mac[i]);
		} else {
			snprintf(good, sizeof(good), "%s", BASIC_HDR);
		}
		free(authz);
		authz = ch_strndup(good, strlen(good));
	}
	struct hook_req rq = {
	    .http_method = methods[mode & 3],
	    .path = path,
	    .authz = authz,
	    .peer_ip = peers[(mode >> 4) & 3],
	    .body = b,
	    .body_len = blen,
	    .body_too_large = (mode >> 6) & 1,
	};
	size_t sb = sessions(st);
	unsigned ab = active_total(st, rt);
	struct hook_resp out;
	hook_process(rt, st, &rq, NOW_MS + idx * 1000LL, (NOW_S + idx) * 1000, &out);
#ifdef FUZZ_PIPELINE_TRACE /* -DFUZZ_PIPELINE_TRACE: what each request got, for corpus authors */
	fprintf(stderr, "%d %s %s -> %d %.200s\n", idx, rq.http_method, path, out.status, out.body ? out.body : "");
#endif
	check_answer(rt, &rq, &out, sb, sessions(st), ab, active_total(st, rt));
	hook_resp_free(&out);
out:
	free(path);
	free(authz);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!rts[0])
		init();
	if (size > INPUT_MAX)
		return 0;
	struct hook_store *st = NULL;
	if (hs_new(&st) != 0)
		return 0;
	size_t start = 0;
	int idx = 0;
	for (size_t i = 0; i <= size && idx < MAX_REQ; i++) {
		if (i == size || data[i] == 0x1e) {
			one(st, data + start, i - start, idx++);
			start = i + 1;
		}
	}
	hs_free(st);
	return 0;
}
