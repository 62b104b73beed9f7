/* tests/unit/test_cb_url.c: the status_callback allow list judges the URL libcurl will send. */
#include "originator/callback.h"

#include "tests/check.h"

#include <string.h>

struct ucase {
	const char *url;
	bool want;
};

TEST_CASE(url_allowed)
{
	char *prefixes[] = {"https://crm.example.com/cb/", "http://127.0.0.1:8080"};
	static const struct ucase t[] = {
	    {"https://crm.example.com/cb/", true},
	    {"https://crm.example.com/cb/c1", true},
	    {"https://crm.example.com/cb/c1?x=1", true},
	    {"https://crm.example.com/cb/a.b/..c/.d", true}, /* dots inside a segment are names */
	    {"https://crm.example.com/other", false},
	    {"https://crm.example.com/cbx", false},
	    /* libcurl squashes dot segments: the URL judged is not the URL sent */
	    {"https://crm.example.com/cb/../admin", false},
	    {"https://crm.example.com/cb/./c1", false},
	    {"https://crm.example.com/cb/..", false},
	    {"https://crm.example.com/cb/c1/.", false},
	    {"https://crm.example.com/cb/..?x", false},
	    /* and servers decode these before routing */
	    {"https://crm.example.com/cb/%2e%2e/admin", false},
	    {"https://crm.example.com/cb/%2E./admin", false},
	    {"https://crm.example.com/cb/..%2fadmin", false},
	    {"https://crm.example.com/cb/..%5Cadmin", false},
	    {"https://crm.example.com/cb/c1?next=%2e%2e", true}, /* the query is not a path */
	    {"https://crm.example.com/cb/c\\1", false},
	    /* a prefix without '/' keeps the authority whole */
	    {"http://127.0.0.1:8080", true},
	    {"http://127.0.0.1:8080/x", true},
	    {"http://127.0.0.1:8080/../x", false},
	    {"http://127.0.0.1:80800/", false},
	    {"http://127.0.0.1:8080@evil.example/", false},
	    {"http://127.0.0.1:8080.evil.example/", false},
	    {"ftp://127.0.0.1:8080/", false},
	    {"", false},
	    {NULL, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool got = orig_cb_url_allowed(t[i].url, prefixes, 2);
		CHECK_MSG(got == t[i].want, "[%zu] \"%s\": got %d", i, t[i].url ? t[i].url : "(null)", (int)got);
	}
}
