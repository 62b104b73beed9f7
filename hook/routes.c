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
	hook_route_fn *fn;
};

/* Every WCS method the hook knows (its names are the metric labels); the
 * ones without a policy of their own are mirrored. healthz and metrics are
 * labels of the hook's port's /healthz and /metrics answers. */
/* check_src: table */
static const struct route routes[] = {
    {"connect", hook_connect},
    {"call", hook_call},
    {"answer", hook_mirror},
    {"hangup", hook_mirror},
    {"hold", hook_mirror},
    {"unhold", hook_mirror},
    {"transfer", hook_transfer},
    {"sendDtmf", hook_mirror},
    {"sendMessage", hook_send_message},
    {"publishStream", hook_mirror},
    {"unPublishStream", hook_mirror},
    {"playStream", hook_mirror},
    {"stopStream", hook_mirror},
    {"pauseStream", hook_mirror},
    {"snapshot", hook_mirror},
    {"OnDataEvent", hook_mirror},
    {"submitBugReport", hook_mirror},
    {"pushLogs", hook_mirror},
    {"sessionDebug", hook_mirror},
    {"OnCallEvent", hook_mirror},
    {"OnTransferEvent", hook_mirror},
    {"OnMessageEvent", hook_mirror},
    {"ConnectionStatusEvent", hook_connection_status},
    {"RegistrationStatusEvent", hook_mirror},
    {"CallStatusEvent", hook_call_status},
    {"TransferStatusEvent", hook_mirror},
    {"MessageStatusEvent", hook_mirror},
    {"StreamStatusEvent", hook_mirror},
    {"StreamKeepAliveEvent", hook_mirror},
    {"DataStatusEvent", hook_mirror},
    {"BugReportStatusEvent", hook_mirror},
    {"SessionDebugStatusEvent", hook_mirror},
    {"ErrorEvent", hook_mirror},
    {"healthz", hook_mirror},
    {"metrics", hook_mirror},
};

static const struct route *route_of(const char *method)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].method, method) == 0)
			return &routes[i];
	}
	return NULL;
}

hook_route_fn *hook_route_of(const char *method)
{
	const struct route *r = route_of(method);
	return r ? r->fn : hook_mirror;
}

const char *hook_route_label(const char *method)
{
	const struct route *r = route_of(method);
	return r ? r->method : "other";
}
