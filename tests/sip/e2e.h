/* tests/sip/e2e.h: what the end-to-end test shares with its helpers: child processes with a guard that kills them
 * if the test dies, files and logs, free ports, and the originator's JSON API and XML port as clients. */
#ifndef CALLHOOK_TESTS_SIP_E2E_H
#define CALLHOOK_TESTS_SIP_E2E_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

struct proc {
	pid_t pid; /* also its process group */
	char name[32];
	char log[320];
};

#define HTTP_PASSWORD "e2e-Http-Pw-31" /* the originator's HTTP API, as the test configures it */

extern struct chd D;                          /* the callhook daemon under test */
extern int kam_port, orig_port, ctrl_port[2]; /* Kamailio, the originator's SIP port, the phones' ctrl_tcp */
extern pid_t guard_pid;

void msleep(int ms);
void guard_sweep(const char *dir);
void guard_start(void);
void guard_add(int32_t id);
void guard_done(void);
bool proc_spawn(struct proc *p, const char *name, const char *const *argv);
bool proc_exited(const struct proc *p);
void proc_stop(struct proc *p, int terms);
char *slurp(const char *path);
int count(const char *hay, const char *needle);
size_t file_size(const char *path);
bool wait_in_file(const char *path, size_t from, const char *needle, int timeout_ms);
char *subst(const char *tmpl, const char *const *kv);
bool write_from_template(const char *tmpl, const char *out, const char *const *kv);
void dump_tail(const char *what, const char *path);
int free_port(bool pair);
size_t grow_cb(char *p, size_t sz, size_t n, void *arg);
char *api(const char *method, const char *path, const char *body, long *status);
json_t *get_call(uint64_t id);
const char *sv(const json_t *j);
json_t *wait_state(uint64_t id, const char *want, int timeout_ms);
void states_of(uint64_t id, char *out, size_t cap);
int number_at(const char *p);
void xml_steps(const char *s, char *out, size_t cap);
char *xml_call(const char *ini, const char *dest, bool anchor, int timeout_ms);
#endif
