/* tests/sip/sipp_peer.c: SIPp phones for the SIP tests (one copy for the engine and front-end drivers). */
#include "sipp_peer.h"
#include "tests/support/net.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int sipp_free_port(void)
{
	return tn_free_port(false, NULL, NULL); /* SIPp opens the TCP port of the same number for some modes */
}

bool sipp_port_taken(int port)
{
	bool taken = false;
	for (int i = 0; i < 4 && !taken; i++) {
		int fd = socket(i < 2 ? AF_INET : AF_INET6, i % 2 ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (fd < 0)
			continue;
		struct sockaddr_in a;
		struct sockaddr_in6 a6;
		memset(&a, 0, sizeof a);
		memset(&a6, 0, sizeof a6);
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((uint16_t)port);
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_loopback;
		a6.sin6_port = htons((uint16_t)port);
		int r = i < 2 ? bind(fd, (struct sockaddr *)&a, sizeof a) : bind(fd, (struct sockaddr *)&a6, sizeof a6);
		taken = r != 0 && errno == EADDRINUSE;
		close(fd);
	}
	return taken;
}

bool sipp_peer_startv(struct sipp_peer *p, const char *dir, const char *name, const char *scenario, va_list ap)
{
	memset(p, 0, sizeof *p);
	(void)ch_fmt(p->name, sizeof p->name, "%s", name);
	p->port = sipp_free_port();
	if (p->port < 0)
		return false;
	char sf[512], port[16];
	(void)ch_fmt(sf, sizeof sf, "%s/%s", SCENARIO_DIR, scenario);
	(void)ch_fmt(port, sizeof port, "%d", p->port);
	(void)ch_fmt(p->msgs, sizeof p->msgs, "%s/%s.msgs", dir, name);
	(void)ch_fmt(p->errs, sizeof p->errs, "%s/%s.errors", dir, name);
	(void)ch_fmt(p->logs, sizeof p->logs, "%s/%s.logs", dir, name);
	(void)ch_fmt(p->out, sizeof p->out, "%s/%s.out", dir, name);
	const char *argv[64];
	int n = 0;
	const char *fixed[] = {"timeout",
			       "60",
			       SIPP_BIN,
			       "-sf",
			       sf,
			       "-i",
			       "127.0.0.1",
			       "-p",
			       port,
			       "-m",
			       "1",
			       "-recv_timeout",
			       "20000",
			       "-nostdin",
			       "-trace_msg",
			       "-message_file",
			       p->msgs,
			       "-trace_err",
			       "-error_file",
			       p->errs,
			       "-trace_logs",
			       "-log_file",
			       p->logs};
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		argv[n++] = fixed[i];
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 62)
		argv[n++] = a;
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		execvp("timeout", (char *const *)argv);
		_exit(127);
	}
	p->pid = pid;
	/* ready once it holds its port */
	for (int i = 0; i < 250; i++) {
		if (sipp_port_taken(p->port))
			return true;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			p->pid = 0;
			fprintf(stderr, "sipp %s exited early (%d); see %s\n", name, st, p->out);
			return false;
		}
		usleep(20000);
	}
	return false;
}

static void dump_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f) && n++ < 60)
		fprintf(stderr, "    | %s", line);
	fclose(f);
}

bool sipp_peer_wait(struct sipp_peer *p, int timeout_ms)
{
	if (!p->pid)
		return false;
	int st = 0;
	for (int waited = 0;; waited += 20) {
		if (waitpid(p->pid, &st, WNOHANG) == p->pid)
			break;
		if (waited >= timeout_ms) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			fprintf(stderr, "sipp %s did not finish in time\n", p->name);
			st = -1;
			break;
		}
		usleep(20000);
	}
	p->pid = 0;
	bool ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok) {
		fprintf(stderr, "sipp %s failed (status %d); errors %s:\n", p->name,
			WIFEXITED(st) ? WEXITSTATUS(st) : -1, p->errs);
		dump_file(p->errs);
	}
	return ok;
}
