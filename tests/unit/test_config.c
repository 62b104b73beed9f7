/* tests/unit/test_config.c: config loader: defaults, bounds, unknown keys, secrets, the exact error text, the walkers.
 */
#include "tests/check.h"
#include "common/common.h"
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *base_site = "sites = ( { name = \"shop\"; origins = [ \"https://www.example.com\" ];\n"
			       "  sip = { login = \"10001\"; password = \"pw-secret-1\"; }; callee = \"10002\"; } );\n";

/* Load text; on error return the formatted message (static). */
static const char *load_err(const char *text)
{
	static char msg[1400];
	struct cfg *c = NULL;
	struct cfg_error err;
	if (cfg_load_string(text, "t.conf", "/tmp", &c, &err) == 0) {
		cfg_free(c);
		return NULL;
	}
	cfg_error_format(&err, msg, sizeof(msg));
	return msg;
}

struct err_case {
	const char *text;
	const char *expect; /* substring of the formatted error */
};

static const struct err_case err_cases[] = {
    {"hook = { listen = [ \"127.0.0.1:8081\" ]; bogus = 1; };\n", "t.conf:1: hook.bogus: unknown setting"},
    {"hook = { max_body_bytes = 10; };\n", "t.conf:1: hook.max_body_bytes: 10 is out of range"},
    {"hook = { max_body_bytes = \"big\"; };\n", "hook.max_body_bytes: must be an integer"},
    {"hook = { listen = [ \"127.0.0.1\" ]; };\n", "hook.listen.[0]: \"127.0.0.1\" is not host:port"},
    {"hook = { listen = [ \"[::1]:99999\" ]; };\n", "hook.listen.[0]"},
    {"hook = { listen = [ ]; };\n", "hook.listen: at least one listen address is required"},
    {"hook = { listen = [ \"[::1:8081\" ]; };\n", "hook.listen.[0]: \"[::1:8081\" is not host:port"},
    {"hook = { listen = [ \"example.com:8081\" ]; };\n", "hook.listen.[0]"},
    {"sites = ( { name = \"s\"; domain = \"x.com\"; sip = { login = \"\xff\xfe\"; }; callee = \"1\"; } );\n",
     "t.conf:1: sites.[0].sip.login: is not valid UTF-8"},
    {"hook = { listen = [ \"127.0.0.1:1\" ]; wcs_auth = { hmac_keys = [ \"k\xc3\" ]; }; };\n",
     "hook.wcs_auth.hmac_keys.[0]: is not valid UTF-8"},
    {"log = { level = \"loud\"; };\nhook = {};\n", "t.conf:1: log.level: \"loud\" is not one of"},
    {"sites = ( { name = \"shop\"; origins = [ \"https://x.com\" ]; } );\n",
     "sites.[0].sip: required setting is missing"},
    {"sites = ( { origins = [ \"https://x.com\" ]; sip = { login = \"1\"; }; } );\n", "sites.[0].name: required"},
    {"sites = ( { name = \"a b\"; origins = [ \"https://x.com\" ]; sip = { login = \"1\"; }; } );\n",
     "sites.[0].name: \"a b\" is not a name"},
    {"sites = ( { name = \"a\"; sip = { login = \"1\"; }; } );\n", "sites.[0].origins: a site needs origins or domain"},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; },\n"
     "          { name = \"a\"; domain = \"y.com\"; sip = { login = \"1\"; }; } );\n",
     "t.conf:2: sites.[1].name: duplicate site name \"a\""},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; password = \"p\"; password_file = \"/x\"; "
     "}; } );\n",
     "sites.[0].sip.password_file: set either password or password_file, not both"},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; limits = { calls_per_session = -1; }; } "
     ");\n",
     "sites.[0].limits.calls_per_session: -1 is out of range"},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; buttons = { sales = 5; }; } );\n",
     "sites.[0].buttons.sales: must be a string"},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; allow_transfer = \"yes\"; } );\n",
     "sites.[0].allow_transfer: must be true or false"},
    {"hook = { wcs_auth = { hmac_keys = [ \"k1\" ]; basic_user = \"u\"; basic_password = \"p\"; }; };\n",
     "hook.wcs_auth.basic_user: HMAC keys and Basic credentials both use the Authorization header"},
    {"hook = { wcs_auth = { basic_user = \"u\"; }; };\n", "hook.wcs_auth.basic_password: required"},
    {"hook = { tls = { cert = \"/x\"; }; };\n", "hook.tls.key: required when tls is set"},
    {"originator = { identity = \"x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } ); };\n",
     "originator.identity: \"x\" is not a SIP URI"},
    /* the RFC 3261 grammar, not a prefix: headers, spaces, a bad host */
    {"originator = { identity = \"sip:c2c@x?Route=evil\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } "
     "); "
     "};\n",
     "originator.identity: \"sip:c2c@x?Route=evil\" is not a SIP URI"},
    {"originator = { identity = \"sip:c2c@pbx example\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } "
     "); "
     "};\n",
     "originator.identity: \"sip:c2c@pbx example\" is not a SIP URI"},
    {"originator = { identity = \"sip:c2c@x\"; outbound_proxy = \"sip:proxy..example\";\n"
     "  translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } ); };\n",
     "originator.outbound_proxy: \"sip:proxy..example\" is not a SIP URI"},
    {"originator = { identity = \"sip:c2c@x\"; };\n", "originator.translations: required"},
    {"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"
     "  timers = { transaction_linger_ms = 999; }; };\n",
     "t.conf:2: originator.timers.transaction_linger_ms: 999 ms would not absorb a 2xx retransmitted 0.5 s and 1.5 s "
     "after the first: 0 (RFC 3261's timers) or 1000 to 32000"},
    {"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"
     "  timers = { transaction_linger_ms = 32001; }; };\n",
     "originator.timers.transaction_linger_ms"},
    {"originator = { identity = \"sip:c2c@x\"; tls_listen = \"sips:127.0.0.1:5073\";\n"
     "  translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } ); };\n",
     "t.conf:1: originator.tls_certificate_dir: required with tls_listen"},
    {"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"
     "  http = { listen = [ \"127.0.0.1:0\" ]; }; };\n",
     "originator.http.password: required"},
    {"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"
     "  http = { listen = [ \"127.0.0.1:0\" ]; password = \"p\"; auth = \"basic\"; }; };\n",
     "originator.http.auth: \"basic\" sends the password in clear"},
    {"log = { level = \"info\"; };\n", "nothing to do"},
    {"hook = { listen = [ \"127.0.0.1:1\" ] \n", "t.conf:2: syntax error"},
    {"sites = { name = \"a\"; };\n", "sites: must be a list of groups"},
    /* limits.ipv6_prefix: 32..128, an integer */
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; limits = { ipv6_prefix = 31; }; } );\n",
     "t.conf:1: sites.[0].limits.ipv6_prefix: 31 is out of range"},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; limits = { ipv6_prefix = 129; }; } "
     ");\n",
     "sites.[0].limits.ipv6_prefix: 129 is out of range"},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; limits = { ipv6_prefix = \"64\"; }; "
     "} );\n",
     "sites.[0].limits.ipv6_prefix: must be an integer"},
    /* the table's checks that used to be made (or not) by the originator */
    {"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"
     "  http = { listen = [ \"127.0.0.1:0\" ]; user = \"\"; password = \"p\"; }; };\n",
     "t.conf:2: originator.http.user: may not be empty"},
    {"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"
     "  callbacks = { allow = [ \"https://ok.example/\", \"ftp://x/\" ]; }; };\n",
     "t.conf:2: originator.callbacks.allow.[1]: \"ftp://x/\" must start with https:// or http://"},
    {"sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; }; callee = \"\"; } );\n",
     "t.conf:1: sites.[0].callee: may not be empty"},
};

/* originator.caller_id: each template checked at load, with the exact "file:line: path: message". */
#define CID_HEAD                                                                                                       \
	"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"
static const struct err_case cid_cases[] = {
    {CID_HEAD "  caller_id = { destination = {\n    user = \"${dest_user}\"; }; }; };\n",
     "t.conf:3: originator.caller_id.destination.user: unknown variable \"${dest_user}\" (known: ${initiator_user}, "
     "${destination_user})"},
    {CID_HEAD "  caller_id = { initiator = {\n    display = \"Call ${destination_user\"; }; }; };\n",
     "t.conf:3: originator.caller_id.initiator.display: unknown variable \"${destination_user\""},
    {CID_HEAD "  caller_id = { destination = {\n    from = \"sip:+4930123456@trunk.example.com?Route=x\"; }; }; };\n",
     "t.conf:3: originator.caller_id.destination.from: \"sip:+4930123456@trunk.example.com?Route=x\" can never be a "
     "SIP URI (it gives \"sip:+4930123456@trunk.example.com?Route=x\")"},
    {CID_HEAD "  caller_id = { destination = {\n    p_asserted_identity = \"<sip:${initiator_user}@x>\"; }; }; };\n",
     "t.conf:3: originator.caller_id.destination.p_asserted_identity: \"<sip:${initiator_user}@x>\" can never be a "
     "SIP URI (it gives \"<sip:1001@x>\")"},
    {CID_HEAD "  caller_id = { destination = {\n    user = \"${destination_user};maddr=evil\"; }; }; };\n",
     "t.conf:3: originator.caller_id.destination.user: \"${destination_user};maddr=evil\" can never be a SIP user "
     "part"},
    /* a control is the loader's refusal; a display name too long whatever the user parts */
    {CID_HEAD "  caller_id = { initiator = {\n    display = \"Call\\n\"; }; }; };\n",
     "t.conf:3: originator.caller_id.initiator.display: contains a control character"},
    {CID_HEAD "  caller_id = { initiator = {\n    display = "
	      "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxx ${destination_user}\"; }; }; };\n",
     "t.conf:3: originator.caller_id.initiator.display: \"xxxxxxxxxxxxxxxxxxxx"},
    {CID_HEAD "  caller_id = { destination = {\n    privacy = \"id;bogus\"; }; }; };\n",
     "t.conf:3: originator.caller_id.destination.privacy: \"id;bogus\" is not a Privacy value"},
    {CID_HEAD "  caller_id = { destination = { bogus = 1; }; }; };\n",
     "t.conf:2: originator.caller_id.destination.bogus: unknown setting"},
};

TEST_CASE(caller_id_errors)
{
	for (size_t i = 0; i < sizeof(cid_cases) / sizeof(cid_cases[0]); i++) {
		const char *e = load_err(cid_cases[i].text);
		CHECK_MSG(e != NULL && strstr(e, cid_cases[i].expect) != NULL, "case %zu: got \"%s\", want \"%s\"", i,
			  e ? e : "(loaded)", cid_cases[i].expect);
	}
	/* the example's templates load */
	CHECK(load_err(
		  CID_HEAD
		  "  caller_id = { initiator = { display = \"Call ${destination_user}\"; user = \"c2c\"; };\n"
		  "    destination = { from = \"sip:+4930123456@trunk.example.com\"; user = \"+49${initiator_user}\";\n"
		  "      p_asserted_identity = \"sip:${initiator_user}@pbx.example.com\"; privacy = \"id;critical\"; "
		  "}; }; };\n") == NULL);
}

TEST_CASE(errors)
{
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const char *e = load_err(err_cases[i].text);
		CHECK_MSG(e != NULL, "case %zu loaded but should fail", i);
		if (e)
			CHECK_MSG(strstr(e, err_cases[i].expect) != NULL, "case %zu: got \"%s\", want \"%s\"", i, e,
				  err_cases[i].expect);
	}
}

TEST_CASE(defaults)
{
	struct cfg *c = NULL;
	struct cfg_error err;
	CHECK(cfg_load_string(base_site, "t.conf", "/tmp", &c, &err) == 0);
	if (!c)
		return;
	CHECK(c->has_hook);
	CHECK(c->hook.listen.n == 1 && strcmp(c->hook.listen.v[0], "127.0.0.1:8081") == 0);
	CHECK(c->hook.max_body_bytes == 1048576);
	CHECK(c->hook.request_timeout_s == 10);
	CHECK(c->hook.max_sessions == 100000);
	CHECK(c->hook.session_ttl_s == 86400);
	CHECK(c->n_sites == 1);
	CHECK_STR(c->sites[0].name, "shop");
	CHECK(c->sites[0].limits.connects_per_minute_per_ip == 10);
	CHECK(c->sites[0].limits.calls_per_minute_per_ip == 3);
	CHECK(c->sites[0].limits.calls_per_session == 3);
	CHECK(c->sites[0].limits.calls_per_minute == 30);
	CHECK(c->sites[0].limits.concurrent_calls == 10);
	CHECK(c->sites[0].limits.ipv6_prefix == 64);
	CHECK(!c->sites[0].allow_transfer && !c->sites[0].allow_messages);
	CHECK_STR(c->log.level, "info");
	const char *secrets[8];
	size_t n = cfg_secrets(c, secrets, 8);
	CHECK(n == 1 && strcmp(secrets[0], "pw-secret-1") == 0);
	CHECK(!c->has_originator && c->orig.xml.max_connections == 0);
	CHECK(cfg_line_of(c, "sites.[0].sip") == 2);
	cfg_free(c);
}

static void secret_file_modes(const char *dir)
{
	char path[256], text[1024];
	snprintf(path, sizeof(path), "%s/sip.pass", dir);
	FILE *f = fopen(path, "w");
	fputs("from-file-secret\n", f);
	fclose(f);
	snprintf(text, sizeof(text),
		 "sites = ( { name = \"a\"; domain = \"x.com\"; callee = \"1\"; sip = { login = \"1\"; password_file = "
		 "\"sip.pass\"; }; } );\n");

	chmod(path, 0644);
	struct cfg *c = NULL;
	struct cfg_error err;
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) != 0);
	CHECK_MSG(strstr(err.msg, "readable by others") != NULL, "%s", err.msg);
	CHECK(strstr(err.msg, "from-file-secret") == NULL);

	chmod(path, 0640);
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) == 0);
	if (c) {
		CHECK_STR(c->sites[0].sip.password, "from-file-secret");
		CHECK(cfg_warnings(c)->n == 1);
		CHECK(strstr(cfg_warnings(c)->v[0], "readable by its group") != NULL);
		cfg_free(c);
	}

	chmod(path, 0600);
	c = NULL;
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) == 0);
	if (c) {
		CHECK(cfg_warnings(c)->n == 0);
		cfg_free(c);
	}

	/* systemd credentials win over the configured path */
	char cred[256];
	snprintf(cred, sizeof(cred), "%s/creds", dir);
	mkdir(cred, 0700);
	char cpath[300];
	snprintf(cpath, sizeof(cpath), "%s/sip.pass", cred);
	f = fopen(cpath, "w");
	fputs("credential-secret", f);
	fclose(f);
	chmod(cpath, 0400);
	setenv("CREDENTIALS_DIRECTORY", cred, 1);
	c = NULL;
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) == 0);
	if (c) {
		CHECK_STR(c->sites[0].sip.password, "credential-secret");
		cfg_free(c);
	}
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* Token secrets: at least 32 bytes; token.audience: optional, absent = NULL, empty refused with its line. */
static void token_secret(const char *dir)
{
	char text[1024];
	struct cfg *c = NULL;
	struct cfg_error err;
	FILE *f;
	/* a token secret shorter than 32 bytes refuses to start */
	char tpath[256];
	snprintf(tpath, sizeof(tpath), "%s/token.key", dir);
	f = fopen(tpath, "w");
	fputs("short", f);
	fclose(f);
	chmod(tpath, 0600);
	snprintf(text, sizeof(text),
		 "sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; };\n"
		 "  token = { secret_file = \"token.key\"; }; } );\n");
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) != 0);
	CHECK_MSG(strstr(err.msg, "at least 32 bytes") != NULL, "%s", err.msg);
	CHECK(err.line == 2);

	/* token.audience: optional, absent = NULL, empty refused with its line */
	f = fopen(tpath, "w");
	fputs("0123456789abcdef0123456789abcdef", f);
	fclose(f);
	chmod(tpath, 0600);
	c = NULL;
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) == 0);
	if (c) {
		CHECK(c->sites[0].token.audience == NULL);
		cfg_free(c);
	}
	snprintf(text, sizeof(text),
		 "sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; };\n"
		 "  token = { secret_file = \"token.key\"; audience = \"callhook-shop\"; }; } );\n");
	c = NULL;
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) == 0);
	if (c) {
		CHECK_STR(c->sites[0].token.audience, "callhook-shop");
		cfg_free(c);
	}
	snprintf(text, sizeof(text),
		 "sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; };\n"
		 "  token = { secret_file = \"token.key\";\n  audience = \"\"; }; } );\n");
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) != 0);
	CHECK_MSG(strcmp(err.path, "sites.[0].token.audience") == 0 && err.line == 3, "%s:%d %s", err.path, err.line,
		  err.msg);
	snprintf(text, sizeof(text),
		 "sites = ( { name = \"a\"; domain = \"x.com\"; sip = { login = \"1\"; };\n"
		 "  token = { secret_file = \"token.key\"; audience = [ \"a\" ]; }; } );\n");
	CHECK(cfg_load_string(text, "t.conf", dir, &c, &err) != 0);
	CHECK_MSG(strcmp(err.path, "sites.[0].token.audience") == 0, "%s", err.path);
}

TEST_CASE(secret_files)
{
	char dir[] = "/tmp/ch-cfg-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	secret_file_modes(dir);
	token_secret(dir);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

TEST_CASE(example_and_rcc)
{
	struct cfg *c = NULL;
	struct cfg_error err;
	int rc = cfg_load(CH_SOURCE_DIR "/examples/callhook.conf", &c, &err);
	char msg[1400];
	cfg_error_format(&err, msg, sizeof(msg));
	CHECK_MSG(rc == 0, "%s", msg);
	if (c) {
		CHECK(c->n_sites == 1);
		CHECK(strstr(c->hook.rest_client_config, "/examples/rest_client_config.json") != NULL);
		cfg_free(c);
	}
	rc = cfg_load("/nonexistent/callhook.conf", &c, &err);
	CHECK(rc != 0);
	CHECK(strstr(err.msg, "cannot read") != NULL);
}

/* The UTF-8 check every config string goes through (common/util.c). */
TEST_CASE(utf8)
{
	static const struct {
		const char *s;
		bool ok;
	} t[] = {
	    {"plain ascii", true},
	    {"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true},
	    {"\xc0\xaf", false},         /* overlong '/' */
	    {"\xe0\x80\xaf", false},     /* overlong, 3 bytes */
	    {"\xed\xa0\x80", false},     /* surrogate */
	    {"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
	    {"\xe2\x82", false},         /* truncated */
	    {"\x80", false},             /* lone continuation */
	    {"\xff", false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK_MSG(ch_utf8_valid(t[i].s, strlen(t[i].s)) == t[i].ok, "case %zu", i);
}

/* Listen lists have a declared size: one more address is a config error, not a silent drop. */
TEST_CASE(listen_max)
{
	static const char *const groups[] = {"hook", "admin"};
	for (size_t g = 0; g < 2; g++) {
		char text[4096], *p = text;
		p += snprintf(p, 100, "%s = { listen = [ ", groups[g]);
		for (int i = 0; i <= CFG_MAX_LISTEN; i++)
			p += snprintf(p, 40, "%s\"127.0.0.1:%d\"", i ? ", " : "", 9000 + i);
		snprintf(p, 200, " ]; };\n%s", g ? "hook = {};\n" : "");
		const char *e = load_err(text);
		char want[200];
		snprintf(want, sizeof(want), "t.conf:1: %s.listen: has %d entries; at most %d are allowed", groups[g],
			 CFG_MAX_LISTEN + 1, CFG_MAX_LISTEN);
		CHECK_MSG(e && strstr(e, want), "got \"%s\", want \"%s\"", e ? e : "(loaded)", want);
	}
}

#define ORIG_MIN                                                                                                       \
	"originator = { identity = \"sip:c2c@x\"; translations = ( { pattern = \"a\"; output = \"sip:a@b\"; } );\n"

/* originator.xml.allow_from: absent is the table's loopback default; an explicit [ ] is nobody. */
TEST_CASE(xml_allow_from)
{
	struct cfg *c = NULL;
	struct cfg_error err;
	CHECK(cfg_load_string(ORIG_MIN "  xml = { listen = [ \"127.0.0.1:0\" ]; }; };\n", "t.conf", "/tmp", &c, &err) ==
	      0);
	if (c) {
		CHECK(c->orig.xml.allow_from.n == 2 && strcmp(c->orig.xml.allow_from.v[0], "127.0.0.0/8") == 0);
		CHECK(c->orig.xml.max_connections == 256); /* the table's default, not the port's old 64 */
		CHECK_STR(c->orig.http.user ? c->orig.http.user : "(null)", "(null)");
		cfg_free(c);
	}
	c = NULL;
	CHECK(cfg_load_string(ORIG_MIN "  xml = { listen = [ \"127.0.0.1:0\" ]; allow_from = [ ]; }; };\n", "t.conf",
			      "/tmp", &c, &err) == 0);
	if (c) {
		CHECK(c->orig.has_xml && c->orig.xml.allow_from.n == 0);
		cfg_free(c);
	}
}

static struct cfg *load_ok(const char *text)
{
	struct cfg *c = NULL;
	struct cfg_error err;
	char msg[1400] = "";
	if (cfg_load_string(text, "t.conf", "/tmp", &c, &err) != 0)
		cfg_error_format(&err, msg, sizeof(msg));
	CHECK_MSG(c != NULL, "%s", msg);
	return c;
}

static void count_secret(const char *secret, void *arg)
{
	size_t *n = arg;
	CHECK(strcmp(secret, "pw-secret-1") == 0 || strcmp(secret, "http-pw-2") == 0);
	(*n)++;
}

/* cfg_dump prints every setting from the table, secrets as ***; cfg_each_secret finds them all. */
TEST_CASE(dump_and_secrets)
{
	struct cfg *c = load_ok(ORIG_MIN "  http = { listen = [ \"127.0.0.1:0\" ]; password = \"http-pw-2\"; }; };\n"
					 "sites = ( { name = \"shop\"; domain = \"x.com\"; callee = \"1\";\n"
					 "  sip = { login = \"10001\"; password = \"pw-secret-1\"; }; } );\n");
	if (!c)
		return;
	size_t n = 0;
	cfg_each_secret(c, count_secret, &n);
	CHECK(n == 2);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cfg_dump(c, f);
	fclose(f);
	CHECK_MSG(strstr(out, "\nsites.[0].sip.password ***\n") != NULL, "%s", out);
	CHECK(strstr(out, "\noriginator.http.password ***\n") != NULL);
	CHECK(strstr(out, "\nsites.[0].limits.ipv6_prefix /64\n") != NULL);
	CHECK(strstr(out, "\noriginator.xml.") == NULL); /* an absent group is left out */
	CHECK(strstr(out, "\noriginator.destinations.allow -\n") != NULL);
	CHECK(strstr(out, "pw-secret-1") == NULL && strstr(out, "http-pw-2") == NULL);
	free(out);
	cfg_free(c);
}

struct changes {
	char seen[512];
};

static void note_change(const char *path, enum cfg_change what, void *arg)
{
	struct changes *ch = arg;
	size_t l = strlen(ch->seen);
	snprintf(ch->seen + l, sizeof(ch->seen) - l, "%s%s ",
		 what == CFG_ADDED     ? "+"
		 : what == CFG_REMOVED ? "-"
				       : "",
		 path);
}

/* cfg_restart_changes reports the restart-only settings and groups that differ, by path only. */
TEST_CASE(restart_changes)
{
	struct cfg *a =
	    load_ok(ORIG_MIN "  listen = \"sip:127.0.0.1:5072\"; auth = { user = \"u\"; password = \"old\"; };\n"
			     "  limits = { concurrent_calls = 5; }; };\n"
			     "admin = { listen = [ \"127.0.0.1:9081\" ]; };\n");
	struct cfg *b =
	    load_ok(ORIG_MIN "  listen = \"sip:127.0.0.1:5073\"; auth = { user = \"u\"; password = \"new\"; };\n"
			     "  limits = { concurrent_calls = 6; }; xml = { listen = [ \"127.0.0.1:0\" ]; }; };\n"
			     "admin = { listen = [ \"127.0.0.1:9082\" ]; };\nhook = {};\n");
	struct cfg *copy = NULL;
	if (!a || !b || cfg_restart_copy(a, &copy) != 0) {
		CHECK(!"setup");
		goto out;
	}
	const char *want = "+hook originator.listen originator.auth.password +originator.xml admin.listen ";
	struct changes ch = {""};
	cfg_restart_changes(a, b, note_change, &ch);
	CHECK_STR(ch.seen, want);
	struct changes from_copy = {""};
	cfg_restart_changes(copy, b, note_change, &from_copy);
	CHECK_STR(from_copy.seen, want);
	struct changes none = {""};
	cfg_restart_changes(copy, a, note_change, &none);
	CHECK_STR(none.seen, "");
	CHECK(copy->orig.limits.concurrent_calls == 0 && copy->orig.auth_password != NULL); /* restart-only values */
out:
	cfg_free(copy);
	cfg_free(a);
	cfg_free(b);
}

struct full {
	const struct cfg *c;
	const char *text;
	size_t n, missing;
};

static void check_present(const struct cfg_setting_info *s, void *arg)
{
	struct full *f = arg;
	char path[300], *w = path;
	for (const char *p = s->path; *p && w < path + sizeof(path) - 8; p++) {
		if (strncmp(p, "<name>", 6) == 0) {
			/* a named entry: the example's button record */
			memcpy(w, "support", 7);
			w += 7;
			p += 5;
			continue;
		}
		*w++ = *p;
		if (p[0] == '[' && p[1] == ']')
			*w++ = '0';
	}
	*w = '\0';
	f->n++;
	if (cfg_line_of(f->c, path) > 0)
		return;
	/* set alternatives (password / password_file...) appear commented out */
	const char *name = strrchr(s->path, '.');
	char pat[128];
	snprintf(pat, sizeof(pat), "# %s = ", name ? name + 1 : s->path);
	bool commented = strstr(f->text, pat) != NULL;
	snprintf(pat, sizeof(pat), "#   %s = ", name ? name + 1 : s->path);
	commented = commented || strstr(f->text, pat) != NULL;
	CHECK_MSG(commented, "examples/callhook-full.conf does not show %s", s->path);
	f->missing += !commented;
}

/* examples/callhook-full.conf loads, and shows every setting of the table (set or commented out). */
TEST_CASE(full_example)
{
	const char *path = CH_SOURCE_DIR "/examples/callhook-full.conf";
	struct cfg *c = NULL;
	struct cfg_error err;
	int rc = cfg_load(path, &c, &err);
	char msg[1400];
	cfg_error_format(&err, msg, sizeof(msg));
	CHECK_MSG(rc == 0, "%s", msg);
	FILE *fp = fopen(path, "r");
	char *text = calloc(1, 65536);
	size_t got = fp && text ? fread(text, 1, 65535, fp) : 0;
	if (fp)
		fclose(fp);
	CHECK(got > 0);
	if (c && got) {
		struct full f = {c, text, 0, 0};
		cfg_each_setting(check_present, &f);
		CHECK(f.n > 100 && f.missing == 0);
	}
	free(text);
	cfg_free(c);
}
