/* hook/routes.c: the two tables of the hook: verdicts ({status, label}) and WCS routes (method -> handler). */
#include "hook/hook_int.h"

#include <string.h>

struct verdict_row {
	int status;
	const char *label; /* the log's verdict= and callhook_verdicts_total's label */
};

/* check_src: table */
static const struct verdict_row verdicts[HOOK_VERDICT_COUNT] = {
    [HOOK_ALLOW] = {200, "allow"},
    [HOOK_MIRROR] = {200, "mirror"},
    [HOOK_HEALTH] = {200, "health"},
    [HOOK_DENY_METHOD] = {405, "method"},
    [HOOK_DENY_PEER] = {403, "auth"},
    [HOOK_DENY_SIZE] = {413, "size"},
    [HOOK_DENY_AUTH] = {403, "auth"},
    [HOOK_BAD_BODY] = {400, "body"},
    [HOOK_DENY_ORIGIN] = {403, "origin"},
    [HOOK_DENY_TOKEN] = {403, "token"},
    [HOOK_DENY_BUTTON] = {403, "button"},
    [HOOK_CLOSED] = {403, "closed"},
    [HOOK_DENY_SESSION] = {403, "session"},
    [HOOK_SESSION_CONFLICT] = {409, "session"},
    [HOOK_CALLID_CONFLICT] = {409, "callid"},
    [HOOK_DENY_TRANSFER] = {403, "transfer"},
    [HOOK_DENY_MESSAGE] = {403, "message"},
    [HOOK_OVER_BUDGET] = {429, "budget"},
    [HOOK_TABLE_FULL] = {503, "sessions"},
    [HOOK_STORE_NOMEM] = {500, "sessions"},
    [HOOK_STORE_DOWN] = {503, "store"},
    [HOOK_INTERNAL] = {500, "internal"},
    [HOOK_FRAMING] = {400, "framing"},
    [HOOK_TIMEOUT] = {0, "timeout"},
};

int hook_verdict_status(enum hook_verdict v)
{
	return v < HOOK_VERDICT_COUNT ? verdicts[v].status : 500;
}

const char *hook_verdict_label(enum hook_verdict v)
{
	return v < HOOK_VERDICT_COUNT ? verdicts[v].label : "internal";
}

struct route {
	const char *method;
	size_t len; /* strlen(method): most names are told apart by it and their first byte */
	hook_route_fn *fn;
};

#define R(name, fn)                                                                                                    \
	{                                                                                                              \
		name, sizeof(name) - 1, fn                                                                             \
	}

/* Every WCS method the hook knows (its names are the metric labels); the
 * ones without a policy of their own are mirrored. healthz and metrics are
 * labels of the hook's port's /healthz and /metrics answers. */
/* check_src: table */
static const struct route routes[] = {
    R("connect", hook_connect),
    R("call", hook_call),
    R("answer", hook_mirror),
    R("hangup", hook_mirror),
    R("hold", hook_mirror),
    R("unhold", hook_mirror),
    R("transfer", hook_transfer),
    R("sendDtmf", hook_mirror),
    R("sendMessage", hook_send_message),
    R("publishStream", hook_mirror),
    R("unPublishStream", hook_mirror),
    R("playStream", hook_mirror),
    R("stopStream", hook_mirror),
    R("pauseStream", hook_mirror),
    R("snapshot", hook_mirror),
    R("OnDataEvent", hook_mirror),
    R("submitBugReport", hook_mirror),
    R("pushLogs", hook_mirror),
    R("sessionDebug", hook_mirror),
    R("OnCallEvent", hook_mirror),
    R("OnTransferEvent", hook_mirror),
    R("OnMessageEvent", hook_mirror),
    R("ConnectionStatusEvent", hook_connection_status),
    R("RegistrationStatusEvent", hook_mirror),
    R("CallStatusEvent", hook_call_status),
    R("TransferStatusEvent", hook_mirror),
    R("MessageStatusEvent", hook_mirror),
    R("StreamStatusEvent", hook_mirror),
    R("StreamKeepAliveEvent", hook_mirror),
    R("DataStatusEvent", hook_mirror),
    R("BugReportStatusEvent", hook_mirror),
    R("SessionDebugStatusEvent", hook_mirror),
    R("ErrorEvent", hook_mirror),
    R("healthz", hook_mirror),
    R("metrics", hook_mirror),
};

#undef R

_Static_assert(sizeof(routes) / sizeof(routes[0]) <= HOOK_ROUTES_MAX, "raise HOOK_ROUTES_MAX");

size_t hook_route_index(const char *method)
{
	size_t n = strlen(method);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		if (r->len == n && r->method[0] == method[0] && memcmp(r->method, method, n) == 0)
			return i;
	}
	return sizeof(routes) / sizeof(routes[0]);
}

hook_route_fn *hook_route_fn_at(size_t i)
{
	return i < sizeof(routes) / sizeof(routes[0]) ? routes[i].fn : hook_mirror;
}

const char *hook_route_name(size_t i)
{
	return i < sizeof(routes) / sizeof(routes[0]) ? routes[i].method : "other";
}

hook_route_fn *hook_route_of(const char *method)
{
	return hook_route_fn_at(hook_route_index(method));
}

const char *hook_route_label(const char *method)
{
	return hook_route_name(hook_route_index(method));
}
