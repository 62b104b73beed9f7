/* originator/sip_auth.c: the SIP engine's digest authentication: answering 401/407 challenges to our requests. */
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include "originator/sip_int.h"

/* Answer a 401/407 with our credentials. true when the request is being
 * retried; false when we have none or the same request was challenged
 * twice already (wrong password). */
static bool try_auth(struct orig_sip *s, struct sip_leg *l, int status, const sip_t *sip)
{
	if (!s->auth_user || !sip || l->auth_tries >= 2)
		return false;
	const msg_auth_t *au = status == 407 ? sip->sip_proxy_authenticate : sip->sip_www_authenticate;
	if (!au)
		au = status == 407 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
	if (!au || !au->au_scheme)
		return false;
	const char *realm = msg_params_find(au->au_params, "realm=");
	if (!realm)
		return false;
	/* A challenge right after our credentials means they were refused
	 * (Kamailio re-challenges a wrong password), unless the nonce went stale. */
	if (l->auth_tries >= 1) {
		const char *stale = msg_params_find(au->au_params, "stale=");
		if (!stale || (strcasecmp(stale, "true") != 0 && strcasecmp(stale, "\"true\"") != 0))
			return false;
	}
	char cred[1024];
	/* The realm keeps its quotes: Sofia matches it against the challenge as is. */
	bool ok = ch_fmt(cred, sizeof cred, "%s:%s:%s:%s", au->au_scheme, realm, s->auth_user,
			 s->auth_password ? s->auth_password : "") == 0;
	if (ok) {
		l->auth_tries++;
		ch_dbg("sip: call %" PRIu64 ": %d challenge, authenticating as %s", l->c->id, status, s->auth_user);
		nua_authenticate(l->nh, NUTAG_AUTH(cred), TAG_END());
	}
	/* Also when cut short: a truncated credential still holds the password. */
	explicit_bzero(cred, sizeof cred);
	return ok;
}

bool orig_sip_challenged(struct orig_sip *s, struct sip_leg *l, int status, const sip_t *sip)
{
	l->auth_declined = false;
	if (status == 401 || status == 407) {
		if (try_auth(s, l, status, sip))
			return true;
		l->auth_declined = true;
		return false;
	}
	if (status >= 200)
		l->auth_tries = 0;
	return false;
}
