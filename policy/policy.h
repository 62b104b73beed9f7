/* policy/policy.h: the pure decision core. Functions take their inputs (origin, body,
 * header values, now) and return verdicts: no I/O, no globals, no clock reads,
 * no threads. That is what makes every function here unit-testable and
 * fuzzable. Jansson references are documented as new / borrowed / stolen. */
#ifndef POL_POLICY_H
#define POL_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ======================================================================
 * Origins (policy/origin.c)
 * An origin is scheme://host[:port] and nothing else. Scheme http|https,
 * host = LDH labels (no trailing dot, no empty label) or a bracketed IPv6
 * literal; both case-insensitive, stored lower-case. Default ports
 * normalise (http 80, https 443). Anything else is refused: path, '@',
 * query, fragment, '%', '\\', whitespace, control bytes, NUL.
 * ==================================================================== */

#define POL_HOST_MAX 255

struct pol_origin {
	bool https;                  /* false = http */
	char host[POL_HOST_MAX + 1]; /* lower-case; IPv6 kept with brackets */
	uint16_t port;               /* always set: default ports filled in */
};

/* Parse len bytes (need not be NUL-terminated). 0 on success, EINVAL
 * otherwise; *out written only on success. */
int pol_origin_parse(const char *s, size_t len, struct pol_origin *out);

/* Normalised text "https://host" or "https://host:8443" (port only when not
 * the default). 0 or ENOSPC. */
int pol_origin_format(const struct pol_origin *o, char *buf, size_t cap);

/* An allowed-origin pattern: an exact origin, or "https://\*.example.com"
 * (wildcard: one or more labels before the suffix, same scheme, same
 * normalised port). */
struct pol_origin_pattern {
	struct pol_origin o; /* for a wildcard, o.host is the suffix "example.com" */
	bool wildcard;
};

/* 0 or EINVAL. A bare "example.com" (no scheme) is refused. */
int pol_origin_pattern_parse(const char *s, struct pol_origin_pattern *out);

/* "example.com" -> the two patterns https://example.com and
 * https://\*.example.com. 0 or EINVAL (not a valid LDH domain). */
int pol_domain_patterns(const char *domain, struct pol_origin_pattern out[2]);

bool pol_origin_match(const struct pol_origin_pattern *p, const struct pol_origin *o);

/* ======================================================================
 * JSON member scanner (policy/jscan.c)
 * Given a body already validated as an object (by Jansson or pol_json_validate), find the byte spans of its top-level
 * members, in order, so unchanged members can be copied byte for byte.
 * ==================================================================== */

struct pol_member {
	size_t key_off; /* offset of the key's opening quote */
	size_t key_len; /* through the closing quote */
	size_t val_off; /* first byte of the value */
	size_t val_len; /* through the value's last byte */
};

/* Scan buf[0..len) (a JSON object, leading/trailing whitespace allowed).
 * Writes up to max members into out and their count into *n.
 * Returns 0, EINVAL (not an object / malformed), E2BIG (more than max
 * members; *n not written). Never reads outside [0, len). */
int pol_json_members(const char *buf, size_t len, struct pol_member *out, size_t max, size_t *n);

/* Nesting depth of arrays/objects in buf, counted outside strings, without
 * parsing; a top-level object is depth 1. Stops early and returns max + 1
 * once past max. Cheap pre-check before Jansson. */
size_t pol_json_depth(const char *buf, size_t len, size_t max);

/* ======================================================================
 * The hook's JSON validator (policy/json_validate.c)
 * One strict pass over a request body: RFC 8259 exactly, a top-level object,
 * no duplicate key in any object (compared after unescaping), valid UTF-8
 * only (no overlongs, no encoded surrogates, no lone \uD800), no \u0000,
 * depth and top-level member caps, nothing but whitespace after. Numbers are
 * validated, never converted (1e999 is accepted). No tree is built: it
 * yields the top-level member spans, their decoded names, and decoded string
 * values on request.
 * ==================================================================== */

enum pol_json_fault {
	POL_JSON_OK,
	POL_JSON_EMPTY,     /* zero bytes */
	POL_JSON_MALFORMED, /* not RFC 8259 JSON (or \u0000, or a lone surrogate) */
	POL_JSON_DUPLICATE, /* a key twice in one object */
	POL_JSON_UTF8,      /* invalid UTF-8 where a character was read */
	POL_JSON_DEEP,      /* arrays/objects nested deeper than max_depth */
	POL_JSON_NOT_OBJECT,
	POL_JSON_TOO_MANY, /* more than max_members top-level members */
	POL_JSON_NOMEM,
};

/* The hook's reason text of each fault ("malformed JSON", ...). */
const char *pol_json_fault_reason(enum pol_json_fault f);

#define POL_JSON_INLINE_MEMBERS 32
#define POL_JSON_INLINE_ARENA   2048
#define POL_JSON_SUB_CACHE      8

/* A validated body. Fill it with pol_json_validate, read it through the
 * accessors, free it with pol_json_doc_free. Holds pointers into itself:
 * never copy or move one. Not thread-safe (the accessors cache). */
struct pol_json_doc {
	const char *raw; /* borrowed: the body */
	size_t len;
	struct pol_member *m; /* the top-level members, in document order */
	const char **names;   /* their decoded names (NUL-terminated, in arena) */
	size_t n;
	/* private */
	const char **vals; /* decoded string values, per member, NULL until asked */
	char *arena;
	size_t arena_used, arena_cap, cap, n_sub;
	struct {
		size_t off;
		const char *s;
	} sub[POL_JSON_SUB_CACHE];
	struct pol_member m_in[POL_JSON_INLINE_MEMBERS];
	const char *names_in[POL_JSON_INLINE_MEMBERS], *vals_in[POL_JSON_INLINE_MEMBERS];
	char arena_in[POL_JSON_INLINE_ARENA];
};

/* Validate buf[0..len) (borrowed; must outlive doc). POL_JSON_OK fills doc;
 * any other fault leaves doc empty (pol_json_doc_free is still safe). When
 * several faults apply the first in document order wins, as with Jansson:
 * except that a body nested deeper than max_depth anywhere before its first
 * unterminated string says POL_JSON_DEEP, and POL_JSON_NOT_OBJECT and
 * POL_JSON_TOO_MANY only come for otherwise valid JSON. */
enum pol_json_fault pol_json_validate(const char *buf, size_t len, size_t max_depth, size_t max_members,
				      struct pol_json_doc *doc);
void pol_json_doc_free(struct pol_json_doc *doc);

/* The decoded string value of the top-level member name (borrowed from doc),
 * NULL when absent or not a string; *bad (may be NULL) says "present, not a
 * string". */
const char *pol_json_str(struct pol_json_doc *doc, const char *name, bool *bad);
/* The same one level down: member name of the top-level object obj. NULL
 * when obj is absent or not an object (*bad false then). At most
 * POL_JSON_SUB_CACHE distinct nested strings are decoded per doc. */
const char *pol_json_sub_str(struct pol_json_doc *doc, const char *obj, const char *name, bool *bad);
/* The top-level number member name, converted (strtod): 0 and *out written,
 * or ENOENT (absent or not a number). */
int pol_json_num(const struct pol_json_doc *doc, const char *name, double *out);

/* ======================================================================
 * restClientConfig (policy/rcc.c)
 * ==================================================================== */

/* Called once per field the floor raised. old_value is "" when absent.
 * Strings are borrowed for the duration of the call. */
typedef void (*pol_rcc_note_fn)(const char *method, const char *field, const char *old_value, const char *new_value,
				void *arg);

/* Validate a restClientConfig file's text: one JSON object whose values are
 * objects whose values are strings. On success *out is a new reference.
 * On failure returns EINVAL and writes a message into err. */
int pol_rcc_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen);

/* Raise rcc (modified in place; NULL note allowed) to the secure floor:
 *  call: restPolicy OVERWRITE, restOnError FAIL, restOverwrite += callee,inviteParameters
 *  transfer, sendMessage: restPolicy OVERWRITE, restOnError FAIL
 *  connect, ConnectionStatusEvent, RegistrationStatusEvent: clientExclude +=
 *    sipLogin,sipAuthenticationName,sipPassword,sipDomain,sipOutboundProxy,sipPort
 * Comma lists: split on ',', trim, drop empties, append each missing name
 * in the order above, join with ','. A missing method key is appended after
 * the existing keys, with the WCS defaults for fields the floor does not set
 * (clientExclude "", restExclude "", restOnError LOG, restPolicy NOTIFY,
 * restOverwrite ""). Returns 0, ENOMEM, or EINVAL (nothing changed) when rcc
 * is not shaped as pol_rcc_parse guarantees. */
int pol_rcc_raise(json_t *rcc, pol_rcc_note_fn note, void *arg);

/* Raise further: method.restOverwrite (method created with the WCS defaults
 * when absent) must contain field, appended when missing (the call's
 * visibleName, when a button sets it). Reported through note like the floor.
 * 0, ENOMEM, or EINVAL when rcc is not shaped as pol_rcc_parse guarantees. */
int pol_rcc_overwrite_add(json_t *rcc, const char *method, const char *field, pol_rcc_note_fn note, void *arg);

/* ======================================================================
 * Opening hours (policy/hours.c)
 * A zone (an IANA name, resolved by ICU with the tz database it carries:
 * no offset or DST rule is written here), weekly open intervals and closed
 * dates. An open entry is "<days> <HH:MM>-<HH:MM>": days "Mon", "Mon-Fri"
 * (a range may wrap: "Fri-Mon"), or a comma list of those ("Mon,Wed-Fri");
 * times 00:00 to 23:59, the end may be 24:00; an end before the start
 * crosses midnight ("Fri 22:00-02:00" is Friday 22:00 to Saturday 02:00).
 * The start is inside, the end is not. A closed entry is a local date
 * "YYYY-MM-DD": the whole day is closed, also the part of an interval that
 * crossed midnight into it. No open entry is never open.
 * ==================================================================== */

struct pol_hours;

enum pol_hours_part { POL_HOURS_TZ, POL_HOURS_OPEN, POL_HOURS_CLOSED };

/* Where a spec is wrong: the part, the index of the entry (0 for tz), why. */
struct pol_hours_error {
	enum pol_hours_part part;
	size_t index;
	char msg[160];
};

/* Compile hours: tz must be a system zone of ICU's database ("Europe/Berlin",
 * "UTC"; not "GMT+1" or an unknown name). *out is new (pol_hours_free); on
 * EINVAL err says which entry is wrong; ENOMEM. Thread-safe. */
int pol_hours_compile(const char *tz, const char *const *open, size_t n_open, const char *const *closed,
		      size_t n_closed, struct pol_hours **out, struct pol_hours_error *err);

/* Is it open at unix_ms (milliseconds since the epoch, UTC)? A failure of the
 * zone conversion (it was checked at compile time) answers closed. The time is
 * a parameter: no clock read. Thread-safe (h is read-only). */
bool pol_hours_open_at(const struct pol_hours *h, int64_t unix_ms);

/* NULL-safe. */
void pol_hours_free(struct pol_hours *h);

/* ======================================================================
 * Small pure helpers used by the hook
 * ==================================================================== */

/* The client IP inside a WCS sessionId "/<ip>:<port>/<rest>": IPv4, or IPv6
 * with or without brackets (the last ':' before the second '/' starts the
 * port). Writes the bare IP (no brackets). 0 or EINVAL. */
int pol_session_ip(const char *sid, char *out, size_t cap);

/* The budget key of a client address: the text an IP budget is counted
 * under. IPv4 stays as it is; an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * is its IPv4 address, so one client has one budget whichever socket family
 * WCS saw it on; any other IPv6 address is cut to its first v6_prefix bits
 * and written "<network>/<v6_prefix>" (e.g. "2001:db8:1:2::/64"), because
 * a single client commonly holds a whole /64 and could otherwise pick a new
 * address, and a new budget, for every request. ip: textual (as written by
 * pol_session_ip, or any inet_pton form). v6_prefix: 1..128 (128 = one
 * address). 0 or EINVAL (not an address, prefix out of range, cap too small:
 * INET6_ADDRSTRLEN + 4 always suffices); out written only on success. */
int pol_ip_key(const char *ip, unsigned v6_prefix, char *out, size_t cap);

/* HTTP/1.1 request framing (RFC 9112), checked on the header fields a
 * server library handed over, before any body byte is used: a request a
 * proxy in front of us could frame differently is refused, never guessed.
 * names/values: n header fields as received, in order (values may be NULL). */
enum pol_framing_verdict {
	POL_FRAMING_OK,
	POL_FRAMING_DUP_LENGTH,    /* more than one Content-Length field (equal values too: 6.3) */
	POL_FRAMING_TE_AND_LENGTH, /* Transfer-Encoding together with Content-Length (6.1) */
	POL_FRAMING_BAD_NAME,      /* a field name that is not a token: empty, whitespace before ':' (5.1) */
};
enum pol_framing_verdict pol_http_framing(const char *const *names, const char *const *values, size_t n);
/* Stable reason text for a verdict, e.g. "duplicate Content-Length header". Static string. */
const char *pol_framing_reason(enum pol_framing_verdict v);

/* Token bucket: holds capacity tokens, starts full, refills capacity/60 per
 * second. pol_bucket_take takes one token if available. */
struct pol_bucket {
	double tokens;
	int64_t last_ms;
	bool init;
};
bool pol_bucket_take(struct pol_bucket *b, unsigned capacity, int64_t now_ms);

/* ======================================================================
 * WCS authentication (policy/auth.c)
 * ==================================================================== */

/* HMAC-MD5 mode: authz is the Authorization header value ("WCS <hex>") or
 * NULL. True when the hex (case-insensitive) equals HMAC-MD5(key, body) for
 * any of the nkeys keys. Constant-time comparison. */
bool pol_wcs_hmac_ok(const char *authz, const void *body, size_t body_len, const char *const *keys, size_t nkeys);

/* HTTP Basic: authz "Basic base64(user:pass)". Constant-time. */
bool pol_basic_ok(const char *authz, const char *user, const char *password);

struct pol_cidr {
	unsigned char addr[16]; /* IPv4 stored as IPv4-mapped IPv6 */
	unsigned prefix;        /* 0..128, in IPv6 terms */
};
/* "10.0.0.0/8", "::1/128", "192.168.1.7" (host). 0 or EINVAL. */
int pol_cidr_parse(const char *s, struct pol_cidr *out);
/* ip: textual IPv4 or IPv6 (IPv4-mapped IPv6 matches its IPv4 form). */
bool pol_cidr_match(const struct pol_cidr *list, size_t n, const char *ip);

/* ======================================================================
 * Signed tokens (policy/token.c), HS256 JWT via libjwt
 * ==================================================================== */

enum pol_token_verdict {
	POL_TOKEN_OK,
	POL_TOKEN_MALFORMED, /* not a JWT / not decodable */
	POL_TOKEN_BAD_ALG,   /* alg other than HS256 (none included) */
	POL_TOKEN_BAD_SIGNATURE,
	POL_TOKEN_MISSING_CLAIM,  /* exp, iat or jti absent or of the wrong type */
	POL_TOKEN_EXPIRED,        /* now > exp + leeway */
	POL_TOKEN_NOT_YET,        /* iat > now + leeway */
	POL_TOKEN_TOO_OLD,        /* now - iat > max_age */
	POL_TOKEN_WRONG_ORIGIN,   /* origin claim != the request's origin */
	POL_TOKEN_NOT_BEFORE,     /* nbf > now + leeway */
	POL_TOKEN_WRONG_AUDIENCE, /* an aud claim without the configured audience, or any aud when none is */
};

struct pol_token_params {
	const unsigned char *secret; /* borrowed, >= 32 bytes */
	size_t secret_len;
	int64_t max_age_s;
	int64_t leeway_s;
	const char *audience; /* borrowed; NULL = none configured: a token with aud is refused */
};

#define POL_JTI_MAX    128
#define POL_BUTTON_MAX 64

struct pol_token_claims {
	char jti[POL_JTI_MAX + 1];
	int64_t exp;
	int64_t iat;
	bool has_button;
	char button[POL_BUTTON_MAX + 1];
};

/* Verify jwt against p at now_s. origin: the request's normalised origin
 * text (pol_origin_format), compared to an "origin" claim after the claim is
 * normalised the same way. Optional claims: nbf (an integer; refused while
 * nbf > now + leeway, the leeway iat gets), aud (RFC 7519 4.1.3: a string
 * equal to p->audience, or an array of strings one of which is; a token
 * without aud is not refused for it; a token with aud is refused when no
 * audience is configured; other shapes are malformed). *claims written only
 * on POL_TOKEN_OK. */
enum pol_token_verdict pol_token_check(const char *jwt, const struct pol_token_params *p, const char *origin,
				       int64_t now_s, struct pol_token_claims *claims);
/* Stable reason text for a verdict, e.g. "token expired". */
const char *pol_token_reason(enum pol_token_verdict v);

/* ======================================================================
 * Address translation and destination policy (policy/translate.c), and the
 * canonical SIP URI (policy/sip_canon.c; its grammar is common/sip_uri.h)
 * The originator's rules: ordered { pattern, output } pairs (PCRE2), the
 * first pattern that matches wins and its output template is expanded;
 * then allow / deny patterns are applied to the resulting URI.
 *
 * Output templates: "$1".."$9" insert the pattern's group (single digit:
 * "$12" is group 1 then "2"; a group that did not take part inserts
 * nothing); "$$" inserts one literal '$'. Anything else after a '$' ("$0",
 * "$x", a trailing '$') and a group the pattern does not have are refused
 * by pol_xlate_compile.
 *
 * Injection guard: inserted group text may not contain ; ? < > " , space,
 * any other whitespace or control byte (POL_XLATE_BAD_CAPTURE), so URI
 * parameters and headers can come only from the template. The result must
 * be a sip: or sips: URI (RFC 3261 syntax: [user[:password]@]host[:port]
 * then ;parameters) with no headers and no '?' (POL_XLATE_BAD_URI).
 *
 * Canonical form: the expanded URI is rewritten to one spelling
 * (pol_sip_uri_canon) and that spelling is the translation's result: the
 * allow / deny patterns, the limits, the logs and the SIP engine all get
 * the same string. RFC 3261 19.1.4 makes these URIs equal, and Sofia-SIP
 * (or the PBX) would otherwise turn one into the other after policy:
 *   - scheme in lower case ("SIP:" -> "sip:");
 *   - a %HH escape of an unreserved character (A-Z a-z 0-9 - _ . ! ~ * ' ( ))
 *     is decoded, everywhere ("%39" -> "9", "%2d" -> "-");
 *   - "%23" ('#', which has no other spelling) is kept in the user part,
 *     in upper case; every other escape (reserved characters such as %3B
 *     %40 %2B, %25, %20, %00 and other controls, any non-ASCII byte) is
 *     refused: POL_XLATE_BAD_ESCAPE; a '%' not followed by two hex digits
 *     is POL_XLATE_BAD_URI;
 *   - telephone-number user part: the user part up to its first ';' is a
 *     telephone number when, once the visual separators - . ( ) are
 *     removed, it is an optional leading '+' then one or more of 0-9 * #
 *     with at least one digit, or when the URI has the parameter
 *     user=phone; then the separators are removed ("(900)123-4567",
 *     "9.001.234.567" -> "9001234567"). Any other user part keeps its
 *     characters and its case (user parts are case-sensitive);
 *   - host in lower case; an IPv6 reference in inet_ntop form
 *     ("[2001:DB8:0::1]" -> "[2001:db8::1]"); an IPv4 label with a leading
 *     zero or a trailing dot on a name is refused (POL_XLATE_BAD_URI);
 *     the port in plain decimal;
 *   - parameter names and values in lower case; a parameter given twice
 *     is refused (POL_XLATE_BAD_URI); the order is kept.
 * The translation's input gets the escape decoding too before the
 * patterns run ("%39001234567" is matched as "9001234567"); escapes it
 * cannot decode are left for the URI check, which refuses them if a rule
 * copies one into the URI.
 *
 * Inputs: non-empty, at most POL_XLATE_INPUT_MAX bytes, valid UTF-8, no
 * control bytes (POL_XLATE_BAD_INPUT). Every match runs under a match,
 * depth and heap limit, so a hostile input against a careless pattern
 * cannot burn CPU: hitting a limit is POL_XLATE_LIMIT (refused).
 *
 * Thread-safety: a compiled struct pol_xlate is immutable; any number of
 * threads may call pol_xlate_translate / _check / _apply on it at once.
 * ==================================================================== */

#define POL_XLATE_INPUT_MAX 511 /* bytes, without the NUL */

enum pol_xlate_verdict {
	POL_XLATE_OK,
	POL_XLATE_BAD_INPUT,   /* empty, too long, invalid UTF-8, control bytes */
	POL_XLATE_NO_RULE,     /* no pattern matched */
	POL_XLATE_BAD_CAPTURE, /* a group inserted a forbidden character */
	POL_XLATE_BAD_URI,     /* the result is not a SIP/SIPS URI without headers */
	POL_XLATE_BAD_ESCAPE,  /* the result has a %-escape the canonical form refuses */
	POL_XLATE_TOO_LONG,    /* the result does not fit the output buffer */
	POL_XLATE_LIMIT,       /* a pattern hit its match limit */
	POL_XLATE_DENIED,      /* the URI matches a deny pattern */
	POL_XLATE_NOT_ALLOWED, /* an allow list exists and the URI matches none */
};

struct pol_xlate;

/* What pol_xlate_compile compiles. Every string is borrowed for the call
 * only (copied as needed). */
struct pol_xlate_spec {
	const char *const *patterns; /* n translation patterns (PCRE2, UTF) */
	const char *const *outputs;  /* n output templates, outputs[i] for patterns[i] */
	size_t n;
	const char *const *allow; /* nallow destination patterns, used only when has_allow */
	size_t nallow;
	bool has_allow; /* false: no allow list, any URI; true with nallow 0: nothing is allowed */
	const char *const *deny;
	size_t ndeny;
};

/* The entry a compile error is about. */
enum pol_list {
	POL_LIST_NONE,    /* no entry: out of memory */
	POL_LIST_PATTERN, /* translations[index].pattern */
	POL_LIST_OUTPUT,  /* translations[index].output */
	POL_LIST_ALLOW,   /* allow[index] */
	POL_LIST_DENY,    /* deny[index] */
};

/* Why a compile failed: which entry (list, and index within that list) and
 * what is wrong with it, e.g. "missing pattern", "<PCRE2 message> at offset
 * K", "$3 refers to a group the pattern does not have (it has 1)". */
struct pol_error {
	enum pol_list list;
	size_t index;
	char msg[200];
};

/* Compile spec's translation rules and allow / deny patterns. On success
 * returns 0 and a new object in *out (pol_xlate_free). On failure returns
 * EINVAL (or ENOMEM), *out untouched, and fills *err (may be NULL). */
int pol_xlate_compile(const struct pol_xlate_spec *spec, struct pol_xlate **out, struct pol_error *err);

/* The config path of err's entry, under prefix (may be NULL or ""), into buf:
 * "translations.[i].pattern", "translations.[i].output",
 * "destinations.allow.[i]" or "destinations.deny.[i]", and prefix alone for
 * POL_LIST_NONE; with prefix "originator": "originator.translations.[0].pattern".
 * 0, ENOSPC (ch_fmt) or EINVAL (list outside the enum). */
int pol_error_path(const struct pol_error *err, const char *prefix, char *buf, size_t cap);

/* Translate input through the rules (no allow / deny). On POL_XLATE_OK the
 * URI, in canonical form, is written to out (NUL-terminated); otherwise out
 * is untouched. */
enum pol_xlate_verdict pol_xlate_translate(const struct pol_xlate *x, const char *input, char *out, size_t cap);

/* Allow / deny check of an already translated URI: POL_XLATE_OK,
 * POL_XLATE_DENIED, POL_XLATE_NOT_ALLOWED or POL_XLATE_LIMIT. A URI that is
 * not in canonical form is refused (POL_XLATE_BAD_URI, or the verdict of
 * pol_sip_uri_canon), so the string judged is the string used. */
enum pol_xlate_verdict pol_xlate_check(const struct pol_xlate *x, const char *uri);

/* pol_xlate_translate then pol_xlate_check; out written only on OK. */
enum pol_xlate_verdict pol_xlate_apply(const struct pol_xlate *x, const char *input, char *out, size_t cap);

/* Stable reason text, e.g. "no translation rule matches". Static string. */
const char *pol_xlate_reason(enum pol_xlate_verdict v);

/* True when uri is a sip:/sips: URI as described above (no headers): the
 * grammar of ch_sip_uri_ok (common/sip_uri.h). */
bool pol_sip_uri_ok(const char *uri);

/* Write uri's canonical form (see above) to out (cap bytes, NUL included).
 * POL_XLATE_OK, POL_XLATE_BAD_URI (not a SIP URI, malformed escape, a
 * spelling that is refused), POL_XLATE_BAD_ESCAPE or POL_XLATE_TOO_LONG;
 * out written only on POL_XLATE_OK. Idempotent: the canonical form of a
 * canonical URI is itself. Pure, thread-safe. */
enum pol_xlate_verdict pol_sip_uri_canon(const char *uri, char *out, size_t cap);

/* The key a per-initiator limit counts a canonical URI under: "user@host"
 * (or "host"), without the scheme, password, port and parameters: the
 * password and most parameters do not change which phone rings, so they
 * must not buy a fresh budget; the ports of one host share theirs, which
 * is stricter, never looser. "sip:rtcarol:x@pbx", "sips:rtcarol@pbx:5061;
 * transport=tls" and "sip:rtcarol@pbx" are one initiator, "rtcarol@pbx".
 * 0, EINVAL (uri not canonical) or ENOSPC (cap too small); out written
 * only on 0. Pure, thread-safe. */
int pol_sip_uri_limit_key(const char *uri, char *out, size_t cap);

/* NULL-safe. */
void pol_xlate_free(struct pol_xlate *x);

/* ====================================================================
 * Pattern lists: "does this string match one of these PCRE2 patterns"
 * (the originator's auto-answer initiators and extra header names).
 * Immutable once compiled; any number of threads may match at once.
 * ==================================================================== */

struct pol_patterns;

/* Compile pats[0..n) (UTF; case-insensitive when caseless). 0 and a new list
 * in *out (pol_patterns_free), or EINVAL (err->index names the pattern,
 * err->msg says why; err->list is POL_LIST_NONE) or ENOMEM; *out untouched
 * on failure. n may be 0: a list nothing matches. */
int pol_patterns_compile(const char *const *pats, size_t n, bool caseless, struct pol_patterns **out,
			 struct pol_error *err);
/* True when s matches a pattern; false for NULL, no match, invalid UTF-8 or a
 * pattern that hits its match limit (fail closed). */
bool pol_patterns_match(const struct pol_patterns *p, const char *s);
/* NULL-safe. */
void pol_patterns_free(struct pol_patterns *p);

#endif
