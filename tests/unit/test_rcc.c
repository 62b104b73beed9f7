/* tests/unit/test_rcc.c: restClientConfig loading, the secure floor, key order and notes. */
#include "common/common.h"
#include "policy/policy.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_RCC CH_TEST_DATA "/wcs/rest_client_config.json"
#define SIP_LIST "sipLogin,sipAuthenticationName,sipPassword,sipDomain,sipOutboundProxy,sipPort"

struct notes {
	size_t n;
	char line[32][256];
};

static void record(const char *method, const char *field, const char *old_value, const char *new_value, void *arg)
{
	struct notes *ns = arg;
	if (ns->n < 32)
		(void)ch_fmt(ns->line[ns->n], sizeof(ns->line[0]), "%s.%s: \"%s\" -> \"%s\"", method, field, old_value,
			     new_value);
	ns->n++;
}

static const char *field(json_t *rcc, const char *method, const char *f)
{
	const char *s = json_string_value(json_object_get(json_object_get(rcc, method), f));
	return s ? s : "(absent)";
}

static json_t *parse_ok(const char *text)
{
	json_t *j = NULL;
	char err[200] = "";
	int rc = pol_rcc_parse(text, strlen(text), &j, err, sizeof(err));
	CHECK_MSG(rc == 0 && j, "parse \"%s\": %s", text, err);
	return j;
}

/* The secure floor in the PHP-era file, and WCS's defaults where the floor sets nothing. */
static void check_floor(json_t *rcc)
{
	/* the floor */
	CHECK_STR(field(rcc, "call", "restPolicy"), "OVERWRITE");
	CHECK_STR(field(rcc, "call", "restOnError"), "FAIL");
	CHECK_STR(field(rcc, "call", "restOverwrite"), "callee,inviteParameters");
	CHECK_STR(field(rcc, "transfer", "restPolicy"), "OVERWRITE");
	CHECK_STR(field(rcc, "transfer", "restOnError"), "FAIL");
	CHECK_STR(field(rcc, "sendMessage", "restPolicy"), "OVERWRITE");
	CHECK_STR(field(rcc, "sendMessage", "restOnError"), "FAIL");
	CHECK_STR(field(rcc, "connect", "clientExclude"), SIP_LIST);
	CHECK_STR(field(rcc, "ConnectionStatusEvent", "clientExclude"), SIP_LIST);
	CHECK_STR(field(rcc, "RegistrationStatusEvent", "clientExclude"), SIP_LIST);
	/* connect was missing: WCS defaults for what the floor does not set */
	CHECK_STR(field(rcc, "connect", "restExclude"), "");
	CHECK_STR(field(rcc, "connect", "restOnError"), "LOG");
	CHECK_STR(field(rcc, "connect", "restPolicy"), "NOTIFY");
	CHECK_STR(field(rcc, "connect", "restOverwrite"), "");
}

TEST_CASE(spec_file)
{
	char *text = NULL;
	size_t len = 0;
	CHECK(ch_read_file(SPEC_RCC, 1 << 20, &text, &len) == 0);
	if (!text)
		return;
	json_t *rcc = NULL, *orig = NULL;
	char err[200] = "";
	CHECK_MSG(pol_rcc_parse(text, len, &rcc, err, sizeof(err)) == 0, "%s", err);
	CHECK(pol_rcc_parse(text, len, &orig, err, sizeof(err)) == 0);
	if (!rcc || !orig)
		goto out;

	struct notes ns = {0};
	CHECK(pol_rcc_raise(rcc, record, &ns) == 0);

	check_floor(rcc);

	/* notes: one per raised field, in order, with old and new values */
	static const char *const want[] = {
	    "call.restOnError: \"LOG\" -> \"FAIL\"",
	    "call.restOverwrite: \"callee\" -> \"callee,inviteParameters\"",
	    "transfer.restPolicy: \"NOTIFY\" -> \"OVERWRITE\"",
	    "transfer.restOnError: \"LOG\" -> \"FAIL\"",
	    "sendMessage.restPolicy: \"NOTIFY\" -> \"OVERWRITE\"",
	    "sendMessage.restOnError: \"LOG\" -> \"FAIL\"",
	    "connect.clientExclude: \"\" -> \"" SIP_LIST "\"",
	    "ConnectionStatusEvent.clientExclude: \"\" -> \"" SIP_LIST "\"",
	    "RegistrationStatusEvent.clientExclude: \"\" -> \"" SIP_LIST "\"",
	};
	CHECK_MSG(ns.n == 9, "%zu notes", ns.n);
	for (size_t i = 0; i < 9 && i < ns.n; i++)
		CHECK_STR(ns.line[i], want[i]);

	/* key order: the file's keys in the file's order (found independently
	 * with the member scanner), then the appended method */
	struct pol_member m[64];
	size_t n = 0;
	CHECK(pol_json_members(text, len, m, 64, &n) == 0 && n == 32);
	CHECK(json_object_size(rcc) == n + 1);
	size_t i = 0;
	const char *key;
	json_t *v;
	json_object_foreach(rcc, key, v)
	{
		if (i < n)
			CHECK_MSG(strlen(key) == m[i].key_len - 2 &&
				      memcmp(key, text + m[i].key_off + 1, m[i].key_len - 2) == 0,
				  "key %zu is %s", i, key);
		else
			CHECK_STR(key, "connect");
		/* every method the floor does not touch is unchanged */
		json_t *o = json_object_get(orig, key);
		if (strcmp(key, "call") && strcmp(key, "transfer") && strcmp(key, "sendMessage") &&
		    strcmp(key, "connect") && strcmp(key, "ConnectionStatusEvent") &&
		    strcmp(key, "RegistrationStatusEvent"))
			CHECK_MSG(json_equal(o, v), "%s changed", key);
		i++;
	}
	/* fields of touched methods the floor does not set are kept, and the
	 * field order inside a method is kept */
	CHECK_STR(field(rcc, "call", "clientExclude"), "");
	CHECK_STR(field(rcc, "transfer", "restOverwrite"), "");
	CHECK_STR(field(rcc, "ConnectionStatusEvent", "restPolicy"), "NOTIFY");
	char *dump = json_dumps(json_object_get(rcc, "call"), JSON_COMPACT);
	CHECK_STR(dump ? dump : "", "{\"clientExclude\":\"\",\"restExclude\":\"\",\"restOnError\":\"FAIL\","
				    "\"restPolicy\":\"OVERWRITE\",\"restOverwrite\":\"callee,inviteParameters\"}");
	free(dump);

	/* raising twice changes nothing more */
	struct notes again = {0};
	json_t *copy = json_deep_copy(rcc);
	CHECK(pol_rcc_raise(rcc, record, &again) == 0);
	CHECK(again.n == 0);
	CHECK(json_equal(copy, rcc));
	json_decref(copy);
out:
	json_decref(rcc);
	json_decref(orig);
	free(text);
}

TEST_CASE(lists)
{
	json_t *rcc =
	    parse_ok("{\"foo\":{\"x\":\"y\"},"
		     "\"call\":{\"restOverwrite\":\" callee, ,foo\",\"restPolicy\":\"DISABLE\",\"custom\":\"k\"},"
		     "\"connect\":{\"clientExclude\":\" sipLogin , sipAuthenticationName,sipPassword,"
		     "sipDomain,sipOutboundProxy,sipPort\"},"
		     "\"ConnectionStatusEvent\":{\"clientExclude\":\"sipPassword,,custom,sipPassword\"},"
		     "\"RegistrationStatusEvent\":{\"clientExclude\":\"" SIP_LIST "\","
		     "\"restPolicy\":\"OVERWRITE\"},"
		     "\"sendMessage\":{\"restPolicy\":\"OVERWRITE\",\"restOnError\":\"FAIL\"}}");
	if (!rcc)
		return;
	struct notes ns = {0};
	CHECK(pol_rcc_raise(rcc, record, &ns) == 0);
	CHECK_STR(field(rcc, "call", "restOverwrite"), "callee,foo,inviteParameters");
	CHECK_STR(field(rcc, "call", "restPolicy"), "OVERWRITE");
	CHECK_STR(field(rcc, "call", "restOnError"), "FAIL");
	CHECK_STR(field(rcc, "call", "custom"), "k");
	CHECK_STR(field(rcc, "call", "clientExclude"), "(absent)");
	CHECK_STR(field(rcc, "connect", "clientExclude"), SIP_LIST);
	CHECK_STR(field(rcc, "ConnectionStatusEvent", "clientExclude"),
		  "sipPassword,custom,sipPassword,sipLogin,sipAuthenticationName,sipDomain,"
		  "sipOutboundProxy,sipPort");
	CHECK_STR(field(rcc, "RegistrationStatusEvent", "clientExclude"), SIP_LIST);
	CHECK_STR(field(rcc, "RegistrationStatusEvent", "restPolicy"), "OVERWRITE");
	CHECK_STR(field(rcc, "foo", "x"), "y");
	/* transfer appended last, with defaults and the floor */
	char *dump = json_dumps(rcc, JSON_COMPACT);
	const char *tail = ",\"transfer\":{\"clientExclude\":\"\",\"restExclude\":\"\",\"restOnError\":"
			   "\"FAIL\",\"restPolicy\":\"OVERWRITE\",\"restOverwrite\":\"\"}}";
	CHECK(dump && strlen(dump) > strlen(tail) && strcmp(dump + strlen(dump) - strlen(tail), tail) == 0);
	const char *head = "{\"foo\":{\"x\":\"y\"},\"call\":{\"restOverwrite\":";
	CHECK(dump && strncmp(dump, head, strlen(head)) == 0);
	free(dump);
	static const char *const want[] = {
	    "call.restPolicy: \"DISABLE\" -> \"OVERWRITE\"",
	    "call.restOnError: \"\" -> \"FAIL\"",
	    "call.restOverwrite: \" callee, ,foo\" -> \"callee,foo,inviteParameters\"",
	    "transfer.restPolicy: \"NOTIFY\" -> \"OVERWRITE\"",
	    "transfer.restOnError: \"LOG\" -> \"FAIL\"",
	    "connect.clientExclude: \" sipLogin , sipAuthenticationName,sipPassword,sipDomain,"
	    "sipOutboundProxy,sipPort\" -> \"" SIP_LIST "\"",
	    "ConnectionStatusEvent.clientExclude: \"sipPassword,,custom,sipPassword\" -> "
	    "\"sipPassword,custom,sipPassword,sipLogin,sipAuthenticationName,sipDomain,"
	    "sipOutboundProxy,sipPort\"",
	};
	CHECK_MSG(ns.n == 7, "%zu notes", ns.n);
	for (size_t i = 0; i < 7 && i < ns.n; i++)
		CHECK_STR(ns.line[i], want[i]);
	/* a NULL note is allowed */
	json_t *empty = parse_ok("{}");
	if (empty) {
		CHECK(pol_rcc_raise(empty, NULL, NULL) == 0);
		CHECK(json_object_size(empty) == 6);
		CHECK_STR(field(empty, "call", "restOverwrite"), "callee,inviteParameters");
		json_decref(empty);
	}
	json_decref(rcc);
}

struct err_case {
	const char *text;
	const char *msg; /* expected message, or a prefix ending in '*' */
};

static const struct err_case err_cases[] = {
    {"[]", "restClientConfig: not an object"},
    {"{\"call\":1}", "restClientConfig.call: not an object"},
    {"{\"call\":[]}", "restClientConfig.call: not an object"},
    {"{\"call\":{\"restPolicy\":5}}", "restClientConfig.call.restPolicy: not a string"},
    {"{\"call\":{\"restPolicy\":null}}", "restClientConfig.call.restPolicy: not a string"},
    {"{\"a\":{\"b\":{}}}", "restClientConfig.a.b: not a string"},
    {"{\"a\":{},\"a\":{}}", "restClientConfig: line 1 column *"},
    {"{\"a\":{\"b\":\"1\",\"b\":\"2\"}}", "restClientConfig: line 1 column *"},
    {"{", "restClientConfig: line 1 column *"},
    {"", "restClientConfig: line *"},
    {"{\"a\":{}} x", "restClientConfig: line 1 column *"},
    {"{\"a\":{\"b\":\"\xff\"}}", "restClientConfig: line *"},
};

TEST_CASE(errors)
{
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];
		json_t *j = (json_t *)&j; /* must stay untouched */
		char err[200] = "";
		CHECK_MSG(pol_rcc_parse(c->text, strlen(c->text), &j, err, sizeof(err)) == EINVAL, "row %zu", i);
		CHECK(j == (json_t *)&j);
		size_t pl = strlen(c->msg);
		if (c->msg[pl - 1] == '*')
			CHECK_MSG(strncmp(err, c->msg, pl - 1) == 0, "row %zu: %s", i, err);
		else
			CHECK_STR(err, c->msg);
	}
	/* duplicate keys are named as such */
	json_t *j = NULL;
	char err[200] = "";
	CHECK(pol_rcc_parse("{\"a\":{},\"a\":{}}", 15, &j, err, sizeof(err)) == EINVAL);
	CHECK_MSG(strstr(err, "duplicate") != NULL, "%s", err);
	/* a short buffer gets a cut, terminated message; no buffer is fine */
	char small[8];
	CHECK(pol_rcc_parse("[]", 2, &j, small, sizeof(small)) == EINVAL);
	CHECK_STR(small, "restCli");
	CHECK(pol_rcc_parse("[]", 2, &j, NULL, 0) == EINVAL);
	CHECK(pol_rcc_parse(NULL, 0, &j, err, sizeof(err)) == EINVAL);

	/* raise refuses what parse would have refused, and changes nothing */
	const char *bad[] = {"[]", "{\"call\":1}", "{\"transfer\":{\"restOnError\":[]}}",
			     "{\"connect\":{\"clientExclude\":false}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		json_t *copy = json_deep_copy(b);
		CHECK_MSG(pol_rcc_raise(b, NULL, NULL) == EINVAL, "%s", bad[i]);
		CHECK(json_equal(b, copy));
		json_decref(b);
		json_decref(copy);
	}
	CHECK(pol_rcc_raise(NULL, NULL, NULL) == EINVAL);
}
