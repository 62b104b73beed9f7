/* tests/sip/orig_fe.h: what the originator's front-end tests share: the daemon with its options, SIPp phones, HTTP
 * with Digest, the XML client, and the per-case fixture (test_setup/test_teardown). */
#ifndef CALLHOOK_TESTS_SIP_ORIG_FE_H
#define CALLHOOK_TESTS_SIP_ORIG_FE_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"
#include "harness.h"
#include "sipp_peer.h"

#ifndef SIPP_BIN
#define SIPP_BIN "sipp"
#endif
#ifndef SCENARIO_DIR
#define SCENARIO_DIR "."
#endif
#define PASSWORD "s3cret-Pw-42"

extern struct chd D;
extern bool use_tls;

struct opts {
	const char *algo;  /* "SHA-256" | "MD5" */
	int per_initiator; /* calls_per_minute_per_initiator */
	int concurrent;
	const char *allow_from; /* libconfig list body */
	int max_conns;
	const char *cb_allow; /* libconfig list body */
	bool tls_basic;       /* http over TLS with auth = "basic" */
	int sip_tls_port;     /* originator.tls_listen on this port, certificates in @DIR@/sipcerts */
	bool catch_all;       /* a third rule, the README's ^(.*)$ -> sip:$1@127.0.0.1 */
	int per_destination;  /* calls_per_hour_per_destination (0: 1000) */
	int distinct;         /* distinct_destinations_per_hour_per_initiator (0: 1000) */
	const char *extra;    /* more settings of the originator group, or NULL */
};

struct resp {
	long status;
	char *body;
	char *headers;
};

enum auth { A_NONE, A_DIGEST, A_DIGEST_BAD, A_BASIC };

bool peer_start(struct sipp_peer *p, const char *name, const char *scenario, ...);
void peer_uri(const struct sipp_peer *p, const char *user, char *out, size_t cap);
void start(const struct opts *o);
void stop(void);
size_t grow_cb(char *p, size_t sz, size_t n, void *arg);
struct resp req(enum auth au, const char *method, const char *path, const char *ctype, const char *body);
const char *sv(const json_t *j);
void resp_free(struct resp *r);
json_t *resp_json(const struct resp *r);
void expect_status(enum auth au, const char *method, const char *path, const char *ctype, const char *body, long status,
		   const char *reason_part);
json_t *get_call(uint64_t id);
json_t *wait_result(uint64_t id, int timeout_ms);
uint64_t post_call(const char *body, long want);
int xml_connect(void);
void xml_send(int fd, const char *s);
int count(const char *hay, const char *needle);
void xml_read(int fd, struct ch_buf *acc, int docs, int timeout_ms, bool *eof);
void steps_of(const char *s, const char *ini, char *out, size_t cap);
#endif
