/* tests/it/redis_peer.h: a real redis-server on 127.0.0.1 for the Redis store's tests: start, stop, ask. */
#ifndef CALLHOOK_TESTS_IT_REDIS_PEER_H
#define CALLHOOK_TESTS_IT_REDIS_PEER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define REDIS_BIN "/usr/bin/redis-server"

struct redis_peer {
	pid_t pid;
	int port;
	bool aof;      /* appendonly yes, appendfsync always: a restart keeps the data */
	char dir[256]; /* its working dir (the test's temp dir) */
};

/* A free TCP port on 127.0.0.1 (bind port 0, read it, close it), or -1. */
int rp_free_port(void);
/* redis-server on 127.0.0.1:rp->port (picked when 0), persistence only with rp->aof, in dir. 0, or -1 (it did not
 * answer PING within 5 s). */
int rp_start(struct redis_peer *rp, const char *dir);
/* rp_start with more redis-server arguments (NULL-terminated), e.g. "--replicaof", "127.0.0.1", "PORT". */
int rp_start_with(struct redis_peer *rp, const char *dir, const char *const *extra);
/* A Redis Sentinel (redis-server --sentinel) on 127.0.0.1:rp->port (picked when 0) that monitors the master
 * name at 127.0.0.1:master_port, quorum 1, down after 500 ms, its config file in dir. 0, or -1. */
int rp_start_sentinel(struct redis_peer *rp, const char *dir, int master_port, const char *name);
/* SIGKILL and reap; the port is kept for a restart. */
void rp_kill(struct redis_peer *rp);
/* One inline command as the default user; the whole reply (at most cap - 1 bytes, NUL-terminated) in out.
 * 0, or -1 (no connection, no reply). */
int rp_query(const struct redis_peer *rp, const char *cmd, char *out, size_t cap);
/* True when the reply to cmd starts with want. */
bool rp_cmd(const struct redis_peer *rp, const char *cmd, const char *want);
/* The integer reply of cmd (":N"), or -1. */
long long rp_int(const struct redis_peer *rp, const char *cmd);
/* The commands clients sent since the last CONFIG RESETSTAT (INFO commandstats: FCALL, FCALL_RO, HGETALL,
 * FUNCTION, AUTH, SELECT, PING, HELLO, EVAL; not those a function runs, not the test's INFO and CONFIG): the
 * round trips callhook made. -1 when Redis did not answer. */
long long rp_calls(const struct redis_peer *rp);

/* Keep Redis busy for ms (a script that spins on TIME), from a thread of its own, so that a command sent
 * meanwhile waits in its socket and runs after the script, whether its client still waits or not. Returns once
 * the script runs; rp_busy_join waits for its end. 0, or -1. */
struct rp_busy {
	pthread_t th;
	const struct redis_peer *rp;
	int ms;
};
int rp_busy_start(struct rp_busy *b, const struct redis_peer *rp, int ms);
void rp_busy_join(struct rp_busy *b);
/* The FCALLs Redis ran since it started (INFO commandstats), or -1. */
long long rp_fcalls(const struct redis_peer *rp);

#endif
