/* policy/util.c: small pure helpers for the hook: client IP from a WCS sessionId, token bucket. */
#include "policy/policy.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

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
	if (!inet_ntop(af, a, canon, sizeof(canon)) || strlen(canon) >= cap)
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
