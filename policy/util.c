/* policy/util.c: small pure helpers for the hook: client IP and budget key, HTTP framing, token bucket. */
#include "policy/policy.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

int pol_session_ip(const char *sid, char *out, size_t cap)
{
	if (!sid || !out || sid[0] != '/')
		return EINVAL;
	const char *ip = sid + 1;
	const char *slash = strchr(ip, '/');
	if (!slash)
		return EINVAL;
	const char *colon = NULL;
	for (const char *p = ip; p < slash; p++)
		if (*p == ':')
			colon = p;
	if (!colon)
		return EINVAL;
	/* the port: decimal, 1-5 digits, at most 65535 */
	int64_t port;
	if (ch_parse_i64(colon + 1, (size_t)(slash - colon - 1), 0, 65535, &port))
		return EINVAL;
	size_t len = (size_t)(colon - ip);
	bool bracketed = len >= 2 && ip[0] == '[' && ip[len - 1] == ']';
	if (bracketed) {
		ip++;
		len -= 2;
	}
	char tmp[INET6_ADDRSTRLEN];
	if (len == 0 || len >= sizeof(tmp))
		return EINVAL;
	memcpy(tmp, ip, len);
	tmp[len] = '\0';
	/* write the canonical text, so one client has one key however WCS spells it */
	unsigned char a[sizeof(struct in6_addr)];
	char canon[INET6_ADDRSTRLEN];
	int af = AF_INET;
	if (bracketed || inet_pton(AF_INET, tmp, a) != 1) {
		af = AF_INET6;
		if (inet_pton(AF_INET6, tmp, a) != 1)
			return EINVAL;
	}
	if (af == AF_INET)
		ch_ip4_text(a, canon);
	else if (!inet_ntop(af, a, canon, sizeof(canon)))
		return EINVAL;
	if (strlen(canon) >= cap)
		return EINVAL;
	memcpy(out, canon, strlen(canon) + 1);
	return 0;
}

bool pol_bucket_take(struct pol_bucket *b, unsigned capacity, int64_t now_ms)
{
	if (!b)
		return false;
	if (!b->init) {
		b->tokens = capacity;
		b->last_ms = now_ms;
		b->init = true;
	} else if (now_ms > b->last_ms) {
		/* capacity per minute; a clock that steps back refills nothing */
		b->tokens += ((double)now_ms - (double)b->last_ms) * capacity / 60000.0;
		if (b->tokens > capacity)
			b->tokens = capacity;
		b->last_ms = now_ms;
	}
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

int pol_ip_key(const char *ip, unsigned v6_prefix, char *out, size_t cap)
{
	if (!ip || !out || v6_prefix < 1 || v6_prefix > 128)
		return EINVAL;
	unsigned char a[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN + 4];
	if (inet_pton(AF_INET, ip, a) == 1) {
		ch_ip4_text(a, text);
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			ch_ip4_text(a + 12, text);
		} else {
			/* keep the first v6_prefix bits, zero the rest */
			for (unsigned i = 0; i < 16; i++) {
				unsigned keep = 0; /* bits of byte i inside the prefix */
				if (v6_prefix >= (i + 1) * 8)
					keep = 8;
				else if (v6_prefix > i * 8)
					keep = v6_prefix - i * 8;
				a[i] &= (unsigned char)(0xff00u >> keep);
			}
			char net[INET6_ADDRSTRLEN];
			if (!inet_ntop(AF_INET6, a, net, sizeof(net)) ||
			    ch_fmt(text, sizeof(text), "%s/%u", net, v6_prefix) != 0)
				return EINVAL;
		}
	} else {
		return EINVAL;
	}
	size_t len = strlen(text);
	if (len >= cap)
		return EINVAL;
	memcpy(out, text, len + 1);
	return 0;
}

/* RFC 9110 5.6.2: tchar, as a table (a field name is checked byte by byte on every request) */
static const bool tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
    ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1,  ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1,  ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,  ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1,
    ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,  ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,  ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,
    ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1,  ['z'] = 1,
};

enum pol_framing_verdict pol_http_framing(const char *const *names, const char *const *values, size_t n)
{
	(void)values; /* the verdict depends on which fields occur, not on their values */
	size_t lengths = 0;
	bool te = false;
	for (size_t i = 0; i < n; i++) {
		const char *k = names ? names[i] : NULL;
		if (!k || !*k)
			return POL_FRAMING_BAD_NAME;
		const char *p = k;
		while (tchar[(unsigned char)*p])
			p++;
		if (*p)
			return POL_FRAMING_BAD_NAME;
		size_t len = (size_t)(p - k);
		if (len == sizeof("Content-Length") - 1 && strcasecmp(k, "Content-Length") == 0)
			lengths++;
		else if (len == sizeof("Transfer-Encoding") - 1 && strcasecmp(k, "Transfer-Encoding") == 0)
			te = true;
	}
	if (lengths > 1)
		return POL_FRAMING_DUP_LENGTH;
	if (te && lengths)
		return POL_FRAMING_TE_AND_LENGTH;
	return POL_FRAMING_OK;
}

const char *pol_framing_reason(enum pol_framing_verdict v)
{
	switch (v) {
	case POL_FRAMING_OK:
		return "request framing valid";
	case POL_FRAMING_DUP_LENGTH:
		return "duplicate Content-Length header";
	case POL_FRAMING_TE_AND_LENGTH:
		return "Transfer-Encoding with Content-Length";
	case POL_FRAMING_BAD_NAME:
		return "invalid header field name";
	}
	return "request framing invalid";
}
