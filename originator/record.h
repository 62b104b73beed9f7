/* originator/record.h: the call record of one finished call (private to originator/): the JSON the CDR file and the
 * final status callback carry (docs/cdr.md, "record":"originator"). */
#ifndef CALLHOOK_ORIGINATOR_RECORD_H
#define CALLHOOK_ORIGINATOR_RECORD_H

#include "originator/orig_sip.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The front end a call came from. */
enum orig_front {
	ORIG_FE_HTML = 0, /* GET /clicktocall.html */
	ORIG_FE_JSON,     /* POST /v1/calls */
	ORIG_FE_XML,      /* the XML port */
};

/* "html", "json", "xml". Static strings; any thread. */
const char *orig_front_name(enum orig_front f);

/* What one record is built from; every pointer borrowed for the call of orig_rec_json. */
struct orig_rec {
	uint64_t id;
	enum orig_front front;
	const char *client_ip;   /* the peer's address, NULL = unknown */
	const char *client_user; /* the authenticated HTTP user, NULL = none (the XML port) */
	const char *initiator;   /* as asked */
	const char *destination;
	const char *tinit; /* as translated */
	const char *tdest;
	bool anchor; /* as asked */
	bool fallback;
	int fallback_code;
	bool auto_answer;
	int leg_status[2];         /* initiator, destination: the last SIP status of the leg, 0 = none */
	const char *leg_reason[2]; /* its phrase, "" = none */
	enum orig_state state;     /* of the final event: ORIG_TRANSFERRED, ORIG_ENDED or ORIG_FAILED */
	enum orig_leg leg;         /* of the final event */
	int code;                  /* of the final event (XML Result code) */
	const char *reason;        /* of the final event */
	int sip_code;              /* of the final event, 0 = none */
	enum orig_ended_by ended_by;
	int64_t call_at_ms;            /* wall clock (ms since the epoch) when the call was placed */
	int64_t initiator_answered_ms; /* wall clock, 0 = never */
	int64_t destination_answered_ms;
	int64_t ended_ms;
};

/* The record as a new JSON object (every field present, unknown ones null), or NULL (no memory). */
json_t *orig_rec_json(const struct orig_rec *r);

/* rec as the text of one record-file line (compact, ASCII only; ch_cdr_write_text adds the newline). New, or
 * NULL. */
char *orig_rec_text(const json_t *rec);

#endif
