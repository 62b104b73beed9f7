/* tests/it/redis_peer.c: a real redis-server on 127.0.0.1 for the Redis store's tests: start, stop, ask. */
#include "redis_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int rp_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Is the reply in buf[0..n) complete? Simple replies end with their first CRLF; a bulk one after its length. */
static bool complete(const char *buf, size_t n)
{
	const char *crlf = n ? strstr(buf, "\r\n") : NULL; /* buf is NUL-terminated */
	if (!crlf)
		return false;
	if (buf[0] != '$')
		return true;
	long len = strtol(buf + 1, NULL, 10);
	return len < 0 || (size_t)(crlf - buf) + 2 + (size_t)len + 2 <= n;
}

int rp_query(const struct redis_peer *rp, const char *cmd, char *out, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)rp->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char line[1024];
	snprintf(line, sizeof(line), "%s\r\n", cmd);
	size_t n = strlen(line), got = 0;
	int rc = -1;
	out[0] = '\0';
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, line, n) == (ssize_t)n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		while (got + 1 < cap && !complete(out, got) && poll(&p, 1, 5000) == 1) {
			ssize_t r = read(fd, out + got, cap - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			out[got] = '\0';
		}
		rc = got ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

bool rp_cmd(const struct redis_peer *rp, const char *cmd, const char *want)
{
	char buf[512];
	return rp_query(rp, cmd, buf, sizeof(buf)) == 0 && strncmp(buf, want, strlen(want)) == 0;
}

long long rp_int(const struct redis_peer *rp, const char *cmd)
{
	char buf[128];
	if (rp_query(rp, cmd, buf, sizeof(buf)) != 0 || buf[0] != ':')
		return -1;
	return strtoll(buf + 1, NULL, 10);
}

long long rp_calls(const struct redis_peer *rp)
{
	char buf[16384];
	if (rp_query(rp, "INFO commandstats", buf, sizeof(buf)) != 0 || buf[0] != '$')
		return -1;
	long long total = 0;
	for (const char *p = strstr(buf, "cmdstat_"); p; p = strstr(p + 1, "cmdstat_")) {
		const char *calls = strstr(p, ":calls=");
		if (!calls)
			break;
		/* the commands a function runs count too: only those a client sends are round trips */
		static const char *const top[] = {
		    "fcall:", "fcall_ro:", "hgetall:", "function|", "auth:", "select:", "ping:", "hello:", "eval"};
		for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
			if (strncmp(p + 8, top[i], strlen(top[i])) == 0)
				total += strtoll(calls + 7, NULL, 10);
		}
	}
	return total;
}

/* Waits for PONG: 0, or -1 after 5 s. */
static int rp_wait(const struct redis_peer *rp)
{
	for (int i = 0; i < 200; i++) {
		if (rp_cmd(rp, "PING", "+PONG"))
			return 0;
		usleep(25000);
	}
	return -1;
}

int rp_start_with(struct redis_peer *rp, const char *dir, const char *const *extra)
{
	if (!rp->port)
		rp->port = rp_free_port();
	snprintf(rp->dir, sizeof(rp->dir), "%s", dir);
	char p[16], rdb[32];
	snprintf(p, sizeof(p), "%d", rp->port);
	snprintf(rdb, sizeof(rdb), "dump-%d.rdb", rp->port); /* a replica writes what it loads: one file each */
	const char *argv[32] = {REDIS_BIN,
				"--port",
				p,
				"--bind",
				"127.0.0.1",
				"--save",
				"",
				"--appendonly",
				rp->aof ? "yes" : "no",
				"--appendfsync",
				"always",
				"--dir",
				rp->dir,
				"--dbfilename",
				rdb};
	size_t n = 15;
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	rp->pid = fork();
	if (rp->pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execv(REDIS_BIN, (char *const *)argv);
		_exit(127);
	}
	return rp_wait(rp);
}

int rp_start(struct redis_peer *rp, const char *dir)
{
	return rp_start_with(rp, dir, NULL);
}

int rp_start_sentinel(struct redis_peer *rp, const char *dir, int master_port, const char *name)
{
	if (!rp->port)
		rp->port = rp_free_port();
	snprintf(rp->dir, sizeof(rp->dir), "%s", dir);
	char conf[512];
	snprintf(conf, sizeof(conf), "%s/sentinel-%d.conf", dir, rp->port);
	FILE *f = fopen(conf, "w"); /* a sentinel rewrites its file: it must be writable */
	if (!f)
		return -1;
	fprintf(f,
		"port %d\nbind 127.0.0.1\ndir %s\n"
		"sentinel monitor %s 127.0.0.1 %d 1\n"
		"sentinel down-after-milliseconds %s 500\n"
		"sentinel failover-timeout %s 5000\n",
		rp->port, dir, name, master_port, name, name);
	fclose(f);
	rp->pid = fork();
	if (rp->pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(REDIS_BIN, REDIS_BIN, conf, "--sentinel", (char *)NULL);
		_exit(127);
	}
	return rp_wait(rp);
}

void rp_kill(struct redis_peer *rp)
{
	if (rp->pid > 0) {
		kill(rp->pid, SIGKILL);
		waitpid(rp->pid, NULL, 0);
	}
	rp->pid = 0;
}

static void *busy(void *arg)
{
	const struct rp_busy *b = arg;
	char cmd[512], out[64];
	snprintf(cmd, sizeof(cmd),
		 "EVAL \"local s = redis.call('TIME'); local e = s[1] * 1000000 + s[2] + %d * 1000; "
		 "while true do local t = redis.call('TIME'); if t[1] * 1000000 + t[2] > e then break end end; "
		 "return 1\" 0",
		 b->ms);
	(void)rp_query(b->rp, cmd, out, sizeof(out));
	return NULL;
}

int rp_busy_start(struct rp_busy *b, const struct redis_peer *rp, int ms)
{
	b->rp = rp;
	b->ms = ms;
	if (pthread_create(&b->th, NULL, busy, b) != 0)
		return -1;
	usleep(100 * 1000); /* the script has started */
	return 0;
}

void rp_busy_join(struct rp_busy *b)
{
	pthread_join(b->th, NULL);
}

long long rp_fcalls(const struct redis_peer *rp)
{
	char out[8192];
	if (rp_query(rp, "INFO commandstats", out, sizeof(out)) != 0)
		return -1;
	const char *p = strstr(out, "cmdstat_fcall:calls=");
	return p ? strtoll(p + strlen("cmdstat_fcall:calls="), NULL, 10) : 0;
}
