/* tests/it/secrets.h: every secret the integration tests configure, in one place, for the log-leak check. */
#ifndef CH_TEST_SECRETS_H
#define CH_TEST_SECRETS_H

/* WCS HMAC keys (hook.wcs_auth.hmac_keys): the second one proves rotation. */
#define CH_SECRET_HMAC_1 "hmac-key-one-Zq83kLmN"
#define CH_SECRET_HMAC_2 "hmac-key-two-Pw71xRtY"
/* HTTP Basic for WCS (hook.wcs_auth.basic_password) and the header it makes:
 * a daemon that logged the Authorization header would leak the base64 form. */
#define CH_BASIC_USER       "wcsapp"
#define CH_SECRET_BASIC_PW  "basic-pass-Vb29qWeK"
#define CH_SECRET_BASIC_B64 "d2NzYXBwOmJhc2ljLXBhc3MtVmIyOXFXZUs=" /* base64("wcsapp:basic-pass-Vb29qWeK") */
/* The visitor-token secret (sites.[].token.secret_file), at least 32 bytes. */
#define CH_SECRET_TOKEN "token-secret-4f8a2c9e71d3b05a6e8f-visitor-jwt"
/* SIP account passwords injected into connect answers (never into logs). */
#define CH_SECRET_SIP_ABUSE  "Abuse-Sip-Pass-41x"
#define CH_SECRET_SIP_SHOP   "Shop-Secret-77"   /* tests/it/test_hook.c */
#define CH_SECRET_SIP_CLINIC "Clinic-Secret-88" /* tests/it/test_hook.c */

/* The list the leak check greps for, besides what it extracts from every
 * config the harness started (see harness.c: chd_collect). NULL-terminated. */
#define CH_TEST_SECRETS                                                                                                \
	{                                                                                                              \
		CH_SECRET_HMAC_1, CH_SECRET_HMAC_2, CH_SECRET_BASIC_PW, CH_SECRET_BASIC_B64, CH_SECRET_TOKEN,          \
		    CH_SECRET_SIP_ABUSE, CH_SECRET_SIP_SHOP, CH_SECRET_SIP_CLINIC, NULL                                \
	}

#endif
