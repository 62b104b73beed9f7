/* originator/snap.h: the originator's reloadable settings of one config generation, compiled (private). */
#ifndef CALLHOOK_ORIGINATOR_SNAP_H
#define CALLHOOK_ORIGINATOR_SNAP_H

#include "common/cdr.h"
#include "config/config.h"
#include "originator/calls.h"
#include "policy/policy.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum orig_auth_mode { ORIG_AUTH_DIGEST, ORIG_AUTH_BASIC };

/* One leg's caller-id templates (originator.caller_id.*; NULL = the engine's default), checked at load. */
struct orig_cid_tmpl {
	char *display;
	char *from;
	char *user;
	char *pai;
	char *privacy;
};

/* Immutable once built; deep-copied from struct cfg (the cfg may be freed
 * after orig_snap_build returns). Shared by reference count. */
struct orig_snap {
	atomic_int refs;
	struct pol_xlate *xlate;
	struct orig_limits limits;
	char *http_user;
	char *http_password; /* secret */
	bool sha256;         /* digest algorithm: SHA-256 (else MD5) */
	enum orig_auth_mode auth;
	struct pol_cidr *xml_allow;
	size_t n_xml_allow;
	char **cb_allow;
	size_t n_cb_allow;
	struct pol_patterns *aa_initiators; /* who may be auto-answered (none: nobody) */
	enum orig_auto_answer aa_header;    /* the signal sent */
	struct pol_patterns *hdr_allow;     /* extra header names accepted (none: none) */
	struct ch_cdr *cdr;                 /* originator.cdr.file's writer, NULL = no records */
	char *identity;                     /* originator.identity: the initiator leg's default From */
	struct orig_cid_tmpl cid[2];        /* caller id: [0] the initiator leg, [1] the destination leg */
};

/* Compile cfg's translations and destination lists, the auto-answer
 * initiators and the header names allowed; copy the limits, the HTTP
 * credentials, the XML allow list and the callback prefixes. 0 and a new
 * snapshot (one reference) in *out, or EINVAL / ENOMEM with err filled
 * ("file:line: path: message"), *out untouched. cfg is borrowed. */
int orig_snap_build(const struct cfg *cfg, struct orig_snap **out, struct cfg_error *err);
/* Another reference. Any thread. */
struct orig_snap *orig_snap_ref(struct orig_snap *s);
/* Drop a reference; the last one frees. NULL-safe. Any thread. */
void orig_snap_unref(struct orig_snap *s);

#endif
